//! Recording partners' confirmations beside the sends. The pusher hands each confirmation
//! to a writer of its own and goes straight on sending; the writer records whatever has
//! gathered in one transaction. So a send never waits for the database, and a thousand
//! confirmations cost a few transactions rather than a thousand.
//!
//! A confirmation not yet written when the process stops leaves its message pending: the
//! next pass sends it again with the same idempotency key, and the partner, which applied
//! it already, changes nothing.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::ledger::EntryBody;
use crate::state::{Acknowledged, State, StateError};

/// Confirmations written in one transaction at most.
const ACKS_PER_TRANSACTION: usize = 256;

/// One message the partner confirmed.
struct Confirmed {
    batch: String,
    at: i64,
    entry: EntryBody,
}

/// The writer of confirmations, running beside the pusher.
pub(super) struct Acks {
    to_write: mpsc::UnboundedSender<Confirmed>,
    writer: JoinHandle<Result<(), StateError>>,
}

impl Acks {
    /// Starts the writer.
    pub(super) fn start(state: State) -> Acks {
        let (to_write, confirmed) = mpsc::unbounded_channel();
        Acks {
            to_write,
            writer: tokio::spawn(write(state, confirmed)),
        }
    }

    /// Hands over the confirmation of `batch` at `at` (Unix seconds) with its ledger
    /// entry. Nothing happens once the writer has failed; [`Acks::finish`] gives its
    /// error.
    pub(super) fn record(&self, batch: &str, at: i64, entry: EntryBody) {
        let _ = self.to_write.send(Confirmed {
            batch: batch.to_owned(),
            at,
            entry,
        });
    }

    /// Whether the writer stopped because writing failed.
    pub(super) fn failed(&self) -> bool {
        self.to_write.is_closed()
    }

    /// Waits until every confirmation handed over is written.
    pub(super) async fn finish(self) -> Result<(), StateError> {
        drop(self.to_write);
        match self.writer.await {
            Ok(written) => written,
            // Writing never panics by itself; carry on a panic from below.
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
}

async fn write(
    state: State,
    mut confirmed: mpsc::UnboundedReceiver<Confirmed>,
) -> Result<(), StateError> {
    let mut gathered = Vec::new();
    while confirmed
        .recv_many(&mut gathered, ACKS_PER_TRANSACTION)
        .await
        > 0
    {
        let acks: Vec<Acknowledged<'_>> = gathered
            .iter()
            .map(|c| Acknowledged {
                batch: &c.batch,
                at: c.at,
                entry: &c.entry,
            })
            .collect();
        state.acknowledge_all(&acks).await?;
        drop(acks);
        gathered.clear();
    }
    Ok(())
}
