//! Data flows end to end on loopback: `accord run` delivers the example Trust to partner
//! receivers over HTTPS, and each test inspects exactly what a partner holds.

mod common;

use std::collections::BTreeSet;

use accord::catalogue::Area;
use common::{Trust, accord, pupils};
use serde_json::Value;

const NS: &str = "riverside-trust";

fn key(name: &str) -> String {
    format!("{NS}/{name}")
}

fn converge(trust: &Trust) {
    let output = trust.run();
    assert!(
        output.status.success(),
        "accord run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn condition<'a>(object: &'a Value, kind: &str) -> &'a Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

fn agreement(trust: &Trust, name: &str) -> Value {
    trust
        .statuses("dsa")
        .into_iter()
        .find(|a| a["metadata"]["name"] == name)
        .unwrap()
}

#[test]
fn an_opted_out_pupil_is_never_sent_and_everyone_else_is() {
    let trust = Trust::new();
    let partners = &trust.partners;
    converge(&trust);

    let hub = partners.holdings("homework-hub");
    let held = hub.people(&key("homework-hub"), &key("carlton-academy"));
    for opted_out in ["stu-139203-00017", "stu-139203-00230"] {
        assert!(!held.contains(opted_out), "{opted_out} was sent");
    }
    let carlton: BTreeSet<String> = pupils("carlton-academy").into_iter().collect();
    let sent_pupils: BTreeSet<&String> = held.iter().filter(|p| carlton.contains(*p)).collect();
    assert_eq!(
        sent_pupils.len(),
        carlton.len() - 2,
        "every other pupil is sent"
    );

    // Only the agreement's fields, and sourcedId, reach the partner.
    for record in hub.records(
        &key("homework-hub"),
        &key("carlton-academy"),
        Area::Students,
    ) {
        let fields: BTreeSet<&str> = record.keys().map(String::as_str).collect();
        assert!(
            fields.is_subset(&BTreeSet::from([
                "sourcedId",
                "givenName",
                "familyName",
                "yearGroup",
                "email"
            ])),
            "{fields:?}"
        );
    }

    // Opt-in: reading-quest holds exactly the included pupils, less exclusions and the
    // pupil an erasure request names.
    let quest = partners.holdings("reading-quest");
    let brook = quest.people(&key("reading-quest"), &key("brook-primary"));
    assert_eq!(
        brook,
        [
            "stu-139202-00003",
            "stu-139202-00011",
            "stu-139202-00024",
            "stu-139202-00057"
        ]
        .map(String::from)
        .into()
    );

    // The status figures are the ledger's, and agree with the partner.
    let status = agreement(&trust, "homework-hub");
    let people: usize = ["ashby-primary", "brook-primary", "carlton-academy"]
        .iter()
        .map(|s| hub.people(&key("homework-hub"), &key(s)).len())
        .sum();
    assert_eq!(
        status["status"]["peopleShared"].as_u64(),
        Some(people as u64)
    );
    assert!(status["status"]["lastDeliveryTime"].is_string());
    assert!(status["status"]["bytesSent"].as_u64().unwrap() > 0);
    assert_eq!(condition(&status, "Ready")["status"], "True");
}

#[test]
fn excluding_a_pupil_who_was_sent_deletes_them_at_the_partner() {
    let trust = Trust::new();
    let partners = &trust.partners;
    converge(&trust);
    let pupil = "stu-139201-00010";
    let agreement_key = key("homework-hub");
    let ashby = key("ashby-primary");
    assert!(
        partners
            .holdings("homework-hub")
            .people(&agreement_key, &ashby)
            .contains(pupil)
    );

    trust.edit(
        "consent/ashby-homework.yaml",
        "    - stu-139201-00009\n",
        "    - stu-139201-00009\n    - stu-139201-00010\n",
    );
    converge(&trust);

    let hub = partners.holdings("homework-hub");
    assert!(
        !hub.people(&agreement_key, &ashby).contains(pupil),
        "still held after exclusion"
    );
    assert!(
        hub.records(&agreement_key, &ashby, Area::Enrollments)
            .iter()
            .all(|e| e["userSourcedId"] != pupil),
        "their enrollments went too"
    );
    assert!(hub.deletion_notices() >= 1);

    // The ledger says so: a notice, acknowledged.
    let located = accord(&[
        "locate",
        pupil,
        "--school",
        "ashby-primary",
        "--state",
        trust.state().to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert!(
        located.status.success(),
        "{}",
        String::from_utf8_lossy(&located.stderr)
    );
    let report: Value = serde_json::from_slice(&located.stdout).unwrap();
    let at_hub = report["partners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["agreement"] == agreement_key.as_str())
        .unwrap();
    assert!(at_hub["deletionNotice"].is_string());
    assert!(at_hub["acknowledged"].is_string());
    assert_eq!(at_hub["partnerLocation"], "GB/London");
}

#[test]
fn a_pupil_removed_from_the_mis_is_deleted_at_every_partner_in_the_same_pass() {
    let trust = Trust::new();
    let partners = &trust.partners;
    converge(&trust);
    let pupil = "stu-139203-00005";
    let carlton = key("carlton-academy");
    let holders: Vec<(&str, &str)> = [
        ("homework-hub", "homework-hub"),
        ("homework-hub", "parent-messages"),
        ("inclusion-partners", "inclusion-support"),
        ("reading-quest", "reading-quest"),
    ]
    .into_iter()
    .filter(|(partner, agreement)| {
        partners
            .holdings(partner)
            .people(&key(agreement), &carlton)
            .contains(pupil)
    })
    .collect();
    assert!(
        holders.len() >= 3,
        "the pupil was shared widely first: {holders:?}"
    );

    // Remove every row about the pupil from the school's export, then ask for a read.
    let bundle = trust.path().join("mis/carlton-academy");
    for file in std::fs::read_dir(&bundle).unwrap() {
        let path = file.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let kept: Vec<&str> = text.lines().filter(|l| !l.contains(pupil)).collect();
        std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    }
    trust.request_refresh("carlton-academy");
    converge(&trust);

    for (partner, agreement) in holders {
        let holdings = partners.holdings(partner);
        assert!(
            !holdings.people(&key(agreement), &carlton).contains(pupil),
            "{partner} still holds the pupil under {agreement}"
        );
        for area in [
            Area::Students,
            Area::Demographics,
            Area::Enrollments,
            Area::Attendance,
        ] {
            for record in holdings.records(&key(agreement), &carlton, area) {
                assert!(
                    !serde_json::to_string(&record).unwrap().contains(pupil),
                    "{partner} {area}"
                );
            }
        }
    }
}

#[test]
fn a_field_dropped_from_an_agreement_is_deleted_at_the_partner() {
    let trust = Trust::new();
    let partners = &trust.partners;
    converge(&trust);
    let agreement_key = key("homework-hub");
    let with_email = |holdings: &accord::partner::Holdings| {
        holdings
            .records(&agreement_key, &key("brook-primary"), Area::Students)
            .iter()
            .filter(|r| r.contains_key("email"))
            .count()
    };
    assert!(with_email(&partners.holdings("homework-hub")) > 0);

    trust.edit(
        "agreements/homework-hub.yaml",
        "students: [givenName, familyName, yearGroup, email]",
        "students: [givenName, familyName, yearGroup]",
    );
    converge(&trust);

    let hub = partners.holdings("homework-hub");
    for school in ["ashby-primary", "brook-primary", "carlton-academy"] {
        let records = hub.records(&agreement_key, &key(school), Area::Students);
        assert!(!records.is_empty());
        assert!(
            records.iter().all(|r| !r.contains_key("email")),
            "{school} still has email"
        );
    }
    let status = agreement(&trust, "homework-hub");
    let fields: Vec<&str> = status["status"]["fieldsShared"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!fields.contains(&"students.email"), "{fields:?}");
    assert!(fields.contains(&"students.givenName"));
}

#[test]
fn a_tampered_agreement_sends_zero_bytes_and_says_what_changed() {
    let trust = Trust::new();
    let partners = &trust.partners;
    converge(&trust);
    let hub_before = partners.holdings("homework-hub").batches().len();

    // Widen the agreement without a new signature, and give it something to send.
    let path = trust.path().join("agreements/homework-hub.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "students: [givenName, familyName, yearGroup, email]",
            "students: [givenName, familyName, yearGroup, email, dateOfBirth]",
        ),
    )
    .unwrap();
    trust.edit(
        "consent/ashby-homework.yaml",
        "    - stu-139201-00009\n",
        "    - stu-139201-00009\n    - stu-139201-00011\n",
    );
    let output = trust.run();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let hub = partners.holdings("homework-hub");
    let after: Vec<&String> = hub.batches()[hub_before..].iter().collect();
    let journal = partners.kit("homework-hub").store().join("journal");
    for entry in std::fs::read_dir(&journal).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        if after.iter().any(|b| text.contains(b.as_str())) {
            assert!(
                !text.contains("\"agreement\":\"riverside-trust/homework-hub\""),
                "a message under the tampered agreement was sent"
            );
        }
    }
    assert!(
        hub.people(&key("homework-hub"), &key("ashby-primary"))
            .contains("stu-139201-00011"),
        "not even a deletion notice goes under a tampered agreement"
    );

    let status = agreement(&trust, "homework-hub");
    let verified = condition(&status, "Verified");
    assert_eq!(verified["status"], "False");
    assert_eq!(verified["reason"], "SignatureMismatch");
    let message = verified["message"].as_str().unwrap();
    assert!(message.contains("spec.data.students"), "{message}");
    assert!(
        message.contains("riverside") || message.contains("test-dpo"),
        "names the key: {message}"
    );
}

#[test]
fn a_partner_down_for_a_while_then_up_receives_every_batch_exactly_once() {
    let mut trust = Trust::new();
    trust.partners.down();

    let output = trust.run();
    assert!(
        !output.status.success(),
        "a partner that is down is a failure to converge"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("could not be reached"), "{stderr}");
    let status = agreement(&trust, "homework-hub");
    assert_eq!(condition(&status, "Ready")["reason"], "PartnerUnreachable");
    assert_eq!(
        status["status"]["peopleShared"].as_u64(),
        Some(0),
        "nothing counts until acknowledged"
    );

    // Down again for a second pass: nothing is committed twice.
    let output = trust.run();
    assert!(!output.status.success());

    trust.partners.up();
    converge(&trust);
    converge(&trust);

    let hub = trust.partners.holdings("homework-hub");
    let applied = hub.batches();
    let unique: BTreeSet<&String> = applied.iter().collect();
    assert_eq!(unique.len(), applied.len(), "a batch was applied twice");
    // Every pupil at every school, once, and nothing pending.
    let people: usize = ["ashby-primary", "brook-primary", "carlton-academy"]
        .iter()
        .map(|s| hub.people(&key("homework-hub"), &key(s)).len())
        .sum();
    let status = agreement(&trust, "homework-hub");
    assert_eq!(
        status["status"]["peopleShared"].as_u64(),
        Some(people as u64)
    );
    assert_eq!(condition(&status, "Ready")["status"], "True");
    assert_eq!(condition(&status, "Reconciling")["status"], "False");
    assert!(people > 1_500);
}

#[test]
fn an_erasure_request_is_ready_only_once_every_partner_has_acknowledged() {
    let mut trust = Trust::new();
    converge(&trust);
    let pupil = "stu-139203-00140";
    assert!(
        trust
            .partners
            .holdings("reading-quest")
            .people(&key("reading-quest"), &key("carlton-academy"))
            .contains(pupil)
    );

    std::fs::write(
        trust.path().join("erasures/carlton-2026-044.yaml"),
        format!("apiVersion: accord.dev/v1alpha1\nkind: ErasureRequest\nmetadata:\n  name: carlton-2026-044\n  namespace: {NS}\nspec:\n  school: carlton-academy\n  sourcedId: {pupil}\n  reason: rightToErasure\n  receivedOn: \"2026-12-01\"\n"),
    )
    .unwrap();
    trust.partners.down();
    let _ = trust.run();
    let erasure = |trust: &Trust| {
        trust
            .statuses("erasure")
            .into_iter()
            .find(|e| e["metadata"]["name"] == "carlton-2026-044")
            .unwrap()
    };
    let waiting = erasure(&trust);
    assert_eq!(condition(&waiting, "Ready")["status"], "False");
    assert_eq!(
        condition(&waiting, "Ready")["reason"],
        "AwaitingAcknowledgement"
    );
    assert!(
        trust
            .cached("carlton-academy", Area::Students)
            .unwrap()
            .iter()
            .all(|r| r["sourcedId"] != pupil),
        "erased from the cache at once"
    );

    trust.partners.up();
    converge(&trust);
    let done = erasure(&trust);
    assert_eq!(condition(&done, "Ready")["status"], "True", "{done:#?}");
    let listed = done["status"]["partners"].as_array().unwrap();
    assert!(listed.len() >= 3, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|p| p["notifiedAt"].is_string() && p["acknowledgedAt"].is_string())
    );
    assert_eq!(
        done["status"]["partnersAcknowledged"],
        done["status"]["partnersNotified"]
    );
    for (partner, agreement) in [
        ("reading-quest", "reading-quest"),
        ("homework-hub", "homework-hub"),
    ] {
        assert!(
            !trust
                .partners
                .holdings(partner)
                .people(&key(agreement), &key("carlton-academy"))
                .contains(pupil)
        );
    }
}

#[test]
fn audit_verify_fails_after_a_test_edits_one_ledger_row_of_real_flows() {
    let trust = Trust::new();
    converge(&trust);
    let state = trust.state();
    let verify = || accord(&["audit", "verify", "--state", state.to_str().unwrap()]);
    assert!(verify().status.success());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let url = format!("sqlite://{}", state.join("state.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("DROP TRIGGER ledger_no_update").execute(&pool).await.unwrap();
        sqlx::query("UPDATE ledger SET body = replace(body, 'GB/London', 'GB/Leeds') WHERE seq = (SELECT MIN(seq) FROM ledger WHERE body LIKE '%GB/London%')")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let broken = verify();
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("was changed after it was written"));
}
