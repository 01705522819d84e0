//! The transparency portal: the web face of Accord for a Trust's DPO and school offices.
//!
//! Server-rendered pages and a JSON API behind each of them, mounted beside the partner
//! pull API on the same listener: the flow map, locating one person's data, where data is
//! held and sent, per-agreement reports, the subject access report, the record of
//! processing (Art. 30) and consent controls that produce ConsentRule YAML for the Trust's
//! git repository. Every figure about flows is read from the ledger.
//!
//! Everything the portal needs comes through [`crate::api::ApiContext`], so `accord run`,
//! `accord demo` and, later, `accord operator` serve it from the same code.

mod api;
pub mod auth;
pub mod consent;
#[cfg(test)]
mod fixtures;
pub mod flowmap;
mod guard;
pub mod index;
mod lookup;
mod pages;
pub mod reports;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::api::ApiContext;

pub use auth::{Role, TokenEntry, Viewer};

/// How the portal is configured, and what it keeps between requests.
#[derive(Debug, Default)]
pub struct Portal {
    /// Where sign-in tokens are read from; none means nobody can sign in.
    pub tokens: Option<PathBuf>,
    /// The folder consent rules may be written into (`accord run --portal-writes`);
    /// none means the portal only produces YAML for the Trust to commit.
    pub writes: Option<PathBuf>,
    /// Mark the session cookie `Secure`, for a portal behind a TLS terminating proxy.
    pub secure_cookies: bool,
    /// How long a session lasts after sign-in; zero means [`DEFAULT_SESSION`].
    pub session_length: Duration,
    sessions: auth::Sessions,
    index: index::IndexCache,
}

/// How long a session lasts unless configured otherwise.
pub const DEFAULT_SESSION: Duration = Duration::from_secs(8 * 60 * 60);

impl Portal {
    /// A portal reading tokens from `tokens`, writing consent rules into `writes` if set.
    pub fn new(tokens: Option<PathBuf>, writes: Option<PathBuf>) -> Portal {
        Portal {
            tokens,
            writes,
            ..Portal::default()
        }
    }

    fn session_length(&self) -> Duration {
        if self.session_length.is_zero() {
            DEFAULT_SESSION
        } else {
            self.session_length
        }
    }
}

/// The portal's routes, pages under `/portal/` and the JSON API under `/portal/api/v1/`.
pub fn router(context: ApiContext) -> Router {
    pages::router()
        .merge(api::router())
        .layer(axum::middleware::from_fn(guard::security_headers))
        .with_state(Shared(Arc::new(context)))
}

/// The state every portal handler gets.
#[derive(Clone)]
struct Shared(Arc<ApiContext>);

impl std::ops::Deref for Shared {
    type Target = ApiContext;

    fn deref(&self) -> &ApiContext {
        &self.0
    }
}
