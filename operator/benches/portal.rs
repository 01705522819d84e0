//! Benchmark of the transparency portal with a 1,000-school Trust: how fast the flow map
//! and a person lookup answer over HTTP on loopback.
//!
//! Run with `cargo bench --bench portal`. It declares 1,000 schools, 30 partners (some
//! outside the UK and EEA) and 30 agreements, each covering 100 schools, so every school is
//! in three agreements. The ledger is filled directly through the library, not by running
//! deliveries: for each agreement and school, one share of 300 pupils' records and its
//! acknowledgement (6,000 entries naming 900,000 person-flows), as a first delivery writes
//! them. It then serves the portal on loopback and times, over repeated requests, the
//! flow map page (HTML with its SVG), the flow map's JSON, the locate page and the locate
//! API, reporting the first (cold) request apart from the median and p95 of the rest.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use accord::api::{ApiContext, Snapshot, spawn};
use accord::cache::{Cache, KeySources, MasterKey};
use accord::controller::extract::SecretsDir;
use accord::ledger::{EntryBody, EntryKind, Ledger, LedgerStore};
use accord::portal::Portal;
use accord::portal::auth::{Role, TokensFile};
use accord::resources::ResourceSet;
use accord::state::State;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use support::peak_rss_kib;

const SCHOOLS: usize = 1_000;
const PARTNERS: usize = 30;
const PUPILS: usize = 300;
const REPEATS: usize = 50;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let resources = trust();

    let started = Instant::now();
    let state = State::open(dir.path()).await.expect("state");
    let ledger = Ledger::new(state.clone());
    let mut bodies = Vec::new();
    for a in 0..PARTNERS {
        for s in (a % 10..SCHOOLS).step_by(10) {
            let batch = format!("b-{a}-{s}");
            let base = EntryBody {
                at: "2026-12-01T06:00:00Z".into(),
                school: format!("bench/school-{s:04}"),
                agreement: format!("bench/dsa-{a:02}"),
                partner: format!("bench/partner-{a:02}"),
                partner_location: "GB/London".into(),
                batch,
                records: PUPILS as u64,
                ..EntryBody::default()
            };
            bodies.push(EntryBody {
                kind: EntryKind::Share,
                area: "students".into(),
                fields: vec!["givenName".into(), "familyName".into(), "yearGroup".into()],
                subjects: (0..PUPILS).map(|p| format!("stu-{s:04}-{p:03}")).collect(),
                ..base.clone()
            });
            bodies.push(EntryBody {
                kind: EntryKind::Acknowledgement,
                bytes: 40_000,
                reason: "records".into(),
                ..base
            });
        }
    }
    for chunk in bodies.chunks(300) {
        ledger.append(chunk).await.expect("ledger append");
    }
    println!(
        "ledger: {} entries, {} person-flows, written in {:.1} s",
        bodies.len(),
        bodies.iter().map(|b| b.subjects.len()).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );

    let master = MasterKey::load(&KeySources::default(), dir.path()).expect("master key");
    let cache = Cache::new(state, master).await.expect("cache");
    let mut tokens = TokensFile::default();
    let expires = Timestamp::now()
        .checked_add(SignedDuration::from_hours(24))
        .expect("expiry");
    let token = tokens
        .issue(Role::TrustDpo, None, "bench", expires)
        .expect("token");
    let tokens_file = dir.path().join("tokens.yaml");
    tokens.save(&tokens_file).expect("tokens file");
    let snapshot = Snapshot {
        resources,
        agreements: Vec::new(),
        schools: Vec::new(),
    };
    let (_publish, published) = tokio::sync::watch::channel(Some(Arc::new(snapshot)));
    let context = ApiContext {
        cache: Arc::new(cache),
        published,
        secrets: SecretsDir(dir.path().join("secrets")),
        base: dir.path().to_path_buf(),
        portal: Arc::new(Portal::new(Some(tokens_file), None)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let api = spawn(listener, context).expect("serve");
    let base = format!("http://{}", api.address);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let (cookie, csrf) = sign_in(&client, &base, &token).await;

    let pupil = "stu-0421-123";
    let school = "bench/school-0421";
    let form = format!(
        "csrf={csrf}&school={}&sourcedId={pupil}",
        school.replace('/', "%2F")
    );
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "flow map page (GET /portal/flows)",
            client
                .get(format!("{base}/portal/flows"))
                .header("cookie", &cookie),
        ),
        (
            "flow map JSON (GET /portal/api/v1/flows)",
            client
                .get(format!("{base}/portal/api/v1/flows"))
                .bearer_auth(&token),
        ),
        (
            "locate page (POST /portal/locate)",
            client
                .post(format!("{base}/portal/locate"))
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form),
        ),
        (
            "locate API (POST /portal/api/v1/locate)",
            client
                .post(format!("{base}/portal/api/v1/locate"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(json!({ "school": school, "sourcedId": pupil }).to_string()),
        ),
    ];
    for (name, request) in cases {
        let mut times = Vec::with_capacity(REPEATS + 1);
        let mut size = 0;
        for _ in 0..=REPEATS {
            let request = request
                .try_clone()
                .expect("a request without a stream body");
            let started = Instant::now();
            let response = request.send().await.expect("response");
            assert!(
                response.status().is_success(),
                "{name}: {}",
                response.status()
            );
            size = response.bytes().await.expect("body").len();
            times.push(started.elapsed());
        }
        let cold = times.remove(0);
        times.sort();
        println!(
            "{name}: cold {}, median {}, p95 {} over {REPEATS} requests; {} KiB",
            ms(cold),
            ms(times[times.len() / 2]),
            ms(times[times.len() * 95 / 100]),
            size / 1024
        );
    }
    println!("peak memory: {} MiB", peak_rss_kib() / 1024);
    api.stop().await;
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

async fn sign_in(client: &reqwest::Client, base: &str, token: &str) -> (String, String) {
    let response = client
        .get(format!("{base}/portal/sign-in"))
        .send()
        .await
        .expect("sign-in form");
    let nonce_cookie = cookie(&response, "accord_sign_in");
    let page = response.text().await.expect("page");
    let nonce = hidden(&page);
    let response = client
        .post(format!("{base}/portal/sign-in"))
        .header("cookie", &nonce_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}&csrf={nonce}"))
        .send()
        .await
        .expect("sign in");
    let session = cookie(&response, "accord_portal");
    let page = client
        .get(format!("{base}/portal/locate"))
        .header("cookie", &session)
        .send()
        .await
        .expect("locate form")
        .text()
        .await
        .expect("page");
    (session, hidden(&page))
}

fn cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|p| p.starts_with(&format!("{name}=")))
        .expect("cookie set")
        .to_owned()
}

