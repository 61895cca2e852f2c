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

/// The ledger entry of one file, keyed by its declarant and the SHA-256 of its bytes: the same
/// bytes from two declarants are two files, and neither ever learns of the other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Processing status.
    pub status: FileStatus,
    /// The object key it first arrived under.
    pub key: String,
    /// The object version it first arrived as, when the store versions objects.
    #[serde(default)]
    pub version: Option<String>,
    /// The declarant (key prefix, canonical form).
    pub declarant: String,
    /// The token of the run that holds (or last held) the claim: only that run may finish or
    /// release it, so a run whose lease expired cannot clear its successor's claim.
    #[serde(default)]
    pub owner: String,
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
    /// Whether this entry, as stored, is a claim held under `owner`'s token: that run's own,
    /// even when a store's answer to its claim was lost and the claim is repeated.
    pub fn claimed_by(&self, owner: &str) -> bool {
        self.status == FileStatus::Processing && self.owner == owner
    }

    /// Whether this entry, as stored, is the end `written` by its run (the same token, status
    /// and end): what a store answers when that run's end, repeated after its answer was lost,
    /// is refused by the first write.
    pub fn is_end_of(&self, written: &LedgerEntry) -> bool {
        self.owner == written.owner
            && self.status == written.status
            && self.finished_at == written.finished_at
    }

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

/// A fresh, unguessable token for the owner of a claim (128 bits from the standard library's
/// randomly seeded hasher keys, mixed with the time and the process).
pub fn lease_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut halves = [0u64; 2];
    for half in &mut halves {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        hasher.write_u32(std::process::id());
        *half = hasher.finish();
    }
    format!("{:016x}{:016x}", halves[0], halves[1])
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

/// Where an alert is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// Waiting to be published (or to be retried).
    Pending,
    /// Published.
    Sent,
    /// Published by email; its SMS waits for the end of the quiet hours (`sms_release_at`).
    SmsHeld,
    /// Its held SMS claimed by a release pass until `sms_release_at` (a lease): another pass
    /// leaves it alone, and takes it over only once the lease has run out.
    SmsReleasing,
    /// Not published: a silence covers it (`muted`, why). Kept, never lost.
    Muted,
}

impl AlertStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Pending => "pending",
            AlertStatus::Sent => "sent",
            AlertStatus::SmsHeld => "sms_held",
            AlertStatus::SmsReleasing => "sms_releasing",
            AlertStatus::Muted => "muted",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [
            AlertStatus::Pending,
            AlertStatus::Sent,
            AlertStatus::SmsHeld,
            AlertStatus::SmsReleasing,
            AlertStatus::Muted,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
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
    /// What a silence must cover to mute it: one list per reference or group the message
    /// speaks of, each naming the subjects whose silence covers that part (the reference and
    /// its group). Empty: never muted (a digest).
    #[serde(default)]
    pub silence_scope: Vec<Vec<String>>,
    /// An escalation to RUPTURE: no silence mutes it.
    #[serde(default)]
    pub escalates_to_rupture: bool,
    /// A RUPTURE of an MITM reference: its SMS may go out in the quiet hours.
    #[serde(default)]
    pub urgent: bool,
    /// Why it was muted.
    #[serde(default)]
    pub muted: Option<String>,
    /// When its held SMS goes out.
    #[serde(default)]
    pub sms_release_at: Option<DateTime<Utc>>,
    /// Publications the scheduled pass tried and SNS refused.
    #[serde(default)]
    pub relay_failures: u32,
    /// When the scheduled pass tries it again after such a refusal (`None`: never refused,
    /// due [`RELAY_AFTER_MINUTES`] after its creation).
    #[serde(default)]
    pub retry_at: Option<DateTime<Utc>>,
}

/// How long a record stays pending before the scheduled pass relays it: on AWS the stream
/// relays a new record within seconds and retries a failure for a while; a record still
/// pending this long after its creation is one it gave up on (after its retries, or a day)
/// or never delivered.
pub const RELAY_AFTER_MINUTES: i64 = 30;

impl AlertRecord {
    /// A pending record of `notification` under `key`, with nothing muted or held.
    pub fn pending(
        key: String,
        cip13: String,
        notification: Notification,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            key,
            cip13,
            notification,
            status: AlertStatus::Pending,
            message_id: None,
            created_at: now,
            silence_scope: Vec::new(),
            escalates_to_rupture: false,
            urgent: false,
            muted: None,
            sms_release_at: None,
            relay_failures: 0,
            retry_at: None,
        }
    }

    /// When the scheduled pass relays it if it is still pending: [`RELAY_AFTER_MINUTES`] after
    /// its creation, then at `retry_at` once the pass has failed to publish it. The pass
    /// takes the records due first: one refused every time moves behind the others.
    pub fn relay_due_at(&self) -> DateTime<Utc> {
        self.retry_at
            .unwrap_or(self.created_at + chrono::Duration::minutes(RELAY_AFTER_MINUTES))
    }
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
    /// Whether the body goes to email subscribers (false: the SMS alone, released after the
    /// quiet hours).
    #[serde(default = "yes")]
    pub email: bool,
    /// Message attributes for subscription filters.
    pub attributes: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

impl Notification {
    /// The same message by email only (its SMS held).
    pub fn email_only(&self) -> Self {
        Self {
            sms: None,
            email: true,
            ..self.clone()
        }
    }

