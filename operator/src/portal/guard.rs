//! What stands between a request and the portal's data: the security headers on every
//! response, finding who is asking (a session cookie, or a bearer token for the JSON API),
//! and the CSRF check on every state-changing request made with a session.

use std::time::SystemTime;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use k8s_openapi::jiff::Timestamp;
use tracing::warn;

use super::Shared;
use super::auth::{Session, TokensFile, Viewer, same};

/// The session cookie's name.
pub const COOKIE: &str = "accord_portal";

/// The header a JSON request made with a session carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Pages and API answers may load only the portal's own style sheet and script, may not
/// be framed, and are never stored: most of them are about people.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                   base-uri 'none'";

/// Adds the security headers to every portal response. Only the static style sheet and
/// script may be cached.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let is_static = request.uri().path().starts_with("/portal/static/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let cache = if is_static {
        "private, max-age=300"
    } else {
        "no-store"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// A response that ends a request early (sign in first, a refusal), boxed so a `Result`
/// carrying it stays small.
pub struct Refused(Box<Response>);

impl From<Response> for Refused {
    fn from(response: Response) -> Refused {
        Refused(Box::new(response))
    }
}

impl axum::response::IntoResponse for Refused {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// Returns the early response of a `Result` whose error is a [`Refused`] or a `Response`.
macro_rules! attempt {
    ($e:expr) => {
        match $e {
            Ok(value) => value,
            Err(refused) => return axum::response::IntoResponse::into_response(refused),
        }
    };
}
pub(crate) use attempt;

/// Who is asking, and with which session if it came with one.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Who.
    pub viewer: Viewer,
    /// The session, when signed in through the pages; none for a bearer token.
    pub session: Option<(String, Session)>,
}

impl Caller {
    /// The session's CSRF token, for forms; empty for a bearer caller.
    pub fn csrf(&self) -> &str {
        self.session.as_ref().map_or("", |(_, s)| s.csrf.as_str())
    }

    /// Whether a state-changing request carries the session's CSRF token. A bearer
    /// token is not sent by a browser on its own, so it needs none.
    pub fn csrf_ok(&self, presented: Option<&str>) -> bool {
        match &self.session {
            None => true,
            Some((_, session)) => {
                presented.is_some_and(|p| same(p.as_bytes(), session.csrf.as_bytes()))
            }
        }
    }
}

/// The caller behind a request: its session cookie, else its bearer token.
pub fn caller(shared: &Shared, headers: &HeaderMap) -> Option<Caller> {
    if let Some(id) = cookie(headers, COOKIE) {
        let session = shared.portal.sessions.get(&id, SystemTime::now())?;
        return Some(Caller {
            viewer: session.viewer.clone(),
            session: Some((id, session)),
        });
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))?;
    let viewer = token_viewer(shared, token)?;
    Some(Caller {
        viewer,
        session: None,
    })
}

/// The viewer a token stands for, read from the tokens file now.
pub fn token_viewer(shared: &Shared, token: &str) -> Option<Viewer> {
    let path = shared.portal.tokens.as_ref()?;
    match TokensFile::load(path) {
        Ok(file) => file.viewer(token, Timestamp::now()),
        Err(error) => {
            warn!(%error, "Portal tokens unusable; nobody can sign in");
            None
        }
    }
}

/// The value of one cookie.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The `Set-Cookie` value for a session, or for ending one when `id` is empty.
pub fn session_cookie(id: &str, secure: bool, max_age: u64) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={id}; Path=/portal; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_out_of_reach_of_scripts_and_other_sites() {
        let value = session_cookie("abc", true, 60);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/portal"] {
            assert!(value.contains(part), "{value}");
        }
        assert!(!session_cookie("abc", false, 60).contains("Secure"));
    }

    #[test]
    fn a_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; accord_portal=xyz; b=2"),
        );
        assert_eq!(cookie(&headers, COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
