//! The server's OAuth2 client-credentials grant (RFC 6749 §4.4): one client, whose id
//! and secret come in HTTP Basic or in the form body, gets short-lived bearer tokens.
//!
//! Tokens are 256 random bits from the operating system, kept in memory only, so a
//! restarted server forgets them and clients fetch new ones.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::mis::rest::ClientCredentials;

/// The tokens one server has issued to its one client.
pub(crate) struct Tokens {
    credentials: ClientCredentials,
    lifetime: Duration,
    issued: Mutex<HashMap<String, Instant>>,
}

impl Tokens {
    /// No tokens yet, for this client, each valid for `lifetime`.
    pub(crate) fn new(credentials: ClientCredentials, lifetime: Duration) -> Self {
        Tokens {
            credentials,
            lifetime,
            issued: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `token` was issued here and has not expired.
    pub(crate) fn valid(&self, token: &str) -> bool {
        let issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        issued
            .get(token)
            .is_some_and(|expires| *expires > Instant::now())
    }

    /// Answers one `POST /token` request.
    pub(crate) fn answer(&self, headers: &HeaderMap, body: &Bytes) -> Response {
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
        }
        let presented = basic_credentials(headers).or_else(|| {
            let id = form.get("client_id")?;
            let secret = form.get("client_secret")?;
            Some((id.clone(), secret.clone()))
        });
        let Some((id, secret)) = presented else {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
        };
        // Both comparisons always run, so timing does not tell which one failed.
        let id_ok = same(id.as_bytes(), self.credentials.client_id.as_bytes());
        let secret_ok = same(secret.as_bytes(), self.credentials.client_secret.as_bytes());
        if !(id_ok & secret_ok) {
            tracing::info!("Token refused for unknown client credentials");
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
        }

        let Some(token) = self.issue() else {
            return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
        };
        let body = serde_json::json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.lifetime.as_secs(),
        });
        let mut response = (StatusCode::OK, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, json_type());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    fn issue(&self) -> Option<String> {
        let mut bits = [0u8; 32];
        getrandom::fill(&mut bits).ok()?;
        let token = URL_SAFE_NO_PAD.encode(bits);
        let now = Instant::now();
        let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        issued.retain(|_, expires| *expires > now);
        issued.insert(token.clone(), now + self.lifetime);
        Some(token)
    }
}

/// The `Authorization: Basic` id and secret, when the header holds them.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Compares two byte strings in time that depends on their lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    let differ = a
        .iter()
        .zip(b)
        .fold(a.len() ^ b.len(), |acc, (x, y)| acc | usize::from(x ^ y));
    differ == 0
}

fn oauth_error(status: StatusCode, error: &'static str) -> Response {
    let body = serde_json::json!({ "error": error }).to_string();
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, json_type());
    if status == StatusCode::UNAUTHORIZED {
        let challenge = HeaderValue::from_static("Basic realm=\"oneroster\"");
        headers.insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// The JSON media type every answer carries.
pub(crate) fn json_type() -> HeaderValue {
    HeaderValue::from_static("application/json")
}
