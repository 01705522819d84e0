//! The OneRoster REST connector: fetch a token, page through the collections that the
//! requested areas need, and map them onto records (see [`records`](super::records)).
//!
//! Each collection is asked only for the keys the requested fields map from (`fields=`),
//! and `/students` is read instead of `/users` when no staff, contacts or enrollments are
//! requested, so a pupil-only agreement never pulls staff or parents over the wire. A
//! server that ignores `fields` is still safe: records keep only requested fields.
//!
//! A 401 on a page fetches one new token and retries that page once, since tokens may
//! expire during a long read. Nothing else is retried: a failed read fails whole, and
//! the controller's schedule reads again. Redirects are not followed, so a token is never
//! sent to another host.
//!
//! Limitation: the client pages with `limit`/`offset`, reading a `Link` header only to learn
//! whether there is a next page; a server whose paging works only through `Link` cursors,
//! or that caps `limit` without sending `X-Total-Count` or `Link`, is read short.

use std::collections::HashMap;

use reqwest::{Certificate, Client, Response, StatusCode, Url, header};
use serde_json::{Map, Value};

use crate::mis::rest::RestConfig;
use crate::mis::rest::collections::instant;
use crate::mis::rest::error::{RestError, RestErrorKind};
use crate::mis::rest::records::{self, Collection, Fetched, Need};
use crate::mis::{Extract, FieldSet, MisError};

/// The most bytes one answer may have; a page of 1000 users is well under a megabyte.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Reads the requested fields from a OneRoster 1.1 REST API, as [`fetch`] does, with
/// failures as [`MisError`]s beside the file readers'.
pub async fn read_rest(config: &RestConfig, fields: &FieldSet) -> Result<Extract, MisError> {
    Ok(fetch(config, fields).await?)
}

/// Reads the requested fields from a OneRoster 1.1 REST API: the whole roster, or with
/// [`RestConfig::since`] only what changed (the extract then marks its areas as deltas).
pub async fn fetch(config: &RestConfig, fields: &FieldSet) -> Result<Extract, RestError> {
    let mut session = Session::open(config).await?;
    let delta = config.since.is_some();

    let mut fetched = Fetched::default();
    for need in records::needs(fields, delta) {
        let collection = session.collection(&need).await?;
        fetched.insert(need.source, collection, session.url(need.endpoint)?.path());
    }
    let extract = records::extract(fields, fetched, delta)?;

    let counts: Vec<String> = extract
        .records
        .iter()
        .map(|(area, list)| format!("{area}={}", list.len()))
        .collect();
    tracing::info!(
        records = counts.join(" "),
        delta,
        "OneRoster REST read finished"
    );
    Ok(extract)
}

/// One read's connection, base URL and current token.
struct Session<'c> {
    config: &'c RestConfig,
    http: Client,
    base: Url,
    token: String,
}

impl<'c> Session<'c> {
    async fn open(config: &'c RestConfig) -> Result<Session<'c>, RestError> {
        let config_error = |what: &str, reason: String| {
            RestError::new(what.to_owned(), RestErrorKind::Config { reason })
        };
        let base = Url::parse(config.base_url.trim_end_matches('/')).map_err(|e| {
            config_error(
                "base_url",
                format!("not a URL ({e}); write it as https://host/ims/oneroster/v1p1"),
            )
        })?;
        if let Some(since) = &config.since
            && instant(since).is_none()
        {
            let reason = "since is not an RFC 3339 date-time such as 2024-01-01T00:00:00Z";
            return Err(config_error("since", reason.to_owned()));
        }

        // reqwest uses rustls's process-wide provider; ring is installed unless another
        // provider already is, so every reqwest client in the process can build.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &config.ca_pem {
            let reason = "holds no PEM certificate; give the school's CA as PEM";
            let certificates = Certificate::from_pem_bundle(pem)
                .ok()
                .filter(|certificates| !certificates.is_empty())
                .ok_or_else(|| config_error("ca_pem", reason.to_owned()))?;
            builder = builder.tls_certs_only(certificates);
        }
        let http = builder.build().map_err(|e| {
            config_error("client", format!("cannot set up HTTPS ({})", innermost(&e)))
        })?;

        let mut session = Session {
            config,
            http,
            base,
            token: String::new(),
        };
        session.token = session.fetch_token().await?;
        Ok(session)
    }

    /// The URL of one endpoint, e.g. `users`.
    fn url(&self, endpoint: &str) -> Result<Url, RestError> {
        let joined = format!("{}/{endpoint}", self.base.as_str().trim_end_matches('/'));
        Url::parse(&joined).map_err(|e| {
            let reason = format!("cannot join {endpoint} to the base URL ({e})");
            RestError::new("base_url", RestErrorKind::Config { reason })
        })
    }

    async fn fetch_token(&self) -> Result<String, RestError> {
        let url = Url::parse(&self.config.token_url).map_err(|e| {
            let reason = format!("not a URL ({e}); write it as https://host/token");
            RestError::new("token_url", RestErrorKind::Config { reason })
        })?;
        let path = format!("POST {}", url.path());
        // Built in its own scope: the serializer is not Send and must not live across an await.
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            if let Some(scope) = &self.config.scope {
                form.append_pair("scope", scope);
            }
            form.finish()
        };
        let request = self
            .http
            .post(url)
            .basic_auth(&self.config.client_id, Some(&self.config.client_secret))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(form);

