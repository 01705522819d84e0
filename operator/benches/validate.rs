//! Benchmark of `accord validate` over a generated Trust of 10,000 resources.
//!
//! Run with `cargo bench --bench validate`. It writes the resources (signed agreements
//! included) as YAML files of 100 documents each, then validates them in a child process
//! of this same binary so the peak memory it reports is validation's alone.
//! `ACCORD_BENCH_RESOURCES` changes the count.

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use accord::resources::DataSharingAgreement;
use accord::signing::{ApproverKey, generate_key_pair};
use accord::validation::{KeyringSource, validate_paths};
use serde_json::{Value, json};

use support::peak_rss_kib;

const PER_FILE: usize = 100;
const RUNS: usize = 3;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--validate-only") {
        validate_once(Path::new(&args[i + 1]));
        return;
    }

    let count: usize = std::env::var("ACCORD_BENCH_RESOURCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temporary folder");
    let bytes = generate(dir.path(), count);
    println!(
        "generated {count} resources, {:.1} MiB of YAML in {} files",
        bytes as f64 / 1048576.0,
        count.div_ceil(PER_FILE)
    );

    let exe = std::env::current_exe().expect("own path");
    for _ in 0..RUNS {
        let output = std::process::Command::new(&exe)
            .args(["--validate-only", dir.path().to_str().expect("utf-8 path")])
            .output()
            .expect("child runs");
        print!("{}", String::from_utf8_lossy(&output.stdout));
    }
}

/// Validates `dir` once and prints the time, findings and peak resident memory.
fn validate_once(dir: &Path) {
    let start = Instant::now();
    let report = validate_paths(&[dir.to_owned()], &KeyringSource::default());
    let elapsed = start.elapsed();
    let errors = report
        .findings
        .iter()
        .filter(|f| f.severity == accord::validation::Severity::Error)
        .count();
    assert_eq!(
        errors,
        0,
        "generated Trust should be valid: {:?}",
        report.findings.first()
    );
    println!(
        "validated {} resources in {:.3} s ({:.0} resources/s), {} findings, peak RSS {} MiB",
        report.resources,
        elapsed.as_secs_f64(),
        report.resources as f64 / elapsed.as_secs_f64(),
        report.findings.len(),
        peak_rss_kib() / 1024
    );
}

/// Writes `count` resources: per school one agreement, two consent rules and one erasure,
/// with a partner for every twenty schools. Returns the bytes written.
fn generate(dir: &Path, count: usize) -> usize {
    std::fs::create_dir_all(dir.join("keyring")).expect("keyring folder");
    let (private, public) = generate_key_pair().expect("key");
    std::fs::write(dir.join("bench.key"), private).expect("key file");
    std::fs::write(dir.join("keyring/bench.pub"), public).expect("key file");
    let key = ApproverKey::load(&dir.join("bench.key")).expect("key loads");

    let mut docs = Vec::with_capacity(count);
    let mut school = 0;
    while docs.len() < count {
        let partner = format!("partner-{}", school / 20);
        if school % 20 == 0 {
            docs.push(partner_doc(&partner));
        }
        let name = format!("school-{school}");
        docs.push(school_doc(&name, school));
        docs.push(agreement_doc(
            &key,
            &format!("agreement-{school}"),
            &partner,
            &name,
        ));
        docs.push(consent_doc(
            &format!("consent-{school}-a"),
            &name,
            &format!("agreement-{school}"),
        ));
        docs.push(consent_doc(
            &format!("consent-{school}-b"),
            &name,
            &format!("agreement-{school}"),
        ));
        docs.push(erasure_doc(&format!("erasure-{school}"), &name));
        school += 1;
    }
    docs.truncate(count);

    let mut bytes = 0;
    for (i, chunk) in docs.chunks(PER_FILE).enumerate() {
        let text: String = chunk
            .iter()
            .map(|d| format!("---\n{}", serde_yaml::to_string(d).expect("yaml")))
            .collect();
        bytes += text.len();
        let path: PathBuf = dir.join(format!("resources-{i:04}.yaml"));
        std::fs::write(path, text).expect("write");
    }
    bytes
}

fn meta(kind: &str, name: &str) -> Value {
    json!({ "apiVersion": "accord.dev/v1alpha1", "kind": kind, "metadata": { "name": name, "namespace": "bench" } })
}

fn school_doc(name: &str, n: usize) -> Value {
    let mut doc = meta("School", name);
    doc["metadata"]["labels"] =
        json!({ "phase": if n.is_multiple_of(3) { "secondary" } else { "primary" } });
    doc["spec"] = json!({
        "urn": format!("{:06}", 100_000 + n), "laEstab": format!("{:07}", 2_000_000 + n),
        "displayName": format!("School {n}"),
        "mis": { "oneRosterRest": { "baseUrl": "https://mis.example/ims/oneroster/v1p1", "version": "1.1",
            "tokenUrl": "https://mis.example/token",
            "clientIdRef": { "name": name, "key": "id" }, "clientSecretRef": { "name": name, "key": "secret" } } },
        "refresh": { "dailyAt": "02:30" }, "retention": "30d",
        "dataLocation": { "country": "GB", "region": "London" },
    });
    doc
}

fn partner_doc(name: &str) -> Value {
    let mut doc = meta("Partner", name);
    doc["spec"] = json!({
        "displayName": name, "endpoint": format!("https://{name}.example/batches"),
        "auth": { "signing": "hmacSha256", "secretRef": { "name": name, "key": "secret" } },
        "dataLocation": { "country": "IE", "region": "Dublin" }, "privacyContact": format!("privacy@{name}.example"),
    });
    doc
}

fn agreement_doc(key: &ApproverKey, name: &str, partner: &str, school: &str) -> Value {
    let mut doc = meta("DataSharingAgreement", name);
    doc["spec"] = json!({
        "partner": partner, "schools": { "names": [school] },
        "purpose": "Set and mark homework for the classes pupils are taught in",
        "lawfulBasis": "publicTask",
        "data": { "students": ["givenName", "familyName", "yearGroup"], "classes": ["title"],
                  "enrollments": ["classSourcedId", "userSourcedId", "role"] },
        "consent": "optOut", "delivery": { "mode": "push", "interval": "6h" },
        "validFrom": "2026-09-01", "validUntil": "2027-08-31",
    });
    let agreement: DataSharingAgreement = serde_json::from_value(doc.clone()).expect("agreement");
    doc["spec"]["approval"] =
        serde_json::to_value(key.approve(name, &agreement.spec)).expect("approval");
    doc
}

fn consent_doc(name: &str, school: &str, agreement: &str) -> Value {
    let mut doc = meta("ConsentRule", name);
    let ids: Vec<String> = (0..20).map(|i| format!("stu-{school}-{i:04}")).collect();
    doc["spec"] =
        json!({ "school": school, "scope": { "agreements": [agreement] }, "exclude": ids });
    doc
}

fn erasure_doc(name: &str, school: &str) -> Value {
    let mut doc = meta("ErasureRequest", name);
    doc["spec"] = json!({ "school": school, "sourcedId": format!("stu-{school}-9999"), "reason": "leftSchool" });
    doc
}
