//! The partner pull API as a pulling partner meets it: `accord run` serving the example
//! Trust on loopback, called with the partner's bearer token over HTTP.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Trust, accord, pupils};
use serde_json::Value;

/// `accord run` in the background, serving the API; killed when dropped.
struct Serving {
    child: Child,
    address: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(trust: &Trust) -> Serving {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let secrets = trust.dir.path().join("secrets");
    let mut command = Command::new(env!("CARGO_BIN_EXE_accord"));
    command
        .arg("run")
        .arg(trust.path())
        .arg("--state")
        .arg(trust.state())
        .arg("--secrets")
        .arg(&secrets)
        .args(["--listen", &address])
        .args(trust.partners.resolve_args())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Serving {
        child: command.spawn().unwrap(),
        address,
    }
}

fn token(trust: &Trust, partner: &str) -> String {
    let file = trust.partners.kit(partner).pull_token.clone().unwrap();
    std::fs::read_to_string(file).unwrap().trim().to_owned()
}

/// A plain HTTP client for the API on loopback.
struct Client {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Client {
    fn new() -> Client {
        // Accord's HTTP clients use one TLS provider, installed by the process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Client {
            runtime: tokio::runtime::Runtime::new().unwrap(),
            http: reqwest::Client::new(),
        }
    }

    /// GET with an optional bearer token: the status and the body as JSON.
    fn get(&self, url: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.runtime.block_on(async {
            let Ok(response) = request.send().await else {
                return (0, Value::Null);
            };
            let status = response.status().as_u16();
            let bytes = response.bytes().await.unwrap_or_default();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        })
    }
}

/// Waits until the first pass has been published and the API answers the partner.
fn listing(client: &Client, base: &str, token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, body) = client.get(&format!("{base}/agreements"), Some(token));
        if status == 200 {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "the pull API did not answer within two minutes (last status {status})"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_pulling_partner_sees_only_its_agreement_for_consenting_pupils_and_each_page_is_a_flow() {
    let trust = Trust::new();
    let serving = serve(&trust);
    let base = format!("http://{}/partner/v1", serving.address);
    let client = Client::new();
    let maths = token(&trust, "maths-circle");

    let listing = listing(&client, &base, &maths);
    let agreements = listing["agreements"].as_array().unwrap();
    assert_eq!(agreements.len(), 1, "{listing}");
    assert_eq!(agreements[0]["agreement"], "maths-circle");
    let schools: BTreeSet<&str> = agreements[0]["schools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(schools, BTreeSet::from(["ashby-primary", "brook-primary"]));

    // No token, a wrong token: refused, and asked to authenticate.
    let page = format!("{base}/agreements/maths-circle/schools/brook-primary/students?limit=10000");
    assert_eq!(client.get(&page, None).0, 401);
    assert_eq!(client.get(&page, Some("not-a-token")).0, 401);

    // Another partner's agreement, a school the agreement does not cover, and an area it
    // does not share answer exactly as something that does not exist.
    let missing = client.get(
        &format!("{base}/agreements/no-such-agreement/schools/brook-primary/students"),
        Some(&maths),
    );
    assert_eq!(missing.0, 404);
    for path in [
        "agreements/homework-hub/schools/carlton-academy/students",
        "agreements/maths-circle/schools/carlton-academy/students",
        "agreements/maths-circle/schools/brook-primary/contacts",
    ] {
        let answer = client.get(&format!("{base}/{path}"), Some(&maths));
        assert_eq!(
            answer, missing,
            "{path} tells the partner more than a missing one"
        );
    }

    // Exactly the agreement's fields, for every pupil but the one an erasure request names.
    let (status, body) = client.get(&page, Some(&maths));
    assert_eq!(status, 200, "{body}");
    let records = body["records"].as_array().unwrap();
    let erased = "stu-139202-00042";
    let served: BTreeSet<&str> = records
        .iter()
        .map(|r| r["sourcedId"].as_str().unwrap())
        .collect();
    let roll: BTreeSet<String> = pupils("brook-primary").into_iter().collect();
    assert!(!served.contains(erased), "the erased pupil was served");
    assert_eq!(served.len(), roll.len() - 1, "every other pupil is served");
    assert_eq!(
        common::field_names(records),
        BTreeSet::from(["sourcedId", "givenName", "yearGroup"].map(String::from)),
        "only the agreement's fields are served"
    );
    drop(serving);

    // The page is in the ledger as a share to the partner, with the fields it carried.
    let pupil = served.iter().next().unwrap();
    let output = accord(&[
        "locate",
        pupil,
        "--school",
        "riverside-trust/brook-primary",
        "-o",
        "json",
        "--state",
        trust.state().to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let located: Value = serde_json::from_slice(&output.stdout).unwrap();
    let text = located.to_string();
    assert!(
        text.contains("maths-circle") && text.contains("yearGroup"),
        "the served page is not in the ledger: {located}"
    );
}
