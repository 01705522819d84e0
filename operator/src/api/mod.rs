//! The HTTP face of the controller: the partner pull API under `/partner/v1/` and the
//! transparency portal under `/portal/`, served by `accord run` and `accord demo` on one
//! address.
//!
//! The controller publishes a [`Snapshot`] of what it applied after every pass; handlers
//! read the latest one, so a request is always answered under one consistent declaration.
//!
//! Limitation: the listener speaks plain HTTP and is meant for loopback or for a TLS
//! terminating proxy in front of it; it does not terminate TLS itself.

pub mod pull;

use std::path::PathBuf;
use std::sync::Arc;

use crate::controller::extract::SecretsDir;
use crate::plan::{AgreementPlan, SchoolPlan};
use crate::resources::ResourceSet;

/// What the controller applied in its last pass, as the API needs it.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The declaration in force.
    pub resources: ResourceSet,
    /// Every agreement's standing.
    pub agreements: Vec<AgreementPlan>,
    /// Every school's plan: authorised fields and temperatures.
    pub schools: Vec<SchoolPlan>,
}

/// Where the latest snapshot is published.
pub type Published = tokio::sync::watch::Receiver<Option<Arc<Snapshot>>>;

/// What the API's handlers share.
#[derive(Clone)]
pub struct ApiContext {
    /// The cache (and through it the state database and ledger).
    pub cache: Arc<crate::cache::Cache>,
    /// The controller's latest snapshot.
    pub published: Published,
    /// Secrets: partners' pull tokens, MIS credentials for on-demand reads.
    pub secrets: SecretsDir,
    /// The declared folder, which MIS paths are relative to.
    pub base: PathBuf,
    /// The portal's configuration and sessions; the default lets nobody sign in.
    pub portal: Arc<crate::portal::Portal>,
}

/// Every route the controller serves.
pub fn router(context: ApiContext) -> axum::Router {
    pull::router(context.clone()).merge(crate::portal::router(context))
}

/// The API serving in the background, from [`spawn`].
#[derive(Debug)]
pub struct RunningApi {
    /// Where it listens.
    pub address: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningApi {
    /// Stops accepting and lets requests in flight finish.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Serves every route on `listener` in a task of its own.
pub fn spawn(
    listener: tokio::net::TcpListener,
    context: ApiContext,
) -> std::io::Result<RunningApi> {
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router(context))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    tracing::info!(%address, "Partner API and portal listening");
    Ok(RunningApi {
        address,
        stop,
        task,
    })
}
