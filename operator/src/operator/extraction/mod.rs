//! Extraction as Kubernetes Jobs: one `batch/v1` Job per school read, owned by its School
//! and running the `accord` image's own `accord extract`, so the cluster spreads MIS reads
//! over its nodes while the operator plans, delivers and keeps the ledger.
//!
//! Each pass, the embedded controller lists the reads its plan wants instead of making
//! them; this module lists the Jobs in the namespace and, per school, creates a Job when
//! none is running, waits while one runs, and after a failure tries again with backoff.
//! Everything it decides from is on the Jobs themselves (labels, annotations, status), so
//! a new leader carries on where the last one stopped. The latest Job of each school is
//! reported in the School's `status.extractionJob`.
//!
//! Limitation: the Job shares the operator's SQLite state folder through a
//! PersistentVolumeClaim, so the claim must be ReadWriteMany and the volume must honour
//! SQLite's file locks; a database server will lift that.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::info;

use super::declaration::{Cluster, deleting};
use crate::controller::ReadRequest;
use crate::plan::REFRESH_REQUESTED_AT;
use crate::resources::{ExtractionJobStatus, ObjectKey, School};

/// Labels every extraction Job carries, as a label selector.
pub const SELECTOR: &str =
    "app.kubernetes.io/managed-by=accord,app.kubernetes.io/component=extraction";

/// The label naming the Job's school.
pub const SCHOOL_LABEL: &str = "accord.dev/school";

pub(super) const ATTEMPT: &str = "accord.dev/attempt";
pub(super) const REQUEST: &str = "accord.dev/request";

/// How long after a Job succeeded a read of the same request waits, in case the plan
/// still asks for it: a guard against a loop of Jobs, not a schedule.
const SETTLE: Duration = Duration::from_secs(60);

/// What the operator puts in each Job.
#[derive(Clone, Debug)]
pub struct JobSettings {
    /// The `accord` image the Job runs.
    pub image: String,
    /// The PersistentVolumeClaim holding the state folder the operator uses.
    pub state_claim: String,
    /// The PersistentVolumeClaim holding the schools' CSV and CTF exports, if any.
    pub mis_claim: Option<String>,
    /// The Secret holding the master key under `master.key`, if the operator's comes from one.
    pub master_key_secret: Option<String>,
    /// The Secret and key holding the PostgreSQL URL, when the state is in PostgreSQL: the
    /// Job takes `ACCORD_DATABASE_URL` from it, so the password never enters the Job.
    pub database_secret: Option<(String, String)>,
}

/// Creates, watches and reports the extraction Jobs of one namespace.
pub struct Jobs {
    api: Api<Job>,
    settings: JobSettings,
}

/// What a pass learnt of the Jobs.
#[derive(Debug, Default)]
pub struct JobsReport {
    /// The latest Job of each school that has one.
    pub statuses: BTreeMap<ObjectKey, ExtractionJobStatus>,
    /// When a failed read is due to be tried again.
    pub next_due: Option<Timestamp>,
}

impl Jobs {
    /// Jobs in `namespace`, built from `settings`.
    pub fn new(client: Client, namespace: &str, settings: JobSettings) -> Jobs {
        Jobs {
            api: Api::namespaced(client, namespace),
            settings,
        }
    }

    /// Starts a Job for each wanted read that has none running and is not backing off,
    /// and reports the latest Job of every school.
    pub async fn converge(
        &self,
        cluster: &Cluster,
        wanted: &[ReadRequest],
        now: Timestamp,
    ) -> Result<JobsReport, kube::Error> {
        let mut by_school = self.by_school().await?;
        let mut report = JobsReport::default();
        for request in wanted {
            let Some(school) = cluster
                .schools
                .iter()
                .find(|s| ObjectKey::of(*s) == request.school && !deleting(*s))
            else {
                continue;
            };
            let request_hash = request_hash(school, request);
            let jobs = by_school.entry(school.name_any()).or_default();
            let latest = jobs.last().map(observe);
            match decide(latest.as_ref(), &request_hash, now) {
                Decision::Wait(due) => {
                    report.next_due = earliest(report.next_due, due);
                }
                Decision::Create { attempt } => {
                    for old in jobs.drain(..) {
                        self.delete(&old.name_any()).await?;
                    }
                    let job = job_for(school, request, &request_hash, attempt, &self.settings, now);
                    let created = match self.api.create(&PostParams::default(), &job).await {
                        Ok(created) => created,
                        Err(kube::Error::Api(e)) if e.code == 409 => job,
                        Err(error) => return Err(error),
                    };
                    info!(school = %request.school, job = %created.name_any(), attempt, reason = %request.reason, "Extraction Job created");
                    jobs.push(created);
                }
            }
        }
        for (name, jobs) in &by_school {
            let Some(latest) = jobs.last() else {
                continue;
            };
            let Some(school) = cluster.schools.iter().find(|s| s.name_any() == *name) else {
                continue;
            };
            let observed = observe(latest);
            let mut status = observed.status();
            if observed.phase == Phase::Failed {
                status.next_attempt_at = observed
                    .finish
                    .map(|f| Time(f + signed(backoff(observed.attempt))));
            }
            report.statuses.insert(ObjectKey::of(school), status);
        }
        Ok(report)
    }

    /// Deletes every extraction Job of `school`, so a School being deleted is not written
    /// to after its key is destroyed.
    pub async fn delete_of(&self, school: &str) -> Result<(), kube::Error> {
        let jobs = self.by_school().await?;
        for job in jobs.get(school).into_iter().flatten() {
            self.delete(&job.name_any()).await?;
        }
        Ok(())
    }

