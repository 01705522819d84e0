//! The ledger's store on SQLite and on a real PostgreSQL server: each test runs once per
//! backend.

use super::*;
use crate::ledger::tests::share;
use crate::ledger::{ChainError, verify};
use crate::state::tests::{Backend, Scratch, on_both_backends};

async fn ledger(backend: Backend) -> (Scratch, Ledger) {
    let scratch = Scratch::new(backend);
    let state = scratch.open().await;
    (scratch, Ledger::new(state))
}

/// How an attacker with the database's password gets around a trigger.
fn drop_trigger(backend: Backend, trigger: &str) -> String {
    match backend {
        Backend::Sqlite => format!("DROP TRIGGER {trigger}"),
        Backend::Postgres => format!("DROP TRIGGER {trigger} ON ledger"),
    }
}

on_both_backends!(
    appended_entries_chain_and_verify,
    the_ledger_refuses_updates_and_deletes,
    a_row_edited_around_the_triggers_fails_verification,
    a_row_deleted_around_the_triggers_fails_verification,
    one_persons_entries_are_found_by_school_and_sourced_id,
    acknowledgements_are_found_by_the_batch_they_confirm,
    two_writers_never_chain_to_the_same_last_entry,
);

async fn appended_entries_chain_and_verify(backend: Backend) {
    let (_scratch, ledger) = ledger(backend).await;
    ledger
        .append(&[share("stu-1"), share("stu-2")])
        .await
        .unwrap();
    let more = ledger.append(&[share("stu-3")]).await.unwrap();
    assert_eq!(more[0].seq, 3);
    let entries = ledger.entries().await.unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[2].prev_hash, entries[1].hash);
    assert_eq!(verify(&entries), Ok(()));
    assert_eq!(ledger.last_seq().await.unwrap(), 3);
}

async fn the_ledger_refuses_updates_and_deletes(backend: Backend) {
    let (_scratch, ledger) = ledger(backend).await;
    ledger.append(&[share("stu-1")]).await.unwrap();
    let state = &ledger.state;
    let update = state.execute_sql("UPDATE ledger SET body = '{}'").await;
    let delete = state.execute_sql("DELETE FROM ledger").await;

    assert!(
        update.unwrap_err().to_string().contains("append-only"),
        "the trigger refuses the update"
    );
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    if backend == Backend::Postgres {
        let truncate = state.execute_sql("TRUNCATE ledger").await;
        assert!(truncate.unwrap_err().to_string().contains("append-only"));
    }
    assert_eq!(ledger.entries().await.unwrap().len(), 1);
}

async fn a_row_edited_around_the_triggers_fails_verification(backend: Backend) {
    let (_scratch, ledger) = ledger(backend).await;
    ledger
        .append(&[share("stu-1"), share("stu-2"), share("stu-3")])
        .await
        .unwrap();
    let state = &ledger.state;
    state
        .execute_sql(&drop_trigger(backend, "ledger_no_update"))
        .await
        .unwrap();
    state
        .execute_sql(
            "UPDATE ledger SET body = replace(body, 'yearGroup', 'dateOfBirth') WHERE seq = 2",
        )
        .await
        .unwrap();
    assert_eq!(
        verify(&ledger.entries().await.unwrap()),
        Err(ChainError::Edited { seq: 2 })
    );
}

async fn a_row_deleted_around_the_triggers_fails_verification(backend: Backend) {
    let (_scratch, ledger) = ledger(backend).await;
    ledger
        .append(&[share("stu-1"), share("stu-2"), share("stu-3")])
        .await
        .unwrap();
    let state = &ledger.state;
    state
        .execute_sql(&drop_trigger(backend, "ledger_no_delete"))
        .await
        .unwrap();
    state
        .execute_sql("DELETE FROM ledger WHERE seq = 2")
        .await
        .unwrap();
    assert_eq!(
        verify(&ledger.entries().await.unwrap()),
        Err(ChainError::Broken {
            seq: 3,
            previous: 1
        })
    );
}

async fn one_persons_entries_are_found_by_school_and_sourced_id(backend: Backend) {
    let (_scratch, ledger) = ledger(backend).await;
    let mut both = share("stu-2");
    both.subjects = vec!["stu-1".into(), "stu-2".into()];
    ledger
        .append(&[share("stu-1"), share("stu-3"), both])
        .await
        .unwrap();
    let seqs = |entries: Vec<Entry>| entries.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(ledger.entries_about("trust/ashby", "stu-1").await.unwrap()),
        [1, 3]
    );
    assert_eq!(
        seqs(ledger.entries_about("trust/ashby", "stu-3").await.unwrap()),
        [2]
    );
    assert!(
        ledger
            .entries_about("trust/brook", "stu-1")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn acknowledgements_are_found_by_the_batch_they_confirm(backend: Backend) {
    let (_scratch, ledger) = ledger(backend).await;
    let acknowledgement = |batch: &str| EntryBody {
        kind: crate::ledger::EntryKind::Acknowledgement,
        batch: batch.into(),
        ..share("stu-1")
    };
    ledger
        .append(&[
            share("stu-1"),
            acknowledgement("batch-1"),
            acknowledgement("batch-2"),
            acknowledgement("batch-3"),
        ])
        .await
        .unwrap();

    let found = ledger
        .acknowledgements(&["batch-1".into(), "batch-3".into(), "batch-9".into()])
        .await
        .unwrap();
    let seqs: Vec<i64> = found.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        [2, 4],
        "the share of batch-1 is not its acknowledgement"
    );
}

async fn two_writers_never_chain_to_the_same_last_entry(backend: Backend) {
    // Two pools on one database, as two processes (or two replicas) would have.
    let (scratch, first) = ledger(backend).await;
    let second = Ledger::new(scratch.open().await);

    let writes = (0..40).map(|i| {
        let ledger = if i % 2 == 0 { &first } else { &second };
        async move {
            ledger
                .append(&[share(&format!("stu-{i}")), share(&format!("stu-{i}-b"))])
                .await
        }
    });
    for written in futures::future::join_all(writes).await {
        written.expect("every append lands");
    }

    let entries = first.entries().await.unwrap();
    assert_eq!(entries.len(), 80);
    assert_eq!(verify(&entries), Ok(()));
}
