//! The portal in headless Chromium over WebDriver: sign in, the flow map, locating a
//! pupil, the Art. 30 CSV, the subject access report and a ConsentRule, with axe-core
//! checking every page for WCAG 2.1 A and AA violations and a screenshot of each kept
//! under `target/portal-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` and axe-core in the npm cache:
//! `tests/setup/chromium.sh` installs them. Without them the test fails, saying so.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::server::{NS, Served, free_port};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A Carlton pupil the example delivery sends to more than one partner.
const CARLTON_PUPIL: &str = "stu-139203-00140";

#[test]
fn a_dpo_walks_through_every_page_and_each_is_accessible() {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: run `bash tests/setup/chromium.sh` (installs chromium and \
             chromium-driver from Debian, and axe-core into ~/.cache/accord/npm)"
        );
    }
    let axe = std::fs::read_to_string(axe_path()).unwrap_or_else(|_| {
        panic!(
            "axe-core is missing at {}: run `bash tests/setup/chromium.sh`",
            axe_path().display()
        )
    });
    let portal = Served::start();
    let driver = Driver::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = driver.client().await;
        let result = walk(&client, &portal, &axe).await;
        let _ = client.close().await;
        result
    });
}

async fn walk(client: &Client, portal: &Served, axe: &str) {
    let base = &portal.base;
    let shots = screenshots();

    // Sign in.
    client.goto(&format!("{base}/portal")).await.unwrap();
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/portal/sign-in")
    );
    check(client, axe, &shots, "01-sign-in").await;
    client
        .find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(&portal.dpo)
        .await
        .unwrap();
    submit(client, "main form button[type=submit]").await;

    // The flow map: a box for every school, agreement and partner.
    assert_eq!(client.current_url().await.unwrap().path(), "/portal/flows");
    check(client, axe, &shots, "02-flow-map").await;
    let nodes = client.find_all(Locator::Css("svg a")).await.unwrap();
    assert_eq!(nodes.len(), 3 + 5 + 4, "schools, agreements, partners");

    // Click through to an agreement.
    client
        .find(Locator::Css(&format!(
            "svg a[href='/portal/agreements/{NS}/homework-hub']"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(client, "h1").await;
    assert!(text(client, "h1").await.contains("homework-hub"));
    check(client, axe, &shots, "03-agreement").await;

    // Locate a pupil: exactly the partners the ledger records.
    client.goto(&format!("{base}/portal/locate")).await.unwrap();
    check(client, axe, &shots, "04-locate-form").await;
    choose(client, "#school", &format!("{NS}/carlton-academy")).await;
    client
        .find(Locator::Css("#sourcedId"))
        .await
        .unwrap()
        .send_keys(CARLTON_PUPIL)
        .await
        .unwrap();
    submit(client, "form[action='/portal/locate'] button").await;
    check(client, axe, &shots, "05-locate-result").await;
    let mut shown = BTreeSet::new();
    let rows = client
        .find_all(Locator::Css("tr[data-partner]"))
        .await
        .unwrap();
    for row in &rows {
        shown.insert(row.attr("data-partner").await.unwrap().unwrap());
    }
    let ledger = portal.locate_cli(CARLTON_PUPIL, "carlton-academy");
    let recorded: BTreeSet<String> = ledger["partners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["partner"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !recorded.is_empty(),
        "the example sends this pupil somewhere"
    );
    assert_eq!(shown, recorded);
    let flows = ledger["partners"].as_array().unwrap().len();
    assert_eq!(rows.len(), flows, "one row per partner and agreement");
    let url = client.current_url().await.unwrap();
    assert!(
        !url.as_str().contains(CARLTON_PUPIL),
        "a sourcedId in the URL"
    );

    // The subject access report as JSON (what the download holds) equals `accord locate`.
    let downloaded = fetch_form(
        client,
        "/portal/reports/subject-access",
        &[
            ("school", &format!("{NS}/carlton-academy")),
            ("sourcedId", CARLTON_PUPIL),
            ("format", "json"),
        ],
    )
    .await;
    assert_eq!(
        downloaded["disposition"],
        "attachment; filename=\"subject-access-report.json\""
    );
    let report: Value = serde_json::from_str(downloaded["body"].as_str().unwrap()).unwrap();
    assert_eq!(report, ledger);

    // ... and as a printable page.
    submit(
        client,
        "form[action='/portal/reports/subject-access'] input[value='html'] ~ button",
    )
    .await;
    wait_for(client, "h1").await;
    assert_eq!(text(client, "h1").await, "Subject access report");
    assert_eq!(
        client
            .find_all(Locator::Css("tr[data-partner]"))
            .await
            .unwrap()
            .len(),
        flows
    );
    check(client, axe, &shots, "06-subject-access-report").await;

    // Data locations.
    client
        .goto(&format!("{base}/portal/locations"))
        .await
        .unwrap();
    check(client, axe, &shots, "07-locations").await;
    assert!(text(client, "main").await.contains("GB"));

    // Reports, and the Art. 30 CSV: one row per agreement.
    client
        .goto(&format!("{base}/portal/reports"))
        .await
        .unwrap();
    check(client, axe, &shots, "08-reports").await;
    let csv = fetch_get(client, "/portal/reports/art30.csv").await;
    assert_eq!(
        csv["disposition"],
        "attachment; filename=\"record-of-processing.csv\""
    );
    let mut reader = csv::Reader::from_reader(csv["body"].as_str().unwrap().as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "agreement");
    assert!(headers.iter().any(|h| h == "transfer outside UK/EEA"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let agreements: BTreeSet<&str> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(agreements.len(), 5);
    assert!(agreements.contains(format!("{NS}/homework-hub").as_str()));

    // Consent: excluding a pupil produces the rule and its diff.
    client
        .goto(&format!("{base}/portal/consent"))
        .await
        .unwrap();
    check(client, axe, &shots, "09-consent-form").await;
    choose(client, "#school", &format!("{NS}/ashby-primary")).await;
    choose(client, "#feed", "maths-circle").await;
    client
        .find(Locator::Css("#sourcedId"))
        .await
        .unwrap()
        .send_keys("stu-139201-00010")
        .await
        .unwrap();
    submit(client, "form[action='/portal/consent'] button").await;
    wait_for(client, "#yaml").await;
    check(client, axe, &shots, "10-consent-rule").await;
    let yaml = text(client, "#yaml").await;
    let rule: Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(rule["kind"], "ConsentRule");
    assert_eq!(rule["spec"]["school"], "ashby-primary");
    assert_eq!(
        rule["spec"]["scope"],
        json!({ "agreements": ["maths-circle"] })
    );
    assert!(
        rule["spec"]["exclude"]
            .as_array()
            .unwrap()
            .contains(&json!("stu-139201-00010"))
    );
    let diff = text(client, "#diff").await;
    assert!(diff.contains("+    - stu-139201-00010"), "{diff}");
}

/// Runs axe-core on the page, fails on any WCAG 2.x A or AA violation, and keeps a
/// screenshot.
async fn check(client: &Client, axe: &str, shots: &Path, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(shots.join(format!("{name}.png")), png).unwrap();
    client
        .execute(&format!("{axe}\n;window.axe = axe;"), vec![])
        .await
        .unwrap();
    let violations = client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
              .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact,
                help: v.help, nodes: v.nodes.map(n => n.target.join(' ')) }))))
              .catch(e => done([{ id: 'axe-failed', help: String(e) }]));"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        violations.as_array().map_or(1, Vec::len),
        0,
        "{name}: axe-core found violations: {}",
        serde_json::to_string_pretty(&violations).unwrap()
    );
}