fn hidden(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a csrf field") + marker.len();
    page[start..start + 64].to_owned()
}

/// 1,000 schools, 30 partners (two outside the UK and EEA), 30 agreements of 100 schools.
fn trust() -> ResourceSet {
    let mut set = ResourceSet::default();
    for s in 0..SCHOOLS {
        set.schools.push(resource(json!({
            "kind": "School", "metadata": { "name": format!("school-{s:04}"), "namespace": "bench" },
            "spec": { "urn": format!("{}", 100_000 + s), "laEstab": format!("{}", 2_000_000 + s),
                "displayName": format!("Bench School {s:04}"),
                "mis": { "oneRosterCsv": { "path": "mis" } },
                "dataLocation": { "country": "GB", "region": "London" } },
        })));
    }
    for p in 0..PARTNERS {
        let country = match p % 15 {
            0 => "US",
            1..=3 => "IE",
            _ => "GB",
        };
        set.partners.push(resource(json!({
            "kind": "Partner", "metadata": { "name": format!("partner-{p:02}"), "namespace": "bench" },
            "spec": { "displayName": format!("Partner {p:02}"), "endpoint": "https://p.example",
                "auth": { "signing": "hmacSha256", "secretRef": { "name": "s", "key": "k" } },
                "dataLocation": { "country": country }, "privacyContact": "privacy@p.example" },
        })));
        let names: Vec<String> = (p % 10..SCHOOLS)
            .step_by(10)
            .map(|s| format!("school-{s:04}"))
            .collect();
        set.agreements.push(resource(json!({
            "kind": "DataSharingAgreement",
            "metadata": { "name": format!("dsa-{p:02}"), "namespace": "bench" },
            "spec": { "partner": format!("partner-{p:02}"), "schools": { "names": names },
                "purpose": "Homework for classes", "lawfulBasis": "publicTask",
                "data": { "students": ["givenName", "familyName", "yearGroup"] },
                "consent": "optOut", "delivery": { "mode": "push" }, "validFrom": "2026-09-01" },
        })));
    }
    set
}

fn resource<K: serde::de::DeserializeOwned>(mut doc: Value) -> K {
    doc["apiVersion"] = json!("accord.dev/v1alpha1");
    serde_json::from_value(doc).expect("a valid resource")
}
