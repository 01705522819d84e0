//! Pushing the outbox: each partner's messages in the order they were committed, over
//! HTTPS, each marked acknowledged in the same transaction as its ledger entry. The
//! acknowledgements are written beside the sends, several to a transaction ([`acks`]).
//!
//! A message that fails after its retries stops that partner for this pass (later ones
//! would overtake it); a message the partner refuses stops its agreement, and the
//! agreement's status says why. Both are tried again on the next pass, with the same body
//! and the same idempotency key, so the partner applies each exactly once.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use k8s_openapi::jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::deliver::location;
use super::{Controller, ControllerError, Options};
use crate::cache::Cache;
use crate::delivery::send::{Endpoint, Outcome, RetryPolicy};
use crate::delivery::wire::Signer;
use crate::ledger::{EntryBody, EntryKind};
use crate::resources::{ObjectKey, Partner, ResourceSet, SigningMethod};
use crate::state::{Pending, unix_seconds};

mod acks;

use acks::Acks;

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
    /// What pushing needs of the controller, to run beside the commits of this pass.
    pub(super) fn pusher(&self, resources: ResourceSet, frozen: BTreeSet<String>) -> Pusher {
        Pusher {
            cache: self.cache.clone(),
            options: self.options.clone(),
            resources,
            frozen,
            acks: Acks::start(self.cache.state().clone()),
        }
    }
}

/// Sends the outbox: first the messages earlier passes left, then those this pass
/// commits, as each group is committed, so sending overlaps committing.
pub(super) struct Pusher {
    cache: Arc<Cache>,
    options: Options,
    resources: ResourceSet,
    /// Agreements whose messages must not go: their signature fails or they are
    /// suspended.
    frozen: BTreeSet<String>,
    /// Where confirmations go to be written.
    acks: Acks,
}

/// A message to push: its outbox head, and its body when this pass has it in hand, so
/// the body need not be read back and opened.
pub(super) struct Queued {
    pub(super) head: Pending,
    pub(super) body: Option<Vec<u8>>,
}

/// Where one partner's messages go, or why they cannot.
enum Lane<'a> {
    Open {
        partner: &'a Partner,
        endpoint: Arc<Endpoint>,
        window: Window,
    },
    Unusable {
        reason: String,
    },
    /// The partner is not declared (any more): its messages wait.
    Undeclared,
}

impl Pusher {
    /// Sends `backlog` (the outbox as it stood before this pass committed anything),
    /// then each group as it arrives on `committed`, until the sender is dropped.
    pub(super) async fn run(
        self,
        backlog: Vec<Pending>,
        mut committed: mpsc::Receiver<Vec<Queued>>,
        now: Timestamp,
    ) -> Result<PushReport, ControllerError> {
        let mut report = PushReport::default();
        let mut lanes: BTreeMap<String, Lane<'_>> = BTreeMap::new();
        for head in backlog {
            if self.acks.failed() {
                break;
            }
            let queued = Queued { head, body: None };
            self.queue(&mut lanes, queued, now, &mut report).await?;
        }
        while let Some(group) = committed.recv().await {
            // Confirmations can no longer be recorded: what is left waits for the next pass.
            if self.acks.failed() {
                break;
            }
            for queued in group {
                self.queue(&mut lanes, queued, now, &mut report).await?;
            }
        }
        for lane in lanes.values_mut() {
            if let Lane::Open {
                partner, window, ..
            } = lane
            {
                self.settle_until(partner, window, 0, now, &mut report)
                    .await?;
            }
        }
        drop(lanes);
        self.acks.finish().await?;
        Ok(report)
    }

