//! The outbox as delivery relies on it, on both backends: a group of messages committed
//! together, in order, with its holdings and ledger entries, and confirmations that count
//! once however often they arrive.

use super::{Backend, count, fresh_state, on_both_backends};
use crate::state::*;

on_both_backends!(
    acknowledgements_written_together_each_count_once,
    a_group_of_messages_commits_in_order_with_its_holdings_and_who_each_entry_is_about,
);

/// A message of records from t/ashby to t/hub under t/hw.
fn records_message<'a>(
    batch: &'a str,
    sealed: &'a [u8],
    changes: &'a [HoldingChange<'a>],
) -> NewMessage<'a> {
    NewMessage {
        batch,
        partner: "t/hub",
        agreement: "t/hw",
        school: "t/ashby",
        kind: "records",
        mode: "push",
        sealed,
        records: 1,
        subjects: &[],
        created_at: 1,
        changes,
    }
}

async fn a_group_of_messages_commits_in_order_with_its_holdings_and_who_each_entry_is_about(
    backend: Backend,
) {
    use crate::catalogue::Area;
    use crate::ledger::{EntryBody, EntryKind, Ledger, LedgerStore};

    let (_scratch, state) = fresh_state(backend).await;
    let fields = vec!["givenName".to_owned()];
    let gone = vec!["stu-2".to_owned()];
    let upsert = |records: Vec<(&'static str, u8)>| HoldingChange::Upsert {
        area: Area::Students,
        fields: &fields,
        records: records
            .into_iter()
            .map(|(id, digest)| (id, Some(id), [digest; 16]))
            .collect(),
    };
    // Two batches of records, a notice deleting one of them, then a third batch that sends
    // stu-1 again (changed) and names stu-4 twice: the last version of each is held.
    let changes = [
        vec![upsert(vec![("stu-1", 1), ("stu-2", 1)])],
        vec![upsert(vec![("stu-3", 1)])],
        vec![HoldingChange::DeleteRecords {
            area: Area::Students,
            ids: &gone,
        }],
        vec![upsert(vec![("stu-1", 2), ("stu-4", 1), ("stu-4", 3)])],
    ];
    let batches = ["b-1", "b-2", "b-3", "b-4"];
    let messages: Vec<NewMessage<'_>> = batches
        .iter()
        .zip(&changes)
        .map(|(batch, changes)| records_message(batch, batch.as_bytes(), changes))
        .collect();
    let entry = |batch: &str, subjects: &[&str]| EntryBody {
        kind: EntryKind::Share,
        batch: batch.to_owned(),
        school: "t/ashby".to_owned(),
        subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
        ..EntryBody::default()
    };
    let ledger = [
        entry("b-1", &["stu-1", "stu-2"]),
        entry("b-2", &["stu-3"]),
        entry("b-4", &["stu-1", "stu-4", "stu-4"]),
    ];
    let written = state
        .commit_messages(&messages, &ledger)
        .await
        .expect("committed");

    let pending = state.pending(None).await.expect("pending");
    let order: Vec<(&str, &[u8])> = pending
        .iter()
        .map(|p| (p.batch.as_str(), p.sealed.as_slice()))
        .collect();
    assert_eq!(
        order,
        batches.map(|b| (b, b.as_bytes())),
        "sent in the order committed, each with its own body"
    );

    let held = state.held("t/hw", "t/ashby").await.expect("held");
    let students = &held.areas[&Area::Students];
    assert_eq!(students.fields, fields);
    let digests: Vec<(&str, u8)> = students
        .records
        .iter()
        .map(|(id, r)| {
            assert_eq!(r.subject.as_deref(), Some(id.as_str()));
            (id.as_str(), r.digest[0])
        })
        .collect();
    assert_eq!(digests, [("stu-1", 2), ("stu-3", 1), ("stu-4", 3)]);

    let about = Ledger::new(state.clone());
    let seqs = async |school: &str, person: &str| -> Vec<i64> {
        let entries = about.entries_about(school, person).await.expect("entries");
        entries.into_iter().map(|e| e.seq).collect()
    };
    let (first, third) = (written[0].seq, written[2].seq);
    assert_eq!(seqs("t/ashby", "stu-1").await, [first, third]);
    assert_eq!(
        seqs("t/ashby", "stu-4").await,
        [third],
        "a person named twice in one entry is indexed once"
    );
    assert!(seqs("t/other", "stu-1").await.is_empty());
    crate::ledger::verify(&about.entries().await.expect("entries")).expect("the chain holds");
}

async fn acknowledgements_written_together_each_count_once(backend: Backend) {
    let (_scratch, state) = fresh_state(backend).await;
    let batches = ["batch-a", "batch-b", "batch-c"];
    let messages: Vec<NewMessage<'_>> = batches
        .iter()
        .map(|batch| records_message(batch, b"sealed", &[]))
        .collect();
    state
        .commit_messages(&messages, &[])
        .await
        .expect("committed");
    let entry = |batch: &str| crate::ledger::EntryBody {
        kind: crate::ledger::EntryKind::Acknowledgement,
        batch: batch.to_owned(),
        school: "t/ashby".to_owned(),
        ..crate::ledger::EntryBody::default()
    };
    let (a, b) = (entry("batch-a"), entry("batch-b"));
    let ack = |batch, entry| Acknowledged {
        batch,
        at: 7,
        entry,
    };
    // batch-a is confirmed twice in the same group: one acknowledgement, one entry.
    state
        .acknowledge_all(&[ack("batch-a", &a), ack("batch-b", &b), ack("batch-a", &a)])
        .await
        .expect("acknowledged");
    // And again in a later group: still nothing more.
    state.acknowledge("batch-a", 9, &a).await.expect("again");

    let pending: Vec<String> = state
        .pending_heads()
        .await
        .expect("pending")
        .into_iter()
        .map(|p| p.batch)
        .collect();
    assert_eq!(pending, ["batch-c"]);
    assert_eq!(
        count(&state, "SELECT COUNT(*) FROM ledger").await,
        2,
        "one entry per message acknowledged"
    );
    assert_eq!(
        count(&state, "SELECT COUNT(*) FROM outbox WHERE acked_at = 7").await,
        2,
        "the first confirmation's time is kept"
    );
}