async fn submit(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(client, "h1").await;
}

async fn choose(client: &Client, select: &str, value: &str) {
    client
        .find(Locator::Css(&format!("{select} option[value='{value}']")))
        .await
        .unwrap_or_else(|_| panic!("no option {value} in {select}"))
        .click()
        .await
        .unwrap();
}

async fn wait_for(client: &Client, css: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap();
}

async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A GET from inside the page, with the page's session: status, disposition, body.
async fn fetch_get(client: &Client, path: &str) -> Value {
    client
        .execute_async(
            r#"const [path, done] = arguments;
            fetch(path).then(async r => done({ status: r.status,
                disposition: r.headers.get('content-disposition'), body: await r.text() }));"#,
            vec![json!(path)],
        )
        .await
        .unwrap()
}

/// A form POST from inside the page with the page's CSRF token, as its buttons send.
async fn fetch_form(client: &Client, path: &str, fields: &[(&str, &str)]) -> Value {
    let fields: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    client
        .execute_async(
            r#"const [path, fields, done] = arguments;
            const body = new URLSearchParams(fields);
            body.set('csrf', document.querySelector('input[name=csrf]').value);
            fetch(path, { method: 'POST', body }).then(async r => done({ status: r.status,
                disposition: r.headers.get('content-disposition'), body: await r.text() }));"#,
            vec![json!(path), Value::Object(fields)],
        )
        .await
        .unwrap()
}

/// Where `tests/setup/chromium.sh` installs axe-core.
fn axe_path() -> PathBuf {
    std::env::var_os("ACCORD_NPM_CACHE")
        .map_or_else(
            || {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                    .join(".cache/accord/npm")
            },
            PathBuf::from,
        )
        .join("node_modules/axe-core/axe.min.js")
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("portal-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// chromedriver on loopback, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    async fn client(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,1000"],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session over WebDriver")
    }
}

impl Drop for Driver {
    // Asked to shut down, chromedriver closes its browsers too, even after a failed step
    // left the session open; killing it alone would leave Chromium running.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let address = self.url.trim_start_matches("http://").to_owned();
        if let Ok(mut stream) = std::net::TcpStream::connect(&address) {
            let _ = stream.write_all(b"GET /shutdown HTTP/1.0\r\n\r\n");
            let _ = stream.read_to_end(&mut Vec::new());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
