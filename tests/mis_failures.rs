//! `accord run --once` when a school's MIS export or service goes bad: a clear status, and
//! the last good cache kept.

use accord::catalogue::Area;
use accord::mis::rest::{Fault, ServerOptions};

mod common;
use common::*;

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