    async fn by_school(&self) -> Result<BTreeMap<String, Vec<Job>>, kube::Error> {
        let listed = self
            .api
            .list(&ListParams::default().labels(SELECTOR))
            .await?;
        let mut by_school: BTreeMap<String, Vec<Job>> = BTreeMap::new();
        for job in listed.items {
            if let Some(school) = job.labels().get(SCHOOL_LABEL).cloned() {
                by_school.entry(school).or_default().push(job);
            }
        }
        for jobs in by_school.values_mut() {
            jobs.sort_by(|a, b| {
                let created = |j: &Job| j.metadata.creation_timestamp.clone().map(|t| t.0);
                created(a)
                    .cmp(&created(b))
                    .then_with(|| attempt_of(a).cmp(&attempt_of(b)))
            });
        }
        Ok(by_school)
    }

    async fn delete(&self, name: &str) -> Result<(), kube::Error> {
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        match self.api.delete(name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(error) => Err(error),
        }
    }
}

/// A Job's phase, as the School's status reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Created, not started.
    Pending,
    /// Started, not finished.
    Running,
    /// Finished, and the cache holds the read.
    Succeeded,
    /// Finished without a read.
    Failed,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }
}

/// What the operator reads off one Job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    name: String,
    phase: Phase,
    attempt: i64,
    request: String,
    start: Option<Timestamp>,
    finish: Option<Timestamp>,
    reason: Option<String>,
    message: Option<String>,
}

impl Observed {
    fn status(&self) -> ExtractionJobStatus {
        ExtractionJobStatus {
            name: self.name.clone(),
            phase: self.phase.as_str().to_owned(),
            attempt: self.attempt,
            start_time: self.start.map(Time),
            finish_time: self.finish.map(Time),
            reason: self.reason.clone(),
            message: self.message.clone(),
            next_attempt_at: None,
        }
    }
}

/// What to do about one wanted read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Start a Job, this try.
    Create {
        /// Which try, from 1.
        attempt: i64,
    },
    /// Leave it; look again by then, if a time is given.
    Wait(Option<Timestamp>),
}

/// Decides about a wanted read from the school's latest Job.
pub fn decide(latest: Option<&Observed>, request: &str, now: Timestamp) -> Decision {
    let Some(latest) = latest else {
        return Decision::Create { attempt: 1 };
    };
    let finished = latest.finish.unwrap_or(now);
    match latest.phase {
        Phase::Pending | Phase::Running => Decision::Wait(None),
        _ if latest.request != request => Decision::Create { attempt: 1 },
        Phase::Succeeded => {
            let settled = finished + signed(SETTLE);
            if now >= settled {
                Decision::Create { attempt: 1 }
            } else {
                Decision::Wait(Some(settled))
            }
        }
        Phase::Failed => {
            let due = finished + signed(backoff(latest.attempt));
            if now >= due {
                Decision::Create {
                    attempt: latest.attempt + 1,
                }
            } else {
                Decision::Wait(Some(due))
            }
        }
    }
}

/// How long after the `attempt`th failure the next try waits: 10 s, doubling, at most 10
/// minutes.
pub fn backoff(attempt: i64) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0).min(6);
    (Duration::from_secs(10) * 2u32.pow(doublings)).min(Duration::from_secs(600))
}

/// Reads a Job's labels, annotations and status.
pub fn observe(job: &Job) -> Observed {
    let status = job.status.clone().unwrap_or_default();
    let conditions = status.conditions.unwrap_or_default();
    let holds = |type_: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == type_ && c.status == "True")
    };
    let (phase, finish, reason, message) = if let Some(done) = holds("Complete") {
        let at = status
            .completion_time
            .map(|t| t.0)
            .or(done.last_transition_time.as_ref().map(|t| t.0));
        (Phase::Succeeded, at, None, None)
    } else if let Some(failed) = holds("Failed") {
        let at = failed.last_transition_time.as_ref().map(|t| t.0);
        (
            Phase::Failed,
            at,
            failed.reason.clone(),
            failed.message.clone(),
        )
    } else if status.start_time.is_some() {
        (Phase::Running, None, None, None)
    } else {
        (Phase::Pending, None, None, None)
    };
    Observed {
        name: job.name_any(),
        phase,
        attempt: attempt_of(job),
        request: job.annotations().get(REQUEST).cloned().unwrap_or_default(),
        start: status.start_time.map(|t| t.0),
        finish,
        reason,
        message,
    }
}

fn attempt_of(job: &Job) -> i64 {
    job.annotations()
        .get(ATTEMPT)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1)
}

// Everything a read depends on: a change to any of it is a new read, tried afresh.
fn request_hash(school: &School, request: &ReadRequest) -> String {
    let text = json!({
        "school": request.school.to_string(),
        "mis": school.spec.mis,
        "fields": field_list(&request.fields),
        "retention": request.retention.as_secs(),
        "refresh": school.annotations().get(REFRESH_REQUESTED_AT),
    })
    .to_string();
    hex(&Sha256::digest(text.as_bytes()))[..16].to_owned()
}

pub(super) fn job_name(school: &str, request: &str, attempt: i64, now: Timestamp) -> String {
    let seed = format!("{request}/{attempt}/{}", now.as_second());
    let suffix = &hex(&Sha256::digest(seed.as_bytes()))[..8];
    let prefix: String = school.chars().take(40).collect();
    format!("{}-extract-{suffix}", prefix.trim_end_matches('-'))
}

pub(super) fn field_list(fields: &crate::mis::FieldSet) -> Vec<String> {
    let mut list: BTreeSet<String> = BTreeSet::new();
    for area in fields.areas() {
        list.extend(fields.fields(area).map(|f| format!("{area}.{f}")));
    }
    list.into_iter().collect()
}

fn signed(duration: Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::ZERO)
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

mod job;
mod status;

pub use job::job_for;
pub use status::with_job;

#[cfg(test)]
mod tests;
