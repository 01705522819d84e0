use super::*;

pub(super) fn share(subject: &str) -> EntryBody {
    EntryBody {
        kind: EntryKind::Share,
        at: "2026-12-03T10:00:00Z".into(),
        school: "trust/ashby".into(),
        agreement: "trust/homework".into(),
        partner: "trust/hub".into(),
        partner_location: "GB/London".into(),
        area: "students".into(),
        fields: vec!["givenName".into(), "yearGroup".into()],
        subjects: vec![subject.into()],
        records: 1,
        batch: "batch-1".into(),
        ..EntryBody::default()
    }
}

fn chain(n: usize) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for i in 0..n {
        let prev_hash = entries.last().map_or([0u8; 32], |e| e.hash);
        let body = share(&format!("stu-{i}"));
        let hash = hash_entry(&prev_hash, &body);
        entries.push(Entry {
            seq: i as i64 + 1,
            body,
            prev_hash,
            hash,
        });
    }
    entries
}

#[test]
fn an_intact_chain_verifies() {
    assert_eq!(verify(&chain(5)), Ok(()));
    assert_eq!(verify(&[]), Ok(()));
}

#[test]
fn an_edited_entry_is_found() {
    let mut entries = chain(5);
    entries[2].body.fields.push("dateOfBirth".into());
    assert_eq!(verify(&entries), Err(ChainError::Edited { seq: 3 }));
}

#[test]
fn a_removed_entry_is_found() {
    let mut entries = chain(5);
    entries.remove(1);
    assert_eq!(
        verify(&entries),
        Err(ChainError::Broken {
            seq: 3,
            previous: 1
        })
    );
}

#[test]
fn reordered_entries_are_found() {
    let mut entries = chain(5);
    entries.swap(1, 2);
    assert_eq!(
        verify(&entries),
        Err(ChainError::Broken {
            seq: 3,
            previous: 1
        })
    );
}

#[test]
fn an_entry_rehashed_after_editing_still_breaks_the_next() {
    let mut entries = chain(5);
    entries[2].body.subjects = vec!["stu-other".into()];
    entries[2].hash = hash_entry(&entries[2].prev_hash, &entries[2].body);
    assert_eq!(
        verify(&entries),
        Err(ChainError::Broken {
            seq: 4,
            previous: 3
        })
    );
}
