//! `accord partner serve` as a partner would run it: a real process on loopback, HTTPS with
//! a certificate from `accord partner cert`, and messages signed the way Accord signs them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use accord::catalogue::Area;
use accord::delivery::wire::{
    Deletion, DeletionNotice, DeletionReason, IDEMPOTENCY_HEADER, Message, RecordsBatch,
    SIGNATURE_HEADER, Signer,
};
use accord::partner::{Holdings, JOURNAL_DIR};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use serde_json::{Value, json};

const SECRET: &[u8] = b"partner-secret";
const AGREEMENT: &str = "northway/homework-hub";
const SCHOOL: &str = "northway/ashby-primary";

/// A receiver process with its own certificates and store.
struct Partner {
    dir: tempfile::TempDir,
    child: Option<Child>,
    origin: String,
}

impl Partner {
    /// A receiver that checks HMAC signatures with [`SECRET`].
    fn hmac() -> Partner {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        // Written as `echo` would: the trailing newline is not part of the secret.
        std::fs::write(&secret, [SECRET, b"\n"].concat()).unwrap();
        Partner::start(dir, &["--secret-file", secret.to_str().unwrap()])
    }

    /// A receiver that checks Ed25519 signatures, and Accord's key to sign with.
    fn ed25519() -> (Partner, SigningKey) {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = accord::signing::generate_key_pair().unwrap();
        let public_file = dir.path().join("accord.pub");
        std::fs::write(&public_file, public).unwrap();
        let key = SigningKey::from_pkcs8_pem(&private).unwrap();
        let partner = Partner::start(dir, &["--public-key", public_file.to_str().unwrap()]);
        (partner, key)
    }

    fn start(dir: tempfile::TempDir, check: &[&str]) -> Partner {
        let certs = dir.path().join("certs");
        if !certs.exists() {
            let issued = accord(&[
                "partner",
                "cert",
                "--out",
                path(&certs),
                "--name",
                "localhost",
                "--ip",
                "127.0.0.1",
            ]);
            assert!(issued.status.success(), "{issued:?}");
        }
        let mut partner = Partner {
            dir,
            child: None,
            origin: String::new(),
        };
        partner.restart(check);
        partner
    }

    /// Starts the process (again) on the same store, and waits until it listens.
    fn restart(&mut self, check: &[&str]) {
        let log = std::fs::File::create(self.dir.path().join("receiver.log")).unwrap();
        let certs = self.dir.path().join("certs");
        let mut child = Command::new(env!("CARGO_BIN_EXE_accord"))
            .args(["partner", "serve", "--listen", "127.0.0.1:0", "--store"])
            .arg(self.store())
            .arg("--cert")
            .arg(certs.join("tls.crt"))
            .arg("--key")
            .arg(certs.join("tls.key"))
            .args(check)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .strip_prefix("receiving at https://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}; see {}", self.log_path().display()));
        self.origin = format!("https://{address}");
        self.child = Some(child);
    }

    /// Kills the process, as a crash would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn holdings(&self) -> Holdings {
        Holdings::load(&self.store()).unwrap()
    }

    fn journal_files(&self) -> usize {
        match std::fs::read_dir(self.store().join(JOURNAL_DIR)) {
            Ok(listing) => listing.count(),
            Err(_) => 0,
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("receiver.log")
    }

    /// A client that trusts only this receiver's CA, with verification on.
    fn client(&self) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca = std::fs::read(self.dir.path().join("certs/ca.crt")).unwrap();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    /// Posts `body` with this signature header, keyed as `message`; the status and the answer.
    async fn post(&self, message: &Message, body: &[u8], signature: &str) -> (u16, Value) {
        let answer = self
            .client()
            .post(format!("{}/accord/v1/batches", self.origin))
            .header(SIGNATURE_HEADER, signature)
            .header(IDEMPOTENCY_HEADER, message.batch())
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let body = answer.bytes().await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    /// Posts `message` signed as Accord signs it for an HMAC partner, now.
    async fn send(&self, message: &Message) -> (u16, Value) {
        let body = serde_json::to_vec(message).unwrap();
        let signature = Signer::Hmac(SECRET.to_vec()).sign(now(), &body);
        self.post(message, &body, &signature).await
    }
}

impl Drop for Partner {
    fn drop(&mut self) {
        self.kill();
    }
}

fn accord(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(args)
        .output()
        .unwrap()
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn pupils(batch: &str) -> Message {
    let records = json!([
        { "sourcedId": "stu-0001", "givenName": "Amelia", "email": "amelia.h@example.org" },
        { "sourcedId": "stu-0002", "givenName": "Oliver", "email": "oliver.p@example.org" },
    ]);
    Message::Records(RecordsBatch {
        batch: batch.into(),
        agreement: AGREEMENT.into(),
        school: SCHOOL.into(),
        area: Area::Students,
        fields: vec!["givenName".into(), "email".into()],
        records: serde_json::from_value(records).unwrap(),
    })
}

fn deletion(batch: &str, ids: Option<&[&str]>, fields: Option<&[&str]>) -> Message {
    let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
    Message::Deletion(DeletionNotice {
        batch: batch.into(),
        agreement: AGREEMENT.into(),
        school: SCHOOL.into(),
        deletions: vec![Deletion {
            area: Area::Students,
            reason: DeletionReason::NoLongerShared,
            sourced_ids: ids.map(owned),
            fields: fields.map(owned),
        }],
    })
}

#[tokio::test]
async fn a_signed_batch_is_applied_and_held_without_logging_its_contents() {
    let partner = Partner::hmac();
    let (status, answer) = partner.send(&pupils("batch-1")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "batch": "batch-1", "result": "applied" }));

    let holdings = partner.holdings();
    let held = holdings
        .holds(AGREEMENT, SCHOOL, Area::Students, "stu-0001")
        .unwrap();
    assert_eq!(held["email"], "amelia.h@example.org");
    assert_eq!(holdings.people(AGREEMENT, SCHOOL).len(), 2);

    let log = std::fs::read_to_string(partner.log_path()).unwrap();
    assert!(log.contains("Batch applied"), "{log}");
    for personal in ["stu-0001", "Amelia", "amelia.h@example.org"] {
        assert!(!log.contains(personal), "{personal} in the log: {log}");
    }
}

