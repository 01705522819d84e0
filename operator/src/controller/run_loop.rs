//! Repeating passes: on folder changes, when a read falls due, and on a quiet timer.

use k8s_openapi::jiff::Timestamp;
use tracing::{info, warn};

use super::{Controller, ControllerError, watch};

/// How long to wait between passes when nothing changes and nothing falls due, so expiry
/// and retention are enforced even on a quiet folder.
pub const IDLE_PASS: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl Controller {
    /// Runs passes until `stop` resolves: on every change to the folder, when a school's
    /// next read falls due, and at least every [`IDLE_PASS`]. A stop request is honoured
    /// between passes, never in the middle of one.
    pub async fn run(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), ControllerError> {
        let mut watch = match watch::FolderWatch::start(&self.options.path) {
            Ok(watch) => Some(watch),
            Err(error) => {
                warn!(%error, "Cannot watch the folder; falling back to timed passes");
                None
            }
        };
        tokio::pin!(stop);
        loop {
            let outcome = self.reconcile(Timestamp::now()).await?;
            let wait = outcome
                .next_due
                .and_then(|due| due.duration_since(Timestamp::now()).try_into().ok())
                .map_or(IDLE_PASS, |d: std::time::Duration| d.min(IDLE_PASS));
            let changed = async {
                match watch.as_mut() {
                    Some(watch) => watch.changed().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut stop => {
                    info!("Stopping");
                    return Ok(());
                }
                _ = changed => info!("Folder changed"),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