    /// The SMS alone, without the email already sent.
    pub fn sms_only(&self) -> Option<Self> {
        self.sms.as_ref().map(|_| Self {
            email: false,
            ..self.clone()
        })
    }
}

/// Largest email body of a notification, in bytes. SNS takes 256 KB per message, all
/// protocols together: with an SMS the body is sent twice (default and email) inside a JSON
/// document whose escaping can double it, so 60 KiB keeps any message under the limit by
/// construction.
pub const MAX_BODY_BYTES: usize = 60 * 1024;

/// What SNS accepts for one message, all protocols together, with room for the envelope.
const SNS_MAX_BYTES: usize = 250 * 1024;

impl Notification {
    /// The notification with its body cut at a line end to at most [`MAX_BODY_BYTES`], saying
    /// how many lines were left out and where the full detail is.
    pub fn bounded(mut self) -> Self {
        if self.body.len() <= MAX_BODY_BYTES && self.sns_size() <= SNS_MAX_BYTES {
            return self;
        }
        const ROOM: usize = 200;
        let mut cut = MAX_BODY_BYTES - ROOM;
        while !self.body.is_char_boundary(cut) {
            cut -= 1;
        }
        let cut = self.body[..cut].rfind('\n').map_or(cut, |i| i + 1);
        let left_out = self.body[cut..].lines().count();
        self.body.truncate(cut);
        self.body.push_str(&format!(
            "[… message tronqué : {left_out} ligne(s) de plus ; le détail complet est dans la \
             synthèse hebdomadaire et dans « medistock status »]\n"
        ));
        self.sms = self.sms.map(|s| s.chars().take(160).collect());
        // Control characters are escaped six bytes each in the JSON document: cut further
        // until the whole message fits SNS.
        while self.sns_size() > SNS_MAX_BYTES && !self.body.is_empty() {
            let mut cut = self.body.len() / 2;
            while !self.body.is_char_boundary(cut) {
                cut -= 1;
            }
            self.body.truncate(cut);
            self.body.push_str("\n[… message tronqué]\n");
        }
        self
    }

    /// The size SNS counts for this message: the body, or with an SMS the JSON document that
    /// carries the body twice and the SMS; plus the subject and the attributes.
    pub fn sns_size(&self) -> usize {
        let message = match &self.sms {
            Some(sms) => {
                serde_json::json!({ "default": self.body, "email": self.body, "sms": sms })
                    .to_string()
                    .len()
            }
            None => self.body.len(),
        };
        message
            + self.subject.len()
            + self
                .attributes
                .iter()
                .map(|(k, v)| k.len() + v.len() + "String".len())
                .sum::<usize>()
    }
}

/// Prefix of the subject of a group's [`RiskItem`]: `GROUPE#<group id>`.
pub const GROUP_SUBJECT_PREFIX: &str = "GROUPE#";

/// The stored risk of a reference (`REF#<cip13>` / `RISK`) or of a group of substitutable
/// presentations (`GROUPE#<id>` / `RISK`): the level held, for transitions and hysteresis, and
/// the figures of the last computation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskItem {
    /// A reference's CIP13, or `GROUPE#<id>` for a group (see [`RiskItem::group`]).
    #[serde(alias = "cip13")]
    pub subject: String,
    /// Level held.
    pub level: crate::Level,
    /// Date of the computation.
    pub as_of: NaiveDate,
    /// When it was computed.
    pub computed_at: DateTime<Utc>,
    /// Optimistic-locking version: each write expects the version it read.
    pub version: u64,
    /// The figures, as JSON (the assessment).
    pub figures: String,
    /// The day the subject entered TENSION or worse, while it stays there (its episode).
    #[serde(default)]
    pub open_since: Option<NaiveDate>,
    /// The last day the subject was recalled in the daily digest (CRITIQUE or RUPTURE, not
    /// acknowledged).
    #[serde(default)]
    pub recalled_on: Option<NaiveDate>,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused end is this run's only when its write is there: the same token, status and
    /// end; not another run's end, nor another end under the same token.
    #[test]
    fn an_end_is_ours_only_when_our_write_is_there() {
        let at: DateTime<Utc> = "2026-11-23T09:00:00Z".parse().unwrap();
        let ours = LedgerEntry {
            sha256: "f1".into(),
            status: FileStatus::Applied,
            key: "inbox/gr-a/f.csv".into(),
            version: None,
            declarant: "gr-a".into(),
            owner: "owner".into(),
            lines: [3, 3, 0],
            received_at: at,
            lease_until: at,
            finished_at: Some(at),
        };
        assert!(ours.is_end_of(&ours));
        let taken_over = LedgerEntry {
            owner: "successor".into(),
            status: FileStatus::Processing,
            finished_at: None,
            ..ours.clone()
        };
        assert!(!taken_over.is_end_of(&ours));
        assert!(taken_over.claimed_by("successor") && !taken_over.claimed_by("owner"));
        assert!(!ours.claimed_by("owner"), "an end is no claim");
        let finished_by_successor = LedgerEntry {
            owner: "successor".into(),
            ..ours.clone()
        };
        assert!(!finished_by_successor.is_end_of(&ours));
        // The same token, another end: not this write.
        let rejected = LedgerEntry {
            status: FileStatus::Rejected,
            ..ours.clone()
        };
        assert!(!rejected.is_end_of(&ours));
        let later = LedgerEntry {
            finished_at: Some(at + chrono::Duration::seconds(1)),
            ..ours.clone()
        };
        assert!(!later.is_end_of(&ours));
    }
}
