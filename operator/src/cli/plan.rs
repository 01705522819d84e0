//! `accord plan`: what a change to the declaration would do to data flows, per agreement,
//! for a Trust's IT team to read on a pull request before merging it.
//!
//! The change is from a "before" (the declaration `accord run` last applied, a checkout
//! of the target branch, or nothing) to the PATHs as they are. People are counted from
//! the cache with `--state`, else from each school's MIS export when it is a local file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, bail};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use k8s_openapi::jiff::Timestamp;

use crate::cache::{Cache, KeySources, MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKey};
use crate::controller::roll::{cached_roll, read_roll};
use crate::controller::{Declaration, Loaded, load_all};
use crate::plan::{Roll, agreement_plans, change, plan_change};
use crate::resources::{ObjectKey, ResourceSet, School};
use crate::signing::Keyring;

/// Arguments of `accord plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The YAML files or folders as they would be after the change.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Compare with the declaration `accord run` last applied from this state folder, and
    /// count people from its cache.
    #[arg(long, value_name = "DIR", conflicts_with = "base")]
    state: Option<PathBuf>,
    #[command(flatten)]
    database: super::database::DatabaseArgs,
    /// Compare with the folder at this path, e.g. a checkout of the target branch.
    #[arg(long, value_name = "PATH")]
    base: Option<PathBuf>,
    /// The folder of trusted approver public keys, for both sides. Default: `keyring/`
    /// beside the files of each side.
    #[arg(long, value_name = "DIR")]
    keyring: Option<PathBuf>,
    /// The master key file of the state's cache. Default: `ACCORD_MASTER_KEY`, else
    /// `<state>/master.key`.
    #[arg(long, value_name = "FILE", requires = "state")]
    master_key_file: Option<PathBuf>,
    /// Plan for this time (RFC 3339) or day (`YYYY-MM-DD`) instead of now, e.g. the day a
    /// new agreement takes effect.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    at: Option<Timestamp>,
    /// How the plan is printed: `markdown` for a pull request comment, `json` for tools.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// How the plan is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Lines for a terminal.
    Text,
    /// A pull request comment.
    Markdown,
    /// The plan as JSON.
    Json,
}

