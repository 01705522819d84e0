//! Tests of the OneRoster REST server and connector, over real loopback TCP.

use std::path::Path;
use std::time::Duration;

use tempfile::TempDir;
use tokio::net::TcpListener;

use crate::mis::oneroster_csv_write::write_oneroster_bundle;
use crate::mis::rest::{ClientCredentials, RestConfig, ServerOptions, router_with};
use crate::mis::sample::{SampleSchool, SchoolInfo, school};

mod client_failures;
mod equality;
mod server_api;

const CLIENT_ID: &str = "northway-mis-reader";
const CLIENT_SECRET: &str = "s3cret-never-shown";

/// A sample school of `pupils` pupils written as a bundle into a temporary folder.
fn sample_bundle(pupils: usize) -> (SampleSchool, TempDir) {
    let info = SchoolInfo {
        name: "Northway Primary".into(),
        urn: "100001".into(),
        la_estab: "3802001".into(),
    };
    let sample = school(11, &info, pupils);
    let dir = tempfile::tempdir().expect("temporary folder");
    write_oneroster_bundle(&sample, dir.path()).expect("bundle written");
    (sample, dir)
}

fn credentials() -> ClientCredentials {
    ClientCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
    }
}

/// A server on an ephemeral loopback port.
struct Running {
    origin: String,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// A connector configuration for this server, with small pages and a short timeout.
    fn config(&self) -> RestConfig {
        let mut config = RestConfig::new(
            self.url("/ims/oneroster/v1p1"),
            self.url("/token"),
            CLIENT_ID,
            CLIENT_SECRET,
        );
        config.page_size = 7;
        config.timeout = Duration::from_secs(5);
        config
    }
}

/// Serves `dir` with `options` on 127.0.0.1 until the test's runtime ends.
async fn start(dir: &Path, options: ServerOptions) -> Running {
    let app = router_with(dir, credentials(), options).expect("bundle served");
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("loopback port");
    let address = listener.local_addr().expect("bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Running {
        origin: format!("http://{address}"),
    }
}

/// A plain HTTP client for speaking to the server directly.
fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

/// A token from the server, asked for with HTTP Basic.
async fn token(running: &Running) -> String {
    let answer: serde_json::Value = http()
        .post(running.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("token answer")
        .json_value()
        .await;
    answer["access_token"].as_str().expect("token").to_owned()
}

/// Reads a body as JSON without reqwest's `json` feature.
trait JsonBody {
    async fn json_value(self) -> serde_json::Value;
}

impl JsonBody for reqwest::Response {
    async fn json_value(self) -> serde_json::Value {
        let bytes = self.bytes().await.expect("body");
        serde_json::from_slice(&bytes).expect("JSON body")
    }
}
