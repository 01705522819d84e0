//! Benchmark of the delivery pipeline: cache → consent → projection → signed HTTPS batch
//! → partner receiver → ledger, through one real pass of the embedded controller.
//!
//! Run with `cargo bench --bench pipeline`. For each size (1,000 and 1,000,000
//! person-records; `ACCORD_BENCH_RECORDS=a,b` to change) it declares one school, one
//! partner and one signed opt-out agreement with a consent rule excluding 1% of pupils,
//! fills the school's cache with that many pupils as a fresh read would, starts the
//! partner's HTTPS receiver on loopback, and times `Controller::reconcile`: decrypting
//! the cache, consent, projection, committing batches with their ledger entries, pushing
//! them over TLS, the receiver verifying and journaling each, acknowledgements, and the
//! status figures computed from the ledger. Each run is a child process of this binary,
//! so the peak memory reported is the pass's own.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use accord::cache::{Cache, KeySources, MasterKey};
use accord::catalogue::Area;
use accord::controller::extract::SecretsDir;
use accord::controller::{Controller, Loaded, Options, load};
use accord::delivery::send::RetryPolicy;
use accord::mis::oneroster_csv_write::write_oneroster_bundle;
use accord::mis::sample::{SchoolInfo, school};
use accord::signing::{ApproverKey, generate_key_pair, sign_agreements_in_text};
use accord::state::{ExtractionRecord, State};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value, json};

use support::peak_rss_kib;

// The allocator the `accord` binary uses, so the pass is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FIELDS: [&str; 4] = ["givenName", "familyName", "yearGroup", "email"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--pass-only") {
        let records: usize = args[i + 1].parse().expect("a count");
        one_pass(Path::new(&args[i + 2]), records);
        return;
    }

    let sizes: Vec<usize> = std::env::var("ACCORD_BENCH_RECORDS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 1_000_000]);
    let exe = std::env::current_exe().expect("own path");
    for records in sizes {
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("temporary folder");
            let output = std::process::Command::new(&exe)
                .args([
                    "--pass-only",
                    &records.to_string(),
                    dir.path().to_str().expect("utf-8"),
                ])
                .output()
                .expect("child runs");
            print!("{}", String::from_utf8_lossy(&output.stdout));
            eprint!("{}", String::from_utf8_lossy(&output.stderr));
        }
    }
}

fn one_pass(dir: &Path, records: usize) {
    // ACCORD_LOG=accord=debug shows how long each step of the pass took.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("ACCORD_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let trust = dir.join("trust");
    declare(&trust, records);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let resources = match load(&trust, None) {
            Loaded::Valid(declaration) => declaration.resources,
            Loaded::Invalid { errors, .. } => {
                panic!("benchmark Trust does not validate: {errors:?}")
            }
        };
        let secrets = dir.join("secrets");
        let kits = accord::demo::provision(&resources, &dir.join("partners"), &secrets)
            .expect("partner provisioned");
        let partners = accord::demo::serve_partners(kits)
            .await
            .expect("receiver started");

        let state_dir = dir.join("state");
        let state = State::open(&state_dir).await.expect("state");
        let master = MasterKey::load(&KeySources::default(), &state_dir).expect("master key");
        let cache = Cache::new(state.clone(), master).await.expect("cache");
        fill_cache(&cache, &state, records).await;

        let options = Options {
            path: trust.clone(),
            keyring: None,
            secrets: SecretsDir(secrets),
            resolve: partners.resolve(),
            retry: RetryPolicy::default(),
        };
        let mut controller = Controller::new(options, cache);
        let start = Instant::now();
        let outcome = controller.reconcile(Timestamp::now()).await.expect("pass");
        let elapsed = start.elapsed();
        assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
        assert!(
            outcome.extracted.is_empty(),
            "the pass must deliver from the cache, not read the MIS"
        );

        let held = partners.receivers[0]
            .1
            .receiver()
            .with_holdings(|h| h.record_count())
            .expect("holdings");
        let excluded = records / 100;
        assert_eq!(
            held,
            records - excluded,
            "the partner holds every consenting pupil once"
        );
        report(records, held, elapsed);
        partners.stop().await;
    });
}

fn report(records: usize, held: usize, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    println!(
        "{records} person-records ({held} consented and delivered): {seconds:.2} s, {:.0} records/s, peak RSS {:.0} MiB",
        records as f64 / seconds,
        peak_rss_kib() as f64 / 1024.0
    );
}

