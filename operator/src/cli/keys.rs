//! `accord keygen` and `accord sign`: approver keys, and signing agreements with them.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::signing::{ApproverKey, generate_key_pair, sign_agreements_in_text};

/// Arguments of `accord keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// The folder to write `<id>.key` (private, mode 0600) and `<id>.pub` into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The key's id, which signed agreements name; lowercase letters, digits, '-', '.', '_'.
    #[arg(long, default_value = "approver")]
    id: String,
}

/// Arguments of `accord sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The YAML file whose agreements are signed, in place.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The approver's private key file (`<id>.key`).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
}

/// Runs `accord keygen`.
pub fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let private_path = args.out.join(format!("{}.key", args.id));
    let public_path = args.out.join(format!("{}.pub", args.id));
    if private_path.exists() || public_path.exists() {
        bail!(
            "{} or {} already exists: choose another --id or move the old key away",
            private_path.display(),
            public_path.display()
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("failed to create {}", args.out.display()))?;

    let (private, public) = generate_key_pair()?;
    write_private(&private_path, &private)?;
    std::fs::write(&public_path, public)
        .with_context(|| format!("failed to write {}", public_path.display()))?;
    // Check the id is one `accord sign` accepts before telling the user all is well.
    ApproverKey::load(&private_path)?;

    println!(
        "wrote {} (keep it secret) and {} (add it to the keyring)",
        private_path.display(),
        public_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `accord sign`.
pub fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let key = ApproverKey::load(&args.key)?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("failed to read {}", args.file.display()))?;
    let (signed, names) = sign_agreements_in_text(&args.file, &text, &key)?;
    if names.is_empty() {
        bail!(
            "{} has no DataSharingAgreement to sign",
            args.file.display()
        );
    }
    std::fs::write(&args.file, signed)
        .with_context(|| format!("failed to write {}", args.file.display()))?;
    for name in names {
        println!("signed agreement {name} with key {}", key.id);
    }
    Ok(ExitCode::SUCCESS)
}

fn write_private(path: &std::path::Path, pem: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    file.write_all(pem.as_bytes())
        .with_context(|| format!("failed to write {}", path.display()))?;
    Ok(())
}
