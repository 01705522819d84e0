//! `accord mis`: tools for MIS data. `generate` writes an invented school as a OneRoster
//! 1.1 CSV bundle, for demos, tests and benchmarks.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::mis::oneroster_csv_write::write_oneroster_bundle;
use crate::mis::sample::{SchoolInfo, school};

/// Subcommands of `accord mis`.
#[derive(Debug, Subcommand)]
pub enum MisCommand {
    /// Write an invented school (deterministic from its seed) as a OneRoster 1.1 CSV bundle.
    Generate(GenerateArgs),
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
    }
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
