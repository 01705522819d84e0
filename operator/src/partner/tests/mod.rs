//! The receiver's rules without a server: what is kept, what is refused, and what replaying
//! the journal gives back; and in `https`, the same receiver spawned in process.

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::catalogue::Area;
use crate::delivery::wire::{
    Deletion, DeletionNotice, DeletionReason, Message, RecordsBatch, SignatureCheck, Signer,
};

mod https;

const SECRET: &[u8] = b"shared-secret";
const NOW: i64 = 1_700_000_000;
const AGREEMENT: &str = "trust/homework";
const SCHOOL: &str = "trust/ashby";

fn open(store: &Path) -> Receiver {
    Receiver::open(store, SignatureCheck::Hmac(SECRET.to_vec())).unwrap()
}

fn records(batch: &str, area: Area, records: Value) -> Message {
    let Value::Array(records) = records else {
        panic!("records are an array")
    };
    Message::Records(RecordsBatch {
        batch: batch.into(),
        agreement: AGREEMENT.into(),
        school: SCHOOL.into(),
        area,
        fields: vec!["givenName".into(), "email".into()],
        records: records
            .into_iter()
            .map(|r| r.as_object().unwrap().clone())
            .collect(),
    })
}

fn deletion(batch: &str, area: Area, ids: Option<&[&str]>, fields: Option<&[&str]>) -> Message {
    let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
    Message::Deletion(DeletionNotice {
        batch: batch.into(),
        agreement: AGREEMENT.into(),
        school: SCHOOL.into(),
        deletions: vec![Deletion {
            area,
            reason: DeletionReason::NoLongerShared,
            sourced_ids: ids.map(owned),
            fields: fields.map(owned),
        }],
    })
}

fn send(receiver: &Receiver, message: &Message) -> Result<Receipt, Refusal> {
    send_signed(receiver, message, SECRET)
}

fn send_signed(receiver: &Receiver, message: &Message, secret: &[u8]) -> Result<Receipt, Refusal> {
    let body = serde_json::to_vec(message).unwrap();
    let signature = Signer::Hmac(secret.to_vec()).sign(NOW, &body);
    let delivery = Delivery {
        signature: Some(&signature),
        idempotency_key: Some(message.batch()),
        body: &body,
    };
    receiver.receive(delivery, NOW)
}

fn pupils() -> Value {
    json!([
        { "sourcedId": "stu-1", "givenName": "A", "email": "a@example.org" },
        { "sourcedId": "stu-2", "givenName": "B", "email": "b@example.org" },
        { "sourcedId": "stu-3", "givenName": "C", "email": "c@example.org" },
    ])
}

fn journal_files(store: &Path) -> usize {
    std::fs::read_dir(store.join(JOURNAL_DIR)).unwrap().count()
}

#[test]
fn records_replace_those_held_with_the_same_sourced_id() {
    let store = tempfile::tempdir().unwrap();
    let receiver = open(store.path());
    send(&receiver, &records("b1", Area::Students, pupils())).unwrap();
    let update = json!([{ "sourcedId": "stu-2", "givenName": "Bee" }]);
    send(&receiver, &records("b2", Area::Students, update)).unwrap();

    let holdings = Holdings::load(store.path()).unwrap();
    let held = holdings
        .holds(AGREEMENT, SCHOOL, Area::Students, "stu-2")
        .unwrap();
    assert_eq!(
        Value::Object(held.clone()),
        json!({ "sourcedId": "stu-2", "givenName": "Bee" })
    );
    assert_eq!(holdings.records(AGREEMENT, SCHOOL, Area::Students).len(), 3);
    assert_eq!(holdings.batches(), ["b1", "b2"]);
    assert!(
        holdings
            .holds(AGREEMENT, "trust/other", Area::Students, "stu-2")
            .is_none()
    );
}

#[test]
fn a_deletion_of_records_removes_exactly_those() {
    let store = tempfile::tempdir().unwrap();
    let receiver = open(store.path());
    send(&receiver, &records("b1", Area::Students, pupils())).unwrap();
    send(
        &receiver,
        &deletion("d1", Area::Students, Some(&["stu-1", "stu-9"]), None),
    )
    .unwrap();

    let holdings = Holdings::load(store.path()).unwrap();
    let left = holdings.people(AGREEMENT, SCHOOL);
    assert_eq!(left.into_iter().collect::<Vec<_>>(), ["stu-2", "stu-3"]);
    assert_eq!(holdings.deletion_notices(), 1);
}

