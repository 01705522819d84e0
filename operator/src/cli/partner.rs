//! `accord partner`: a partner's receiving end, for demos, tests and vendors trying the
//! protocol. `serve` receives Accord's signed messages over HTTPS and keeps them in a store
//! folder; `cert` writes a fresh CA and a server certificate for it to present.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgGroup, Subcommand};

use super::run::shutdown;
use crate::partner::{
    DEFAULT_MAX_BODY_BYTES, ReceiverConfig, public_key_check, serve as serve_receiver,
    shared_secret_check,
};
use crate::tls::{CA_FILE, CERT_FILE, KEY_FILE, issue, server_config};

/// Subcommands of `accord partner`.
#[derive(Debug, Subcommand)]
pub enum PartnerCommand {
    /// Receive Accord's signed batches and deletion notices over HTTPS, check them, apply
    /// each once, and keep them in a store folder.
    Serve(ServeArgs),
    /// Write a fresh CA and a server certificate signed by it: ca.crt, tls.crt, tls.key.
    Cert(CertArgs),
}

/// Arguments of `accord partner serve`.
#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("signature").required(true).args(["secret_file", "public_key"])))]
pub struct ServeArgs {
    /// The address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: String,
    /// The store folder: the journal of applied messages and the duplicates log.
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// The server certificate (PEM), e.g. tls.crt from `accord partner cert`.
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// The server's private key (PEM), e.g. tls.key from `accord partner cert`.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Check HMAC-SHA256 signatures with the secret in this file (one trailing newline is
    /// not part of it).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Check Ed25519 signatures with Accord's public key in this file (PEM).
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
    /// Refuse bodies larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
}

/// Arguments of `accord partner cert`.
#[derive(Debug, clap::Args)]
pub struct CertArgs {
    /// The folder to write ca.crt, tls.crt and tls.key (mode 0600) into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// A DNS name the certificate is for; repeat for more.
    #[arg(long = "name", value_name = "HOST", required = true)]
    names: Vec<String>,
    /// An IP address the certificate is for; repeat for more.
    #[arg(long = "ip", value_name = "IP")]
    ips: Vec<IpAddr>,
}

/// Runs `accord partner …`.
pub fn run(command: PartnerCommand) -> anyhow::Result<ExitCode> {
    match command {
        PartnerCommand::Serve(args) => serve(args),
        PartnerCommand::Cert(args) => cert(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let check = match (&args.secret_file, &args.public_key) {
        (Some(secret), _) => shared_secret_check(secret)?,
        (None, Some(public)) => public_key_check(public)?,
        (None, None) => anyhow::bail!("give --secret-file or --public-key"),
    };
    let tls = server_config(&args.cert, &args.key)?;
    let mut config = ReceiverConfig::new(args.store, check, tls);
    config.max_body_bytes = args.max_body_bytes;

    let runtime = tokio::runtime::Runtime::new().context("failed to start the runtime")?;
    runtime.block_on(async {
        let stop = shutdown();
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("failed to listen on {}", args.listen))?;
        let address = listener.local_addr()?;
        println!(
            "receiving at https://{address}/ into {}",
            config.store.display()
        );
        serve_receiver(config, listener, stop).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn cert(args: CertArgs) -> anyhow::Result<ExitCode> {
    let issued = issue(&args.names, &args.ips)?;
    issued.write(&args.out)?;
    let path = |name| args.out.join(name).display().to_string();
    println!(
        "wrote {} (clients trust it), {} and {} (keep it secret) for {}",
        path(CA_FILE),
        path(CERT_FILE),
        path(KEY_FILE),
        args.names
            .iter()
            .cloned()
            .chain(args.ips.iter().map(IpAddr::to_string))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
