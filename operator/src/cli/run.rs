//! `accord run`: the embedded controller over a folder of YAML, with state in SQLite.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use k8s_openapi::jiff::Timestamp;

use crate::cache::{Cache, KeySources, MasterKey};
use crate::controller::extract::SecretsDir;
use crate::controller::{Controller, Options};
use crate::state::State;

/// Arguments of `accord run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The folder of YAML resources, usually a git checkout.
    #[arg(value_name = "PATH")]
    path: PathBuf,
    /// Where Accord keeps its state: the database, and the master key when generated.
    #[arg(long, value_name = "DIR", default_value = ".accord")]
    state: PathBuf,
    /// Converge once and exit: 0 when everything converged, 1 naming what failed.
    #[arg(long)]
    once: bool,
    /// The master key file (32 bytes, base64). Default: `ACCORD_MASTER_KEY`, else
    /// `<state>/master.key`, generated at first run with mode 0600.
    #[arg(long, value_name = "FILE")]
    master_key_file: Option<PathBuf>,
    /// Secrets as files `<dir>/<secret name>/<key>`, as a mounted Secret volume lays them out.
    #[arg(long, value_name = "DIR", default_value = "secrets")]
    secrets: PathBuf,
    /// The trusted keyring. Default: `keyring/` in PATH.
    #[arg(long, value_name = "DIR")]
    keyring: Option<PathBuf>,
}

/// Runs `accord run`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    let state = State::open(&args.state).await?;
    let master = MasterKey::load(
        &KeySources::from_env(args.master_key_file.clone()),
        &args.state,
    )?;
    let cache = Cache::new(state, master).await?;
    let options = Options {
        path: args.path.clone(),
        keyring: args.keyring.clone(),
        secrets: SecretsDir(args.secrets.clone()),
    };
    let mut controller = Controller::new(options, cache);

    if args.once {
        let outcome = controller.reconcile(Timestamp::now()).await?;
        for failure in &outcome.failures {
            eprintln!("error: {failure}");
        }
        return Ok(if outcome.failures.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }

    controller.run(shutdown()).await?;
    Ok(ExitCode::SUCCESS)
}

/// A future that resolves on SIGTERM or Ctrl-C. The handlers are installed before this
/// returns, so a signal that arrives during the first pass is caught, not fatal.
pub(super) fn shutdown() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
