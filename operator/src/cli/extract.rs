//! `accord extract`: one school's MIS read into the encrypted cache, then exit. This is
//! what the operator's extraction Job runs (the same `accord` image), so the cluster
//! spreads reads over its nodes; the operator's next pass uses what it wrote.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use k8s_openapi::jiff::Timestamp;

use crate::cache::{Cache, KeySources, MASTER_KEY_FILE, MasterKey};
use crate::catalogue::Area;
use crate::controller::extract::{SecretsDir, refresh_school};
use crate::controller::new_record;
use crate::mis::FieldSet;
use crate::resources::{ObjectKey, School};

/// Arguments of `accord extract`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The school, as `NAMESPACE/NAME`; must be the one in `ACCORD_SCHOOL`.
    #[arg(long, value_name = "NS/NAME")]
    school: String,
    /// The School resource as JSON (its spec names the MIS and the Secrets it needs).
    #[arg(
        long,
        env = "ACCORD_SCHOOL",
        value_name = "JSON",
        hide_env_values = true
    )]
    school_object: String,
    /// Exactly the fields to read, as comma-separated `area.field`.
    #[arg(long, value_name = "FIELDS", value_delimiter = ',')]
    fields: Vec<String>,
    /// How long the cache keeps what is read, in seconds.
    #[arg(long, value_name = "SECONDS")]
    retention_seconds: u64,
    /// The operator's state folder, shared with this Job.
    #[arg(
        long,
        env = "ACCORD_STATE",
        value_name = "DIR",
        default_value = "/var/lib/accord"
    )]
    state: PathBuf,
    /// The master key file; default `ACCORD_MASTER_KEY`, else `<state>/master.key`.
    #[arg(long, value_name = "FILE")]
    master_key_file: Option<PathBuf>,
    /// The operator's PostgreSQL state, when it keeps its state there.
    #[command(flatten)]
    database: super::database::DatabaseArgs,
    /// Where the Secrets the School names are mounted, as `<dir>/<name>/<key>`.
    #[arg(long, value_name = "DIR", default_value = "/etc/accord/secrets")]
    secrets: PathBuf,
    /// The folder relative MIS paths (CSV and CTF exports) are taken from.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/accord-mis")]
    mis_root: PathBuf,
}

/// Runs `accord extract`: exit 0 when the cache holds the new read, 1 when the read failed
/// (the failure is recorded for the School's status too).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    let school: School = serde_json::from_str(&args.school_object)
        .context("ACCORD_SCHOOL is not a School resource in JSON")?;
    let key = ObjectKey::of(&school).to_string();
    if key != args.school {
        bail!(
            "ACCORD_SCHOOL describes {key}, not {}: the Job is inconsistent",
            args.school
        );
    }
    let fields = parse_fields(&args.fields)?;

    // The operator owns the master key: a Job that found none would make a key that
    // opens nothing the operator wrote.
    let sources = KeySources::from_env(args.master_key_file.clone());
    if sources.file.is_none() && sources.env.is_none() && !args.state.join(MASTER_KEY_FILE).exists()
    {
        bail!(
            "no master key: mount the operator's key and pass --master-key-file, or share its state folder"
        );
    }
    let state = args.database.open(&args.state).await?;
    let master = MasterKey::load(&sources, &args.state)?;
    let cache = Cache::new(state.clone(), master).await?;

    let mut record = state
        .extractions()
        .await?
        .into_iter()
        .find(|r| r.school == key)
        .unwrap_or_else(|| new_record(&key));
    let retention = std::time::Duration::from_secs(args.retention_seconds);
    let secrets = SecretsDir(args.secrets.clone());
    let read = refresh_school(
        &cache,
        &school,
        &args.mis_root,
        &fields,
        &secrets,
        retention,
        Timestamp::now(),
        &mut record,
    )
    .await?;
    state.put_extraction(&record).await?;
    state.close().await;
    match read {
        Ok(warnings) => {
            tracing::info!(school = %key, warnings, "Extraction finished");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            tracing::warn!(school = %key, %error, "Extraction failed");
            eprintln!("error: school {key}: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn parse_fields(list: &[String]) -> anyhow::Result<FieldSet> {
    let mut fields = FieldSet::new();
    for item in list.iter().filter(|i| !i.is_empty()) {
        let Some((area, field)) = item.split_once('.') else {
            bail!("--fields: {item:?} is not area.field");
        };
        let area: Area = area
            .parse()
            .map_err(|_| anyhow::anyhow!("--fields: {area:?} is not a data area"))?;
        fields
            .insert(area, field)
            .map_err(|e| anyhow::anyhow!("--fields: {e}"))?;
    }
    Ok(fields)
}

/// How `accord operator` runs MIS reads, and what it puts in an extraction Job.
#[derive(Debug, clap::Args)]
pub struct ExtractionArgs {
    /// Where each school's MIS is read: `in-process` (in the operator's pass) or `jobs` (a
    /// Kubernetes Job per school running `accord extract`).
    #[arg(long, value_enum, default_value = "in-process")]
    extraction: Extraction,
    /// The `accord` image an extraction Job runs.
    #[arg(
        long,
        value_name = "IMAGE",
        env = "ACCORD_IMAGE",
        default_value = "ghcr.io/accord/accord:0.1.0"
    )]
    job_image: String,
    /// The PersistentVolumeClaim with the state folder, mounted in each Job. Needed with
    /// `--extraction=jobs`.
    #[arg(long, value_name = "CLAIM")]
    job_state_claim: Option<String>,
    /// The PersistentVolumeClaim with the schools' CSV and CTF exports, if any.
    #[arg(long, value_name = "CLAIM")]
    job_mis_claim: Option<String>,
    /// The Secret holding the master key under `master.key`, mounted in each Job.
    #[arg(long, value_name = "SECRET")]
    job_master_key_secret: Option<String>,
    /// The Secret and key holding the PostgreSQL URL, as `NAME/KEY`: each Job takes
    /// `ACCORD_DATABASE_URL` from it. Needed with `--extraction=jobs` and `--database-url`.
    #[arg(long, value_name = "NAME/KEY")]
    job_database_secret: Option<String>,
}

/// Where MIS reads run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Extraction {
    /// In the operator's own pass.
    InProcess,
    /// In a Kubernetes Job per school.
    Jobs,
}

impl ExtractionArgs {
    /// The Jobs' settings, or `None` when reads run in the operator.
    pub fn job_settings(
        &self,
        on_postgres: bool,
    ) -> anyhow::Result<Option<crate::operator::JobSettings>> {
        if self.extraction == Extraction::InProcess {
            return Ok(None);
        }
        let database_secret = match &self.job_database_secret {
            Some(named) => {
                let Some((name, key)) = named
                    .split_once('/')
                    .filter(|(n, k)| !n.is_empty() && !k.is_empty())
                else {
                    bail!("--job-database-secret: {named:?} is not NAME/KEY");
                };
                Some((name.to_owned(), key.to_owned()))
            }
            None if on_postgres => bail!(
                "--extraction=jobs with --database-url needs --job-database-secret NAME/KEY: the Jobs write the cache into the same database, and take its URL from that Secret"
            ),
            None => None,
        };
        let Some(state_claim) = self.job_state_claim.clone() else {
            bail!(
                "--extraction=jobs needs --job-state-claim: the Jobs write the cache into the operator's state"
            );
        };
        Ok(Some(crate::operator::JobSettings {
            image: self.job_image.clone(),
            state_claim,
            mis_claim: self.job_mis_claim.clone(),
            master_key_secret: self.job_master_key_secret.clone(),
            database_secret,
        }))
    }
}
