//! `/metrics`, `/healthz` and `/readyz` for the operator.
//!
//! `/healthz` answers while the process serves; `/readyz` once it has a client to the
//! apiserver (a replica waiting for the Lease is ready: it is a healthy standby).
//! `/metrics` is Prometheus text: passes, failed passes, pass duration and leadership.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The operator's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    passes: Counter,
    failed: Counter,
    duration: Histogram,
    leader: Gauge,
    ready: Arc<AtomicBool>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let passes = Counter::default();
        let failed = Counter::default();
        let duration = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let leader = Gauge::default();
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
        Metrics {
            registry: Arc::new(registry),
            passes,
            failed,
            duration,
            leader,
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
