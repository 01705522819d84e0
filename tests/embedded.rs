//! `accord run --once` over a copy of the example Trust: what reaches the cache, what status
//! says, and what happens when a MIS export or service goes bad.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use accord::cache::{Cache, KeySources, MasterKey};
use accord::catalogue::Area;
use accord::mis::oneroster_csv::read_bundle;
use accord::mis::rest::{ClientCredentials, Fault, ServerOptions, router_with};
use accord::mis::{FieldSet, ReadOptions};
use accord::signing::{ApproverKey, sign_agreements_in_text};
use accord::state::State;
use serde_json::Value;

/// A copy of the example Trust with an approver key of the test's own, so it can change
/// and re-sign agreements.
struct Trust {
    dir: tempfile::TempDir,
    key: ApproverKey,
}

impl Trust {
    fn new() -> Trust {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&examples(), &dir.path().join("trust"));
        let keyring = dir.path().join("trust/keyring");
        std::fs::remove_dir_all(&keyring).unwrap();
        std::fs::create_dir_all(&keyring).unwrap();
        let (private, public) = accord::signing::generate_key_pair().unwrap();
        std::fs::write(dir.path().join("test-dpo.key"), private).unwrap();
        std::fs::write(keyring.join("test-dpo.pub"), public).unwrap();
        let key = ApproverKey::load(&dir.path().join("test-dpo.key")).unwrap();
        let trust = Trust { dir, key };
        for entry in std::fs::read_dir(trust.path().join("agreements")).unwrap() {
            trust.resign(&entry.unwrap().path());
        }
        trust
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("trust")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn resign(&self, file: &Path) {
        let text = std::fs::read_to_string(file).unwrap();
        let (signed, _) = sign_agreements_in_text(file, &text, &self.key).unwrap();
        std::fs::write(file, signed).unwrap();
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from:?} not in {file}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        if file.starts_with("agreements/") {
            self.resign(&path);
        }
    }

    fn run(&self) -> Output {
        let secrets = self.dir.path().join("secrets");
        accord(&[
            "run",
            self.path().to_str().unwrap(),
            "--once",
            "--state",
            self.state().to_str().unwrap(),
            "--secrets",
            secrets.to_str().unwrap(),
        ])
    }

    fn statuses(&self, kind: &str) -> Vec<Value> {
        let output = accord(&[
            "status",
            kind,
            "-o",
            "yaml",
            "--state",
            self.state().to_str().unwrap(),
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        text.split("---\n")
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_yaml::from_str(d).unwrap())
            .collect()
    }

    fn school(&self, name: &str) -> Value {
        self.statuses("school")
            .into_iter()
            .find(|s| s["metadata"]["name"] == name)
            .unwrap()
    }

    /// The records of one area as the cache holds them, decrypted with the state's key.
    fn cached(&self, school: &str, area: Area) -> Option<Vec<Value>> {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let state = State::open(&self.state()).await.unwrap();
            let master = MasterKey::load(&KeySources::default(), &self.state()).unwrap();
            let cache = Cache::new(state, master).await.unwrap();
            let bytes = cache
                .get(
                    &format!("riverside-trust/{school}"),
                    area,
                    std::time::SystemTime::now(),
                )
                .await
                .unwrap()?;
            Some(serde_json::from_slice(&bytes).unwrap())
        })
    }
}

