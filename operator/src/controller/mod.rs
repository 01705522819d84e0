//! The embedded controller behind `accord run`: loads the declared folder, plans, reads
//! MIS data into the encrypted cache, and writes every resource's status.
//!
//! One pass ([`Controller::reconcile`]) is: load and validate (keeping the last valid
//! declaration when the new one fails), gather facts from the state database, plan, act
//! (shred, drop, read), and write status. [`Controller::run`] repeats passes on every
//! change to the folder and whenever a school's next read falls due.

pub(crate) mod deliver;
mod erase;
pub mod extract;
mod load;
mod progress;
mod push;
mod report;
pub mod revision;
pub mod roll;
mod run_loop;
mod status;
pub mod watch;

pub use run_loop::IDLE_PASS;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use k8s_openapi::jiff::Timestamp;

use tracing::{info, warn};

pub use load::{Declaration, Loaded, load, load_all};
pub use status::{CachedArea, Revisions, SchoolObservation};

use crate::api::{ApiContext, Snapshot};
use crate::cache::{Cache, CacheError};
use crate::catalogue::Area;
use crate::mis::FieldSet;
use crate::plan::{EntryFacts, Facts, SchoolFacts, plan};
use crate::resources::{Kind, ObjectKey, ResourceSet};
use crate::state::{ExtractionRecord, ResourceRef, Revision, State, StateError};
use extract::SecretsDir;

/// Where the controller reads from and keeps its state.
#[derive(Clone, Debug)]
pub struct Options {
    /// The declared folder (usually a git checkout).
    pub path: PathBuf,
    /// The trusted keyring; default `keyring/` in `path`.
    pub keyring: Option<PathBuf>,
    /// Where secrets are, as `<dir>/<name>/<key>`.
    pub secrets: SecretsDir,
    /// Host names sent to fixed addresses instead of DNS, for partners on loopback in
    /// demos and tests; certificates are still checked against the host name.
    pub resolve: Vec<(String, std::net::SocketAddr)>,
    /// How hard each push is tried within a pass.
    pub retry: crate::delivery::send::RetryPolicy,
}

/// How soon a pass follows one that left messages undelivered.
pub const REDELIVERY_DELAY: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a pass could not be made at all.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The state database failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// What one pass did and what failed in it.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Failures, each naming the resource or file.
    pub failures: Vec<String>,
    /// When the next pass is due by schedule, if any school will fall due.
    pub next_due: Option<Timestamp>,
    /// Schools read in this pass.
    pub extracted: Vec<ObjectKey>,
    /// Reads the pass wanted but left to someone else (see
    /// [`Controller::delegate_reads`]).
    pub reads_wanted: Vec<ReadRequest>,
}

/// A school's MIS read that the plan wants and the pass left to someone else.
#[derive(Clone, Debug)]
pub struct ReadRequest {
    /// The school.
    pub school: ObjectKey,
    /// Exactly the fields to read.
    pub fields: FieldSet,
    /// How long the entries written may live.
    pub retention: std::time::Duration,
    /// Why the plan wants it, for logs.
    pub reason: String,
}

/// The embedded controller.
pub struct Controller {
    options: Options,
    cache: Arc<Cache>,
    current: Option<Declaration>,
    /// Resources in files whose latest change was refused, with the finding.
    invalid: Vec<(Kind, ObjectKey, String)>,
    published: tokio::sync::watch::Sender<Option<Arc<Snapshot>>>,
    reads_delegated: bool,
}

impl Controller {
    /// A controller over an open cache.
    pub fn new(options: Options, cache: Cache) -> Controller {
        Controller {
            options,
            cache: Arc::new(cache),
            current: None,
            invalid: Vec::new(),
            published: tokio::sync::watch::Sender::new(None),
            reads_delegated: false,
        }
    }

    /// Leaves MIS reads to someone else: a pass lists them in [`Outcome::reads_wanted`]
    /// instead of reading, and uses what the reader put in the cache and the state.
    pub fn delegate_reads(mut self) -> Controller {
        self.reads_delegated = true;
        self
    }

