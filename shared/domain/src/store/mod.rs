//! Storage ports: the few operations the pipeline needs from object storage, state storage and
//! notification, one small trait per aggregate, and the records they hold. Each has an AWS
//! adapter (`medistock-aws`) and an embedded local adapter (`medistock-local`), so that the
//! same pipeline runs on AWS and on a laptop; a function asks only for the ports it uses.
//!
//! The guarantees live in the adapters' conditional writes, and every adapter passes the same
//! contract tests (`shared/testkit/tests/store_contract.rs`):
//! - a position keeps, per site, the newest figures (a correction of the same date wins, an
//!   older file never does);
//! - a file is claimed once by its content hash; a claim left by a crashed run expires;
//! - an alert record is created once per key and stays pending until marked sent (or held,
//!   or muted), each change conditional on the status it read;
//! - measures and alert states are written under optimistic concurrency.

mod records;

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};

pub use records::{
    AlertRecord, AlertStatus, Claim, FileStatus, GROUP_SUBJECT_PREFIX, LedgerEntry, MAX_BODY_BYTES,
    Notification, RELAY_AFTER_MINUTES, RiskItem, lease_token,
};

use crate::Cip13;
use crate::account::Account;
use crate::lifecycle::AlertState;
use crate::measure::Measure;
use crate::position::{Position, PositionWrite};

/// Failures of a storage backend. Bad input never ends here: it gets a receipt.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A key that could escape its bucket folder (`..`, absolute path, empty segment).
    #[error("clé d'objet refusée : {0:?}")]
    InvalidKey(String),
    /// Local file system.
    #[error("entrée/sortie locale ({path}) : {source}")]
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The embedded database.
    #[error("base locale : {0}")]
    Local(String),
    /// An AWS call failed after the SDK's retries.
    #[error("AWS {operation} : {message}")]
    Aws {
        /// The operation, e.g. `DynamoDB.PutItem`.
        operation: &'static str,
        /// The service's message.
        message: String,
    },
    /// A stored item that does not decode.
    #[error("donnée stockée illisible : {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether retrying can help: a backend that failed (network, throttling, a file system)
    /// may answer next time; a key refused or an item that does not decode will not.
    pub fn retry(&self) -> crate::env::Retry {
        match self {
            StoreError::Io { .. } | StoreError::Local(_) | StoreError::Aws { .. } => {
                crate::env::Retry::Helps
            }
            StoreError::InvalidKey(_) | StoreError::Corrupt(_) => crate::env::Retry::Useless,
        }
    }
}

/// An object and its user metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// User metadata (S3 `x-amz-meta-*`).
    pub metadata: BTreeMap<String, String>,
}

/// What is known of an object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    /// Size in bytes.
    pub size: u64,
    /// The version, when the bucket versions its objects.
    pub version: Option<String>,
    /// When this version was written: the order of two uploads of one declarant.
    pub last_modified: DateTime<Utc>,
}

