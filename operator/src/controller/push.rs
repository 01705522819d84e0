//! Pushing the outbox: each partner's messages in the order they were committed, over
//! HTTPS, each marked acknowledged in the same transaction as its ledger entry.
//!
//! A message that fails after its retries stops that partner for this pass (later ones
//! would overtake it); a message the partner refuses stops its agreement, and the
//! agreement's status says why. Both are tried again on the next pass, with the same body
//! and the same idempotency key, so the partner applies each exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use k8s_openapi::jiff::Timestamp;
use tracing::{info, warn};

use super::deliver::location;
use super::{Controller, ControllerError};
use crate::delivery::send::{Endpoint, Outcome};
use crate::delivery::wire::Signer;
use crate::ledger::{EntryBody, EntryKind};
use crate::resources::{ObjectKey, Partner, ResourceSet, SigningMethod};
use crate::state::{Pending, unix_seconds};

/// Why an agreement's deliveries are held up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hold {
    /// The partner refused a message.
    Refused {
        /// The HTTP status.
        status: u16,
        /// What it said.
        message: String,
    },
    /// The partner could not be reached, or failed, after every retry.
    Unreachable {
        /// The last error.
        error: String,
    },
    /// The partner's endpoint, CA or secret is not usable.
    Misconfigured {
        /// What is wrong.
        reason: String,
    },
}

impl std::fmt::Display for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hold::Refused { status, message } => {
                write!(
                    f,
                    "the partner refused a batch with HTTP {status} ({message}); fix the cause, the batch is sent again next pass"
                )
            }
            Hold::Unreachable { error } => {
                write!(
                    f,
                    "the partner could not be reached ({error}); undelivered batches are kept and sent again"
                )
            }
            Hold::Misconfigured { reason } => write!(f, "cannot push to the partner: {reason}"),
        }
    }
}

/// What a push did.
#[derive(Debug, Default)]
pub struct PushReport {
    /// Agreements whose messages did not all go, and why.
    pub holds: BTreeMap<String, Hold>,
    /// Messages still waiting, by agreement.
    pub pending: BTreeMap<String, u64>,
    /// Messages acknowledged in this pass.
    pub acknowledged: u64,
}

impl Controller {
    /// Sends every pending push message, except those of `frozen` agreements.
    pub(super) async fn push(
        &self,
        resources: &ResourceSet,
        frozen: &BTreeSet<String>,
        now: Timestamp,
    ) -> Result<PushReport, ControllerError> {
        let mut report = PushReport::default();
        let mut by_partner: BTreeMap<String, Vec<Pending>> = BTreeMap::new();
        for message in self.state().pending(None).await? {
            if message.mode == "push" && !frozen.contains(&message.agreement) {
                by_partner
                    .entry(message.partner.clone())
                    .or_default()
                    .push(message);
            }
        }

        for (partner_key, messages) in by_partner {
            let Some(partner) = ObjectKey::parse(&partner_key)
                .and_then(|k| resources.partner(&k.namespace, &k.name))
            else {
                continue;
            };
            let endpoint = match self.endpoint(partner) {
                Ok(endpoint) => endpoint,
                Err(reason) => {
                    warn!(partner = %partner_key, %reason, "Partner endpoint unusable");
                    for message in &messages {
                        report.holds.insert(
                            message.agreement.clone(),
                            Hold::Misconfigured {
                                reason: reason.clone(),
                            },
                        );
                        *report.pending.entry(message.agreement.clone()).or_default() += 1;
                    }
                    continue;
                }
            };
            self.push_partner(partner, &endpoint, messages, now, &mut report)
                .await?;
        }
        Ok(report)
    }

