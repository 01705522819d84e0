//! The receiver's rules for one message, apart from HTTP: check the signature, read the
//! message, match its key, apply it once, and keep it in the journal before answering.
//!
//! [`Receiver::receive`] is synchronous and does its file writes inline, so the server
//! calls it off the async workers, and tests can call it with no server at all.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use super::error::redacted;
use super::holdings::{Holdings, Received, sourced_id};
use super::journal::{self, Journal, MAX_KEY_LEN};
use super::{ReceiverError, StoreError};
use crate::delivery::wire::{
    IDEMPOTENCY_HEADER, Message, SIGNATURE_HEADER, SignatureCheck, SignatureError,
};

/// One POST as the receiver sees it.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    /// The `Accord-Signature` header, if sent.
    pub signature: Option<&'a str>,
    /// The `Idempotency-Key` header, if sent.
    pub idempotency_key: Option<&'a str>,
    /// The body, exactly as received.
    pub body: &'a [u8],
}

/// What happened to an accepted message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Kept in the journal and applied.
    Applied,
    /// Its key was applied before, so nothing changed.
    Duplicate,
}

impl Outcome {
    /// The word the receiver answers with: `applied` or `duplicate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
        }
    }
}

/// The answer to an accepted message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The message's idempotency key.
    pub batch: String,
    /// Applied, or a duplicate.
    pub outcome: Outcome,
}

/// Why a message was refused. Messages name what is wrong, never a record's values.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No signature header.
    #[error("the {SIGNATURE_HEADER} header is missing")]
    Unsigned,
    /// The signature is malformed, stale or does not match.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The body is not a message.
    #[error("the body is not an Accord message: {0}")]
    NotAMessage(String),
    /// No idempotency key header.
    #[error("the {IDEMPOTENCY_HEADER} header is missing")]
    NoKey,
    /// The key is not one the receiver can keep.
    #[error("the batch key must be 1 to {MAX_KEY_LEN} ASCII letters, digits, '-' or '_'")]
    BadKey,
    /// The header and the body name different batches.
    #[error("the {IDEMPOTENCY_HEADER} header is not the body's batch")]
    KeyMismatch,
    /// A record cannot be matched by later updates and deletions.
    #[error("record {index} of the batch has no string sourcedId")]
    NoSourcedId {
        /// Its position in `records`, from 0.
        index: usize,
    },
    /// The store failed; the message was not kept.
    #[error("the receiver could not keep the message: {0}")]
    Store(#[from] StoreError),
    /// An earlier failure left the receiver's memory unsure.
    #[error("the receiver failed earlier; restart it to rebuild its holdings from the journal")]
    Broken,
}

impl Refusal {
    /// The HTTP status for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Unsigned | Refusal::Signature(_) => 401,
            Refusal::NotAMessage(_)
            | Refusal::NoKey
            | Refusal::BadKey
            | Refusal::KeyMismatch
            | Refusal::NoSourcedId { .. } => 400,
            Refusal::Store(_) | Refusal::Broken => 500,
        }
    }
}

/// A receiver over one store, checking signatures one way.
#[derive(Debug)]
pub struct Receiver {
    check: SignatureCheck,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    journal: Journal,
    holdings: Holdings,
}

impl Receiver {
    /// Opens the store folder `store`, creating it, and replays its journal so keys applied
    /// before a restart are still known.
    pub fn open(store: &Path, check: SignatureCheck) -> Result<Receiver, ReceiverError> {
        let entries = journal::entries(store)?;
        let journal = Journal::open(store, &entries)?;
        let mut holdings = Holdings::default();
        for entry in &entries {
            holdings.apply(entry.read()?);
        }
        for batch in journal::duplicates(store)? {
            holdings.note_duplicate(&batch);
        }
        tracing::info!(
            store = %store.display(),
            batches = entries.len(),
            records = holdings.record_count(),
            "Journal replayed"
        );
        Ok(Receiver {
            check,
            state: Mutex::new(State { journal, holdings }),
        })
    }

    /// Checks, keeps and applies one message, at the receiver's time `now` (unix seconds).
    pub fn receive(&self, delivery: Delivery<'_>, now: i64) -> Result<Receipt, Refusal> {
        let signature = delivery.signature.ok_or(Refusal::Unsigned)?;
        self.check.verify(signature, delivery.body, now)?;

        let message: Received = serde_json::from_slice(delivery.body)
            .map_err(|error| Refusal::NotAMessage(redacted(&error)))?;
        let batch = message.batch().to_owned();
        let key = delivery.idempotency_key.ok_or(Refusal::NoKey)?;
        if !journal::is_valid_key(&batch) {
            return Err(Refusal::BadKey);
        }
        if key != batch {
            return Err(Refusal::KeyMismatch);
        }
        if let Message::Records(records) = &message
            && let Some(index) = records.records.iter().position(|r| sourced_id(r).is_none())
        {
            return Err(Refusal::NoSourcedId { index });
        }

        // One message at a time from here, so a key is applied at most once.
        let mut state = self.state()?;
        if state.holdings.has_applied(&batch) {
            // The answer is the same whether or not the log could be written.
            if let Err(error) = state.journal.note_duplicate(&batch) {
                tracing::warn!(%batch, %error, "Failed to log a duplicate");
            }
            state.holdings.note_duplicate(&batch);
            tracing::info!(%batch, "Duplicate message ignored");
            return Ok(Receipt {
                batch,
                outcome: Outcome::Duplicate,
            });
        }
        state.journal.append(&batch, delivery.body)?;
        log_applied(&message);
        state.holdings.apply(message);
        Ok(Receipt {
            batch,
            outcome: Outcome::Applied,
        })
    }

    /// Runs `read` on what the receiver holds now.
    pub fn with_holdings<R>(&self, read: impl FnOnce(&Holdings) -> R) -> Result<R, Refusal> {
        Ok(read(&self.state()?.holdings))
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, Refusal> {
        // A panic while applying may have left holdings half changed; the journal is whole.
        self.state.lock().map_err(|_| Refusal::Broken)
    }
}

fn log_applied(message: &Received) {
    let (agreement, school) = (message.agreement(), message.school());
    match message {
        Message::Records(batch) => tracing::info!(
            batch = %batch.batch,
            agreement,
            school,
            area = %batch.area,
            records = batch.records.len(),
            "Batch applied"
        ),
        Message::Deletion(notice) => tracing::info!(
            batch = %notice.batch,
            agreement,
            school,
            deletions = notice.deletions.len(),
            "Deletion notice applied"
        ),
    }
}
