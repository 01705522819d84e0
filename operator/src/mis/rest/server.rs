//! The OneRoster 1.1 REST server over a CSV bundle, behind `accord mis serve`.
//!
//! `POST /token` issues bearer tokens (see [`oauth`](super::oauth)); every collection
//! under [`BASE_PATH`] needs one. Collections page with `limit` (default 100, at most
//! 1000) and `offset`, report `X-Total-Count` and link the next, previous, first and last
//! pages in a `Link` header, select top-level keys with `fields`, and take
//! `filter=dateLastModified>'…'` (or `>=`) for deltas. Other filters are refused with a
//! OneRoster status body rather than ignored, since a client would take an unfiltered
//! answer for a filtered one.
//!
//! Limitation: the bundle is read once at start; restart the server to serve a new one.
//! Limitation: the server speaks plain HTTP and accepts one client; outside a loopback
//! demo, put it behind a TLS proxy.
//! Limitation: `sort`, `orderBy` and single-record paths (`/users/{id}`) are not served.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value};
use tokio::net::TcpListener;

use crate::mis::MisError;
use crate::mis::rest::collections::{Collections, Served, instant};
use crate::mis::rest::oauth::{Tokens, json_type};
use crate::mis::rest::{BASE_PATH, ClientCredentials, ServeError, TOKEN_PATH};

/// Records per page when the client does not say.
const DEFAULT_LIMIT: usize = 100;

/// The most records one page holds, whatever the client asks.
const MAX_LIMIT: usize = 1000;

/// How long a token lasts unless [`ServerOptions`] says otherwise.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// A failure the server injects on purpose, so connectors' failure handling can be
/// tested over a real connection. Requests are counted from 1 and only authorised
/// collection requests count, not token requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The `nth` request answers this HTTP status with a OneRoster error body.
    Status {
        /// Which request.
        nth: u64,
        /// The status, e.g. 500.
        status: u16,
    },
    /// The `nth` request is never answered.
    Hang {
        /// Which request.
        nth: u64,
    },
    /// The `nth` request answers 200 with a body that is not JSON.
    Garbage {
        /// Which request.
        nth: u64,
    },
}

/// Choices beyond the bundle and the client, for tests and demos.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Failures to inject.
    pub faults: Vec<Fault>,
    /// How long tokens last; an hour when `None`.
    pub token_lifetime: Option<Duration>,
}

impl ServerOptions {
    /// Adds a failure to inject.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }
}

/// Serves the bundle at `bundle_dir` on `listener` until the listener fails.
pub async fn serve(
    bundle_dir: &Path,
    listener: TcpListener,
    credentials: ClientCredentials,
) -> Result<(), ServeError> {
    let app = router(bundle_dir, credentials)?;
    let address = listener.local_addr()?;
    tracing::info!(%address, base = BASE_PATH, "OneRoster REST server listening");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The server's routes over the bundle at `bundle_dir`, read now.
pub fn router(bundle_dir: &Path, credentials: ClientCredentials) -> Result<Router, MisError> {
    router_with(bundle_dir, credentials, ServerOptions::default())
}

/// [`router`] with failures to inject and a token lifetime.
pub fn router_with(
    bundle_dir: &Path,
    credentials: ClientCredentials,
    options: ServerOptions,
) -> Result<Router, MisError> {
    let lifetime = options.token_lifetime.unwrap_or(TOKEN_LIFETIME);
    let state = Arc::new(ServerState {
        collections: Collections::load(bundle_dir)?,
        tokens: Tokens::new(credentials, lifetime),
        faults: options.faults,
        requests: AtomicU64::new(0),
    });
    let api = Router::new()
        .route(&format!("{BASE_PATH}/{{collection}}"), get(list))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard));
    Ok(Router::new()
        .route(TOKEN_PATH, post(token))
        .merge(api)
        .with_state(state))
}

/// What every request handler shares.
struct ServerState {
    collections: Collections,
    tokens: Tokens,
    faults: Vec<Fault>,
    requests: AtomicU64,
}

