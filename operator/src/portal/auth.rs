//! Who may use the portal: tokens from a small YAML file, server-side sessions that
//! expire, and the roles that decide what a viewer sees.
//!
//! The tokens file holds each token's SHA-256, never the token:
//!
//! ```yaml
//! tokens:
//!   - sha256: 9f86d08188…        # sha256sum of the token
//!     role: trust-dpo
//!     label: dpo-office          # names the token in logs; not a person's name
//!     expires: 2027-07-31T23:59:59Z
//!   - sha256: 60303ae22b…
//!     role: school-staff
//!     school: riverside-trust/ashby-primary
//!     label: ashby-office
//!     expires: 2027-07-31T23:59:59Z
//! ```
//!
//! The file is read at every sign-in, so a rotated Secret volume takes effect without a
//! restart; a token that has expired or left the file signs nobody in.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use k8s_openapi::jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a signed-in person may see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The Trust's Data Protection Officer: every school, every flow.
    TrustDpo,
    /// Staff of one school: that school's flows and people only.
    SchoolStaff,
}

/// One token in the tokens file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenEntry {
    /// The token's SHA-256, lowercase hex.
    pub sha256: String,
    /// What the token's holder may see.
    pub role: Role,
    /// For `school-staff`: the school, `namespace/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school: Option<String>,
    /// A name for the token in logs (an office, not a person).
    #[serde(default)]
    pub label: String,
    /// When the token stops working, RFC 3339.
    pub expires: Timestamp,
}

/// The tokens file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensFile {
    /// Every token.
    pub tokens: Vec<TokenEntry>,
}

/// Why the tokens file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    /// It cannot be read.
    #[error("cannot read the portal tokens file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a tokens file.
    #[error("portal tokens file {path} is not valid: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl TokensFile {
    /// Reads and checks a tokens file.
    pub fn load(path: &Path) -> Result<TokensFile, TokensError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokensError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let invalid = |message: String| TokensError::Invalid {
            path: path.display().to_string(),
            message,
        };
        let file: TokensFile = serde_yaml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        for (i, token) in file.tokens.iter().enumerate() {
            let hex_ok =
                token.sha256.len() == 64 && token.sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex_ok {
                return Err(invalid(format!("token {i}: sha256 is not 64 hex digits")));
            }
            if token.role == Role::SchoolStaff && token.school.is_none() {
                return Err(invalid(format!(
                    "token {i}: a school-staff token names its school as namespace/name"
                )));
            }
        }
        Ok(file)
    }

    /// A new random token for `role`, listed in this file by its hash; returns the token.
    pub fn issue(
        &mut self,
        role: Role,
        school: Option<String>,
        label: &str,
        expires: Timestamp,
    ) -> Option<String> {
        let token = random_token()?;
        self.tokens.push(TokenEntry {
            sha256: hex(&Sha256::digest(token.as_bytes())),
            role,
            school,
            label: label.to_owned(),
            expires,
        });
        Some(token)
    }

    /// Writes the file, readable by its owner only.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_yaml::to_string(self).map_err(std::io::Error::other)?;
        write_private(path, text.as_bytes())
    }

    /// The viewer a presented token stands for at `now`, if it is listed and current.
    pub fn viewer(&self, presented: &str, now: Timestamp) -> Option<Viewer> {
        let digest = hex(&Sha256::digest(presented.trim().as_bytes()));
        let entry = self
            .tokens
            .iter()
            .find(|t| same(t.sha256.to_ascii_lowercase().as_bytes(), digest.as_bytes()))?;
        (entry.expires > now).then(|| Viewer {
            role: entry.role.clone(),
            school: match entry.role {
                Role::TrustDpo => None,
                Role::SchoolStaff => entry.school.clone(),
            },
            label: entry.label.clone(),
            expires: entry.expires,
        })
    }
}

/// A signed-in person, as far as the portal needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    /// Their role.
    pub role: Role,
    /// For school staff, their school (`namespace/name`).
    pub school: Option<String>,
    /// The token's label.
    pub label: String,
    /// When the token expires.
    pub expires: Timestamp,
}