    /// What the HTTP API needs to serve under the controller's latest pass.
    pub fn api_context(&self) -> ApiContext {
        ApiContext {
            cache: self.cache.clone(),
            published: self.published.subscribe(),
            secrets: self.options.secrets.clone(),
            base: self.options.path.clone(),
            portal: Default::default(),
        }
    }

    fn state(&self) -> &State {
        self.cache.state()
    }

    /// One pass: load, plan, act, report.
    pub async fn reconcile(&mut self, now: Timestamp) -> Result<Outcome, ControllerError> {
        let mut outcome = Outcome::default();
        let revision = revision::current_revision(&self.options.path);
        if let Some(revision) = &revision {
            self.state()
                .set_revision(Revision::LastAttempted, revision)
                .await?;
        }

        match load(&self.options.path, self.options.keyring.clone()) {
            Loaded::Valid(declaration) => {
                if let Some(revision) = &revision {
                    self.state()
                        .set_revision(Revision::LastApplied, revision)
                        .await?;
                }
                let json = serde_json::to_string(&declaration.resources).unwrap_or_default();
                self.state()
                    .put_declaration(&json, revision.as_deref())
                    .await?;
                info!(
                    resources = declaration.resources.len(),
                    revision = revision.as_deref().unwrap_or("-"),
                    "Declaration applied"
                );
                self.current = Some(declaration);
                self.invalid.clear();
            }
            Loaded::Invalid { errors, affected } => {
                for error in &errors {
                    warn!(finding = %error, "Declaration refused");
                }
                outcome
                    .failures
                    .extend(errors.iter().map(ToString::to_string));
                self.mark_invalid(&affected, now).await?;
                self.invalid = affected;
                if self.current.is_none() {
                    self.current = self.remembered_declaration().await?;
                }
            }
        }

        let Some(declaration) = self.current.clone() else {
            outcome.failures.push(
                "no valid declaration has been applied yet: fix the findings above".to_owned(),
            );
            return Ok(outcome);
        };
        self.act(&declaration, now, &mut outcome).await?;
        Ok(outcome)
    }

