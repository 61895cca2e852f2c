//! Local notifications: appended to `alerts.jsonl` in the data directory and printed.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use medistock_domain::store::{Notification, Notifier, StoreError};

/// Appends every notification as one JSON line.
#[derive(Debug)]
pub struct LocalNotifier {
    path: PathBuf,
    echo: bool,
    lock: Mutex<()>,
}

impl LocalNotifier {
    /// Writes to `path`; `echo` also prints each subject on standard error.
    pub fn new(path: impl Into<PathBuf>, echo: bool) -> Self {
        Self {
            path: path.into(),
            echo,
            lock: Mutex::new(()),
        }
    }
}

impl Notifier for LocalNotifier {
    async fn publish(&self, notification: &Notification) -> Result<String, StoreError> {
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let io = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        let line =
            serde_json::to_string(notification).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        writeln!(file, "{line}").map_err(io)?;
        let id = format!(
            "local-{}",
            medistock_domain::sha256_hex(line.as_bytes())
                .get(..16)
                .unwrap_or_default()
        );
        if self.echo {
            eprintln!("ALERTE [{}] {}", notification.topic, notification.subject);
        }
        Ok(id)
    }
}
