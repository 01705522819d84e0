//! Small value types that several resources share: secret references, sourcedIds and
//! durations.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The pattern every MIS `sourcedId` in Accord's YAML must match.
///
/// OneRoster allows any string, but Accord's YAML refers to people only by identifier, so
/// spaces and `@` (the marks of a name or an email address) are refused.
pub const SOURCED_ID_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$";

/// The pattern of a duration: one or more `<number><unit>` with units `d`, `h`, `m`, `s`.
pub const DURATION_PATTERN: &str = r"^([0-9]+(d|h|m|s))+$";

/// A MIS `sourcedId`, the only way Accord's YAML names a person.
pub type SourcedId = String;

/// A reference to one key of a Kubernetes Secret.
///
/// In a cluster this is the Secret `name` in the resource's namespace; with `accord run`
/// it is the file `<secrets dir>/<name>/<key>`, the layout a mounted Secret volume has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    /// The Secret's name.
    #[schemars(
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"),
        length(max = 253)
    )]
    pub name: String,
    /// The key within the Secret.
    #[schemars(regex(pattern = r"^[-._a-zA-Z0-9]+$"), length(max = 253))]
    pub key: String,
}

/// A length of time written as `30d`, `6h`, `1d12h` or `90s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub std::time::Duration);

/// The error for a duration that does not match [`DURATION_PATTERN`].
#[derive(Debug, thiserror::Error)]
#[error("\"{0}\" is not a duration: write a number and a unit, e.g. 30d, 6h, 1d12h, 90s")]
pub struct BadDuration(pub String);

impl Duration {
    /// Parses `30d`, `6h`, `1d12h`, `90s`.
    pub fn parse(text: &str) -> Result<Self, BadDuration> {
        let bad = || BadDuration(text.to_owned());
        let mut total: u64 = 0;
        let mut number: Option<u64> = None;

        for c in text.chars() {
            if let Some(digit) = c.to_digit(10) {
                let n = number.unwrap_or(0);
                number = Some(
                    n.checked_mul(10)
                        .and_then(|n| n.checked_add(digit.into()))
                        .ok_or_else(bad)?,
                );
                continue;
            }
            let unit = match c {
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                's' => 1,
                _ => return Err(bad()),
            };
            let n = number.take().ok_or_else(bad)?;
            total = n
                .checked_mul(unit)
                .and_then(|s| total.checked_add(s))
                .ok_or_else(bad)?;
        }

        if number.is_some() || text.is_empty() {
            return Err(bad());
        }
        Ok(Duration(std::time::Duration::from_secs(total)))
    }

    /// The duration in whole seconds.
    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_add_their_parts() {
        assert_eq!(Duration::parse("30d").unwrap().as_secs(), 30 * 86_400);
        assert_eq!(Duration::parse("1d12h").unwrap().as_secs(), 36 * 3_600);
        assert_eq!(Duration::parse("90s").unwrap().as_secs(), 90);
    }

    #[test]
    fn malformed_durations_are_refused() {
        for bad in ["", "30", "d", "3x", "1.5h", "99999999999999999999d"] {
            assert!(Duration::parse(bad).is_err(), "{bad}");
        }
    }
}
