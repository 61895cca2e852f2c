//! The embedded local backend: a data directory whose folders stand for the buckets, an SQLite
//! database for the state (same guarantees, in transactions), and alerts appended to
//! `alerts.jsonl`.

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