type Shared = Arc<ServerState>;

async fn token(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    state.tokens.answer(&headers, &body)
}

/// Refuses requests without a valid bearer token, then injects any fault due.
async fn guard(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if !bearer.is_some_and(|token| state.tokens.valid(token)) {
        let mut response = failure(
            StatusCode::UNAUTHORIZED,
            "unauthorisedrequest",
            "a valid bearer token from POST /token is required",
        );
        let challenge = HeaderValue::from_static("Bearer realm=\"oneroster\"");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
        return response;
    }

    let nth = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    for fault in &state.faults {
        match *fault {
            Fault::Status { nth: due, status } if due == nth => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                return failure(status, "internal_server_error", "injected failure");
            }
            Fault::Hang { nth: due } if due == nth => std::future::pending::<()>().await,
            Fault::Garbage { nth: due } if due == nth => {
                return (StatusCode::OK, "<html>not json").into_response();
            }
            _ => {}
        }
    }
    next.run(request).await
}

/// The endpoints: (path name, collection read, key in the answer, roles kept).
const ENDPOINTS: &[(&str, &str, &str, Option<&str>)] = &[
    ("users", "users", "users", None),
    ("students", "users", "users", Some("student")),
    ("teachers", "users", "users", Some("teacher")),
    ("classes", "classes", "classes", None),
    ("enrollments", "enrollments", "enrollments", None),
    ("demographics", "demographics", "demographics", None),
    ("orgs", "orgs", "orgs", None),
    (
        "academicSessions",
        "academicSessions",
        "academicSessions",
        None,
    ),
];

async fn list(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((_, source, key, role)) = ENDPOINTS.iter().find(|(path, ..)| *path == name) else {
        return failure(StatusCode::NOT_FOUND, "unknownobject", "no such collection");
    };
    let query = match Query::parse(query.as_deref().unwrap_or_default()) {
        Ok(query) => query,
        Err(refusal) => return failure(StatusCode::BAD_REQUEST, refusal.minor, refusal.why),
    };

    let matching: Vec<&Served> = state
        .collections
        .get(source)
        .iter()
        .filter(|record| role.is_none_or(|role| record.role.as_deref() == Some(role)))
        .filter(|record| query.keeps(record))
        .collect();
    let total = matching.len();
    let page: Vec<Value> = matching
        .iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|record| Value::Object(query.select(&record.json)))
        .collect();
    tracing::debug!(
        collection = name,
        total,
        offset = query.offset,
        "Page served"
    );

    let body = serde_json::json!({ *key: page }).to_string();
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, json_type());
    headers.insert("x-total-count", HeaderValue::from(total));
    if let Ok(links) = HeaderValue::from_str(&query.links(&name, total)) {
        headers.insert(header::LINK, links);
    }
    response
}

/// A collection request's paging, filter and field selection.
struct Query {
    limit: usize,
    offset: usize,
    /// `dateLastModified` must be after this (or at it, when `inclusive`).
    since: Option<(chrono::DateTime<chrono::FixedOffset>, bool)>,
    filter: Option<String>,
    fields: Option<Vec<String>>,
}

