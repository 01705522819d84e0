//! The `accord` command line: argument parsing and one module per command.
//!
//! Commands return an exit code; they print findings and results to stdout and failures
//! to stderr. `anyhow` is used only here, at the binary's edge.

mod audit;
mod crds;
mod database;
mod demo;
mod extract;
mod keys;
mod locate;
mod mis;
mod operator;
mod partner;
mod plan;
mod run;
mod status;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for bad usage, as clap and most Unix tools use.
pub const EXIT_USAGE: u8 = 2;

/// Share school data with partner services under data sharing agreements, and nothing else.
#[derive(Debug, Parser)]
#[command(name = "accord", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check YAML resources against the schema and the rules of the data catalogue.
    Validate(validate::Args),
    /// Write the CustomResourceDefinitions generated from Accord's types.
    Crds(crds::Args),
    /// What a change would do to data flows: per agreement, schools, fields, people and
    /// deletion notices.
    Plan(plan::Args),
    /// Create an Ed25519 approver key pair.
    Keygen(keys::KeygenArgs),
    /// Sign every agreement in a file with an approver key.
    Sign(keys::SignArgs),
    /// Tools for MIS data.
    #[command(subcommand)]
    Mis(mis::MisCommand),
    /// A partner's receiving end, for demos and tests.
    #[command(subcommand)]
    Partner(partner::PartnerCommand),
    /// The embedded controller: converge a folder of YAML, with state in SQLite (or
    /// PostgreSQL with --database-url).
    Run(run::Args),
    /// The controller inside a Kubernetes cluster: the five kinds from the apiserver.
    Operator(Box<operator::Args>),
    /// Read one school's MIS into the encrypted cache and exit: the operator's Job.
    Extract(extract::Args),
    /// The example Trust end to end on this machine: partners, controller and pull API.
    Demo(demo::Args),
    /// Every resource and its status, from the state `accord run` keeps.
    Status(status::Args),
    /// Every partner, agreement, field and date one person's data went to.
    Locate(locate::Args),
    /// Check the ledger.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

/// Parses the arguments and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    // One TLS provider for the whole process (ring), before any client or server is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Crds(args) => crds::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Keygen(args) => keys::keygen(args),
        Command::Sign(args) => keys::sign(args),
        Command::Mis(command) => mis::run(command),
        Command::Partner(command) => partner::run(command),
        Command::Run(args) => run::run(args),
        Command::Operator(args) => operator::run(*args),
        Command::Extract(args) => extract::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Status(args) => status::run(args),
        Command::Locate(args) => locate::run(args),
        Command::Audit(command) => audit::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr: readable lines at a terminal, JSON lines otherwise (for a log
/// collector). `ACCORD_LOG` sets the filter, `info` by default.
fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;

    let filter = EnvFilter::try_from_env("ACCORD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::io::stderr().is_terminal() {
        builder.compact().try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
}
