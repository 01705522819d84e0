//! `accord operator`: the controller inside a Kubernetes cluster.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::operator::Settings;

/// Arguments of `accord operator`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The namespace to watch. Default: the pod's own (`POD_NAMESPACE`).
    #[arg(long, env = "POD_NAMESPACE", value_name = "NAMESPACE")]
    namespace: String,
    /// Where Accord keeps its state: the database, and the master key when generated.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/accord")]
    state: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArgs,
    /// A private folder for each pass's declaration and Secrets; memory-backed in a pod.
    #[arg(long, value_name = "DIR", default_value = "/run/accord")]
    work: PathBuf,
    /// The folder relative MIS paths (CSV and CTF exports) are taken from.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/accord/mis")]
    mis_root: PathBuf,
    /// The ConfigMap whose entries are the trusted approver keys (`NAME.pub`).
    #[arg(long, value_name = "NAME", default_value = "accord-keyring")]
    keyring_config_map: String,
    /// The master key file (32 bytes, base64), usually a mounted Secret. Default:
    /// `ACCORD_MASTER_KEY`, else `<state>/master.key`, generated at first run.
    #[arg(long, value_name = "FILE")]
    master_key_file: Option<PathBuf>,
    /// Send a partner host name to this address instead of asking DNS, as `HOST=IP:PORT`.
    #[arg(long, value_name = "HOST=IP:PORT", value_parser = super::run::parse_resolve)]
    resolve: Vec<(String, SocketAddr)>,
    /// The Lease replicas compete for; only its holder acts.
    #[arg(long, value_name = "NAME", default_value = "accord-operator")]
    lease: String,
    /// This replica's name in the Lease and in Events. Default: `POD_NAME`, else the host.
    #[arg(long, env = "POD_NAME", value_name = "NAME")]
    identity: Option<String>,
    /// How long the Lease holds without renewal.
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    lease_seconds: u64,
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8081")]
    probes: SocketAddr,
    /// Where the leader serves the partner pull API and the portal.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    portal: super::run::PortalArgs,
    #[command(flatten)]
    extraction: super::extract::ExtractionArgs,
}

/// Runs `accord operator`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    let identity = match args.identity {
        Some(identity) => identity,
        None => std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| format!("accord-{}", std::process::id())),
    };
    // The declaration in a cluster comes from the apiserver, written there from git: the
    // portal has no folder to write consent rules into, only YAML to hand over.
    if args.portal.portal_writes {
        anyhow::bail!(
            "--portal-writes has no watched folder to write into under the operator: commit the ConsentRule YAML the portal produces to the Trust's repository instead"
        );
    }
    let portal = args.portal.portal(&args.work)?;
    let settings = Settings {
        namespace: args.namespace,
        state: args.state,
        database: args.database.postgres()?,
        work: args.work,
        mis_root: args.mis_root,
        keyring_config_map: args.keyring_config_map,
        master_key_file: args.master_key_file,
        resolve: args.resolve,
        lease: args.lease,
        identity,
        lease_seconds: args.lease_seconds,
        probes: args.probes,
        listen: args.listen,
        portal: std::sync::Arc::new(portal),
        extraction_jobs: args
            .extraction
            .job_settings(args.database.url().is_some())?,
    };
    let client = kube::Client::try_default()
        .await
        .context("cannot reach the apiserver: set KUBECONFIG or run in a pod")?;
    crate::operator::run(client, settings, super::run::shutdown()).await?;
    Ok(ExitCode::SUCCESS)
}