/// Runs `accord plan`: exit 0 with the plan, 1 when PATH does not validate or a read fails.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let after = match load_all(&args.paths, args.keyring.clone()) {
        Loaded::Valid(declaration) => declaration,
        // Limitation: an agreement changed but not yet signed is refused here, so the plan of
        // a change waiting for its approver's signature cannot be shown.
        Loaded::Invalid { errors, .. } => {
            for error in &errors {
                println!("{error}");
            }
            eprintln!(
                "{} error(s): accord plan describes valid changes only; fix them and run it again",
                errors.len()
            );
            return Ok(ExitCode::FAILURE);
        }
    };

    let runtime = tokio::runtime::Runtime::new().context("failed to start the runtime")?;
    let plan = runtime.block_on(make_plan(&args, &after))?;
    let out = match args.output {
        Output::Text => change::text(&plan),
        Output::Markdown => change::markdown(&plan),
        Output::Json => serde_json::to_string_pretty(&plan)? + "\n",
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

async fn make_plan(args: &Args, after: &Declaration) -> anyhow::Result<change::ChangePlan> {
    let now = args.at.unwrap_or_else(Timestamp::now);
    let (before, cache) = before(args, after).await?;
    let rolls = rolls(&before, after, cache.as_ref(), now).await?;
    Ok(plan_change(
        &before.resources,
        &before.keyring,
        &after.resources,
        &after.keyring,
        &rolls,
        now,
    ))
}

/// What the change is compared with, and the cache when it comes from a state folder.
async fn before(args: &Args, after: &Declaration) -> anyhow::Result<(Declaration, Option<Cache>)> {
    if let Some(dir) = &args.state {
        // As `accord run` judges a remembered declaration, the keyring in force now judges
        // the applied agreements.
        // Limitation: the state keeps no keyring, so a key revoked since the last run makes
        // its agreements look stopped on both sides rather than stopping with this change.
        let (resources, cache) = applied(dir, &args.database, args.master_key_file.clone()).await?;
        let keyring = after.keyring.clone();
        return Ok((Declaration { resources, keyring }, Some(cache)));
    }
    if let Some(base) = &args.base {
        return Ok((base_declaration(base, args.keyring.clone())?, None));
    }
    let nothing = Declaration {
        resources: ResourceSet::default(),
        keyring: Keyring::default(),
    };
    Ok((nothing, None))
}

/// The roll of every school an agreement shares from: from the cache, then what the cache
/// lacks from a local MIS export. Schools with neither are left out, and not counted.
async fn rolls(
    before: &Declaration,
    after: &Declaration,
    cache: Option<&Cache>,
    now: Timestamp,
) -> anyhow::Result<BTreeMap<ObjectKey, Roll>> {
    let mut rolls = BTreeMap::new();
    for school in shared_schools(before, after, now) {
        let key = ObjectKey::of(school);
        let mut roll = Roll::default();
        if let Some(cache) = cache {
            roll = cached_roll(cache, &key, SystemTime::now()).await?;
        }
        if !roll.is_complete()
            && let Some(read) = read_roll(school).await?
        {
            roll = roll.or(read);
        }
        if roll.is_known() {
            rolls.insert(key, roll);
        }
    }
    Ok(rolls)
}

/// The declaration `accord run` last applied, and the cache, from the state (SQLite in the
/// folder, or the PostgreSQL database `--database-url` names).
async fn applied(
    dir: &Path,
    database: &super::database::DatabaseArgs,
    master_key_file: Option<PathBuf>,
) -> anyhow::Result<(ResourceSet, Cache)> {
    let first = format!(
        "run `accord run PATH --state {}` first, or plan with --base",
        dir.display()
    );
    let state = database.open_existing(dir, &first).await?;
    let resources = match state.declaration().await? {
        Some(json) => serde_json::from_str(&json).with_context(|| {
            format!("the declaration stored in {} cannot be read", dir.display())
        })?,
        None => ResourceSet::default(),
    };
    // Loading would generate a key where none is found; a plan must not leave one behind.
    let sources = KeySources::from_env(master_key_file);
    if sources.file.is_none() && sources.env.is_none() && !dir.join(MASTER_KEY_FILE).exists() {
        bail!(
            "no master key for the cache in {}: give --master-key-file or set {MASTER_KEY_ENV}",
            dir.display()
        );
    }
    let master = MasterKey::load(&sources, dir)?;
    let cache = Cache::new(state, master).await?;
    Ok((resources, cache))
}

/// The folder the change is compared with, which must validate too.
fn base_declaration(base: &Path, keyring: Option<PathBuf>) -> anyhow::Result<Declaration> {
    match load_all(&[base.to_owned()], keyring) {
        Loaded::Valid(declaration) => Ok(declaration),
        Loaded::Invalid { errors, .. } => {
            for error in &errors {
                eprintln!("{error}");
            }
            bail!(
                "the base {} does not validate ({} error(s) above), so there is nothing \
                 valid to compare with",
                base.display(),
                errors.len()
            )
        }
    }
}

/// The schools some agreement shares from, before or after: the only rolls worth reading.
fn shared_schools<'a>(
    before: &'a Declaration,
    after: &'a Declaration,
    now: Timestamp,
) -> Vec<&'a School> {
    let mut seen = BTreeSet::new();
    let mut schools = Vec::new();
    for side in [after, before] {
        for plan in agreement_plans(&side.resources, &side.keyring, now) {
            for key in plan.schools {
                if let Some(school) = side.resources.school(&key)
                    && seen.insert(key)
                {
                    schools.push(school);
                }
            }
        }
    }
    schools
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    if let Ok(time) = text.parse::<Timestamp>() {
        return Ok(time);
    }
    text.parse::<Date>()
        .and_then(|day| day.to_zoned(TimeZone::UTC))
        .map(|zoned| zoned.timestamp())
        .map_err(|_| format!("{text:?} is neither an RFC 3339 time nor a day YYYY-MM-DD"))
}
