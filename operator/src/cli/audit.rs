//! `accord audit verify`: check the ledger's hash chain.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::ledger::{Ledger, LedgerStore, verify};

/// Subcommands of `accord audit`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that no ledger entry was edited, removed or reordered.
    Verify(VerifyArgs),
}

/// Arguments of `accord audit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The state folder `accord run` uses.
    #[arg(long, value_name = "DIR", default_value = ".accord")]
    state: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArgs,
}

/// Runs `accord audit …`: exit 0 when the chain is intact, 1 naming the first break.
pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    let AuditCommand::Verify(args) = command;
    let runtime = tokio::runtime::Runtime::new().context("failed to start the runtime")?;
    runtime.block_on(async {
        let state = args
            .database
            .open_existing(&args.state, "nothing to verify")
            .await?;
        let ledger = Ledger::new(state);
        let entries = ledger.entries().await?;
        match verify(&entries) {
            Ok(()) => {
                println!(
                    "ledger intact: {} entries, hash chain verified",
                    entries.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => {
                eprintln!("error: {error}");
                Ok(ExitCode::FAILURE)
            }
        }
    })
}
