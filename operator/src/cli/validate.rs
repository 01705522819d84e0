//! `accord validate`: check YAML resources and print each finding.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::validation::{KeyringSource, OutputFormat, render, validate_paths};

/// Arguments of `accord validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// YAML files, or folders to search for `*.yaml` and `*.yml`.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The folder of trusted approver public keys (`<id>.pub`). Default: `keyring/` beside
    /// the files.
    #[arg(long, value_name = "DIR")]
    keyring: Option<PathBuf>,
    /// How findings are printed.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

/// Runs `accord validate`: exit 0 when clean (warnings allowed), 1 on any error.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let report = validate_paths(&args.paths, &KeyringSource { dir: args.keyring });
    print!("{}", render(&report.findings, args.output));

    let errors = report
        .findings
        .iter()
        .filter(|f| f.severity == crate::validation::Severity::Error)
        .count();
    let warnings = report.findings.len() - errors;
    if args.output == OutputFormat::Text {
        eprintln!(
            "{} resources checked: {errors} error(s), {warnings} warning(s)",
            report.resources
        );
    }
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