/// One school, one HTTPS partner, one signed opt-out agreement, and a consent rule that
/// excludes every hundredth pupil.
fn declare(trust: &Path, records: usize) {
    for folder in ["mis", "keyring"] {
        std::fs::create_dir_all(trust.join(folder)).expect("folder");
    }
    let info = SchoolInfo {
        name: "Benchmark Academy".into(),
        urn: "199999".into(),
        la_estab: "9994001".into(),
    };
    write_oneroster_bundle(&school(7, &info, 10), &trust.join("mis/bench")).expect("bundle");
    let excluded: Vec<String> = (0..records).step_by(100).map(pupil).collect();
    let yaml = format!(
        "apiVersion: accord.dev/v1alpha1
kind: School
metadata:
  name: bench-academy
  namespace: bench
spec:
  urn: \"199999\"
  laEstab: \"9994001\"
  displayName: Benchmark Academy
  mis:
    oneRosterCsv:
      path: mis/bench
  dataLocation:
    country: GB
---
apiVersion: accord.dev/v1alpha1
kind: Partner
metadata:
  name: bench-partner
  namespace: bench
spec:
  displayName: Benchmark Partner Ltd
  endpoint: https://bench-partner.example/accord/v1/batches
  auth:
    signing: hmacSha256
    secretRef: {{name: bench-signing, key: secret}}
  tls:
    caRef: {{name: bench-ca, key: ca.crt}}
  dataLocation:
    country: GB
    region: London
  privacyContact: privacy@bench-partner.example
---
apiVersion: accord.dev/v1alpha1
kind: ConsentRule
metadata:
  name: opt-outs
  namespace: bench
spec:
  school: bench-academy
  scope:
    all: true
  exclude: [{}]
",
        excluded.join(", ")
    );
    std::fs::write(trust.join("resources.yaml"), yaml).expect("resources");
    let agreement = "apiVersion: accord.dev/v1alpha1
kind: DataSharingAgreement
metadata:
  name: bench-homework
  namespace: bench
spec:
  partner: bench-partner
  schools:
    names: [bench-academy]
  purpose: Pupils set and hand in homework for the classes they are taught in.
  lawfulBasis: publicTask
  data:
    students: [givenName, familyName, yearGroup, email]
  consent: optOut
  delivery:
    mode: push
  validFrom: \"2026-01-01\"
";
    let (private, public) = generate_key_pair().expect("key pair");
    std::fs::write(trust.join("keyring/bench-dpo.pub"), public).expect("public key");
    let key_file = trust.parent().expect("parent").join("bench-dpo.key");
    std::fs::write(&key_file, private).expect("private key");
    let key = ApproverKey::load(&key_file).expect("key");
    let file = trust.join("agreement.yaml");
    let (signed, _) = sign_agreements_in_text(&file, agreement, &key).expect("signed");
    std::fs::write(file, signed).expect("agreement");
}

fn pupil(i: usize) -> String {
    format!("stu-199999-{i:07}")
}

/// The cache as a fresh read of the school would leave it.
async fn fill_cache(cache: &Cache, state: &State, records: usize) {
    let pupils: Vec<Map<String, Value>> = (0..records)
        .map(|i| {
            let record = json!({
                "sourcedId": pupil(i),
                "givenName": format!("Given{}", i % 9_973),
                "familyName": format!("Family{}", i % 7_919),
                "yearGroup": format!("Y{}", 1 + i % 11),
                "email": format!("p{i}@bench-academy.example"),
            });
            record.as_object().cloned().unwrap_or_default()
        })
        .collect();
    let payload = serde_json::to_vec(&pupils).expect("json");
    drop(pupils);
    let expires = SystemTime::now() + Duration::from_secs(86_400);
    let school = "bench/bench-academy";
    cache
        .put(school, Area::Students, &payload, records as u64, expires)
        .await
        .expect("cache put");
    state
        .put_extraction(&ExtractionRecord {
            school: school.into(),
            last_extraction: Some(SystemTime::now()),
            extracted_fields: BTreeMap::from([(
                "students".to_owned(),
                FIELDS.iter().map(|f| f.to_string()).collect(),
            )]),
            refresh_handled: None,
            last_error: None,
            last_attempt: SystemTime::now(),
        })
        .await
        .expect("read history");
}
