//! Daily totals already decoded, kept from one run to the next of the same process: a replay
//! runs the risk once per day over a look-back of 57 days, and would otherwise read and decode
//! the same 56 days of files again every day. A daily object's key names its file's hash, so a
//! key always holds the same rows. Its reception time can change if the same file is ingested
//! again after a failed attempt (the object is written again): a replay never does that, and
//! the time only orders two files' figures of the same reference and date.
//!
//! Only for processes that run the risk many times (`medistock backtest`, `demo`); the daily
//! Lambda runs once per process and passes none. The cache holds the look-back of the last run
//! only (the files it did not read are dropped): at national scale (17,000 references, 7
//! wholesalers declaring every day) that is about 7 million daily rows, some 550 MB.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::demand::DailyFile;

/// A decoded daily object: its rows and when its file was received.
#[derive(Clone)]
pub(crate) struct CachedFile {
    pub(crate) file: Arc<DailyFile>,
    pub(crate) received: Option<i64>,
}

/// Decoded daily objects by key (see the module's documentation).
#[derive(Default)]
pub struct HistoryCache {
    files: Mutex<HashMap<String, CachedFile>>,
}

impl std::fmt::Debug for HistoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryCache")
            .field("files", &self.len())
            .finish()
    }
}

impl HistoryCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The decoded object under `key`, if held.
    pub(crate) fn get(&self, key: &str) -> Option<CachedFile> {
        self.lock().get(key).cloned()
    }

    /// Keeps a decoded object.
    pub(crate) fn insert(&self, key: String, file: CachedFile) {
        self.lock().insert(key, file);
    }

    /// Drops every object but those of `keys` (the look-back just read).
    pub(crate) fn retain(&self, keys: &HashSet<&str>) {
        self.lock().retain(|key, _| keys.contains(key.as_str()));
    }

    /// Objects held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedFile>> {
        self.files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
