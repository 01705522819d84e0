//! The partner receiver behind `accord partner serve`: the partner's side of the delivery
//! protocol in [`wire`](crate::delivery::wire), so demos and tests have a real HTTPS partner
//! and can see exactly what it holds.
//!
//! A message is accepted only with a valid signature inside the replay window and an
//! `Idempotency-Key` equal to its `batch`. A key already applied is answered `duplicate`
//! and changes nothing; any other message is kept in the store's journal before it is
//! applied and answered `applied`. The journal is the truth: [`Holdings::load`] replays it
//! into what the partner holds, and a restarted receiver replays it to keep de-duplicating.

mod error;
mod holdings;
mod journal;
mod key_files;
mod receiver;
mod server;
#[cfg(test)]
mod tests;

pub use error::{KeyFileError, ReceiverError, StoreError};
pub use holdings::{Holdings, PERSON_AREAS, Record};
pub use journal::{DUPLICATES_FILE, JOURNAL_DIR, MAX_KEY_LEN, is_valid_key};
pub use key_files::{public_key_check, shared_secret_check};
pub use receiver::{Delivery, Outcome, Receipt, Receiver, Refusal};
pub use server::{DEFAULT_MAX_BODY_BYTES, ReceiverConfig, RunningReceiver, serve, spawn};