        let response = request
            .send()
            .await
            .map_err(|e| self.transport(&path, &e))?;
        let status = response.status();
        if matches!(status.as_u16(), 400 | 401 | 403) {
            let kind = RestErrorKind::Credentials {
                status: status.as_u16(),
            };
            return Err(RestError::new(path, kind));
        }
        let body = self.json(&path, response).await?;
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|token| !token.is_empty());
        let bearer = body
            .get("token_type")
            .and_then(Value::as_str)
            .is_none_or(|kind| kind.eq_ignore_ascii_case("bearer"));
        match token {
            Some(token) if bearer => Ok(token.to_owned()),
            _ => {
                let reason = "no bearer access_token in the token answer".to_owned();
                Err(RestError::new(path, RestErrorKind::BadBody { reason }))
            }
        }
    }

    /// Every record of one collection, page by page; `None` when the server does not
    /// serve it (404 on the first page).
    async fn collection(&mut self, need: &Need) -> Result<Option<Collection>, RestError> {
        let url = self.url(need.endpoint)?;
        let limit = self.config.page_size.max(1);
        let mut records: Vec<Map<String, Value>> = Vec::new();
        let mut positions: HashMap<String, u64> = HashMap::new();
        loop {
            let offset = records.len();
            let path = format!("GET {}?offset={offset}", url.path());
            let mut page_url = url.clone();
            {
                let mut query = page_url.query_pairs_mut();
                query.append_pair("limit", &limit.to_string());
                query.append_pair("offset", &offset.to_string());
                if let Some(since) = &self.config.since {
                    query.append_pair("filter", &format!("dateLastModified>'{since}'"));
                }
                query.append_pair("fields", &need.keys.join(","));
            }

            let response = self.get(&path, page_url).await?;
            if response.status() == StatusCode::NOT_FOUND && offset == 0 {
                return Ok(None);
            }
            let total = response
                .headers()
                .get("x-total-count")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<usize>().ok());
            let next_link = response
                .headers()
                .get_all(header::LINK)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .any(|value| value.contains("rel=\"next\""));
            let body = self.json(&path, response).await?;
            let page = page_of(&path, body, need.key)?;

            let count = page.len();
            for record in page {
                let position = records.len() as u64 + 1;
                let id = record.get("sourcedId").and_then(Value::as_str);
                if let Some(id) = id
                    && let Some(first_position) = positions.insert(id.to_owned(), position)
                {
                    let kind = RestErrorKind::Duplicate {
                        position,
                        first_position,
                        sourced_id: id.to_owned(),
                    };
                    return Err(RestError::new(path, kind));
                }
                records.push(record);
            }
            // Servers may cap `limit` below what was asked, so a short page ends the read
            // only when neither a total nor a next link says there is more.
            let done = count == 0
                || match total {
                    Some(total) => records.len() >= total,
                    None => count < limit && !next_link,
                };
            if done {
                tracing::debug!(
                    endpoint = need.endpoint,
                    count = records.len(),
                    "Collection read"
                );
                return Ok(Some(Collection { records }));
            }
        }
    }

    /// Sends a GET with the token, fetching one new token on a 401.
    async fn get(&mut self, path: &str, url: Url) -> Result<Response, RestError> {
        let mut refreshed = false;
        loop {
            let response = self
                .http
                .get(url.clone())
                .bearer_auth(&self.token)
                .header(header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| self.transport(path, &e))?;
            let status = response.status();
            if !matches!(status.as_u16(), 401 | 403) {
                return Ok(response);
            }
            if refreshed || status == StatusCode::FORBIDDEN {
                let kind = RestErrorKind::Unauthorised {
                    status: status.as_u16(),
                };
                return Err(RestError::new(path, kind));
            }
            tracing::debug!(path, "Token refused, fetching a new one");
            self.token = self.fetch_token().await?;
            refreshed = true;
        }
    }

    /// A successful answer's body as JSON, read up to [`MAX_BODY`] bytes.
    async fn json(&self, path: &str, mut response: Response) -> Result<Value, RestError> {
        let status = response.status();
        if !status.is_success() {
            let kind = RestErrorKind::Status {
                status: status.as_u16(),
            };
            return Err(RestError::new(path, kind));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport(path, &e))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                let reason = format!("the answer is over {} MiB", MAX_BODY >> 20);
                return Err(RestError::new(path, RestErrorKind::BadBody { reason }));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| {
            // serde_json's messages give a line and column, never the text found there.
            let reason = format!("not JSON: {e}");
            RestError::new(path, RestErrorKind::BadBody { reason })
        })
    }

    fn transport(&self, path: &str, error: &reqwest::Error) -> RestError {
        let kind = if error.is_timeout() {
            RestErrorKind::Timeout {
                after: self.config.timeout,
            }
        } else {
            RestErrorKind::Connect {
                reason: innermost(error),
            }
        };
        RestError::new(path, kind)
    }
}

/// The records of one page: the array under `key`, each an object.
fn page_of(path: &str, body: Value, key: &str) -> Result<Vec<Map<String, Value>>, RestError> {
    let bad = |reason: String| RestError::new(path, RestErrorKind::BadBody { reason });
    let Value::Object(mut body) = body else {
        return Err(bad("the answer is not a JSON object".to_owned()));
    };
    let Some(Value::Array(list)) = body.remove(key) else {
        return Err(bad(format!("the answer has no \"{key}\" array")));
    };
    list.into_iter()
        .enumerate()
        .map(|(index, record)| match record {
            Value::Object(record) => Ok(record),
            _ => Err(bad(format!(
                "item {} of \"{key}\" is not an object",
                index + 1
            ))),
        })
        .collect()
}

/// The innermost cause of a transport error, which names the failure (`connection
/// refused`, a certificate problem) and never a URL or a body.
fn innermost(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if std::ptr::addr_eq(cause, error) {
        return "request failed".to_owned();
    }
    cause.to_string()
}
