//! OneRoster 1.1 REST: a server that publishes a CSV bundle, and the connector that reads
//! a school's MIS through the same API into an [`Extract`](crate::mis::Extract).
//!
//! Both sides speak the parts of the standard that real student information systems
//! use: an OAuth2 client-credentials token from `POST /token`, collections under
//! `/ims/oneroster/v1p1` paged with `limit` and `offset` (with `X-Total-Count` and a
//! `Link` header), and `filter=dateLastModified>'…'` for deltas. The connector maps the
//! JSON onto records by the same rules the CSV reader uses (see [`crate::mis`]), so the
//! same fields read from a bundle and from a server publishing it give the same extract.
//!
//! The server ([`serve`], [`router`]) is for demos and tests (`accord mis serve`); it
//! reads the bundle's tables itself rather than through the CSV reader, because a REST
//! record needs what the catalogue model drops: `dateLastModified` for deltas, the org,
//! session and reference shapes, and every user whatever their role.

use std::time::Duration;

mod client;
mod collections;
mod error;
mod item;
mod oauth;
mod records;
mod records_people;
mod server;

#[cfg(test)]
mod tests;

pub use client::{fetch, read_rest};
pub use error::{RestError, ServeError};
pub use server::{Fault, ServerOptions, router, router_with, serve};

/// The path under which the OneRoster 1.1 rostering collections are served.
pub const BASE_PATH: &str = "/ims/oneroster/v1p1";

/// The path of the OAuth2 token endpoint the server offers.
pub const TOKEN_PATH: &str = "/token";

/// The one client a server accepts, as an OAuth2 client id and secret.
#[derive(Clone)]
pub struct ClientCredentials {
    /// The client id, sent in the clear.
    pub client_id: String,
    /// The client secret; never logged or shown.
    pub client_secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// How the connector reaches one school's OneRoster REST API.
#[derive(Clone)]
pub struct RestConfig {
    /// The collections' base, e.g. `https://mis.example/ims/oneroster/v1p1`.
    pub base_url: String,
    /// The OAuth2 token endpoint, e.g. `https://mis.example/token`.
    pub token_url: String,
    /// The OAuth2 client id.
    pub client_id: String,
    /// The OAuth2 client secret; never logged or shown.
    pub client_secret: String,
    /// An OAuth2 scope to ask for, when the server needs one.
    pub scope: Option<String>,
    /// PEM certificates to trust instead of the system's roots, for a school's own CA.
    pub ca_pem: Option<Vec<u8>>,
    /// The longest any one request (token or page) may take, body included.
    pub timeout: Duration,
    /// Records asked for per page (`limit`); servers cap it, commonly at 1000.
    pub page_size: usize,
    /// Read only records changed after this RFC 3339 instant (a delta), when set.
    pub since: Option<String>,
}

impl RestConfig {
    /// A configuration with 30-second requests, pages of 500 and a full read.
    pub fn new(
        base_url: impl Into<String>,
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        RestConfig {
            base_url: base_url.into(),
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scope: None,
            ca_pem: None,
            timeout: Duration::from_secs(30),
            page_size: 500,
            since: None,
        }
    }
}

impl std::fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestConfig")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scope", &self.scope)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "<pem>"))
            .field("timeout", &self.timeout)
            .field("page_size", &self.page_size)
            .field("since", &self.since)
            .finish()
    }
}
