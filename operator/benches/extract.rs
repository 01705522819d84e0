//! Benchmark of extraction into the encrypted cache: read a OneRoster CSV bundle for an
//! agreement's fields, and seal each area into the SQLite cache.
//!
//! Run with `cargo bench --bench extract`. For each school size (1,000 and 100,000 pupils;
//! `ACCORD_BENCH_PUPILS=a,b` to change) it writes an invented school's bundle, then runs
//! the extraction in a child process of this binary so peak memory is the extraction's.

mod support;

use std::path::Path;
use std::time::{Instant, SystemTime};

use accord::cache::{Cache, MasterKey};
use accord::catalogue::Area;
use accord::controller::extract::area_payload;
use accord::mis::oneroster_csv::read_bundle;
use accord::mis::oneroster_csv_write::write_oneroster_bundle;
use accord::mis::sample::{SchoolInfo, school};
use accord::mis::{FieldSet, ReadOptions};
use accord::state::State;

use support::peak_rss_kib;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--extract-only") {
        extract_once(Path::new(&args[i + 1]), Path::new(&args[i + 2]));
        return;
    }

    let sizes: Vec<usize> = std::env::var("ACCORD_BENCH_PUPILS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 100_000]);
    let exe = std::env::current_exe().expect("own path");
    for pupils in sizes {
        let dir = tempfile::tempdir().expect("temporary folder");
        let bundle = dir.path().join("bundle");
        let info = SchoolInfo {
            name: "Benchmark Academy".into(),
            urn: "199999".into(),
            la_estab: "9994001".into(),
        };
        write_oneroster_bundle(&school(7, &info, pupils), &bundle).expect("bundle written");
        let bytes: u64 = std::fs::read_dir(&bundle)
            .expect("bundle")
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        println!(
            "{pupils} pupils: bundle of {:.1} MiB",
            bytes as f64 / 1048576.0
        );
        for _ in 0..3 {
            let state = dir.path().join(format!("state-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&state);
            let output = std::process::Command::new(&exe)
                .args([
                    "--extract-only",
                    bundle.to_str().expect("utf-8"),
                    state.to_str().expect("utf-8"),
                ])
                .output()
                .expect("child runs");
            print!("{}", String::from_utf8_lossy(&output.stdout));
            eprint!("{}", String::from_utf8_lossy(&output.stderr));
        }
    }
}

/// The fields the example Trust's homework agreement reads.
fn fields() -> FieldSet {
    FieldSet::new()
        .with(
            Area::Students,
            &["givenName", "familyName", "yearGroup", "email"],
        )
        .and_then(|f| f.with(Area::Staff, &["givenName", "familyName", "email", "role"]))
        .and_then(|f| f.with(Area::Classes, &["title", "classCode", "subjects"]))
        .and_then(|f| {
            f.with(
                Area::Enrollments,
                &["classSourcedId", "userSourcedId", "role"],
            )
        })
        .expect("catalogue fields")
}

fn extract_once(bundle: &Path, state_dir: &Path) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let state = State::open(state_dir).await.expect("state");
        let cache = Cache::new(state, MasterKey::from_bytes(&[7u8; 32])).await.expect("cache");
        let fields = fields();

        let start = Instant::now();
        let extract = read_bundle(bundle, &fields, &ReadOptions::default()).expect("bundle reads");
        let read = start.elapsed();
        let mut records = 0;
        let expires = SystemTime::now() + std::time::Duration::from_secs(30 * 86_400);
        for area in fields.areas() {
            let payload = area_payload(&extract, area);
            let count = extract.records(area).len();
            records += count;
            cache.put("bench/school", area, &payload, count as u64, expires).await.expect("put");
        }
        let total = start.elapsed();
        println!(
            "  {records} records ({} pupils) in {:.3} s: read {:.3} s, seal and store {:.3} s; {:.0} records/s; peak RSS {} MiB",
            extract.records(Area::Students).len(),
            total.as_secs_f64(),
            read.as_secs_f64(),
            (total - read).as_secs_f64(),
            records as f64 / total.as_secs_f64(),
            peak_rss_kib() / 1024
        );
    });
}
