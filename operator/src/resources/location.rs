//! Where data is kept: a country (ISO 3166-1 alpha-2) and an optional region.
//!
//! Data protection law cares about the country first: a transfer outside the UK and the
//! EEA needs safeguards, so the portal marks it and the record of processing lists it.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Where a school's cache or a partner's copy of the data is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataLocation {
    /// The country, as an ISO 3166-1 alpha-2 code such as `GB`, `IE` or `US`.
    pub country: Country,
    /// The region or data centre within the country, such as `London` or `eu-west-2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9 ._\-]{0,62}$"))]
    pub region: Option<String>,
}

/// An ISO 3166-1 alpha-2 country code.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Country(pub String);

impl Country {
    /// Whether the code is an assigned ISO 3166-1 alpha-2 code.
    pub fn is_assigned(&self) -> bool {
        COUNTRY_CODES.contains(&self.0.as_str())
    }

    /// Whether the country is the UK or in the European Economic Area, where UK GDPR lets
    /// data go without further transfer safeguards.
    pub fn is_uk_or_eea(&self) -> bool {
        self.0 == "GB" || EEA.contains(&self.0.as_str())
    }
}

impl JsonSchema for Country {
    fn schema_name() -> Cow<'static, str> {
        "Country".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "ISO 3166-1 alpha-2 country code, e.g. GB",
            "enum": COUNTRY_CODES,
        })
    }
}

/// The member states of the EU with Iceland, Liechtenstein and Norway.
const EEA: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS",
    "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// Every officially assigned ISO 3166-1 alpha-2 code.
const COUNTRY_CODES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_assigned_codes_are_listed_once() {
        let mut codes = COUNTRY_CODES.to_vec();
        codes.dedup();
        assert_eq!(codes.len(), 249);
        assert!(EEA.iter().all(|c| COUNTRY_CODES.contains(c)));
    }

    #[test]
    fn uk_and_eea_are_inside_and_us_is_outside() {
        assert!(Country("GB".into()).is_uk_or_eea());
        assert!(Country("NO".into()).is_uk_or_eea());
        assert!(!Country("US".into()).is_uk_or_eea());
    }
}