    async fn act(
        &mut self,
        declaration: &Declaration,
        now: Timestamp,
        outcome: &mut Outcome,
    ) -> Result<(), ControllerError> {
        let (facts, mut opened) = self.facts(now).await?;
        let plan = plan(&declaration.resources, &declaration.keyring, &facts);
        self.published.send_replace(Some(Arc::new(Snapshot {
            resources: declaration.resources.clone(),
            agreements: plan.agreements.clone(),
            schools: plan.schools.clone(),
        })));

        for school in &plan.shred {
            self.cache.shred_school(&school.to_string()).await?;
            self.state()
                .drop_pending_of_school(&school.to_string())
                .await?;
            self.state().remove_extraction(&school.to_string()).await?;
            opened.retain(|(name, _), _| *name != school.to_string());
            info!(school = %school, "School key destroyed");
        }

        // Read once per pass: the records facts() was built from, by school.
        let mut records: BTreeMap<String, ExtractionRecord> = self
            .state()
            .extractions()
            .await?
            .into_iter()
            .map(|r| (r.school.clone(), r))
            .collect();
        let mut observations = BTreeMap::new();
        for school_plan in &plan.schools {
            let key = school_plan.key.to_string();
            for area in &school_plan.drop {
                self.cache.remove(&key, *area).await?;
                opened.remove(&(key.clone(), *area));
            }
            let Some(school) = declaration.resources.school(&school_plan.key) else {
                continue;
            };
            let mut record = records.remove(&key).unwrap_or_else(|| new_record(&key));

            if let Some(reason) = &school_plan.extract {
                if self.reads_delegated {
                    // Someone else reads (a Job per school): say what to read, and wait for
                    // its record and cache entries to appear in the state.
                    outcome.reads_wanted.push(ReadRequest {
                        school: school_plan.key.clone(),
                        fields: school_plan.extract_fields.clone(),
                        retention: school_plan.retention.0,
                        reason: format!("{reason:?}"),
                    });
                } else {
                    info!(school = %key, reason = ?reason, "Reading MIS");
                    // What was opened before this read is no longer what the cache holds.
                    opened.retain(|(name, _), _| *name != key);
                    let base = self.options.path.clone();
                    let read = extract::refresh_school(
                        &self.cache,
                        school,
                        &base,
                        &school_plan.extract_fields,
                        &self.options.secrets,
                        school_plan.retention.0,
                        now,
                        &mut record,
                    )
                    .await?;
                    match read {
                        Ok(warnings) => {
                            outcome.extracted.push(school_plan.key.clone());
                            info!(school = %key, warnings, "Extraction finished");
                        }
                        Err(error) => {
                            warn!(school = %key, %error, "Extraction failed");
                            outcome.failures.push(format!("school {key}: {error}"));
                        }
                    }
                    self.state().put_extraction(&record).await?;
                }
            }
            observations.insert(school_plan.key.clone(), record);
        }

        let phase = Phase::start();
        let (mut records, texts) = self.cached_records(&plan, now, opened).await?;
        let phase = phase.next("cache read");
        let cache_writes = self
            .erase_from_cache(declaration, &plan, &mut records, &texts, now)
            .await?;
        drop(texts);
        let phase = phase.next("cache erasure");
        // The outbox as earlier passes left it goes first; each group committed now
        // follows as soon as it is written, so sending overlaps committing.
        let backlog = self.state().pending_heads().await?;
        let pusher = self.pusher(declaration.resources.clone(), deliver::frozen(&plan));
        let (committed, to_push) = tokio::sync::mpsc::channel(1);
        let pushing = tokio::spawn(pusher.run(backlog, to_push, now));
        let committing = self
            .commit_deliveries(declaration, &plan, &records, now, committed)
            .await;
        let phase = phase.next("deliveries committed");
        let rolls = deliver::still_cached(&declaration.resources, &records);
        drop(records);
        let pushed = match pushing.await {
            Ok(pushed) => pushed,
            // Pushing never panics by itself; carry on a panic from below.
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        };
        committing?;
        let pushed = pushed?;
        // Observed once the erasure is written, so status counts what the cache now holds.
        cache_writes.finish().await?;
        let mut observed = BTreeMap::new();
        for (school, record) in &observations {
            observed.insert(school.clone(), self.observe(record).await?);
        }
        let observations = observed;
        let phase = phase.next("outbox pushed");
        for (agreement, hold) in &pushed.holds {
            outcome
                .failures
                .push(format!("agreement {agreement}: {hold}"));
        }

        outcome.next_due = plan.schools.iter().filter_map(|s| s.next_refresh).min();
        if !pushed.pending.is_empty() {
            let retry = now
                + k8s_openapi::jiff::SignedDuration::try_from(REDELIVERY_DELAY).unwrap_or_default();
            outcome.next_due = Some(outcome.next_due.map_or(retry, |due| due.min(retry)));
        }
        self.write_statuses(
            &declaration.resources,
            &plan,
            &observations,
            &pushed,
            &rolls,
            now,
        )
        .await?;
        phase.next("status written");
        Ok(())
    }