fn accord(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(args)
        .output()
        .unwrap()
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("examples")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn field_names(records: &[Value]) -> std::collections::BTreeSet<String> {
    records
        .iter()
        .flat_map(|r| r.as_object().unwrap().keys().cloned())
        .collect()
}

fn roll(school: &str) -> accord::mis::Extract {
    read_bundle(
        &examples().join("mis").join(school),
        &FieldSet::everything(),
        &ReadOptions::default(),
    )
    .unwrap()
}

#[test]
fn the_example_trust_converges_with_only_authorised_fields_cached() {
    let trust = Trust::new();
    let output = trust.run();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    for school in ["ashby-primary", "brook-primary", "carlton-academy"] {
        let status = &trust.school(school)["status"];
        let ready = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True", "{school}: {ready}");
        let mis = roll(school);
        let people = [Area::Students, Area::Staff, Area::Contacts]
            .iter()
            .map(|a| mis.records(*a).len())
            .sum::<usize>();
        assert_eq!(status["people"], people as u64, "{school}");
    }

    // Only Carlton has an agreement with special category data, and no agreement asks for
    // dates of birth, middle names or UPNs outside Carlton's SEN agreement.
    let ashby = trust.school("ashby-primary");
    let fields: Vec<&str> = ashby["status"]["extractedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        fields
            .iter()
            .all(|f| !f.starts_with("demographics.") && !f.starts_with("attendance.")),
        "{fields:?}"
    );
    assert!(fields.contains(&"students.email") && !fields.contains(&"students.dateOfBirth"));
    let carlton = trust.school("carlton-academy");
    assert!(
        carlton["status"]["extractedFields"]
            .as_array()
            .unwrap()
            .contains(&Value::from("demographics.senStatus"))
    );

    let students = trust.cached("ashby-primary", Area::Students).unwrap();
    assert_eq!(students.len(), 80);
    assert_eq!(
        field_names(&students),
        ["email", "familyName", "givenName", "sourcedId", "yearGroup"]
            .map(String::from)
            .into()
    );
    assert_eq!(trust.cached("ashby-primary", Area::Demographics), None);
}

#[test]
fn dropping_a_field_from_an_agreement_reads_again_without_it() {
    let trust = Trust::new();
    assert!(trust.run().status.success());
    assert!(field_names(&trust.cached("brook-primary", Area::Students).unwrap()).contains("email"));

    trust.edit(
        "agreements/homework-hub.yaml",
        "[givenName, familyName, yearGroup, email]",
        "[givenName, familyName, yearGroup]",
    );
    let output = trust.run();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let students = trust.cached("brook-primary", Area::Students).unwrap();
    assert!(!field_names(&students).contains("email"));
    let fields = trust.school("brook-primary")["status"]["extractedFields"].clone();
    assert!(
        !fields
            .as_array()
            .unwrap()
            .contains(&Value::from("students.email")),
        "{fields}"
    );
}

#[test]
fn no_personal_data_is_stored_in_plaintext() {
    let trust = Trust::new();
    assert!(trust.run().status.success());

    // Names are searched for as the JSON strings the cache would hold, so a short name
    // cannot match by chance inside ciphertext; emails are searched for as they are.
    let mut needles: Vec<Vec<u8>> = Vec::new();
    for school in ["ashby-primary", "brook-primary", "carlton-academy"] {
        let mis = roll(school);
        for area in [Area::Students, Area::Staff, Area::Contacts] {
            for record in mis.records(area) {
                for field in ["givenName", "familyName"] {
                    if let Some(name) = record.text(field) {
                        needles.push(format!("\"{name}\"").into_bytes());
                    }
                }
                if let Some(email) = record.text("email") {
                    needles.push(email.as_bytes().to_vec());
                }
            }
        }
    }
    needles.sort();
    needles.dedup();
    assert!(needles.len() > 1_000);

    let searcher = aho_corasick::AhoCorasick::new(&needles).unwrap();
    let mut files = 0;
    for entry in std::fs::read_dir(trust.state()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        files += 1;
        assert!(
            searcher.find(&bytes).is_none(),
            "plaintext personal data in the state folder"
        );
    }
    assert!(files >= 2);
}

#[test]
fn schools_are_read_over_oneroster_rest() {
    let trust = Trust::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let address = serve(
        &runtime,
        &examples().join("mis/ashby-primary"),
        ServerOptions::default(),
    );
    point_at_rest(&trust, "ashby-primary", &address, "30s");

    let output = trust.run();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let status = trust.school("ashby-primary")["status"].clone();
    let mis = roll("ashby-primary");
    let people = [Area::Students, Area::Staff, Area::Contacts]
        .iter()
        .map(|a| mis.records(*a).len())
        .sum::<usize>();
    assert_eq!(status["people"], people as u64);
    assert_eq!(
        field_names(&trust.cached("ashby-primary", Area::Students).unwrap()),
        ["email", "familyName", "givenName", "sourcedId", "yearGroup"]
            .map(String::from)
            .into()
    );
}

#[test]
fn bad_mis_data_is_reported_and_the_last_good_cache_kept() {
    type Break = fn(&Trust, &tokio::runtime::Runtime);
    let cases: [(&str, Break, &str); 6] = [
        (
            "malformed row",
            |t, _| {
                append(
                    t,
                    "users.csv",
                    b"stu-x,active,2024-01-01,true,org,student,u,,A,B,,,,,,,,,,,extra,cells\n",
                )
            },
            "users.csv",
        ),
        (
            "truncated zip",
            |t, _| {
                let zip = t.dir.path().join("ashby.zip");
                std::fs::write(&zip, b"PK\x03\x04\x14\x00\x00\x00\x08\x00truncated").unwrap();
                t.edit(
                    "schools/ashby-primary.yaml",
                    "path: ../mis/ashby-primary",
                    &format!("path: {}", zip.display()),
                );
            },
            "ashby.zip",
        ),
        (
            "missing manifest",
            |t, _| std::fs::remove_file(t.path().join("mis/ashby-primary/manifest.csv")).unwrap(),
            "manifest.csv",
        ),
        (
            "wrong encoding",
            |t, _| {
                append(
                    t,
                    "users.csv",
                    b"stu-y,active,2024-01-01,true,org,student,u,,Jos\xe9,B,,,,,,,,,,\n",
                )
            },
            "UTF-8",
        ),
        (
            "server error",
            |t, rt| {
                let address = serve(
                    rt,
                    &t.path().join("mis/ashby-primary"),
                    ServerOptions {
                        faults: vec![Fault::Status {
                            nth: 1,
                            status: 500,
                        }],
                        token_lifetime: None,
                    },
                );
                point_at_rest(t, "ashby-primary", &address, "5s");
            },
            "500",
        ),
        (
            "server hanging",
            |t, rt| {
                let address = serve(
                    rt,
                    &t.path().join("mis/ashby-primary"),
                    ServerOptions {
                        faults: vec![Fault::Hang { nth: 1 }],
                        token_lifetime: None,
                    },
                );
                point_at_rest(t, "ashby-primary", &address, "2s");
            },
            "no answer within 2s",
        ),
    ];
    for (case, break_it, mentions) in cases {
        let trust = Trust::new();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        assert!(trust.run().status.success(), "{case}: first run");
        let before = trust.cached("ashby-primary", Area::Students).unwrap();
        let people_before = trust.school("ashby-primary")["status"]["people"].clone();

        break_it(&trust, &runtime);
        // A changed connector or path counts as a change of fields only when fields change,
        // so ask for a read explicitly, as a person would.
        trust.edit("schools/ashby-primary.yaml", "  name: ashby-primary\n", "  name: ashby-primary\n  annotations:\n    accord.dev/refresh-requested-at: \"2026-12-03T12:00:00Z\"\n");
        let output = trust.run();
        assert_eq!(
            output.status.code(),
            Some(1),
            "{case}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("school riverside-trust/ashby-primary"),
            "{case}: {stderr}"
        );

        let status = trust.school("ashby-primary")["status"].clone();
        let ready = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap()
            .clone();
        assert_eq!(
            (ready["status"].as_str(), ready["reason"].as_str()),
            (Some("False"), Some("ExtractionFailed")),
            "{case}"
        );
        let message = ready["message"].as_str().unwrap();
        assert!(
            message.contains(mentions) && message.contains("last good cache"),
            "{case}: {message}"
        );
        assert!(
            !message.contains("Jos"),
            "{case}: a value from the row leaked: {message}"
        );
        assert_eq!(
            trust.cached("ashby-primary", Area::Students).unwrap(),
            before,
            "{case}: the cache changed"
        );
        assert_eq!(
            status["people"], people_before,
            "{case}: status lost the cached people"
        );
    }
}

fn append(trust: &Trust, file: &str, row: &[u8]) {
    use std::io::Write;
    let path = trust.path().join("mis/ashby-primary").join(file);
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(row)
        .unwrap();
}

/// Starts a OneRoster REST server on loopback for the test's lifetime; returns its address.
fn serve(runtime: &tokio::runtime::Runtime, bundle: &Path, options: ServerOptions) -> String {
    let credentials = ClientCredentials {
        client_id: "accord".into(),
        client_secret: "s3cret-for-tests".into(),
    };
    let router = router_with(bundle, credentials, options).unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap().to_string();
    runtime.spawn(async move { axum::serve(listener, router).await });
    address
}

fn point_at_rest(trust: &Trust, school: &str, address: &str, timeout: &str) {
    let secrets = trust.dir.path().join("secrets/mis");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("id"), "accord").unwrap();
    std::fs::write(secrets.join("secret"), "s3cret-for-tests").unwrap();
    let rest = format!(
        "oneRosterRest:\n      baseUrl: http://{address}/ims/oneroster/v1p1\n      version: \"1.1\"\n      tokenUrl: http://{address}/token\n      clientIdRef: {{name: mis, key: id}}\n      clientSecretRef: {{name: mis, key: secret}}\n      timeout: {timeout}"
    );
    let file = format!("schools/{school}.yaml");
    let text = std::fs::read_to_string(trust.path().join(&file)).unwrap();
    let start = text.find("oneRosterCsv:").unwrap();
    let end = text[start..].find("  refresh:").unwrap() + start;
    std::fs::write(
        trust.path().join(&file),
        format!("{}{rest}\n{}", &text[..start], &text[end..]),
    )
    .unwrap();
}
