//! `/metrics`, `/healthz` and `/readyz` for the operator.
//!
//! `/healthz` answers while the process serves; `/readyz` once it has a client to the
//! apiserver (a replica waiting for the Lease is ready: it is a healthy standby).
//! `/metrics` is Prometheus text: passes, failed passes, pass duration and leadership;
//! failures by kind and reason; and, per agreement, what the ledger says flowed (people the
//! partner holds, batches, bytes and deletion notices it acknowledged) and how long
//! erasure requests took from creation to `Ready`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::tally::AgreementTally;

/// The operator's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    passes: Counter,
    failed: Counter,
    duration: Histogram,
    leader: Gauge,
    failures: Family<FailureLabels, Counter>,
    people: Family<FlowLabels, Gauge>,
    batches: Family<FlowLabels, Counter>,
    bytes: Family<FlowLabels, Counter>,
    notices: Family<FlowLabels, Counter>,
    erasure: Histogram,
    ready: Arc<AtomicBool>,
}

/// What failed: the object's kind, and the CamelCase reason of its `Stalled` condition or
/// of the reconcile error.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    kind: String,
    reason: String,
}

/// One agreement and its partner, both `namespace/name`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FlowLabels {
    agreement: String,
    partner: String,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let passes = Counter::default();
        let failed = Counter::default();
        let duration = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let leader = Gauge::default();
        let failures = Family::<FailureLabels, Counter>::default();
        let people = Family::<FlowLabels, Gauge>::default();
        let batches = Family::<FlowLabels, Counter>::default();
        let bytes = Family::<FlowLabels, Counter>::default();
        let notices = Family::<FlowLabels, Counter>::default();
        // From seconds (a loopback partner) to days (a partner that was down a weekend).
        let erasure = Histogram::new(exponential_buckets(1.0, 4.0, 10));
        let mut registry = Registry::with_prefix("accord_operator");
        registry.register("passes", "Passes over the namespace", passes.clone());
        registry.register(
            "failed_passes",
            "Passes that stopped on an error",
            failed.clone(),
        );
        registry.register("pass_seconds", "How long a pass took", duration.clone());
        registry.register(
            "leader",
            "1 while this replica holds the Lease",
            leader.clone(),
        );
        registry.register(
            "failures",
            "Objects that stalled and reconciles that failed, by kind and reason",
            failures.clone(),
        );
        registry.register(
            "people_shared",
            "People the partner holds under the agreement, from the ledger",
            people.clone(),
        );
        registry.register(
            "batches_delivered",
            "Batches of records the partner acknowledged, from the ledger",
            batches.clone(),
        );
        registry.register(
            "bytes_sent",
            "Bytes of the messages the partner acknowledged, from the ledger",
            bytes.clone(),
        );
        registry.register(
            "deletion_notices_delivered",
            "Deletion notices the partner acknowledged, from the ledger",
            notices.clone(),
        );
        registry.register(
            "erasure_seconds",
            "From an ErasureRequest's creation to its Ready condition turning True",
            erasure.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            passes,
            failed,
            duration,
            leader,
            failures,
            people,
            batches,
            bytes,
            notices,
            erasure,
            ready: Arc::default(),
        }
    }
}

impl Metrics {
    /// Records one pass.
    pub fn pass_finished(&self, took: Duration, ok: bool) {
        self.passes.inc();
        if !ok {
            self.failed.inc();
        }
        self.duration.observe(took.as_secs_f64());
    }

    /// Counts one failure of an object of `kind`, for `reason`.
    pub fn failure(&self, kind: &str, reason: &str) {
        let labels = FailureLabels {
            kind: kind.to_owned(),
            reason: reason.to_owned(),
        };
        self.failures.get_or_create(&labels).inc();
    }

    /// Brings the flow figures up to the ledger's `tallies`, by agreement. The ledger only
    /// grows, so each counter moves up to its total; a fresh leader starts at the totals.
    pub fn record_flows<'a>(
        &self,
        tallies: impl IntoIterator<Item = (&'a String, &'a AgreementTally)>,
    ) {
        for (agreement, tally) in tallies {
            let labels = FlowLabels {
                agreement: agreement.clone(),
                partner: tally.partner.clone(),
            };
            self.people
                .get_or_create(&labels)
                .set(i64::try_from(tally.people).unwrap_or(i64::MAX));
            for (family, total) in [
                (&self.batches, tally.batches),
                (&self.bytes, tally.bytes),
                (&self.notices, tally.deletion_notices),
            ] {
                let counter = family.get_or_create(&labels);
                counter.inc_by(total.saturating_sub(counter.get()));
            }
        }
    }

    /// Records how long an erasure took, from its request's creation to `Ready`.
    pub fn erasure_ready(&self, took: Duration) {
        self.erasure.observe(took.as_secs_f64());
    }

    /// Records whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Marks the replica ready.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// The routes.
    pub fn router(&self) -> Router {
        let metrics = self.clone();
        let ready = self.ready.clone();
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/readyz",
                get(move || async move {
                    if ready.load(Ordering::Relaxed) {
                        (StatusCode::OK, "ok")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "starting")
                    }
                }),
            )
            .route(
                "/metrics",
                get(move || async move { metrics.encode().into_response() }),
            )
    }

    fn encode(&self) -> impl IntoResponse {
        let mut text = String::new();
        match encode(&mut text, &self.registry) {
            Ok(()) => (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                text,
            ),
            Err(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain")],
                "failed to encode metrics".to_owned(),
            ),
        }
    }
}
