//! Benchmark of the partner receiver: 1,000,000 pupil records in signed batches of 1,000,
//! first straight into the receiver's rules (signature, parse, journal, apply), then over
//! HTTPS on loopback, then replayed from the journal as `Holdings::load` does.
//!
//! Run with `cargo bench --bench partner`; `ACCORD_BENCH_RECORDS=N` and
//! `ACCORD_BENCH_BATCH=N` change the counts. Bodies are built and signed before the clock
//! starts, so the figures are the receiver's, not Accord's.

mod support;

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use accord::catalogue::Area;
use accord::delivery::wire::{
    IDEMPOTENCY_HEADER, Message, RecordsBatch, SIGNATURE_HEADER, SignatureCheck, Signer,
};
use accord::partner::{Delivery, Holdings, Receiver, ReceiverConfig, spawn};
use accord::tls::{CA_FILE, CERT_FILE, KEY_FILE, issue, server_config};
use serde_json::json;

use support::peak_rss_kib;

const SECRET: &[u8] = b"benchmark-secret";

/// Requests in flight at once over HTTPS.
const CONNECTIONS: usize = 4;

fn main() {
    let records = count("ACCORD_BENCH_RECORDS", 1_000_000);
    let per_batch = count("ACCORD_BENCH_BATCH", 1_000);
    let bodies = bodies(records, per_batch);
    let bytes: usize = bodies.iter().map(|(_, body, _)| body.len()).sum();
    println!(
        "{records} records in {} batches of {per_batch}: {:.1} MiB of JSON",
        bodies.len(),
        bytes as f64 / 1_048_576.0
    );

    let dir = tempfile::tempdir().expect("temporary folder");
    let store = dir.path().join("in-process");
    let receiver = Receiver::open(&store, check()).expect("store opens");
    let started = Instant::now();
    for (key, body, signature) in &bodies {
        let delivery = Delivery {
            signature: Some(signature),
            idempotency_key: Some(key),
            body,
        };
        receiver.receive(delivery, now()).expect("batch accepted");
    }
    report("receiver, in process", records, bytes, started);
    drop(receiver);

    let started = Instant::now();
    let holdings = Holdings::load(&store).expect("journal replays");
    assert_eq!(holdings.record_count(), records);
    report("journal replay", records, bytes, started);
    drop(holdings);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(over_https(dir.path(), bodies, records, bytes));
    println!("peak RSS {} MiB", peak_rss_kib() / 1024);
}

async fn over_https(dir: &std::path::Path, bodies: Vec<Batch>, records: usize, bytes: usize) {
    let certs = dir.join("certs");
    let issued = issue(
        &["localhost".to_owned()],
        &["127.0.0.1".parse().expect("ip")],
    );
    issued.expect("certificate").write(&certs).expect("written");
    let tls = server_config(&certs.join(CERT_FILE), &certs.join(KEY_FILE)).expect("tls");
    let config = ReceiverConfig::new(dir.join("https"), check(), tls);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("loopback port");
    let running = spawn(config, listener).await.expect("receiver runs");

    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = std::fs::read(certs.join(CA_FILE)).expect("ca.crt");
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("pem")])
        .build()
        .expect("client");
    let url = running.url("/accord/v1/batches");

    let queue = Arc::new(std::sync::Mutex::new(bodies.into_iter()));
    let started = Instant::now();
    let senders: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, url, queue) = (client.clone(), url.clone(), queue.clone());
            tokio::spawn(async move {
                loop {
                    let next = queue.lock().expect("queue").next();
                    let Some((key, body, signature)) = next else {
                        break;
                    };
                    let answer = client
                        .post(&url)
                        .header(SIGNATURE_HEADER, signature)
                        .header(IDEMPOTENCY_HEADER, key)
                        .body(body)
                        .send()
                        .await
                        .expect("answer");
                    assert_eq!(answer.status().as_u16(), 200);
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("sender");
    }
    report("receiver, over HTTPS", records, bytes, started);
    let held = running
        .receiver()
        .with_holdings(Holdings::record_count)
        .expect("holdings");
    assert_eq!(held, records);
    running.stop().await.expect("stops");
}

/// One signed request: key, body, signature header.
type Batch = (String, Vec<u8>, String);

fn bodies(records: usize, per_batch: usize) -> Vec<Batch> {
    let signer = Signer::Hmac(SECRET.to_vec());
    let at = now();
    (0..records.div_ceil(per_batch))
        .map(|b| {
            let first = b * per_batch;
            let pupils = (first..records.min(first + per_batch))
                .map(|i| {
                    let pupil = json!({
                        "sourcedId": format!("stu-{i:07}"),
                        "givenName": "Amelia",
                        "familyName": "Hargreaves-Okonkwo",
                        "yearGroup": "7",
                        "email": format!("pupil{i}@school.example.org"),
                    });
                    pupil.as_object().expect("object").clone()
                })
                .collect();
            let message = Message::Records(RecordsBatch {
                batch: format!("{b:08x}{:024x}", b.wrapping_mul(2_654_435_761)),
                agreement: "benchmark/homework".into(),
                school: "benchmark/academy".into(),
                area: Area::Students,
                fields: ["givenName", "familyName", "yearGroup", "email"]
                    .map(String::from)
                    .into(),
                records: pupils,
            });
            let body = serde_json::to_vec(&message).expect("serialises");
            let signature = signer.sign(at, &body);
            (message.batch().to_owned(), body, signature)
        })
        .collect()
}

fn report(what: &str, records: usize, bytes: usize, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{what}: {seconds:.3} s, {:.0} records/s, {:.1} MiB/s",
        records as f64 / seconds,
        bytes as f64 / 1_048_576.0 / seconds
    );
}

fn check() -> SignatureCheck {
    SignatureCheck::Hmac(SECRET.to_vec())
}

fn count(variable: &str, default: usize) -> usize {
    std::env::var(variable)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    since.map(|d| d.as_secs() as i64).unwrap_or_default()
}
