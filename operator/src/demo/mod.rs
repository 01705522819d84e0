//! `accord demo`: the example Trust end to end on this machine. Each partner gets its own
//! certificate authority and an HTTPS receiver on loopback; the controller reaches them
//! under their real host names (resolved to loopback, certificates checked as usual),
//! delivers, and serves the pull API, which the demo then calls as the pulling partner.

pub mod kit;

use std::net::SocketAddr;

use tokio::net::TcpListener;

pub use kit::{KitError, PartnerKit, provision};

use crate::partner::{ReceiverConfig, RunningReceiver, spawn};

/// Partners' receivers running on loopback.
#[derive(Debug, Default)]
pub struct RunningPartners {
    /// Each pushing partner and its receiver.
    pub receivers: Vec<(PartnerKit, RunningReceiver)>,
    /// Partners that only pull.
    pub pulling: Vec<PartnerKit>,
}

impl RunningPartners {
    /// Host names to send to the receivers instead of asking DNS.
    pub fn resolve(&self) -> Vec<(String, SocketAddr)> {
        self.receivers
            .iter()
            .filter_map(|(kit, running)| Some((kit.host.clone()?, running.address())))
            .collect()
    }

    /// Stops every receiver.
    pub async fn stop(self) {
        for (_, running) in self.receivers {
            let _ = running.stop().await;
        }
    }
}

/// Why the partners could not be started.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A partner's files are not usable.
    #[error(transparent)]
    Kit(#[from] KitError),
    /// A certificate could not be loaded.
    #[error("{0}")]
    Tls(String),
    /// A receiver could not start.
    #[error("cannot start the receiver of {partner}: {error}")]
    Receiver {
        /// The partner.
        partner: String,
        /// The cause.
        error: String,
    },
}

/// Starts a receiver on a free loopback port for every partner with an endpoint.
pub async fn serve_partners(kits: Vec<PartnerKit>) -> Result<RunningPartners, DemoError> {
    let mut running = RunningPartners::default();
    for kit in kits {
        if kit.host.is_none() {
            running.pulling.push(kit);
            continue;
        }
        let tls = kit.tls();
        let config = crate::tls::server_config(
            &tls.join(crate::tls::CERT_FILE),
            &tls.join(crate::tls::KEY_FILE),
        )
        .map_err(|e| DemoError::Tls(e.to_string()))?;
        let failed = |error: String| DemoError::Receiver {
            partner: kit.partner.to_string(),
            error,
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| failed(e.to_string()))?;
        let receiver = spawn(
            ReceiverConfig::new(kit.store(), kit.check()?, config),
            listener,
        )
        .await
        .map_err(|e| failed(e.to_string()))?;
        running.receivers.push((kit, receiver));
    }
    Ok(running)
}