#[tokio::test]
async fn a_batch_sent_twice_is_applied_once() {
    let partner = Partner::hmac();
    let batch = pupils("batch-1");
    assert_eq!(partner.send(&batch).await.1["result"], "applied");
    let (status, answer) = partner.send(&batch).await;
    assert_eq!(status, 200);
    assert_eq!(answer, json!({ "batch": "batch-1", "result": "duplicate" }));

    assert_eq!(partner.journal_files(), 1);
    let holdings = partner.holdings();
    assert_eq!(holdings.batches(), ["batch-1"]);
    assert_eq!(holdings.duplicates(), ["batch-1"]);
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_nothing_is_kept() {
    let partner = Partner::hmac();
    let message = pupils("batch-1");
    let body = serde_json::to_vec(&message).unwrap();

    let wrong_secret = Signer::Hmac(b"guessed".to_vec()).sign(now(), &body);
    let stale = Signer::Hmac(SECRET.to_vec()).sign(now() - 1_000, &body);
    let signed = Signer::Hmac(SECRET.to_vec()).sign(now(), &body);
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("Oliver", "Olivia");
    let cases = [
        ("wrong secret", body.clone(), wrong_secret, "does not match"),
        (
            "stale timestamp",
            body.clone(),
            stale,
            "outside the 300 s window",
        ),
        (
            "tampered body",
            tampered.into_bytes(),
            signed,
            "does not match",
        ),
        (
            "no signature",
            body.clone(),
            String::new(),
            "is not t=<seconds>",
        ),
    ];
    for (case, body, signature, says) in cases {
        let (status, answer) = partner.post(&message, &body, &signature).await;
        assert_eq!(status, 401, "{case}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(says), "{case}: {error}");
    }
    assert_eq!(partner.journal_files(), 0);
    assert!(partner.holdings().batches().is_empty());
}

#[tokio::test]
async fn each_deletion_scope_takes_effect() {
    let partner = Partner::hmac();
    partner.send(&pupils("batch-1")).await;

    let (status, _) = partner
        .send(&deletion("del-1", None, Some(&["email"])))
        .await;
    assert_eq!(status, 200);
    let holdings = partner.holdings();
    let pupil = holdings
        .holds(AGREEMENT, SCHOOL, Area::Students, "stu-0002")
        .unwrap();
    assert!(pupil.contains_key("givenName") && !pupil.contains_key("email"));

    partner
        .send(&deletion("del-2", Some(&["stu-0001"]), None))
        .await;
    let left = partner.holdings().people(AGREEMENT, SCHOOL);
    assert_eq!(left.into_iter().collect::<Vec<_>>(), ["stu-0002"]);

    partner.send(&deletion("del-3", None, None)).await;
    let holdings = partner.holdings();
    assert!(
        holdings
            .records(AGREEMENT, SCHOOL, Area::Students)
            .is_empty()
    );
    assert_eq!(holdings.deletion_notices(), 3);
}

#[tokio::test]
async fn an_ed25519_partner_accepts_accords_signature_and_refuses_an_hmac_one() {
    let (partner, key) = Partner::ed25519();
    let message = pupils("batch-1");
    let body = serde_json::to_vec(&message).unwrap();

    let hmac = Signer::Hmac(SECRET.to_vec()).sign(now(), &body);
    let (status, _) = partner.post(&message, &body, &hmac).await;
    assert_eq!(status, 401);

    let signed = Signer::Ed25519(Box::new(key)).sign(now(), &body);
    let (status, answer) = partner.post(&message, &body, &signed).await;
    assert_eq!(
        (status, &answer["result"]),
        (200, &json!("applied")),
        "{answer}"
    );
    assert_eq!(partner.holdings().batches(), ["batch-1"]);
}

#[tokio::test]
async fn plain_http_to_the_port_gets_no_answer() {
    let partner = Partner::hmac();
    let plain = partner.origin.replace("https://", "http://");
    let answer = reqwest::Client::new()
        .post(format!("{plain}/accord/v1/batches"))
        .body("{}")
        .send()
        .await;
    assert!(answer.is_err(), "{answer:?}");
    assert_eq!(partner.send(&pupils("batch-1")).await.0, 200);
}

#[tokio::test]
async fn a_restarted_receiver_still_knows_an_old_key_as_a_duplicate() {
    let mut partner = Partner::hmac();
    partner.send(&pupils("batch-1")).await;
    partner.kill();

    let secret = partner.dir.path().join("secret");
    partner.restart(&["--secret-file", path(&secret)]);
    let (status, answer) = partner.send(&pupils("batch-1")).await;
    assert_eq!(status, 200);
    assert_eq!(answer["result"], "duplicate");
    assert_eq!(
        partner.send(&pupils("batch-2")).await.1["result"],
        "applied"
    );
    assert_eq!(partner.holdings().batches(), ["batch-1", "batch-2"]);
}

#[test]
fn a_missing_certificate_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s").unwrap();
    let missing = dir.path().join("tls.crt");
    let output = accord(&[
        "partner",
        "serve",
        "--store",
        path(dir.path()),
        "--cert",
        path(&missing),
        "--key",
        path(&missing),
        "--secret-file",
        path(&secret),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tls.crt"), "{stderr}");
}
