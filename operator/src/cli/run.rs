//! `accord run`: the embedded controller over a folder of YAML, with state in SQLite (or
//! PostgreSQL with `--database-url`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use k8s_openapi::jiff::Timestamp;

use crate::cache::{Cache, KeySources, MasterKey};
use crate::controller::extract::SecretsDir;
use crate::controller::{Controller, Options};
use crate::delivery::send::RetryPolicy;

/// Arguments of `accord run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The folder of YAML resources, usually a git checkout.
    #[arg(value_name = "PATH")]
    path: PathBuf,
    /// Where Accord keeps its state: the database, and the master key when generated.
    #[arg(long, value_name = "DIR", default_value = ".accord")]
    state: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArgs,
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
    /// Send a partner host name to this address instead of asking DNS, as `HOST=IP:PORT`
    /// (repeatable); the partner's certificate is still checked against HOST.
    #[arg(long, value_name = "HOST=IP:PORT", value_parser = parse_resolve)]
    resolve: Vec<(String, SocketAddr)>,
    /// Where to serve the partner pull API and the portal (not with --once).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    portal: PortalArgs,
}

/// How the portal is served, shared by `accord run` and `accord demo`.
#[derive(Clone, Debug, clap::Args)]
pub struct PortalArgs {
    /// The portal's sign-in tokens: YAML listing each token's sha256, role, school and
    /// expiry (see docs/portal.md). Without it nobody can sign in.
    #[arg(long, value_name = "FILE")]
    pub portal_tokens: Option<PathBuf>,
    /// Let the portal write the ConsentRule YAML it produces into PATH, the watched folder.
    /// Without it the portal only shows the YAML and its diff to commit.
    #[arg(long)]
    pub portal_writes: bool,
    /// Mark the portal's session cookie Secure: set it when a TLS proxy fronts the portal.
    #[arg(long)]
    pub portal_secure_cookies: bool,
    /// How long a portal session lasts, in minutes.
    #[arg(long, value_name = "MINUTES", default_value_t = 480)]
    pub portal_session_minutes: u64,
}

impl PortalArgs {
    /// The portal these arguments describe, serving the Trust in `path`.
    pub fn portal(&self, path: &std::path::Path) -> anyhow::Result<crate::portal::Portal> {
        if let Some(tokens) = &self.portal_tokens {
            crate::portal::auth::TokensFile::load(tokens)?;
        }
        let mut portal = crate::portal::Portal::new(
            self.portal_tokens.clone(),
            self.portal_writes.then(|| path.to_path_buf()),
        );
        portal.secure_cookies = self.portal_secure_cookies;
        portal.session_length = std::time::Duration::from_secs(self.portal_session_minutes * 60);
        Ok(portal)
    }
}

pub(super) fn parse_resolve(text: &str) -> Result<(String, SocketAddr), String> {
    let (host, address) = text
        .split_once('=')
        .ok_or_else(|| "write HOST=IP:PORT, e.g. homework-hub.example=127.0.0.1:8443".to_owned())?;
    let address = address
        .parse()
        .map_err(|_| format!("{address} is not IP:PORT, e.g. 127.0.0.1:8443"))?;
    Ok((host.to_owned(), address))
}

/// Runs `accord run`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    let state = args.database.open(&args.state).await?;
    let master = MasterKey::load(
        &KeySources::from_env(args.master_key_file.clone()),
        &args.state,
    )?;
    let cache = Cache::new(state, master).await?;
    let options = Options {
        path: args.path.clone(),
        keyring: args.keyring.clone(),
        secrets: SecretsDir(args.secrets.clone()),
        resolve: args.resolve.clone(),
        retry: RetryPolicy::default(),
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

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let mut context = controller.api_context();
    context.portal = std::sync::Arc::new(args.portal.portal(&args.path)?);
    let api = crate::api::spawn(listener, context)?;
    controller.run(shutdown()).await?;
    api.stop().await;
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