#[test]
fn a_deletion_of_fields_removes_them_from_every_record_of_the_area_only() {
    let store = tempfile::tempdir().unwrap();
    let receiver = open(store.path());
    send(&receiver, &records("b1", Area::Students, pupils())).unwrap();
    let staff = json!([{ "sourcedId": "tea-1", "email": "t@example.org" }]);
    send(&receiver, &records("b2", Area::Staff, staff)).unwrap();
    let fields = Some(&["email", "sourcedId"][..]);
    send(&receiver, &deletion("d1", Area::Students, None, fields)).unwrap();

    let holdings = Holdings::load(store.path()).unwrap();
    for record in holdings.records(AGREEMENT, SCHOOL, Area::Students) {
        assert!(!record.contains_key("email"), "{record:?}");
        assert!(record.contains_key("sourcedId") && record.contains_key("givenName"));
    }
    let teacher = holdings
        .holds(AGREEMENT, SCHOOL, Area::Staff, "tea-1")
        .unwrap();
    assert!(teacher.contains_key("email"));
}

#[test]
fn a_deletion_of_an_area_removes_all_of_it() {
    let store = tempfile::tempdir().unwrap();
    let receiver = open(store.path());
    send(&receiver, &records("b1", Area::Students, pupils())).unwrap();
    let classes = json!([{ "sourcedId": "cls-1", "title": "7A" }]);
    send(&receiver, &records("b2", Area::Classes, classes)).unwrap();
    send(&receiver, &deletion("d1", Area::Students, None, None)).unwrap();

    let holdings = Holdings::load(store.path()).unwrap();
    assert!(
        holdings
            .records(AGREEMENT, SCHOOL, Area::Students)
            .is_empty()
    );
    assert!(holdings.people(AGREEMENT, SCHOOL).is_empty());
    assert_eq!(holdings.records(AGREEMENT, SCHOOL, Area::Classes).len(), 1);
    let places: Vec<_> = holdings.places().collect();
    assert_eq!(places, [(AGREEMENT, SCHOOL, Area::Classes)]);
}

#[test]
fn a_key_applied_before_a_restart_is_still_a_duplicate() {
    let store = tempfile::tempdir().unwrap();
    let first = records("b1", Area::Students, pupils());
    let receipt = send(&open(store.path()), &first).unwrap();
    assert_eq!(receipt.outcome, Outcome::Applied);

    let restarted = open(store.path());
    let again = send(&restarted, &first).unwrap();
    assert_eq!(again.outcome, Outcome::Duplicate);
    let next = send(&restarted, &deletion("d1", Area::Students, None, None)).unwrap();
    assert_eq!(next.outcome, Outcome::Applied);

    assert_eq!(journal_files(store.path()), 2);
    let holdings = Holdings::load(store.path()).unwrap();
    assert_eq!(holdings.batches(), ["b1", "d1"]);
    assert_eq!(holdings.duplicates(), ["b1"]);
}

#[test]
fn a_half_written_journal_file_is_passed_over_on_replay() {
    let store = tempfile::tempdir().unwrap();
    send(
        &open(store.path()),
        &records("b1", Area::Students, pupils()),
    )
    .unwrap();
    let unfinished = store
        .path()
        .join(JOURNAL_DIR)
        .join(".000000002-b2.json.tmp");
    std::fs::write(unfinished, br#"{"type":"records","batch":"b2","agr"#).unwrap();

    let holdings = Holdings::load(store.path()).unwrap();
    assert_eq!(holdings.batches(), ["b1"]);
    let receiver = open(store.path());
    let receipt = send(&receiver, &records("b2", Area::Staff, json!([]))).unwrap();
    assert_eq!(receipt.outcome, Outcome::Applied);
    assert_eq!(
        Holdings::load(store.path()).unwrap().batches(),
        ["b1", "b2"]
    );
}

#[test]
fn a_refused_message_is_never_kept() {
    let store = tempfile::tempdir().unwrap();
    let receiver = open(store.path());
    let message = records("b1", Area::Students, pupils());

    let wrong = send_signed(&receiver, &message, b"not-the-secret").unwrap_err();
    assert_eq!(wrong.status(), 401);

    let body = serde_json::to_vec(&message).unwrap();
    let signature = Signer::Hmac(SECRET.to_vec()).sign(NOW, &body);
    let mut delivery = Delivery {
        signature: Some(&signature),
        idempotency_key: Some("b2"),
        body: &body,
    };
    let mismatch = receiver.receive(delivery, NOW).unwrap_err();
    assert!(matches!(mismatch, Refusal::KeyMismatch), "{mismatch}");
    delivery.idempotency_key = None;
    assert!(matches!(
        receiver.receive(delivery, NOW),
        Err(Refusal::NoKey)
    ));

    let nameless = records(
        "b3",
        Area::Students,
        json!([{ "givenName": "Secret Name" }]),
    );
    let refusal = send(&receiver, &nameless).unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "record 0 of the batch has no string sourcedId"
    );

    let unsafe_key = records("../b4", Area::Students, pupils());
    assert!(matches!(send(&receiver, &unsafe_key), Err(Refusal::BadKey)));

    assert_eq!(journal_files(store.path()), 0);
    assert!(Holdings::load(store.path()).unwrap().batches().is_empty());
}

