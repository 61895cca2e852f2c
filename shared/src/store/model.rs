//! What the state store holds besides positions.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Where a file is in its processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Claimed by a run, until its lease ends.
    Processing,
    /// Validated and its positions applied.
    Applied,
    /// Rejected as a whole (receipt and quarantine written).
    Rejected,
}

impl FileStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Processing => "processing",
            FileStatus::Applied => "applied",
            FileStatus::Rejected => "rejected",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "processing" => Some(FileStatus::Processing),
            "applied" => Some(FileStatus::Applied),
            "rejected" => Some(FileStatus::Rejected),
            _ => None,
        }
    }
}

/// The ledger entry of one file, keyed by the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Processing status.
    pub status: FileStatus,
    /// The object key it first arrived under.
    pub key: String,
    /// The declarant (key prefix).
    pub declarant: String,
    /// Lines read, accepted, rejected.
    pub lines: [u64; 3],
    /// When it was first received.
    pub received_at: DateTime<Utc>,
    /// End of the processing lease (meaningful while processing).
    pub lease_until: DateTime<Utc>,
    /// When processing ended.
    pub finished_at: Option<DateTime<Utc>>,
}

impl LedgerEntry {
    /// The entries received in `[from, to)`, oldest first (ties by hash): what every
    /// adapter's `files_received` returns.
    pub fn received_between(
        entries: impl IntoIterator<Item = LedgerEntry>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<LedgerEntry> {
        let mut out: Vec<LedgerEntry> = entries
            .into_iter()
            .filter(|e| e.received_at >= from && e.received_at < to)
            .collect();
        out.sort_by(|a, b| (a.received_at, &a.sha256).cmp(&(b.received_at, &b.sha256)));
        out
    }
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This run processes the file.
    Acquired,
    /// The file was already processed: nothing to apply.
    Done(LedgerEntry),
    /// Another run holds a live lease on it: retry later.
    InProgress(LedgerEntry),
}

/// The result of one conditional position write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PositionWrite {
    /// Written (new, strictly newer, or rewritten by the same file).
    Applied,
    /// Not written: the position held is as recent or newer.
    NotNewer {
        /// Date of the position held.
        held_as_of: NaiveDate,
    },
}

/// Whether an alert was published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// Waiting to be published (or to be retried).
    Pending,
    /// Published.
    Sent,
}

/// An outbox record: one per level transition of a reference, with a deterministic key so that
/// a rerun never creates a second one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// Deterministic key: `3400949497294#2026-11-23#NORMAL-TENSION` for one reference,
    /// `GROUPE#<id>#2026-11-23#…` for a group's message, `VIGILANCE#2026-11-23#…` for the
    /// daily digest.
    pub key: String,
    /// The reference (the worst one of a group's message; empty for the digest).
    pub cip13: String,
    /// What to publish.
    pub notification: Notification,
    /// Published or not.
    pub status: AlertStatus,
    /// Message id once published.
    pub message_id: Option<String>,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
}

/// A message for a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Topic (an SNS ARN on AWS, a name locally).
    pub topic: String,
    /// Email subject.
    pub subject: String,
    /// Email body.
    pub body: String,
    /// Short SMS text, when the message goes to phones too.
    pub sms: Option<String>,
    /// Message attributes for subscription filters.
    pub attributes: BTreeMap<String, String>,
}

/// Prefix of the subject of a group's [`RiskItem`]: `GROUPE#<group id>`.
pub const GROUP_SUBJECT_PREFIX: &str = "GROUPE#";

/// The stored risk of a reference (`REF#<cip13>` / `RISK`) or of a group of substitutable
/// presentations (`GROUP#<id>` / `RISK`): the level held, for transitions and hysteresis, and
/// the figures of the last computation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskItem {
    /// A reference's CIP13, or `GROUPE#<id>` for a group (see [`RiskItem::group`]).
    #[serde(alias = "cip13")]
    pub subject: String,
    /// Level held.
    pub level: crate::risk::Level,
    /// Date of the computation.
    pub as_of: NaiveDate,
    /// When it was computed.
    pub computed_at: DateTime<Utc>,
    /// Optimistic-locking version: each write expects the version it read.
    pub version: u64,
    /// The figures, as JSON (the assessment).
    pub figures: String,
}

impl RiskItem {
    /// The subject of a group's item.
    pub fn group_subject(group: &str) -> String {
        format!("{GROUP_SUBJECT_PREFIX}{group}")
    }

    /// The group id when this item is a group's.
    pub fn group(&self) -> Option<&str> {
        self.subject.strip_prefix(GROUP_SUBJECT_PREFIX)
    }
}