impl Query {
    fn parse(raw: &str) -> Result<Query, Refusal> {
        let mut query = Query {
            limit: DEFAULT_LIMIT,
            offset: 0,
            since: None,
            filter: None,
            fields: None,
        };
        let bad = |why| Refusal {
            minor: "invalid_data",
            why,
        };
        for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
            match name.as_ref() {
                "limit" => {
                    let limit: usize = value.trim().parse().map_err(|_| bad("bad limit"))?;
                    if limit == 0 {
                        return Err(bad("limit must be at least 1"));
                    }
                    query.limit = limit.min(MAX_LIMIT);
                }
                "offset" => {
                    query.offset = value.trim().parse().map_err(|_| bad("bad offset"))?;
                }
                "filter" => {
                    query.since = Some(since(&value)?);
                    query.filter = Some(value.into_owned());
                }
                "fields" => {
                    let names = value.split(',').map(|f| f.trim().to_owned());
                    let names: Vec<String> = names.filter(|f| !f.is_empty()).collect();
                    if names.is_empty() {
                        return Err(Refusal {
                            minor: "invalid_selection_field",
                            why: "fields must name at least one field",
                        });
                    }
                    query.fields = Some(names);
                }
                _ => {}
            }
        }
        Ok(query)
    }

    /// Whether a record passes the filter. A record without a readable
    /// `dateLastModified` is always sent: a delta that drops a change is worse than one
    /// that repeats a record.
    fn keeps(&self, record: &Served) -> bool {
        match (self.since, record.modified) {
            (None, _) | (Some(_), None) => true,
            (Some((after, false)), Some(at)) => at > after,
            (Some((after, true)), Some(at)) => at >= after,
        }
    }

    /// The record with only the selected fields; unknown names select nothing extra.
    fn select(&self, json: &Map<String, Value>) -> Map<String, Value> {
        match &self.fields {
            None => json.clone(),
            Some(names) => json
                .iter()
                .filter(|(key, _)| names.iter().any(|name| name == *key))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        }
    }

    /// The RFC 8288 `Link` header for this page, as references relative to the server.
    fn links(&self, name: &str, total: usize) -> String {
        let last = total.saturating_sub(1) / self.limit * self.limit;
        let mut links = Vec::new();
        if self.offset + self.limit < total {
            links.push((self.offset + self.limit, "next"));
        }
        if self.offset > 0 {
            links.push((self.offset.saturating_sub(self.limit), "prev"));
        }
        links.push((0, "first"));
        links.push((last, "last"));
        links
            .into_iter()
            .map(|(offset, rel)| format!("<{}>; rel=\"{rel}\"", self.page_url(name, offset)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn page_url(&self, name: &str, offset: usize) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("limit", &self.limit.to_string());
        query.append_pair("offset", &offset.to_string());
        if let Some(filter) = &self.filter {
            query.append_pair("filter", filter);
        }
        if let Some(fields) = &self.fields {
            query.append_pair("fields", &fields.join(","));
        }
        format!("{BASE_PATH}/{name}?{}", query.finish())
    }
}

/// Reads `dateLastModified>'…'` or `>=`; anything else is refused.
fn since(filter: &str) -> Result<(chrono::DateTime<chrono::FixedOffset>, bool), Refusal> {
    let refuse = |minor, why| Err(Refusal { minor, why });
    let filter = filter.trim();
    let split = filter
        .find(|c: char| "=!<>~".contains(c))
        .unwrap_or(filter.len());
    let (field, rest) = filter.split_at(split);
    if field.trim() != "dateLastModified" {
        return refuse(
            "invalid_filter_field",
            "only dateLastModified can be filtered on",
        );
    }
    let (inclusive, value) = if let Some(value) = rest.strip_prefix(">=") {
        (true, value)
    } else if let Some(value) = rest.strip_prefix('>') {
        (false, value)
    } else {
        return refuse("invalid_filter_field", "only > and >= are supported");
    };
    let value = value.trim();
    let quoted = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .filter(|v| !v.contains('\''));
    let Some(at) = quoted.and_then(instant) else {
        return refuse(
            "invalid_filter_field",
            "the filter value must be one quoted RFC 3339 date-time",
        );
    };
    Ok((at, inclusive))
}

/// Why a request was refused: the OneRoster code minor and a description.
struct Refusal {
    minor: &'static str,
    why: &'static str,
}

/// A OneRoster status-info error answer.
fn failure(status: StatusCode, minor: &str, description: &str) -> Response {
    let body = serde_json::json!({
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [{
                "imsx_codeMinorFieldName": "TargetEndSystem",
                "imsx_codeMinorFieldValue": minor,
            }],
        },
    });
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, json_type());
    response
}
