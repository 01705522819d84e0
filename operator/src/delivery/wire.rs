//! What travels between Accord and a partner: the messages, their idempotency key, and
//! the signature that proves Accord sent them.
//!
//! Every message is a JSON object POSTed to the partner's endpoint:
//!
//! - `{"type":"records", "batch", "agreement", "school", "area", "fields", "records"}`:
//!   records to add, or to replace when the partner holds one with the same `sourcedId`
//!   under the same agreement, school and area.
//! - `{"type":"deletion", "batch", "agreement", "school", "deletions":[…]}`: what the
//!   partner must delete. Each deletion names an area and then either `sourcedIds` (delete
//!   those records), `fields` (remove those fields from every record of the area), or
//!   neither (delete the whole area).
//!
//! `batch` is the idempotency key, also sent as the `Idempotency-Key` header. It is drawn
//! at random when the message is written to Accord's outbox, so a message re-sent after a
//! crash carries the same key and the partner applies it once, while two notices that
//! happen to say the same thing are still two messages.
//!
//! The signature header covers a timestamp and the exact body:
//! `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the partner's shared
//! secret, or `t=<unix seconds>,ed25519=<base64 signature of "<t>.<body>">` with Accord's
//! Ed25519 key for partners that hold only its public half. A receiver refuses
//! timestamps more than [`REPLAY_WINDOW_SECS`] from its clock.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::catalogue::Area;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Accord-Signature";

/// The header carrying the idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// How far a signature's timestamp may be from the receiver's clock, in seconds.
pub const REPLAY_WINDOW_SECS: i64 = 300;

/// A message to a partner.
///
/// On the wire it is one JSON object whose `type` says which kind it is. It is read
/// through [`WireMessage`] rather than serde's internally tagged enums, which buffer the
/// whole document before reading it: a partner parses each batch once.
///
/// `R` is how each record is held: a map of JSON values by default, or the record's text
/// as received (`Box<RawValue>`) for a reader that only keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    try_from = "WireMessage<R>",
    bound(deserialize = "R: Deserialize<'de>")
)]
pub enum Message<R = Map<String, Value>> {
    /// Records to add or replace.
    Records(RecordsBatch<R>),
    /// What to delete.
    Deletion(DeletionNotice),
}

impl<R> Message<R> {
    /// The idempotency key.
    pub fn batch(&self) -> &str {
        match self {
            Message::Records(b) => &b.batch,
            Message::Deletion(n) => &n.batch,
        }
    }

    /// The agreement, `namespace/name`.
    pub fn agreement(&self) -> &str {
        match self {
            Message::Records(b) => &b.agreement,
            Message::Deletion(n) => &n.agreement,
        }
    }

    /// The school, `namespace/name`.
    pub fn school(&self) -> &str {
        match self {
            Message::Records(b) => &b.school,
            Message::Deletion(n) => &n.school,
        }
    }
}

/// Which kind of message an object is.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
enum MessageType {
    Records,
    Deletion,
}

/// A message as read off the wire: every field of either kind, checked into a
/// [`Message`] by its `type`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireMessage<R> {
    #[serde(rename = "type")]
    kind: MessageType,
    batch: String,
    agreement: String,
    school: String,
    area: Option<Area>,
    fields: Option<Vec<String>>,
    records: Option<Vec<R>>,
    deletions: Option<Vec<Deletion>>,
}

impl<R> TryFrom<WireMessage<R>> for Message<R> {
    type Error = String;

    fn try_from(wire: WireMessage<R>) -> Result<Message<R>, String> {
        let missing = |field: &str| format!("a {} message needs `{field}`", wire_name(wire.kind));
        match wire.kind {
            MessageType::Records => {
                if wire.deletions.is_some() {
                    return Err("a records message carries no `deletions`".to_owned());
                }
                Ok(Message::Records(RecordsBatch {
                    area: wire.area.ok_or_else(|| missing("area"))?,
                    fields: wire.fields.ok_or_else(|| missing("fields"))?,
                    records: wire.records.ok_or_else(|| missing("records"))?,
                    batch: wire.batch,
                    agreement: wire.agreement,
                    school: wire.school,
                }))
            }
            MessageType::Deletion => {
                if wire.area.is_some() || wire.fields.is_some() || wire.records.is_some() {
                    return Err(
                        "a deletion message names its areas inside `deletions`, not beside them"
                            .to_owned(),
                    );
                }
                Ok(Message::Deletion(DeletionNotice {
                    deletions: wire.deletions.ok_or_else(|| missing("deletions"))?,
                    batch: wire.batch,
                    agreement: wire.agreement,
                    school: wire.school,
                }))
            }
        }
    }
}

