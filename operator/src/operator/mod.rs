//! `accord operator`: the controller inside a Kubernetes cluster.
//!
//! It reads the five kinds from the apiserver instead of a folder, and otherwise runs the
//! embedded controller's own pass: the same validation, planning, extraction, delivery,
//! erasure and ledger. Each pass writes the namespace's objects as the declaration folder
//! `accord run` would read (`declaration`), runs one pass of [`crate::controller::Controller`]
//! (`pass`), and writes every status back with server-side apply (`publish`). kube-rs
//! controllers (`reconcile`) decide when passes run and hold finalizers; a Lease makes
//! sure only one replica acts; `metrics` serves the probes and Prometheus metrics.
//!
//! With `--extraction=jobs` each school's MIS read is a Kubernetes Job owned by its School
//! (`extraction`), running `accord extract` from the same image.
//!
//! Limitation: without `--database-url` the state (cache, outbox, ledger) is SQLite under
//! `--state`, so a second replica, and an extraction Job, share it only through the same
//! folder (a volume).

mod declaration;
mod extraction;
mod metrics;
mod pass;
mod publish;
mod reconcile;
mod tally;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use tracing::{error, info};

pub use declaration::{Cluster, Folder};
pub use extraction::JobSettings;
pub use metrics::Metrics;
pub use publish::FIELD_MANAGER;
pub use reconcile::FINALIZER;

use crate::cache::{Cache, CacheError, KeySources, MasterKey, MasterKeyError};
use crate::controller::extract::SecretsDir;
use crate::controller::{Controller, ControllerError, Options};
use crate::delivery::send::RetryPolicy;
use crate::state::{State, StateError};
use pass::{PassReport, Passes};

/// What the operator is told on its command line.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The namespace it watches: the Trust's resources, Secrets and keyring live here.
    pub namespace: String,
    /// The state folder (SQLite database, and the master key when generated).
    pub state: PathBuf,
    /// The PostgreSQL state database, instead of SQLite in `state`.
    pub database: Option<crate::state::PostgresUrl>,
    /// A private folder for each pass's declaration and Secrets (memory-backed in a pod).
    pub work: PathBuf,
    /// The folder relative MIS paths are taken from.
    pub mis_root: PathBuf,
    /// The ConfigMap holding the trusted approver keys, one `*.pub` entry each.
    pub keyring_config_map: String,
    /// The master key file, when not from `ACCORD_MASTER_KEY` or the state folder.
    pub master_key_file: Option<PathBuf>,
    /// Partner host names sent to fixed addresses, for partners on loopback in tests.
    pub resolve: Vec<(String, SocketAddr)>,
    /// The Lease replicas compete for.
    pub lease: String,
    /// This replica's name in the Lease and in Events.
    pub identity: String,
    /// How long a Lease holds without renewal, in seconds.
    pub lease_seconds: u64,
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub probes: SocketAddr,
    /// Where the leader serves the partner pull API and the portal.
    pub listen: SocketAddr,
    /// The portal: its sign-in tokens, from a mounted Secret.
    pub portal: std::sync::Arc<crate::portal::Portal>,
    /// How MIS reads run: `None` inside the operator's pass, else as a Job per school.
    pub extraction_jobs: Option<JobSettings>,
}

