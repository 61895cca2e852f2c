//! The embedded local backend: a data directory whose folders stand for the buckets, an SQLite
//! database for the state (same guarantees, in transactions), and alerts appended to
//! `alerts.jsonl`.

mod merge;
mod notifier;
mod objects;
mod state;

pub use notifier::LocalNotifier;
pub use objects::LocalObjects;
pub use state::LocalState;

/// Local name of the inbox bucket (declarants' files and receipts).
pub const INBOX_BUCKET: &str = "depot";
/// Local name of the lake bucket (archive, history, snapshots, reports).
pub const LAKE_BUCKET: &str = "lac";

/// The local backend of a data directory: buckets as folders, state in
/// `state/medistock.sqlite`, alerts in `alerts.jsonl`.
#[derive(Debug)]
pub struct LocalBackend {
    /// Object storage.
    pub objects: LocalObjects,
    /// State storage.
    pub state: LocalState,
    /// Notification.
    pub notifier: LocalNotifier,
}

impl LocalBackend {
    /// Opens (and creates) the backend of `data_dir`.
    pub fn open(data_dir: &std::path::Path) -> Result<Self, medistock_domain::store::StoreError> {
        Ok(Self {
            objects: LocalObjects::new(data_dir).with_versioning(INBOX_BUCKET),
            state: LocalState::open(&data_dir.join("state").join("medistock.sqlite"))?,
            notifier: LocalNotifier::new(data_dir.join("alerts.jsonl"), true),
        })
    }
}