fn wire_name(kind: MessageType) -> &'static str {
    match kind {
        MessageType::Records => "records",
        MessageType::Deletion => "deletion",
    }
}

/// Records of one area for one agreement and school.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordsBatch<R = Map<String, Value>> {
    /// The idempotency key.
    pub batch: String,
    /// The agreement, `namespace/name`.
    pub agreement: String,
    /// The school, `namespace/name`.
    pub school: String,
    /// The data area.
    pub area: Area,
    /// The fields the agreement shares of this area (besides `sourcedId`).
    pub fields: Vec<String>,
    /// The records, each with `sourcedId` and only those fields.
    pub records: Vec<R>,
}

/// What a partner must delete that it holds under one agreement and school.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeletionNotice {
    /// The idempotency key.
    pub batch: String,
    /// The agreement, `namespace/name`.
    pub agreement: String,
    /// The school, `namespace/name`.
    pub school: String,
    /// What to delete.
    pub deletions: Vec<Deletion>,
}

/// One thing to delete in one area.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deletion {
    /// The area.
    pub area: Area,
    /// Why, so the partner can tell its own users.
    pub reason: DeletionReason,
    /// Delete exactly these records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sourced_ids: Option<Vec<String>>,
    /// Remove these fields from every record of the area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

impl Deletion {
    /// What the deletion covers.
    pub fn scope(&self) -> DeletionScope<'_> {
        match (&self.sourced_ids, &self.fields) {
            (Some(ids), _) => DeletionScope::Records(ids),
            (None, Some(fields)) => DeletionScope::Fields(fields),
            (None, None) => DeletionScope::Area,
        }
    }
}

/// What one [`Deletion`] covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletionScope<'a> {
    /// These records.
    Records(&'a [String]),
    /// These fields of every record.
    Fields(&'a [String]),
    /// The whole area.
    Area,
}

/// Why a partner must delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeletionReason {
    /// The agreement no longer covers these people: they left the MIS, consent was
    /// withdrawn or refused, or an erasure request names them.
    NoLongerShared,
    /// The agreement no longer shares these fields.
    FieldsWithdrawn,
    /// The agreement no longer shares this area.
    AreaWithdrawn,
    /// The agreement ended, was deleted, or no longer covers this school.
    AgreementEnded,
}

impl DeletionReason {
    /// The name used on the wire and in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionReason::NoLongerShared => "noLongerShared",
            DeletionReason::FieldsWithdrawn => "fieldsWithdrawn",
            DeletionReason::AreaWithdrawn => "areaWithdrawn",
            DeletionReason::AgreementEnded => "agreementEnded",
        }
    }
}

/// The body of a deletion notice: the same bytes as serialising it as a [`Message`],
/// without giving the notice up.
pub fn deletion_body(notice: &DeletionNotice) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(tag = "type", rename_all = "camelCase")]
    enum Borrowed<'a> {
        Deletion(&'a DeletionNotice),
    }
    // Writing strings and lists of strings into memory cannot fail.
    serde_json::to_vec(&Borrowed::Deletion(notice)).unwrap_or_default()
}

/// The body of a records message whose records are already JSON text (see
/// [`super::Projected`]): the same bytes as serialising the [`Message::Records`] they
/// make, written without parsing the records back into maps.
pub fn records_body<'a>(
    batch: &str,
    agreement: &str,
    school: &str,
    area: Area,
    fields: &[String],
    records: impl IntoIterator<Item = &'a str>,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(4096);
    body.extend_from_slice(br#"{"type":"records","batch":"#);
    // Writing strings and lists of strings into memory cannot fail.
    let _ = serde_json::to_writer(&mut body, batch);
    body.extend_from_slice(br#","agreement":"#);
    let _ = serde_json::to_writer(&mut body, agreement);
    body.extend_from_slice(br#","school":"#);
    let _ = serde_json::to_writer(&mut body, school);
    body.extend_from_slice(br#","area":"#);
    let _ = serde_json::to_writer(&mut body, &area);
    body.extend_from_slice(br#","fields":"#);
    let _ = serde_json::to_writer(&mut body, fields);
    body.extend_from_slice(br#","records":["#);
    for (n, record) in records.into_iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(record.as_bytes());
    }
    body.extend_from_slice(b"]}");
    body
}

/// A fresh idempotency key: 128 random bits, hex.
pub fn new_batch_key() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(hex(&bytes))
}

/// How Accord signs for one partner.
pub enum Signer {
    /// HMAC-SHA256 with a secret the partner also holds.
    Hmac(Vec<u8>),
    /// Ed25519 with Accord's key.
    Ed25519(Box<SigningKey>),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str(match self {
            Signer::Hmac(_) => "Signer::Hmac(..)",
            Signer::Ed25519(_) => "Signer::Ed25519(..)",
        })
    }
}

impl Signer {
    /// The signature header value for `body` at `timestamp` (unix seconds).
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        match self {
            Signer::Hmac(secret) => {
                let mac = mac(secret, timestamp, body).finalize().into_bytes();
                format!("t={timestamp},v1={}", hex(&mac))
            }
            Signer::Ed25519(key) => {
                let signature = key.sign(&signed_bytes(timestamp, body));
                format!(
                    "t={timestamp},ed25519={}",
                    STANDARD.encode(signature.to_bytes())
                )
            }
        }
    }
}

/// How a receiver checks signatures.
pub enum SignatureCheck {
    /// HMAC-SHA256 with the shared secret.
    Hmac(Vec<u8>),
    /// Ed25519 with Accord's public key.
    Ed25519(VerifyingKey),
}

impl std::fmt::Debug for SignatureCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureCheck::Hmac(_) => "SignatureCheck::Hmac(..)",
            SignatureCheck::Ed25519(_) => "SignatureCheck::Ed25519(..)",
        })
    }
}