    async fn facts(&self, now: Timestamp) -> Result<(Facts, Opened), ControllerError> {
        let mut schools = BTreeMap::new();
        let mut opened = Opened::new();
        for record in self.state().extractions().await? {
            let Some(key) = ObjectKey::parse(&record.school) else {
                continue;
            };
            let mut cache = BTreeMap::new();
            for entry in self.cache.entries(&record.school).await? {
                // Each entry is opened once a pass, so damage is found and the area read
                // again before anything could serve it; a corrupt entry is erased by `get`.
                match self
                    .cache
                    .get(&record.school, entry.area, SystemTime::from(now))
                    .await
                {
                    Ok(Some(plaintext)) => {
                        opened.insert((record.school.clone(), entry.area), plaintext);
                    }
                    Ok(None) => continue,
                    Err(CacheError::Corrupt { .. } | CacheError::CorruptKey { .. }) => {
                        warn!(school = %record.school, area = %entry.area, "Cache entry corrupt; erased and read again");
                        continue;
                    }
                    Err(error) => return Err(error.into()),
                }
                cache.insert(
                    entry.area,
                    EntryFacts {
                        expires_at: timestamp(entry.expires_at),
                        last_used_at: (entry.last_used_at > entry.created_at)
                            .then(|| timestamp(entry.last_used_at)),
                    },
                );
            }
            let mut extracted_fields = FieldSet::new();
            for (area, fields) in &record.extracted_fields {
                let Ok(area) = area.parse::<Area>() else {
                    continue;
                };
                for field in fields {
                    let _ = extracted_fields.insert(area, field);
                }
            }
            schools.insert(
                key,
                SchoolFacts {
                    last_extraction: record.last_extraction.map(timestamp),
                    extracted_fields,
                    refresh_handled: record.refresh_handled,
                    cache,
                },
            );
        }
        Ok((Facts { now, schools }, opened))
    }

    async fn observe(
        &self,
        record: &ExtractionRecord,
    ) -> Result<SchoolObservation, ControllerError> {
        let cached = self
            .cache
            .entries(&record.school)
            .await?
            .into_iter()
            .map(|e| CachedArea {
                area: e.area,
                records: e.record_count,
                expires_at: timestamp(e.expires_at),
            })
            .collect();
        Ok(SchoolObservation {
            last_extraction: record.last_extraction.map(timestamp),
            extracted_fields: record
                .extracted_fields
                .iter()
                .flat_map(|(a, fs)| fs.iter().map(move |f| format!("{a}.{f}")))
                .collect(),
            error: record.last_error.clone(),
            cached,
        })
    }

    async fn remembered_declaration(&self) -> Result<Option<Declaration>, ControllerError> {
        let Some(json) = self.state().declaration().await? else {
            return Ok(None);
        };
        let Ok(resources) = serde_json::from_str::<ResourceSet>(&json) else {
            return Ok(None);
        };
        let source = crate::validation::KeyringSource {
            dir: self.options.keyring.clone(),
        };
        let keyring = match source.resolve(std::slice::from_ref(&self.options.path)) {
            Some(dir) => crate::signing::Keyring::load(&dir).unwrap_or_default(),
            None => crate::signing::Keyring::default(),
        };
        Ok(Some(Declaration { resources, keyring }))
    }
}

/// Cache entries opened in this pass, as plaintext, by school and area. Each entry is
/// decrypted once a pass, when its facts are gathered, and used from here on; an entry
/// the pass replaces or removes leaves this map with it.
pub(crate) type Opened = BTreeMap<(String, Area), Vec<u8>>;

/// How long each step of a pass took, logged at debug level for benchmarks and slow passes.
struct Phase(std::time::Instant);

impl Phase {
    fn start() -> Phase {
        Phase(std::time::Instant::now())
    }

    fn next(self, step: &'static str) -> Phase {
        tracing::debug!(
            step,
            ms = self.0.elapsed().as_millis() as u64,
            "Pass step finished"
        );
        Phase::start()
    }
}

pub(crate) fn reference(kind: Kind, key: &ObjectKey) -> ResourceRef {
    ResourceRef::new(kind.as_str(), &key.namespace, &key.name)
}

fn timestamp(time: SystemTime) -> Timestamp {
    Timestamp::try_from(time).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The read history of a school never read before.
pub fn new_record(school: &str) -> ExtractionRecord {
    ExtractionRecord {
        school: school.to_owned(),
        last_extraction: None,
        extracted_fields: BTreeMap::new(),
        refresh_handled: None,
        last_error: None,
        last_attempt: SystemTime::UNIX_EPOCH,
    }
}
