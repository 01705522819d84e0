//! `accord mis`: tools for MIS data. `generate` writes an invented school as a OneRoster
//! 1.1 CSV bundle, and `serve` serves a bundle as a OneRoster REST service, for demos,
//! tests and benchmarks.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::mis::oneroster_csv_write::write_oneroster_bundle;
use crate::mis::rest::{ClientCredentials, serve as serve_bundle};
use crate::mis::sample::{SchoolInfo, school};

/// Subcommands of `accord mis`.
#[derive(Debug, Subcommand)]
pub enum MisCommand {
    /// Write an invented school (deterministic from its seed) as a OneRoster 1.1 CSV bundle.
    Generate(GenerateArgs),
    /// Serve a OneRoster CSV bundle as a OneRoster 1.1 REST service, with OAuth2 client
    /// credentials and paging, as a SIS does.
    Serve(ServeArgs),
}

/// Arguments of `accord mis serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The bundle folder or zip.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: String,
    /// The OAuth2 client id clients must present.
    #[arg(long, env = "ACCORD_MIS_CLIENT_ID")]
    client_id: String,
    /// The OAuth2 client secret clients must present (from the environment, so it stays
    /// out of process listings).
    #[arg(long, env = "ACCORD_MIS_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
}

/// Arguments of `accord mis generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The folder to write the bundle into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The school's name.
    #[arg(long)]
    name: String,
    /// The school's six-digit URN; also the seed unless --seed is given.
    #[arg(long)]
    urn: String,
    /// The school's seven-digit LA-ESTAB number.
    #[arg(long)]
    la_estab: String,
    /// How many pupils on roll.
    #[arg(long)]
    pupils: usize,
    /// The seed of the generator; the same seed always writes the same bundle.
    #[arg(long)]
    seed: Option<u64>,
}

/// Runs `accord mis …`.
pub fn run(command: MisCommand) -> anyhow::Result<ExitCode> {
    match command {
        MisCommand::Generate(args) => generate(args),
        MisCommand::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("failed to listen on {}", args.listen))?;
        let address = listener.local_addr()?;
        println!(
            "serving {} at http://{address}/ims/oneroster/v1p1 (token: http://{address}/token)",
            args.dir.display()
        );
        let credentials = ClientCredentials {
            client_id: args.client_id,
            client_secret: args.client_secret,
        };
        serve_bundle(&args.dir, listener, credentials).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let seed = match args.seed {
        Some(seed) => seed,
        None => args
            .urn
            .parse()
            .context("--urn must be six digits, or give --seed")?,
    };
    let info = SchoolInfo {
        name: args.name,
        urn: args.urn,
        la_estab: args.la_estab,
    };
    let sample = school(seed, &info, args.pupils);
    write_oneroster_bundle(&sample, &args.out)?;
    println!(
        "wrote {} with {} pupils (seed {seed})",
        args.out.display(),
        args.pupils
    );
    Ok(ExitCode::SUCCESS)
}