    /// Sends one message in its partner's order. Records batches go several at a time
    /// (each is applied on its own by the partner, whatever the order); a deletion notice
    /// waits for every message before it and goes alone, so it is never overtaken.
    ///
    /// A batch already on its way when another is refused may still be accepted: a
    /// refusal stops the batches of the agreement not yet sent.
    async fn queue<'a>(
        &'a self,
        lanes: &mut BTreeMap<String, Lane<'a>>,
        queued: Queued,
        now: Timestamp,
        report: &mut PushReport,
    ) -> Result<(), ControllerError> {
        let message = &queued.head;
        if message.mode != "push" || self.frozen.contains(&message.agreement) {
            return Ok(());
        }
        let lane = lanes
            .entry(message.partner.clone())
            .or_insert_with(|| self.lane(&message.partner));
        let (partner, endpoint, window) = match lane {
            Lane::Undeclared => return Ok(()),
            Lane::Unusable { reason } => {
                report.holds.insert(
                    message.agreement.clone(),
                    Hold::Misconfigured {
                        reason: reason.clone(),
                    },
                );
                *report.pending.entry(message.agreement.clone()).or_default() += 1;
                return Ok(());
            }
            Lane::Open {
                partner,
                endpoint,
                window,
            } => (*partner, endpoint.clone(), window),
        };

        let alone = message.kind != "records";
        let room = if alone { 0 } else { IN_FLIGHT - 1 };
        self.settle_until(partner, window, room, now, report)
            .await?;
        if window.unreachable || window.stopped.contains(&message.agreement) {
            *report.pending.entry(message.agreement.clone()).or_default() += 1;
            return Ok(());
        }
        let task = tokio::spawn(send_one(
            self.cache.clone(),
            endpoint,
            self.options.retry,
            queued.head.school.clone(),
            queued.head.batch.clone(),
            queued.body,
        ));
        window.in_flight.push_back((queued.head, task));
        if alone {
            self.settle_until(partner, window, 0, now, report).await?;
        }
        Ok(())
    }

    /// The lane for a partner named in the outbox.
    fn lane(&self, partner_key: &str) -> Lane<'_> {
        let Some(partner) = ObjectKey::parse(partner_key)
            .and_then(|k| self.resources.partner(&k.namespace, &k.name))
        else {
            return Lane::Undeclared;
        };
        match self.endpoint(partner) {
            Ok(endpoint) => Lane::Open {
                partner,
                endpoint: Arc::new(endpoint),
                window: Window::default(),
            },
            Err(reason) => {
                warn!(partner = %partner_key, %reason, "Partner endpoint unusable");
                Lane::Unusable { reason }
            }
        }
    }

    /// Waits for the oldest sends until at most `most` are still on their way.
    async fn settle_until(
        &self,
        partner: &Partner,
        window: &mut Window,
        most: usize,
        now: Timestamp,
        report: &mut PushReport,
    ) -> Result<(), ControllerError> {
        while window.in_flight.len() > most {
            let Some((message, task)) = window.in_flight.pop_front() else {
                break;
            };
            let sent = finished(task).await;
            self.settle(partner, message, sent, now, report, window)
                .await?;
        }
        Ok(())
    }

    /// Records how one send ended: acknowledged with its ledger entry, or why not.
    async fn settle(
        &self,
        partner: &Partner,
        message: Pending,
        sent: Sent,
        now: Timestamp,
        report: &mut PushReport,
        window: &mut Window,
    ) -> Result<(), ControllerError> {
        let partner_key = &message.partner;
        let at = unix_seconds(SystemTime::now());
        match sent {
            Sent::Unreadable(error) => {
                warn!(batch = %message.batch, %error, "Outbox message unreadable");
                self.cache
                    .state()
                    .record_failure(&message.batch, at, &error, true)
                    .await?;
                window.stopped.insert(message.agreement.clone());
            }
            Sent::Done {
                bytes,
                outcome: Outcome::Acknowledged,
            } => {
                let ack = acknowledgement(partner, &message, bytes, now);
                self.acks.record(&message.batch, at, ack);
                report.acknowledged += 1;
                info!(partner = %partner_key, agreement = %message.agreement, batch = %message.batch, kind = %message.kind, records = message.records, "Batch delivered");
            }
            Sent::Done {
                outcome:
                    Outcome::Refused {
                        status,
                        message: said,
                    },
                ..
            } => {
                warn!(partner = %partner_key, agreement = %message.agreement, batch = %message.batch, status, "Partner refused a batch");
                self.cache
                    .state()
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
                window.stopped.insert(message.agreement.clone());
            }
            Sent::Done {
                outcome: Outcome::Failed { error },
                ..
            } => {
                warn!(partner = %partner_key, agreement = %message.agreement, batch = %message.batch, %error, "Partner unreachable; batch kept for the next pass");
                self.cache
                    .state()
                    .record_failure(&message.batch, at, &error, false)
                    .await?;
                report
                    .holds
                    .insert(message.agreement.clone(), Hold::Unreachable { error });
                *report.pending.entry(message.agreement.clone()).or_default() += 1;
                window.unreachable = true;
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

/// Records batches on their way to one partner at once.
const IN_FLIGHT: usize = 4;

/// The sends to one partner on their way, and what stops further ones.
#[derive(Default)]
struct Window {
    in_flight: VecDeque<(Pending, JoinHandle<Sent>)>,
    /// Agreements a refusal stopped for this pass.
    stopped: BTreeSet<String>,
    /// Whether the partner could not be reached: nothing more goes to it this pass.
    unreachable: bool,
}

/// How sending one message ended.
enum Sent {
    /// Its body could not be read or opened.
    Unreadable(String),
    /// It was sent, `bytes` long.
    Done { bytes: usize, outcome: Outcome },
}

/// Reads, opens and sends one message, in a task of its own.
async fn send_one(
    cache: Arc<Cache>,
    endpoint: Arc<Endpoint>,
    retry: RetryPolicy,
    school: String,
    batch: String,
    body: Option<Vec<u8>>,
) -> Sent {
    let body = match body {
        Some(body) => body,
        None => match open(&cache, &school, &batch).await {
            Ok(body) => body,
            Err(error) => return Sent::Unreadable(error),
        },
    };
    let outcome = endpoint.send(&batch, &body, &retry).await;
    Sent::Done {
        bytes: body.len(),
        outcome,
    }
}

/// A message's body, read from the outbox and opened with its school's key.
async fn open(cache: &Cache, school: &str, batch: &str) -> Result<Vec<u8>, String> {
    let sealed = cache
        .state()
        .sealed(batch)
        .await
        .map_err(|e| e.to_string())?;
    cache
        .open_message(school, batch, &sealed)
        .await
        .map_err(|e| e.to_string())
}

async fn finished(task: JoinHandle<Sent>) -> Sent {
    match task.await {
        Ok(sent) => sent,
        // Sending never panics by itself; carry on a panic from below.
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

/// The ledger entry confirming a message: for a deletion notice it names the people, so
/// one person's acknowledged deletions are found with their other entries.
fn acknowledgement(
    partner: &Partner,
    message: &Pending,
    bytes: usize,
    now: Timestamp,
) -> EntryBody {
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
        bytes: bytes as u64,
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