    async fn push_partner(
        &self,
        partner: &Partner,
        endpoint: &Endpoint,
        messages: Vec<Pending>,
        now: Timestamp,
        report: &mut PushReport,
    ) -> Result<(), ControllerError> {
        let partner_key = ObjectKey::of(partner).to_string();
        let mut stopped: BTreeSet<String> = BTreeSet::new();
        let mut unreachable = false;
        for message in messages {
            if unreachable || stopped.contains(&message.agreement) {
                *report.pending.entry(message.agreement.clone()).or_default() += 1;
                continue;
            }
            let body = match self
                .cache
                .open_message(&message.school, &message.batch, &message.sealed)
                .await
            {
                Ok(body) => body,
                Err(error) => {
                    warn!(batch = %message.batch, %error, "Outbox message unreadable");
                    self.state()
                        .record_failure(
                            &message.batch,
                            unix_seconds(SystemTime::now()),
                            &error.to_string(),
                            true,
                        )
                        .await?;
                    stopped.insert(message.agreement.clone());
                    continue;
                }
            };

            let outcome = endpoint
                .send(&message.batch, &body, &self.options.retry)
                .await;
            let at = unix_seconds(SystemTime::now());
            match outcome {
                Outcome::Acknowledged => {
                    let ack = acknowledgement(partner, &message, &body, now);
                    self.state().acknowledge(&message.batch, at, &ack).await?;
                    report.acknowledged += 1;
                    info!(partner = %partner_key, agreement = %message.agreement, batch = %message.batch, kind = %message.kind, records = message.records, "Batch delivered");
                }
                Outcome::Refused {
                    status,
                    message: said,
                } => {
                    warn!(partner = %partner_key, agreement = %message.agreement, batch = %message.batch, status, "Partner refused a batch");
                    self.state()
                        .record_failure(&message.batch, at, &format!("HTTP {status}: {said}"), true)
                        .await?;
                    report.holds.insert(
                        message.agreement.clone(),
                        Hold::Refused {
                            status,
                            message: said,
                        },
                    );
                    *report.pending.entry(message.agreement.clone()).or_default() += 1;
                    stopped.insert(message.agreement.clone());
                }
                Outcome::Failed { error } => {
                    warn!(partner = %partner_key, agreement = %message.agreement, batch = %message.batch, %error, "Partner unreachable; batch kept for the next pass");
                    self.state()
                        .record_failure(&message.batch, at, &error, false)
                        .await?;
                    report
                        .holds
                        .insert(message.agreement.clone(), Hold::Unreachable { error });
                    *report.pending.entry(message.agreement.clone()).or_default() += 1;
                    unreachable = true;
                }
            }
        }
        Ok(())
    }

    /// The partner's endpoint with its CA and signing key, or why it cannot be used.
    fn endpoint(&self, partner: &Partner) -> Result<Endpoint, String> {
        let url = partner
            .spec
            .endpoint
            .as_deref()
            .ok_or_else(|| "the partner declares no endpoint to push to".to_owned())?;
        let secret = self
            .options
            .secrets
            .read(&partner.spec.auth.secret_ref)
            .map_err(|e| e.to_string())?;
        let signer = match partner.spec.auth.signing {
            SigningMethod::HmacSha256 => Signer::Hmac(trim_newline(secret)),
            SigningMethod::Ed25519 => {
                use ed25519_dalek::pkcs8::DecodePrivateKey;
                let text = String::from_utf8(secret)
                    .map_err(|_| "the Ed25519 signing key is not PEM text".to_owned())?;
                let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&text)
                    .map_err(|_| format!("secret {}/{} is not an Ed25519 private key in PKCS#8 PEM (make one with accord keygen)", partner.spec.auth.secret_ref.name, partner.spec.auth.secret_ref.key))?;
                Signer::Ed25519(Box::new(key))
            }
        };
        let ca = match &partner.spec.tls {
            Some(tls) => Some(
                self.options
                    .secrets
                    .read(&tls.ca_ref)
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        Endpoint::new(
            url,
            signer,
            ca.as_deref(),
            &self.options.resolve,
            self.options.retry.timeout,
        )
        .map_err(|e| e.to_string())
    }
}

/// The ledger entry confirming a message: for a deletion notice it names the people, so
/// one person's acknowledged deletions are found with their other entries.
fn acknowledgement(partner: &Partner, message: &Pending, body: &[u8], now: Timestamp) -> EntryBody {
    EntryBody {
        kind: EntryKind::Acknowledgement,
        at: now.to_string(),
        school: message.school.clone(),
        agreement: message.agreement.clone(),
        partner: message.partner.clone(),
        partner_location: location(partner),
        area: String::new(),
        fields: Vec::new(),
        subjects: message.subjects.clone(),
        records: message.records,
        bytes: body.len() as u64,
        batch: message.batch.clone(),
        reason: message.kind.clone(),
    }
}

fn trim_newline(mut secret: Vec<u8>) -> Vec<u8> {
    while secret.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        secret.pop();
    }
    secret
}