#[test]
fn only_objects_with_a_string_sourced_id_are_kept_and_each_is_kept_as_sent() {
    let store = tempfile::tempdir().unwrap();
    let receiver = open(store.path());
    let send_text = |batch: &str, records: &str| {
        let body = format!(
            r#"{{"type":"records","batch":"{batch}","agreement":"{AGREEMENT}","school":"{SCHOOL}","area":"students","fields":["givenName"],"records":{records}}}"#
        );
        let signature = Signer::Hmac(SECRET.to_vec()).sign(NOW, body.as_bytes());
        receiver.receive(
            Delivery {
                signature: Some(&signature),
                idempotency_key: Some(batch),
                body: body.as_bytes(),
            },
            NOW,
        )
    };
    for (batch, records, index) in [
        ("b1", r#"[{"sourcedId":"stu-1"},["stu-2"]]"#, 1),
        ("b2", r#"[{"sourcedId":7,"givenName":"A"}]"#, 0),
        ("b3", r#"[{"givenName":"A","sourcedId":null}]"#, 0),
    ] {
        let refusal = send_text(batch, records).unwrap_err();
        assert!(
            matches!(refusal, Refusal::NoSourcedId { index: i } if i == index),
            "{batch}: {refusal}"
        );
    }
    assert_eq!(journal_files(store.path()), 0);

    // Members in any order, escapes, and nesting: what is held reads back as sent.
    let sent = r#"[{"givenName":"Zo\u00eb \"Z\"","sourcedId":"stu-1","tags":[{"a":1}]}]"#;
    send_text("b4", sent).unwrap();
    let expected: Value = serde_json::from_str(sent).unwrap();
    for holdings in [
        receiver.with_holdings(Holdings::clone).unwrap(),
        Holdings::load(store.path()).unwrap(),
    ] {
        let held = holdings.holds(AGREEMENT, SCHOOL, Area::Students, "stu-1");
        assert_eq!(held.map(Value::Object).as_ref(), expected.get(0));
    }
}

#[test]
fn a_body_that_is_not_a_message_is_refused_without_echoing_it() {
    let store = tempfile::tempdir().unwrap();
    let receiver = open(store.path());
    let body = br#"{"type":"records","batch":"b1","agreement":"a","school":"s","area":"students","fields":[],"records":["Jane Doe"]}"#;
    let signature = Signer::Hmac(SECRET.to_vec()).sign(NOW, body);
    let delivery = Delivery {
        signature: Some(&signature),
        idempotency_key: Some("b1"),
        body,
    };
    let refusal = receiver.receive(delivery, NOW).unwrap_err();
    assert_eq!(refusal.status(), 400);
    assert!(!refusal.to_string().contains("Jane"), "{refusal}");
}

#[test]
fn people_are_counted_across_person_areas_only() {
    let store = tempfile::tempdir().unwrap();
    let receiver = open(store.path());
    send(&receiver, &records("b1", Area::Students, pupils())).unwrap();
    let contacts = json!([{ "sourcedId": "con-1" }, { "sourcedId": "stu-1" }]);
    send(&receiver, &records("b2", Area::Contacts, contacts)).unwrap();
    let classes = json!([{ "sourcedId": "cls-1" }]);
    send(&receiver, &records("b3", Area::Classes, classes)).unwrap();

    let people = receiver
        .with_holdings(|h| h.people(AGREEMENT, SCHOOL))
        .unwrap();
    assert_eq!(people.len(), 4);
    assert!(!people.contains("cls-1"));
    assert_eq!(receiver.with_holdings(Holdings::record_count).unwrap(), 6);
}
