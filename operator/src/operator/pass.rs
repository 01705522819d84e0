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

use super::declaration::{Cluster, Folder, write_keyring, write_secrets};
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
    started: Option<Instant>,
    latest: Option<Arc<PassReport>>,
    /// The ledger's last position whose acknowledged notices have been announced.
    announced: Option<i64>,
    /// The ledger's last position the metrics were brought up to.
    tallied: Option<i64>,
}

impl Passes {
    /// Passes driven by `controller`, whose state database is `state`.
    pub fn new(controller: Controller, state: State, publisher: Publisher) -> Passes {
        Passes {
            runner: tokio::sync::Mutex::new(Runner {
                controller,
                state,
                publisher,
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

        let now = Timestamp::now();
        let outcome = self.controller.reconcile(now).await?;
        for failure in &outcome.failures {
            warn!(%failure, "Pass left work undone");
        }

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
            .publish(&cluster, &self.state, metrics)
            .await?;
        self.publisher.announce_notices(&cluster, &notices).await;

        let mut report = PassReport {
            next_due: outcome.next_due,
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
        // A pass with failures may have kept the last valid declaration, which still has
        // the school: only a clean pass is known to have destroyed its key.
        if outcome.failures.is_empty() {
            report.schools_shredded = cluster
                .keys(crate::resources::Kind::School)
                .into_iter()
                .filter(|(_, deleting)| *deleting)
                .map(|(key, _)| key)
                .collect();
        }
        info!(
            failures = outcome.failures.len(),
            extracted = outcome.extracted.len(),
            "Pass finished"
        );
        Ok(report)
    }
}
