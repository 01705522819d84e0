//! Writing a pass's groups of messages: each group in one transaction, in a task of its
//! own, one group staged ahead while the one before it commits.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::prepared::{LedgerContext, Prepared};
use crate::controller::ControllerError;
use crate::ledger::EntryBody;
use crate::state::{HoldingChange, NewMessage, State, StateError};

/// Groups being written beyond the one whose turn it is: the next group is made ready to
/// write (its rows built, its ledger entries serialised) while the last one commits.
pub(super) const WRITES_AHEAD: usize = 1;

/// Groups of messages being written, each in one transaction in a task of its own, in the
/// order they were started: a group takes the write lock only once the group before it
/// is committed, so the outbox and the ledger keep the order of the pass.
#[derive(Default)]
pub(super) struct Writes {
    in_order: VecDeque<Writing>,
    last_done: Option<oneshot::Receiver<()>>,
}

/// One group being written; gives the group back once it is committed, or `None` when
/// the group before it failed and so it was not written.
type Writing = JoinHandle<Result<Option<Vec<Prepared>>, StateError>>;

impl Writes {
    /// Starts writing a group after those already started.
    pub(super) fn start(
        &mut self,
        state: &State,
        context: &Arc<LedgerContext>,
        group: Vec<Prepared>,
    ) {
        let (state, context) = (state.clone(), context.clone());
        let turn = self.last_done.take();
        let (done, next_turn) = oneshot::channel();
        self.last_done = Some(next_turn);
        self.in_order.push_back(tokio::spawn(async move {
            let mut group = group;
            // The entries are needed only here, so they are moved out rather than copied.
            let ledger: Vec<EntryBody> = group
                .iter_mut()
                .flat_map(|p| std::mem::take(&mut p.ledger))
                .collect();
            let changes: Vec<Vec<HoldingChange<'_>>> =
                group.iter().map(Prepared::changes).collect();
            let rows: Vec<NewMessage<'_>> = group
                .iter()
                .zip(&changes)
                .map(|(prepared, changes)| prepared.row(&context, changes))
                .collect();
            let staged = state.stage_messages(&rows, &ledger);
            // A group before this one that failed fails the pass; this one stays unwritten.
            if let Some(turn) = turn
                && turn.await.is_err()
            {
                return Ok(None);
            }
            state.commit_staged(staged).await?;
            let _ = done.send(());
            drop(rows);
            drop(changes);
            Ok(Some(group))
        }));
    }

    pub(super) fn in_flight(&self) -> usize {
        self.in_order.len()
    }

    /// Waits for the oldest group still being written.
    pub(super) async fn next_written(&mut self) -> Result<Vec<Prepared>, ControllerError> {
        let Some(writing) = self.in_order.pop_front() else {
            return Ok(Vec::new());
        };
        match writing.await {
            Ok(result) => Ok(result?.unwrap_or_default()),
            // The task only panics if the database driver does; carry the panic on.
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
}