/// Why a signature was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=…,v1=…` or `t=…,ed25519=…`.
    #[error(
        "the {SIGNATURE_HEADER} header is not t=<seconds>,v1=<hex> or t=<seconds>,ed25519=<base64>"
    )]
    Malformed,
    /// The timestamp is outside the replay window.
    #[error("the signature is {0} s from this clock, outside the {REPLAY_WINDOW_SECS} s window")]
    Stale(i64),
    /// The signature does not match: wrong key, or the body changed.
    #[error("the signature does not match the body")]
    Mismatch,
}

impl SignatureCheck {
    /// Checks a signature header against `body` at the receiver's time `now`.
    pub fn verify(&self, header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
        let mut timestamp = None;
        let mut hmac_value = None;
        let mut ed_value = None;
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
                Some(("v1", v)) => hmac_value = unhex(v),
                Some(("ed25519", v)) => ed_value = STANDARD.decode(v).ok(),
                _ => {}
            }
        }
        let Some(timestamp) = timestamp else {
            return Err(SignatureError::Malformed);
        };
        let check = |skew: i64| {
            if skew.abs() > REPLAY_WINDOW_SECS {
                Err(SignatureError::Stale(skew))
            } else {
                Ok(())
            }
        };
        match self {
            SignatureCheck::Hmac(secret) => {
                let signature = hmac_value.ok_or(SignatureError::Malformed)?;
                check(now.saturating_sub(timestamp))?;
                // verify_slice compares in constant time.
                mac(secret, timestamp, body)
                    .verify_slice(&signature)
                    .map_err(|_| SignatureError::Mismatch)
            }
            SignatureCheck::Ed25519(key) => {
                let bytes = ed_value.ok_or(SignatureError::Malformed)?;
                let bytes: [u8; 64] = bytes.try_into().map_err(|_| SignatureError::Malformed)?;
                check(now.saturating_sub(timestamp))?;
                key.verify(
                    &signed_bytes(timestamp, body),
                    &ed25519_dalek::Signature::from_bytes(&bytes),
                )
                .map_err(|_| SignatureError::Mismatch)
            }
        }
    }
}

