//! `accord crds`: print or write the CRD manifests.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `accord crds`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write one file per kind into this folder instead of printing them.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Runs `accord crds`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.out {
        Some(dir) => {
            let written = crate::crds::write_all(&dir)
                .with_context(|| format!("failed to write CRDs into {}", dir.display()))?;
            for path in written {
                println!("wrote {}", path.display());
            }
        }
        None => {
            for crd in crate::crds::all() {
                print!("{}", crate::crds::render(&crd)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
