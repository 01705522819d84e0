use super::*;
use crate::ledger::tests::share;
use crate::ledger::{ChainError, verify};

async fn ledger() -> (tempfile::TempDir, SqliteLedger) {
    let dir = tempfile::tempdir().unwrap();
    let state = State::open(&dir.path().join("state")).await.unwrap();
    (dir, SqliteLedger::new(state))
}

#[tokio::test]
async fn appended_entries_chain_and_verify() {
    let (_dir, ledger) = ledger().await;
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
}

#[tokio::test]
async fn the_ledger_refuses_updates_and_deletes() {
    let (_dir, ledger) = ledger().await;
    ledger.append(&[share("stu-1")]).await.unwrap();
    let pool = ledger.state.pool();
    assert!(
        sqlx::query("UPDATE ledger SET body = '{}'")
            .execute(pool)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM ledger")
            .execute(pool)
            .await
            .is_err()
    );
    assert_eq!(ledger.entries().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_row_edited_around_the_triggers_fails_verification() {
    let (_dir, ledger) = ledger().await;
    ledger
        .append(&[share("stu-1"), share("stu-2"), share("stu-3")])
        .await
        .unwrap();
    let pool = ledger.state.pool();
    sqlx::query("DROP TRIGGER ledger_no_update")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE ledger SET body = replace(body, 'yearGroup', 'dateOfBirth') WHERE seq = 2")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        verify(&ledger.entries().await.unwrap()),
        Err(ChainError::Edited { seq: 2 })
    );
}

#[tokio::test]
async fn a_row_deleted_around_the_triggers_fails_verification() {
    let (_dir, ledger) = ledger().await;
    ledger
        .append(&[share("stu-1"), share("stu-2"), share("stu-3")])
        .await
        .unwrap();
    let pool = ledger.state.pool();
    sqlx::query("DROP TRIGGER ledger_no_delete")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM ledger WHERE seq = 2")
        .execute(pool)
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

#[tokio::test]
async fn one_persons_entries_are_found_by_school_and_sourced_id() {
    let (_dir, ledger) = ledger().await;
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