impl Viewer {
    /// Whether the viewer may see this school (`namespace/name`).
    pub fn sees(&self, school: &str) -> bool {
        match self.role {
            Role::TrustDpo => true,
            Role::SchoolStaff => self.school.as_deref() == Some(school),
        }
    }

    /// The role's name, as the tokens file writes it.
    pub fn role_name(&self) -> &'static str {
        match self.role {
            Role::TrustDpo => "trust-dpo",
            Role::SchoolStaff => "school-staff",
        }
    }
}

/// One session: who, until when, and its CSRF token.
#[derive(Clone, Debug)]
pub struct Session {
    /// Who signed in.
    pub viewer: Viewer,
    /// The token every state-changing request of this session must carry.
    pub csrf: String,
    /// When the session ends.
    pub expires: SystemTime,
}

/// The server-side session store.
///
/// Limitation: sessions live in memory, so a restart signs everyone out and replicas do
/// not share them.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Starts a session for `viewer` lasting `length` (never past the token's expiry);
    /// returns its id.
    pub fn start(&self, viewer: Viewer, length: Duration, now: SystemTime) -> Option<String> {
        let id = random_token()?;
        let csrf = random_token()?;
        let token_end =
            SystemTime::UNIX_EPOCH + Duration::from_secs(viewer.expires.as_second().max(0) as u64);
        let session = Session {
            viewer,
            csrf,
            expires: (now + length).min(token_end),
        };
        let mut map = self.by_id.lock().ok()?;
        map.retain(|_, s| s.expires > now);
        map.insert(id.clone(), session);
        Some(id)
    }

    /// The session with this id, unless it has expired (then it is forgotten).
    pub fn get(&self, id: &str, now: SystemTime) -> Option<Session> {
        let mut map = self.by_id.lock().ok()?;
        match map.get(id) {
            Some(session) if session.expires > now => Some(session.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        if let Ok(mut map) = self.by_id.lock() {
            map.remove(id);
        }
    }
}

/// Writes a file only its owner may read, creating its folder.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    options.open(path)?.write_all(bytes)
}

/// 32 random bytes as hex, for session ids and CSRF tokens.
pub fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex(&bytes))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares in constant time.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(role: Role, school: Option<&str>, expires: &str) -> TokensFile {
        TokensFile {
            tokens: vec![TokenEntry {
                sha256: hex(&Sha256::digest(b"open-sesame")),
                role,
                school: school.map(str::to_owned),
                label: "office".into(),
                expires: expires.parse().unwrap(),
            }],
        }
    }

    #[test]
    fn a_listed_current_token_signs_in_and_an_expired_or_unknown_one_does_not() {
        let now: Timestamp = "2026-12-03T12:00:00Z".parse().unwrap();
        let current = file(Role::TrustDpo, None, "2027-01-01T00:00:00Z");
        assert_eq!(
            current.viewer("open-sesame", now).unwrap().role,
            Role::TrustDpo
        );
        assert!(current.viewer("open-sesame!", now).is_none());
        let expired = file(Role::TrustDpo, None, "2026-12-01T00:00:00Z");
        assert!(expired.viewer("open-sesame", now).is_none());
    }

    #[test]
    fn school_staff_see_only_their_school() {
        let now: Timestamp = "2026-12-03T12:00:00Z".parse().unwrap();
        let staff = file(Role::SchoolStaff, Some("t/ashby"), "2027-01-01T00:00:00Z")
            .viewer("open-sesame", now)
            .unwrap();
        assert!(staff.sees("t/ashby"));
        assert!(!staff.sees("t/brook"));
    }

    #[test]
    fn a_session_ends_at_its_length_or_the_tokens_expiry_whichever_is_first() {
        let sessions = Sessions::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let viewer = Viewer {
            role: Role::TrustDpo,
            school: None,
            label: String::new(),
            expires: Timestamp::from_second(1_000_000 + 60).unwrap(),
        };
        let id = sessions
            .start(viewer, Duration::from_secs(3600), now)
            .unwrap();
        assert!(sessions.get(&id, now + Duration::from_secs(59)).is_some());
        assert!(sessions.get(&id, now + Duration::from_secs(61)).is_none());
        assert!(
            sessions.get(&id, now).is_none(),
            "an expired session is forgotten"
        );
    }
}
