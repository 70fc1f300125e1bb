//! `--watch`: serve a component's new build without restarting.
//!
//! Every [`INTERVAL`] the `source` files are checked (modification time,
//! size, inode: a build links a new file in place of the old one). A file
//! that changed and then stayed the same for one more check, so that a
//! file still being written is not read, is compiled off the request path
//! and swapped in ([`Server::reload`]). When it does not compile, link or
//! instantiate, the error is logged and the previous build keeps serving;
//! the file is tried again when it changes again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::server::Server;

/// How often the files are checked.
pub const INTERVAL: Duration = Duration::from_millis(250);

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// `None` while the file is missing (between a build removing the old file
/// and linking the new one).
fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode: meta.ino(),
    })
}

/// One watched file.
#[derive(Debug)]
struct Tracked {
    path: PathBuf,
    /// The version last loaded or tried.
    loaded: Option<Stamp>,
    /// A new version seen at the previous check.
    seen: Option<Stamp>,
}

impl Tracked {
    /// Whether the file, now at `now`, is to be loaded: it differs from the
    /// version last tried and was the same at the previous check.
    fn ready(&mut self, now: Option<Stamp>) -> bool {
        let Some(now) = now else {
            self.seen = None;
            return false;
        };
        if Some(now) == self.loaded {
            self.seen = None;
            return false;
        }
        if self.seen == Some(now) {
            self.loaded = Some(now);
            self.seen = None;
            return true;
        }
        self.seen = Some(now);
        false
    }
}

/// The files of an app, with the versions being served.
pub struct Watcher {
    files: Vec<Tracked>,
}

impl Watcher {
    /// Records the current version of each file; call before compiling them,
    /// so a change made meanwhile is still seen.
    pub fn new(sources: impl IntoIterator<Item = PathBuf>) -> Self {
        let mut paths: Vec<PathBuf> = sources.into_iter().collect();
        paths.sort();
        paths.dedup();
        Watcher {
            files: paths
                .into_iter()
                .map(|path| Tracked {
                    loaded: stamp(&path),
                    path,
                    seen: None,
                })
                .collect(),
        }
    }

    /// Checks the files until the process ends, reloading the ones that
    /// changed.
    pub async fn run(mut self, server: Arc<Server>) {
        tracing::info!(
            "watching {} component file(s) for new builds",
            self.files.len()
        );
        loop {
            tokio::time::sleep(INTERVAL).await;
            for file in &mut self.files {
                if !file.ready(stamp(&file.path)) {
                    continue;
                }
                let started = Instant::now();
                let path = file.path.display();
                match server.reload(&file.path).await {
                    Ok(ids) => tracing::info!(
                        "reloaded {} from {path} in {:.2?}",
                        ids.join(", "),
                        started.elapsed()
                    ),
                    Err(e) => tracing::error!(
                        "{path} changed but cannot be served, the previous build keeps serving: {e:#}"
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, len: u64, inode: u64) -> Option<Stamp> {
        Some(Stamp {
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
            len,
            inode,
        })
    }

    #[test]
    fn a_change_is_loaded_once_it_has_settled() {
        let mut t = Tracked {
            path: PathBuf::from("c.wasm"),
            loaded: at(1, 10, 1),
            seen: None,
        };
        assert!(!t.ready(at(1, 10, 1)), "unchanged");
        assert!(!t.ready(at(2, 5, 1)), "first sight of a change");
        assert!(!t.ready(at(2, 9, 1)), "still being written");
        assert!(t.ready(at(2, 9, 1)), "settled");
        assert!(!t.ready(at(2, 9, 1)), "loaded once, not again");
        // Replaced by a new file (another inode), missing for a moment.
        assert!(!t.ready(None));
        assert!(!t.ready(at(2, 9, 7)));
        assert!(t.ready(at(2, 9, 7)));
        // A version that failed is not retried until it changes.
        assert!(!t.ready(at(2, 9, 7)));
    }

    #[test]
    fn missing_files_wait() {
        let mut t = Tracked {
            path: PathBuf::from("c.wasm"),
            loaded: None,
            seen: None,
        };
        for _ in 0..3 {
            assert!(!t.ready(None));
        }
        assert!(!t.ready(at(3, 1, 1)));
        assert!(t.ready(at(3, 1, 1)));
    }

    #[test]
    fn stamps_follow_the_file() {
        let dir = std::env::temp_dir().join(format!("devhost-stamp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.wasm");
        assert_eq!(stamp(&file), None);
        std::fs::write(&file, b"one").unwrap();
        let first = stamp(&file).unwrap();
        let tmp = dir.join("c.wasm.new");
        std::fs::write(&tmp, b"three").unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        let second = stamp(&file).unwrap();
        assert_ne!(first, second);
        assert_eq!(second.len, 5);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