fn signed_bytes(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("{timestamp}.").into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body() -> Vec<u8> {
        let message = Message::Records(RecordsBatch {
            batch: "0f".repeat(16),
            agreement: "t/homework".into(),
            school: "t/ashby".into(),
            area: Area::Students,
            fields: vec!["givenName".into()],
            records: vec![
                json!({ "sourcedId": "stu-1", "givenName": "A" })
                    .as_object()
                    .unwrap()
                    .clone(),
            ],
        });
        serde_json::to_vec(&message).unwrap()
    }

    #[test]
    fn a_deletion_body_is_the_serialised_message() {
        let notice = DeletionNotice {
            batch: "k".into(),
            agreement: "t/homework".into(),
            school: "t/ashby".into(),
            deletions: vec![Deletion {
                area: Area::Students,
                reason: DeletionReason::NoLongerShared,
                sourced_ids: Some(vec!["stu-1".into()]),
                fields: None,
            }],
        };
        let written = deletion_body(&notice);
        assert_eq!(
            written,
            serde_json::to_vec(&<Message>::Deletion(notice)).unwrap()
        );
    }

    #[test]
    fn a_records_body_written_from_text_is_the_serialised_message() {
        let records = [
            json!({ "givenName": "Zo\u{eb} \"Z\"", "sourcedId": "stu-1" }),
            json!({ "sourcedId": "stu-2", "yearGroup": 7 }),
        ];
        let texts: Vec<String> = records.iter().map(|r| r.to_string()).collect();
        let fields = vec!["givenName".to_owned(), "yearGroup".to_owned()];
        let written = records_body(
            "k\"1",
            "t/homework",
            "t/ashby",
            Area::Enrollments,
            &fields,
            texts.iter().map(String::as_str),
        );
        let message = Message::Records(RecordsBatch {
            batch: "k\"1".into(),
            agreement: "t/homework".into(),
            school: "t/ashby".into(),
            area: Area::Enrollments,
            fields,
            records: records
                .iter()
                .map(|r| r.as_object().unwrap().clone())
                .collect(),
        });
        assert_eq!(
            String::from_utf8(written.clone()).unwrap(),
            serde_json::to_string(&message).unwrap()
        );
        assert_eq!(
            serde_json::from_slice::<Message>(&written).unwrap(),
            message
        );
        let empty = records_body("k", "a", "s", Area::Students, &[], std::iter::empty());
        assert!(matches!(
            serde_json::from_slice::<Message>(&empty).unwrap(),
            Message::Records(RecordsBatch { records, .. }) if records.is_empty()
        ));
    }

    #[test]
    fn an_hmac_signature_verifies_only_for_its_body_secret_and_window() {
        let body = body();
        let header = Signer::Hmac(b"partner-secret".to_vec()).sign(1_000_000, &body);
        let check = SignatureCheck::Hmac(b"partner-secret".to_vec());
        assert_eq!(check.verify(&header, &body, 1_000_100), Ok(()));
        assert_eq!(
            SignatureCheck::Hmac(b"other".to_vec()).verify(&header, &body, 1_000_100),
            Err(SignatureError::Mismatch)
        );
        let mut changed = body.clone();
        changed[10] ^= 1;
        assert_eq!(
            check.verify(&header, &changed, 1_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check.verify(&header, &body, 1_000_301),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            check.verify("v1=zz", &body, 1_000_000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn a_replayed_header_with_a_new_timestamp_does_not_verify() {
        let header = Signer::Hmac(b"s".to_vec()).sign(1_000_000, b"{}");
        let replayed = header.replace("t=1000000", "t=1000200");
        assert_eq!(
            SignatureCheck::Hmac(b"s".to_vec()).verify(&replayed, b"{}", 1_000_200),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn an_ed25519_signature_verifies_with_the_public_half_only() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let public = key.verifying_key();
        let body = body();
        let header = Signer::Ed25519(Box::new(key)).sign(2_000_000, &body);
        assert!(header.starts_with("t=2000000,ed25519="));
        let check = SignatureCheck::Ed25519(public);
        assert_eq!(check.verify(&header, &body, 2_000_000), Ok(()));
        assert_eq!(
            check.verify(&header, b"{}", 2_000_000),
            Err(SignatureError::Mismatch)
        );
        let other = SignatureCheck::Ed25519(SigningKey::from_bytes(&[8u8; 32]).verifying_key());
        assert_eq!(
            other.verify(&header, &body, 2_000_000),
            Err(SignatureError::Mismatch)
        );
        // An HMAC header is malformed for an Ed25519 receiver, and the other way round.
        let hmac = Signer::Hmac(b"s".to_vec()).sign(2_000_000, &body);
        assert_eq!(
            check.verify(&hmac, &body, 2_000_000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn messages_read_back_as_written_and_deletions_say_their_scope() {
        let notice = Message::Deletion(DeletionNotice {
            batch: new_batch_key().unwrap(),
            agreement: "t/a".into(),
            school: "t/s".into(),
            deletions: vec![
                Deletion {
                    area: Area::Students,
                    reason: DeletionReason::NoLongerShared,
                    sourced_ids: Some(vec!["stu-1".into()]),
                    fields: None,
                },
                Deletion {
                    area: Area::Students,
                    reason: DeletionReason::FieldsWithdrawn,
                    sourced_ids: None,
                    fields: Some(vec!["email".into()]),
                },
                Deletion {
                    area: Area::Staff,
                    reason: DeletionReason::AreaWithdrawn,
                    sourced_ids: None,
                    fields: None,
                },
            ],
        });
        let text = serde_json::to_string(&notice).unwrap();
        assert!(
            text.starts_with(r#"{"type":"deletion","batch":""#),
            "{text}"
        );
        let back: Message = serde_json::from_str(&text).unwrap();
        assert_eq!(back, notice);
        let Message::Deletion(notice) = back else {
            unreachable!()
        };
        assert_eq!(
            notice.deletions[0].scope(),
            DeletionScope::Records(&["stu-1".to_owned()])
        );
        assert_eq!(
            notice.deletions[1].scope(),
            DeletionScope::Fields(&["email".to_owned()])
        );
        assert_eq!(notice.deletions[2].scope(), DeletionScope::Area);
        assert_ne!(new_batch_key().unwrap(), new_batch_key().unwrap());
    }
}