/// Object storage: buckets of keyed blobs. Where a bucket versions its objects, `version`
/// names one exact version (`None`: the current one), so that a file overwritten before it is
/// read is still read as it was dropped.
pub trait ObjectStore: Send + Sync {
    /// Size, version and date of an object, `None` if absent.
    fn head(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> impl Future<Output = Result<Option<ObjectHead>, StoreError>> + Send;
    /// One version of an object (`None`: the current one), `None` if absent.
    fn get_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> impl Future<Output = Result<Option<StoredObject>, StoreError>> + Send;
    /// The current version of an object, `None` if absent.
    fn get(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<StoredObject>, StoreError>> + Send {
        self.get_version(bucket, key, None)
    }
    /// Size of the current version of an object, `None` if absent.
    fn size(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send {
        async move { Ok(self.head(bucket, key, None).await?.map(|h| h.size)) }
    }
    /// Writes an object (a new version, or a replacement where the bucket keeps none); returns
    /// the version written, if the bucket versions its objects.
    fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Keys under a prefix, sorted.
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    /// Copies one version of an object (`None`: the current one), whatever its size, without
    /// its bytes passing through this process (a server-side copy on S3). The copy carries
    /// `metadata` where given, the source's own metadata otherwise.
    fn copy(
        &self,
        from_bucket: &str,
        from_key: &str,
        from_version: Option<&str>,
        to_bucket: &str,
        to_key: &str,
        metadata: Option<&BTreeMap<String, String>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The file ledger: each declarant's file is applied once, whatever the retries.
pub trait FileLedger: Send + Sync {
    /// Claims a file, keyed by (declarant, hash), for processing until `entry.lease_until`
    /// under the token `entry.owner`. Returns what is already known when the declarant's file
    /// was applied, or is being processed under a live lease. A file rejected whole applied
    /// nothing and is claimed again: its verdict may depend on the day (a stock dated after
    /// today's date in Paris) or on a rule since corrected, and a new drop of its bytes is
    /// judged again. A claim repeated under the same `entry.owner` (a request retried after
    /// its answer was lost) is acquired again: a run never waits on its own claim.
    fn claim_file(
        &self,
        entry: &LedgerEntry,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;
    /// Records the end of processing (status applied or rejected, counts), only while the
    /// claim is still `entry.owner`'s; false when another run took it over (nothing written).
    /// The same end written again under the same owner (a request retried) is true.
    fn finish_file(
        &self,
        entry: &LedgerEntry,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Gives up a claim after a failure, so that a retry can claim at once; only the claim
    /// `owner` holds is removed.
    fn release_file(
        &self,
        declarant: &str,
        sha256: &str,
        owner: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The ledger entry of a declarant's file.
    fn file(
        &self,
        declarant: &str,
        sha256: &str,
    ) -> impl Future<Output = Result<Option<LedgerEntry>, StoreError>> + Send;
    /// The ledger entries of the files received in `[from, to)`, oldest first (the weekly
    /// report's counts; a sweep, not a hot path).
    fn files_received(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>, StoreError>> + Send;
}

/// Declarants' accounts: who may log in and drop files.
pub trait AccountStore: Send + Sync {
    /// A declarant's account.
    fn account(&self, id: &str)
    -> impl Future<Output = Result<Option<Account>, StoreError>> + Send;
    /// Creates or replaces a declarant's SFTP account.
    fn put_account(&self, account: &Account)
    -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every SFTP account, by id.
    fn accounts(&self) -> impl Future<Output = Result<Vec<Account>, StoreError>> + Send;
}

/// Positions: each declarant's latest figures per reference.
pub trait PositionStore: Send + Sync {
    /// Merges positions into those held (see [`crate::position::merge`]: per site, newer
    /// figures or a correction of the same date win, older ones never do): one atomic
    /// read-merge-write per (reference, declarant).
    fn apply_positions(
        &self,
        positions: &[Position],
    ) -> impl Future<Output = Result<Vec<PositionWrite>, StoreError>> + Send;
    /// Every declarant's latest position for a reference.
    fn positions(
        &self,
        cip13: &Cip13,
    ) -> impl Future<Output = Result<Vec<Position>, StoreError>> + Send;
    /// Every position held, by reference then declarant, without its per-site figures
    /// (`site_figures` empty): the daily risk run and the synthesis read every position and
    /// never a depot's figures, so what they decode and hold does not grow with the
    /// wholesalers' depots (on DynamoDB the scan's read capacity still counts whole items: the
    /// projection saves transfer and decoding, not capacity). A reference's positions with
    /// their sites come from [`PositionStore::positions`].
    fn all_positions(&self) -> impl Future<Output = Result<Vec<Position>, StoreError>> + Send;
}

/// Risk items: each subject's latest assessment, written under optimistic concurrency.
pub trait RiskStore: Send + Sync {
    /// Every stored risk item.
    fn risk_items(&self) -> impl Future<Output = Result<Vec<RiskItem>, StoreError>> + Send;
    /// Writes a risk item if the stored one still has `expected_version` (`None`: none stored);
    /// false when another run wrote it first.
    fn put_risk(
        &self,
        item: &RiskItem,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Writes many risk items, each as [`RiskStore::put_risk`] would (conditional on its own
    /// expected version); one result per item, in order. What the daily run calls for its
    /// 20,000 subjects: a store writes them together (one transaction, many requests in
    /// flight), not one round trip after another. The subjects are distinct; on an error, some
    /// of the items, or none, may be written (each write is conditional: the next run sees
    /// which).
    fn put_risks(
        &self,
        items: &[(RiskItem, Option<u64>)],
    ) -> impl Future<Output = Result<Vec<bool>, StoreError>> + Send;
}

/// The alert outbox: a message is recorded once, then published and marked sent.
pub trait AlertOutbox: Send + Sync {
    /// Creates an alert record unless one with the same key exists; true when created.
    fn put_alert_once(
        &self,
        alert: &AlertRecord,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The alert record with this key, as stored now.
    fn alert(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<AlertRecord>, StoreError>> + Send;
    /// Alert records in a status, oldest first.
    fn alerts_with_status(
        &self,
        status: AlertStatus,
    ) -> impl Future<Output = Result<Vec<AlertRecord>, StoreError>> + Send;
    /// Alert records not yet sent, oldest first.
    fn pending_alerts(&self) -> impl Future<Output = Result<Vec<AlertRecord>, StoreError>> + Send {
        self.alerts_with_status(AlertStatus::Pending)
    }
    /// The records still pending whose relay is due by `now` ([`AlertRecord::relay_due_at`]:
    /// half an hour after their creation, or the retry time the scheduled pass set after a
    /// refusal), among those SNS refused before (`refused`: `relay_failures > 0`) or those it
    /// never did, the `limit` due first, in that order: those the relay of new records did not
    /// deliver (on AWS the stream gives up on a record after its retries, or after a day),
    /// which the scheduled pass relays. A store that indexes pending records by that time
    /// answers it in one bounded read.
    fn pending_alerts_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        refused: bool,
    ) -> impl Future<Output = Result<Vec<AlertRecord>, StoreError>> + Send {
        async move {
            let mut pending = self.pending_alerts().await?;
            pending.retain(|a| a.relay_due_at() <= now && (a.relay_failures > 0) == refused);
            pending.sort_by(|a, b| (a.relay_due_at(), &a.key).cmp(&(b.relay_due_at(), &b.key)));
            pending.truncate(limit);
            Ok(pending)
        }
    }
    /// Records whose SMS is held (or whose release claim lapsed) and due by `now`, oldest
    /// first: what a release pass sends. A store that indexes held records by their time
    /// answers it in one read.
    fn held_sms_due(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<AlertRecord>, StoreError>> + Send {
        async move {
            let mut due = Vec::new();
            for status in [AlertStatus::SmsHeld, AlertStatus::SmsReleasing] {
                due.extend(
                    self.alerts_with_status(status)
                        .await?
                        .into_iter()
                        .filter(|a| a.sms_release_at.is_none_or(|t| t <= now)),
                );
            }
            due.sort_by(|a, b| (a.created_at, &a.key).cmp(&(b.created_at, &b.key)));
            Ok(due)
        }
    }
    /// Replaces a record if its stored status is still `from` (its key and creation kept);
    /// false when another relay changed it first.
    fn update_alert(
        &self,
        record: &AlertRecord,
        from: AlertStatus,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// ANSM's measures, one record each.
pub trait MeasureStore: Send + Sync {
    /// Every measure, by id.
    fn measures(&self) -> impl Future<Output = Result<Vec<Measure>, StoreError>> + Send;
    /// Writes a measure if the stored one still has `expected_version` (`None`: none stored);
    /// false when another write came first (or the id exists).
    fn put_measure(
        &self,
        measure: &Measure,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Acknowledgements and silences, one record per subject.
pub trait AlertStateStore: Send + Sync {
    /// Every subject's state.
    fn alert_states(&self) -> impl Future<Output = Result<Vec<AlertState>, StoreError>> + Send;
    /// Writes a subject's state if the stored one still has `expected_version` (`None`: none
    /// stored); false when another write came first.
    fn put_alert_state(
        &self,
        state: &AlertState,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// One subject's state.
    fn alert_state(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Option<AlertState>, StoreError>> + Send {
        async move {
            Ok(self
                .alert_states()
                .await?
                .into_iter()
                .find(|s| s.subject == subject))
        }
    }
}

/// Notification: publishes a message to a topic.
pub trait Notifier: Send + Sync {
    /// Publishes and returns the message id.
    fn publish(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
}

/// Checks an object key for use as a relative path: no empty, `.` or `..` segment, no leading
/// `/`, no backslash or NUL. S3 accepts such keys, but nothing Medistock writes needs them and
/// the local adapter must never leave its folder.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let bad = key.is_empty()
        || key.contains(['\\', '\0'])
        || key
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..");
    if bad {
        Err(StoreError::InvalidKey(key.to_owned()))
    } else {
        Ok(())
    }
}