/// Why the operator stopped or a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The apiserver refused or failed a request.
    #[error("apiserver request failed: {0}")]
    Kube(#[from] kube::Error),
    /// The pass failed.
    #[error(transparent)]
    Controller(#[from] ControllerError),
    /// The state database failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The master key could not be read or made.
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    /// The work folder could not be written.
    #[error("failed to write the work folder: {0}")]
    Work(#[from] std::io::Error),
    /// The Lease could not be taken or kept.
    #[error("leader election failed: {0}")]
    Lease(String),
    /// A finalizer could not be added or removed.
    #[error("finalizer failed: {0}")]
    Finalizer(String),
    /// Deletion waits for a partner to acknowledge its deletion notice.
    #[error("{0}: awaiting the partner's acknowledgement of its deletion notice")]
    AwaitingPartner(String),
    /// Deletion waits for a pass to leave the object out.
    #[error("{0}: awaiting a pass without it")]
    AwaitingPass(String),
}

impl OperatorError {
    /// A CamelCase word for the failure, for the failures metric.
    pub fn reason(&self) -> &'static str {
        match self {
            OperatorError::Kube(_) => "ApiserverRequestFailed",
            OperatorError::Controller(_) => "PassFailed",
            OperatorError::State(_) => "StateFailed",
            OperatorError::Cache(_) => "CacheFailed",
            OperatorError::MasterKey(_) => "MasterKeyUnavailable",
            OperatorError::Work(_) => "WorkFolderFailed",
            OperatorError::Lease(_) => "LeaseLost",
            OperatorError::Finalizer(_) => "FinalizerFailed",
            OperatorError::AwaitingPartner(_) => "AwaitingPartner",
            OperatorError::AwaitingPass(_) => "AwaitingPass",
        }
    }
}

/// What every reconcile shares.
pub struct Context {
    client: Client,
    settings: Settings,
    passes: Passes,
    metrics: Metrics,
    // Kept so the pull API serves while the operator leads.
    _api: crate::api::RunningApi,
}

impl Context {
    async fn pass(&self, asked: Instant) -> Result<Arc<PassReport>, OperatorError> {
        self.passes
            .after(asked, &self.client, &self.settings, &self.metrics)
            .await
    }
}

/// Runs the operator until `stop` resolves or this replica loses the Lease.
pub async fn run(
    client: Client,
    settings: Settings,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), OperatorError> {
    let metrics = Metrics::default();
    let listener = tokio::net::TcpListener::bind(settings.probes).await?;
    let router = metrics.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    metrics.set_ready();
    tokio::pin!(stop);

    // Only the Lease holder opens the state and acts; the others wait here.
    let manager = LeaseManagerBuilder::new(client.clone(), &settings.lease)
        .with_namespace(&settings.namespace)
        .with_identity(&settings.identity)
        .with_duration(settings.lease_seconds)
        .with_grace((settings.lease_seconds / 3).max(1))
        .with_field_manager(FIELD_MANAGER)
        .build()
        .await
        .map_err(|e| OperatorError::Lease(e.to_string()))?;
    let (mut leading, lease_task) = manager.watch().await;
    info!(identity = %settings.identity, lease = %settings.lease, "Waiting for the Lease");
    loop {
        if *leading.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = leading.changed() => changed.map_err(|e| OperatorError::Lease(e.to_string()))?,
            _ = &mut stop => return Ok(()),
        }
    }
    metrics.set_leader(true);
    info!(identity = %settings.identity, "Leading");

    let context = Arc::new(open(client, settings, metrics.clone()).await?);
    let lost = async {
        while *leading.borrow_and_update() {
            if leading.changed().await.is_err() {
                break;
            }
        }
    };
    let outcome = tokio::select! {
        _ = reconcile::run(context) => Ok(()),
        _ = &mut stop => {
            info!("Stopping");
            Ok(())
        }
        _ = lost => {
            metrics.set_leader(false);
            error!("Lost the Lease; stopping so the new leader acts alone");
            Err(OperatorError::Lease("lost the Lease to another replica".to_owned()))
        }
    };
    // Closing the channel makes the manager give the Lease up, so the next leader need
    // not wait for it to expire.
    drop(leading);
    let _ = lease_task.await;
    outcome
}

async fn open(
    client: Client,
    settings: Settings,
    metrics: Metrics,
) -> Result<Context, OperatorError> {
    let state = match &settings.database {
        Some(url) => State::connect(url, &settings.state).await?,
        None => State::open(&settings.state).await?,
    };
    let master = MasterKey::load(
        &KeySources::from_env(settings.master_key_file.clone()),
        &settings.state,
    )?;
    let cache = Cache::new(state.clone(), master).await?;
    let folder = Folder::under(&settings.work);
    let options = Options {
        path: folder.trust.clone(),
        keyring: Some(folder.trust.join("keyring")),
        secrets: SecretsDir(folder.secrets.clone()),
        resolve: settings.resolve.clone(),
        retry: RetryPolicy::default(),
    };
    let mut controller = Controller::new(options, cache);
    let jobs = settings.extraction_jobs.clone().map(|job_settings| {
        extraction::Jobs::new(client.clone(), &settings.namespace, job_settings)
    });
    if jobs.is_some() {
        controller = controller.delegate_reads();
    }
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    let mut api_context = controller.api_context();
    api_context.portal = settings.portal.clone();
    let api = crate::api::spawn(listener, api_context)?;
    let publisher = publish::Publisher::new(client.clone(), settings.identity.clone());
    Ok(Context {
        passes: Passes::new(controller, state, publisher, jobs),
        _api: api,
        client,
        settings,
        metrics,
    })
}
