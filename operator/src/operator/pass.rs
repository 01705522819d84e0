//! Passes over the whole namespace, shared by every reconcile.
//!
//! A change to any object can touch any other (an agreement's schools, a consent rule's
//! agreements), so each reconcile asks for a pass over everything rather than reconciling
//! one object alone. Requests that arrive while a pass runs are answered by the next pass;
//! requests made before the latest pass started are answered by it, so a burst of events
//! costs one or two passes, not one per object.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::jiff::Timestamp;
use kube::Client;
use tracing::{info, warn};

use super::declaration::{Cluster, Folder, deleting, write_keyring, write_secrets};
use super::extraction::{Jobs, JobsReport};
use super::metrics::Metrics;
use super::publish::Publisher;
use super::tally::{notices_acknowledged_after, tally};
use super::{OperatorError, Settings};
use crate::controller::Controller;
use crate::ledger::{LedgerStore, SqliteLedger};
use crate::resources::ObjectKey;
use crate::state::State;

/// What a pass leaves for reconciles to read.
#[derive(Debug, Default)]
pub struct PassReport {
    /// When the next pass is due by schedule or retry.
    pub next_due: Option<Timestamp>,
    /// Agreements (`namespace/name`) with messages not yet acknowledged or data still held
    /// by their partner.
    pub agreements_outstanding: BTreeSet<String>,
    /// Partners (by name) with messages not yet acknowledged or data still held.
    pub partners_outstanding: BTreeSet<String>,
    /// Schools being deleted whose keys this pass destroyed.
    pub schools_shredded: BTreeSet<ObjectKey>,
}

/// The one embedded controller and the time its latest pass started.
pub struct Passes {
    runner: tokio::sync::Mutex<Runner>,
}

struct Runner {
    controller: Controller,
    state: State,
    publisher: Publisher,
    jobs: Option<Jobs>,
    started: Option<Instant>,
    latest: Option<Arc<PassReport>>,
    /// The ledger's last position whose acknowledged notices have been announced.
    announced: Option<i64>,
    /// The ledger's last position the metrics were brought up to.
    tallied: Option<i64>,
}

impl Passes {
    /// Passes driven by `controller`, whose state database is `state`; `jobs` makes the
    /// reads it leaves undone, when it leaves them to Jobs.
    pub fn new(
        controller: Controller,
        state: State,
        publisher: Publisher,
        jobs: Option<Jobs>,
    ) -> Passes {
        Passes {
            runner: tokio::sync::Mutex::new(Runner {
                controller,
                state,
                publisher,
                jobs,
                started: None,
                latest: None,
                announced: None,
                tallied: None,
            }),
        }
    }

    /// A pass that started no earlier than `asked`: the latest one if it did, else a new one.
    pub async fn after(
        &self,
        asked: Instant,
        client: &Client,
        settings: &Settings,
        metrics: &Metrics,
    ) -> Result<Arc<PassReport>, OperatorError> {
        let mut runner = self.runner.lock().await;
        if let (Some(started), Some(latest)) = (runner.started, &runner.latest)
            && started >= asked
        {
            return Ok(latest.clone());
        }
        let started = Instant::now();
        runner.started = Some(started);
        let report = runner.pass(client, settings, metrics).await;
        metrics.pass_finished(started.elapsed(), report.is_ok());
        let report = Arc::new(report?);
        runner.latest = Some(report.clone());
        Ok(report)
    }
}

impl Runner {
    async fn pass(
        &mut self,
        client: &Client,
        settings: &Settings,
        metrics: &Metrics,
    ) -> Result<PassReport, OperatorError> {
        let namespace = &settings.namespace;
        let ledger = SqliteLedger::new(self.state.clone());
        // What a previous leader already announced is not announced again.
        if self.announced.is_none() {
            self.announced = Some(ledger.last_seq().await?);
        }
        let cluster = Cluster::list(client, namespace).await?;
        let folder = Folder::under(&settings.work);
        cluster.write(&folder, &settings.mis_root)?;
        write_keyring(client, namespace, &settings.keyring_config_map, &folder).await?;
        write_secrets(client, namespace, &cluster.secret_refs(), &folder).await?;

        // A school being deleted is read no more: its Jobs go before its key does.
        if let Some(jobs) = &self.jobs {
            for school in cluster.schools.iter().filter(|s| deleting(*s)) {
                jobs.delete_of(&kube::ResourceExt::name_any(school)).await?;
            }
        }

        let now = Timestamp::now();
        let outcome = self.controller.reconcile(now).await?;
        for failure in &outcome.failures {
            warn!(%failure, "Pass left work undone");
        }
        let jobs = match &self.jobs {
            Some(jobs) => jobs.converge(&cluster, &outcome.reads_wanted, now).await?,
            None => JobsReport::default(),
        };

        // Metrics before status, so whoever sees a status sees its figures in /metrics.
        let last = ledger.last_seq().await?;
        let mut notices = Vec::new();
        if self.tallied != Some(last) {
            let entries = ledger.entries().await?;
            metrics.record_flows(&tally(&entries));
            notices = notices_acknowledged_after(&entries, self.announced.unwrap_or(last));
            self.tallied = Some(last);
            self.announced = Some(last);
        }
        self.publisher
            .publish(&cluster, &self.state, metrics, &jobs.statuses)
            .await?;
        self.publisher.announce_notices(&cluster, &notices).await;

        let next_due = match (outcome.next_due, jobs.next_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut report = PassReport {
            next_due,
            ..PassReport::default()
        };
        for message in self.state.pending(None).await? {
            report.agreements_outstanding.insert(message.agreement);
            report.partners_outstanding.insert(message.partner);
        }
        for place in self.state.held_places().await? {
            report.agreements_outstanding.insert(place.agreement);
            report.partners_outstanding.insert(place.partner);
        }
        // A school being deleted is released once its read history is gone: the pass
        // removes it with the key, and a pass that kept an older declaration (with the
        // school still in it) keeps it too.
        let remembered: BTreeSet<String> = self
            .state
            .extractions()
            .await?
            .into_iter()
            .map(|r| r.school)
            .collect();
        report.schools_shredded = cluster
            .keys(crate::resources::Kind::School)
            .into_iter()
            .filter(|(key, deleting)| *deleting && !remembered.contains(&key.to_string()))
            .map(|(key, _)| key)
            .collect();
        info!(
            failures = outcome.failures.len(),
            extracted = outcome.extracted.len(),
            reads_left_to_jobs = outcome.reads_wanted.len(),
            "Pass finished"
        );
        Ok(report)
    }
}
