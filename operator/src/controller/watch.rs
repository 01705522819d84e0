//! Watching the declared folder: file changes, coalesced so that one `git pull` touching
//! hundreds of files is one reconcile.

use std::path::Path;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// How long the folder must be quiet before a change is acted on.
pub const DEBOUNCE: Duration = Duration::from_millis(500);

/// A running watch of a folder: `changed().await` returns once per burst of changes.
pub struct FolderWatch {
    // Kept alive for as long as the watch is wanted; dropping it stops the events.
    _watcher: notify::RecommendedWatcher,
    events: mpsc::UnboundedReceiver<()>,
}

impl FolderWatch {
    /// Starts watching `path` and everything under it.
    pub fn start(path: &Path) -> notify::Result<FolderWatch> {
        let (sender, events) = mpsc::unbounded_channel();
        let root = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // Only content changes matter; reads are not changes.
                if let Ok(event) = event
                    && !matches!(event.kind, notify::EventKind::Access(_))
                    && !event.paths.iter().all(|p| is_hidden(&root, p))
                {
                    let _ = sender.send(());
                }
            })?;
        watcher.watch(path, RecursiveMode::Recursive)?;
        Ok(FolderWatch {
            _watcher: watcher,
            events,
        })
    }

    /// Waits for the next burst of changes to finish. Returns `false` when the watch ended.
    pub async fn changed(&mut self) -> bool {
        if self.events.recv().await.is_none() {
            return false;
        }
        loop {
            match tokio::time::timeout(DEBOUNCE, self.events.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return false,
                Err(_) => return true,
            }
        }
    }
}

// Changes inside `.git` alone (fetches, gc) are not changes to the declaration; the files a
// pull rewrites are outside it and are seen as they change.
fn is_hidden(root: &Path, path: &Path) -> bool {
    let inside = path.strip_prefix(root).unwrap_or(path);
    inside
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_two_hundred_writes_is_one_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut watch = FolderWatch::start(dir.path()).unwrap();

        let writer = {
            let dir = dir.path().to_owned();
            tokio::spawn(async move {
                for i in 0..200 {
                    std::fs::write(dir.join(format!("f{i}.yaml")), "a: 1\n").unwrap();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        };
        assert!(watch.changed().await);
        writer.await.unwrap();

        // Nothing more arrives once the burst is over.
        let more = tokio::time::timeout(DEBOUNCE * 3, watch.changed()).await;
        assert!(more.is_err(), "the burst was reported more than once");
    }
}
