//! A running `accord run` over a converged copy of the example Trust, with portal tokens
//! for the Trust DPO, Ashby's office and an expired one, and a small HTTP client for it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use accord::portal::auth::{Role, TokensFile};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::common::Trust;

pub const NS: &str = "riverside-trust";

/// The portal of a converged example Trust, served until dropped.
pub struct Served {
    pub trust: Trust,
    pub base: String,
    pub dpo: String,
    pub staff: String,
    pub expired: String,
    child: Child,
}

impl Served {
    pub fn start() -> Served {
        let trust = Trust::new();
        let output = trust.run();
        assert!(
            output.status.success(),
            "accord run --once failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );

        let mut tokens = TokensFile::default();
        let year = Timestamp::now()
            .checked_add(SignedDuration::from_hours(24 * 365))
            .unwrap();
        let yesterday = Timestamp::now()
            .checked_sub(SignedDuration::from_hours(24))
            .unwrap();
        let dpo = tokens.issue(Role::TrustDpo, None, "dpo", year).unwrap();
        let staff = tokens
            .issue(
                Role::SchoolStaff,
                Some(format!("{NS}/ashby-primary")),
                "ashby-office",
                year,
            )
            .unwrap();
        let expired = tokens
            .issue(Role::TrustDpo, None, "old-dpo", yesterday)
            .unwrap();
        let file = trust.dir.path().join("portal-tokens.yaml");
        tokens.save(&file).unwrap();

        let port = free_port();
        let mut args = vec![
            "run".to_owned(),
            trust.path().display().to_string(),
            "--state".into(),
            trust.state().display().to_string(),
            "--secrets".into(),
            trust.dir.path().join("secrets").display().to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--portal-tokens".into(),
            file.display().to_string(),
        ];
        args.extend(trust.partners.resolve_args());
        let child = Command::new(env!("CARGO_BIN_EXE_accord"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let served = Served {
            trust,
            base: format!("http://127.0.0.1:{port}"),
            dpo,
            staff,
            expired,
            child,
        };
        served.wait_ready();
        served
    }

    /// Waits until the portal answers with the first pass applied.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            let (status, _, _) = self.get("/portal/api/v1/flows", Some(&self.dpo), None);
            if status == 200 {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("the portal did not come up at {}", self.base);
    }

    /// A GET with a bearer token or a session cookie: status, headers, body.
    pub fn get(
        &self,
        path: &str,
        bearer: Option<&str>,
        cookie: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        self.send(reqwest::Method::GET, path, bearer, cookie, None, &[])
    }

    /// Any request; `body` is (content type, bytes).
    pub fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        cookie: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        runtime.block_on(async {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let mut request = client.request(method, format!("{}{path}", self.base));
            if let Some(token) = bearer {
                request = request.bearer_auth(token);
            }
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some((kind, bytes)) = body {
                request = request.header("content-type", kind).body(bytes);
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    (status, headers, response.text().await.unwrap_or_default())
                }
                Err(_) => (0, reqwest::header::HeaderMap::new(), String::new()),
            }
        })
    }

    /// A form POST.
    pub fn post_form(
        &self,
        path: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            reqwest::Method::POST,
            path,
            None,
            cookie,
            Some(("application/x-www-form-urlencoded", body.into_bytes())),
            &[],
        )
    }

    /// A JSON POST.
    pub fn post_json(
        &self,
        path: &str,
        bearer: Option<&str>,
        cookie: Option<&str>,
        body: serde_json::Value,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let (status, _, text) = self.send(
            reqwest::Method::POST,
            path,
            bearer,
            cookie,
            Some(("application/json", serde_json::to_vec(&body).unwrap())),
            headers,
        );
        (status, text)
    }

    /// Signs in through the form as a browser would; returns the session cookie and the
    /// session's CSRF token.
    pub fn sign_in(&self, token: &str) -> Option<(String, String)> {
        let (_, headers, page) = self.get("/portal/sign-in", None, None);
        let nonce_cookie = set_cookie(&headers, "accord_sign_in")?;
        let nonce = hidden(&page, "csrf")?;
        let (status, headers, _) = self.post_form(
            "/portal/sign-in",
            Some(&nonce_cookie),
            &[("token", token), ("csrf", &nonce)],
        );
        if status != 303 {
            return None;
        }
        let session = set_cookie(&headers, "accord_portal")?;
        let (_, _, page) = self.get("/portal/locate", None, Some(&session));
        let csrf = hidden(&page, "csrf")?;
        Some((session, csrf))
    }

    /// What `accord locate -o json` says about a person.
    pub fn locate_cli(&self, subject: &str, school: &str) -> serde_json::Value {
        let output = crate::common::accord(&[
            "locate",
            subject,
            "--school",
            school,
            "--state",
            self.trust.state().to_str().unwrap(),
            "-o",
            "json",
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name=value` of a cookie the response sets.
pub fn set_cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The value of the first hidden input with this name.
pub fn hidden(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_owned())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
