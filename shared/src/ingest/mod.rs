//! The ingest core: one dropped file in, exactly-once effects out. Used by the `ingest` Lambda
//! (S3 + DynamoDB) and by `medistock ingest` (local backend) alike.
//!
//! Order of effects, each idempotent, so that a crash at any step followed by a retry ends in
//! the state of one clean run:
//! 1. claim the file in the ledger by the SHA-256 of its bytes (same bytes already processed:
//!    a "déjà reçu" receipt, nothing applied; claimed by a live run: retry later);
//! 2. archive the raw bytes under `raw/` before anything else;
//! 3. validate with the declarant taken from the key, never from the content;
//! 4. rejected: copy to `quarantine/`; accepted: write the normalized lines as Parquet under
//!    `normalized/`, then apply one conditional write per reference (newest wins; the same
//!    file rewriting its own position counts as applied);
//! 5. write the receipt (text + CSV of rejected lines) under `receipts/<declarant>/`;
//! 6. mark the ledger entry applied or rejected.

mod keys;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

pub use keys::{InboxKey, KeyError, decode_event_key};

use crate::declaration::receipt::{
    ApplySummary, duplicate_receipt_text, errors_csv, receipt_text_applied,
};
use crate::declaration::{
    Limits, ValidationContext, ValidationReport, oversized, sha256_hex, validate,
};
use crate::domain::paris_date;
use crate::positions::{Position, aggregate, latest_positions, normalized_parquet, snapshots};
use crate::store::{
    Claim, FileStatus, LedgerEntry, ObjectStore, PositionWrite, StateStore, StoreError,
};

/// Where things go and the bounds applied.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// The lake bucket (archive, quarantine, normalized history).
    pub lake_bucket: String,
    /// Validation bounds.
    pub limits: Limits,
    /// How long a claim protects a file being processed (a crashed run's claim expires then).
    pub lease: Duration,
}

/// Failures that should make the caller retry (infrastructure), as opposed to bad input,
/// which always ends in a receipt.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A storage backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The validator itself failed.
    #[error(transparent)]
    Validation(#[from] crate::declaration::ValidationError),
    /// A polars computation on accepted lines failed.
    #[error("calcul sur les lignes acceptées : {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    /// Another run holds the file: retry after its lease.
    #[error("fichier {sha256} en cours de traitement par une autre exécution jusqu'à {until}")]
    InProgress {
        /// The file's hash.
        sha256: String,
        /// End of the other run's lease.
        until: DateTime<Utc>,
    },
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestOutcome {
    /// Validated; valid lines applied.
    Applied {
        /// The verdict.
        report: ValidationReport,
        /// What applying did.
        summary: ApplySummary,
    },
    /// Rejected as a whole: quarantined, receipt written.
    Rejected {
        /// The verdict.
        report: ValidationReport,
    },
    /// The same bytes were already processed.
    Duplicate {
        /// The file's hash.
        sha256: String,
        /// The first reception.
        first: LedgerEntry,
    },
    /// Not a declaration (outside `inbox/<declarant>/`, or gone): logged, never applied.
    Ignored {
        /// Why.
        reason: String,
    },
}

/// Processes one object of the inbox bucket. `key` is already URL-decoded.
pub async fn ingest_object<O: ObjectStore, S: StateStore>(
    objects: &O,
    state: &S,
    settings: &IngestSettings,
    bucket: &str,
    key: &str,
    now: DateTime<Utc>,
) -> Result<IngestOutcome, IngestError> {
    let inbox = match InboxKey::parse(key) {
        Ok(inbox) => inbox,
        Err(e) => {
            return Ok(IngestOutcome::Ignored {
                reason: e.to_string(),
            });
        }
    };
    let Some(size) = objects.size(bucket, key).await? else {
        return Ok(IngestOutcome::Ignored {
            reason: format!("objet absent : {key}"),
        });
    };
    // Above the bound, the object is never loaded: it is archived by copy, its hash is not
    // needed for the verdict, and the receipt says why.
    if size > settings.limits.max_file_bytes {
        return reject_oversized(objects, settings, bucket, &inbox, size, now).await;
    }
    let Some(object) = objects.get(bucket, key).await? else {
        return Ok(IngestOutcome::Ignored {
            reason: format!("objet absent : {key}"),
        });
    };
    let sha256 = sha256_hex(&object.bytes);
    let claim = LedgerEntry {
        sha256: sha256.clone(),
        status: FileStatus::Processing,
        key: key.to_owned(),
        declarant: inbox.declarant.to_string(),
        lines: [0; 3],
        received_at: now,
        lease_until: now + settings.lease,
        finished_at: None,
    };
    match state.claim_file(&claim).await? {
        Claim::Acquired => {}
        Claim::Done(first) => {
            let text = duplicate_receipt_text(&inbox.name, &sha256, now, &first);
            put_text(objects, bucket, &inbox.receipt_key("accuse.txt"), text).await?;
            return Ok(IngestOutcome::Duplicate { sha256, first });
        }
        Claim::InProgress(held) => {
            return Err(IngestError::InProgress {
                sha256,
                until: held.lease_until,
            });
        }
    }
    let result = process(
        objects,
        state,
        settings,
        bucket,
        &inbox,
        object.bytes,
        &sha256,
        claim,
        now,
    )
    .await;
    if result.is_err() {
        // Best effort: a retry can claim at once instead of waiting for the lease.
        let _ = state.release_file(&sha256).await;
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn process<O: ObjectStore, S: StateStore>(
    objects: &O,
    state: &S,
    settings: &IngestSettings,
    bucket: &str,
    inbox: &InboxKey,
    bytes: Vec<u8>,
    sha256: &str,
    mut entry: LedgerEntry,
    now: DateTime<Utc>,
) -> Result<IngestOutcome, IngestError> {
    let ext = inbox.extension();
    let metadata = BTreeMap::from([
        ("declarant".to_owned(), inbox.declarant.to_string()),
        ("sha256".to_owned(), sha256.to_owned()),
        ("original-name".to_owned(), ascii_metadata(&inbox.name)),
    ]);
    let raw_key = format!(
        "raw/{}/{}/{sha256}.{ext}",
        inbox.declarant,
        now.format("%Y/%m/%d")
    );
    objects
        .put(
            &settings.lake_bucket,
            &raw_key,
            // The one copy of the file: the archive write and the validation each own theirs.
            bytes.clone(),
            "application/octet-stream",
            &metadata,
        )
        .await?;

    let checked =
        checked_off_the_runtime(bytes, inbox, settings.limits.clone(), sha256, now).await?;
    let report = checked.report;
    let summary = match checked.accepted {
        None => {
            let quarantine = format!("quarantine/{}/{sha256}.{ext}", inbox.declarant);
            objects
                .copy(
                    &settings.lake_bucket,
                    &raw_key,
                    &settings.lake_bucket,
                    &quarantine,
                )
                .await?;
            write_receipt(objects, bucket, inbox, &report, now, None).await?;
            None
        }
        Some(accepted) => {
            let history_key = format!(
                "normalized/as_of={}/declarant={}/{sha256}.parquet",
                accepted.latest_date, inbox.declarant
            );
            objects
                .put(
                    &settings.lake_bucket,
                    &history_key,
                    accepted.parquet,
                    "application/vnd.apache.parquet",
                    &metadata,
                )
                .await?;
            let writes = state.apply_positions(&accepted.positions).await?;
            let mut summary = ApplySummary::default();
            for (position, write) in accepted.positions.iter().zip(&writes) {
                match write {
                    PositionWrite::Applied => summary.applied += 1,
                    PositionWrite::NotNewer { held_as_of } => {
                        summary
                            .not_newer
                            .push((position.cip13.to_string(), *held_as_of));
                    }
                }
            }
            write_receipt(objects, bucket, inbox, &report, now, Some(&summary)).await?;
            Some(summary)
        }
    };
    entry.status = if summary.is_some() {
        FileStatus::Applied
    } else {
        FileStatus::Rejected
    };
    entry.lines = [
        report.lines.total as u64,
        report.lines.accepted as u64,
        report.lines.rejected as u64,
    ];
    entry.finished_at = Some(now);
    state.finish_file(&entry).await?;
    Ok(match summary {
        Some(summary) => IngestOutcome::Applied { report, summary },
        None => IngestOutcome::Rejected { report },
    })
}

/// The verdict on a file and, when accepted, what it contributes.
struct Checked {
    report: ValidationReport,
    accepted: Option<Accepted>,
}

struct Accepted {
    positions: Vec<Position>,
    parquet: Vec<u8>,
    latest_date: NaiveDate,
}

/// Validation, aggregation and Parquet encoding are CPU work (and polars blocks its thread):
/// they run on tokio's blocking pool, never on an async worker.
async fn checked_off_the_runtime(
    bytes: Vec<u8>,
    inbox: &InboxKey,
    limits: Limits,
    sha256: &str,
    now: DateTime<Utc>,
) -> Result<Checked, IngestError> {
    let inbox = inbox.clone();
    let sha256 = sha256.to_owned();
    tokio::task::spawn_blocking(move || {
        let ctx = ValidationContext {
            declarant: Some(&inbox.declarant),
            today: paris_date(now),
            limits: &limits,
            catalogue: None,
        };
        let validation = validate(&bytes, &inbox.name, &ctx)?;
        let accepted = match validation.lines {
            None => None,
            Some(lines) => {
                let snaps = snapshots(&aggregate(&lines)?)?;
                Some(Accepted {
                    latest_date: snaps
                        .iter()
                        .map(|s| s.date_stock)
                        .max()
                        .unwrap_or_else(|| paris_date(now)),
                    parquet: normalized_parquet(&lines, inbox.declarant.as_str(), &sha256)?,
                    positions: latest_positions(&snaps, &inbox.declarant, &sha256),
                })
            }
        };
        Ok(Checked {
            report: validation.report,
            accepted,
        })
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

async fn reject_oversized<O: ObjectStore>(
    objects: &O,
    settings: &IngestSettings,
    bucket: &str,
    inbox: &InboxKey,
    size: u64,
    now: DateTime<Utc>,
) -> Result<IngestOutcome, IngestError> {
    let mut report = ValidationReport::new(
        &inbox.name,
        String::new(),
        Some(inbox.declarant.to_string()),
    );
    report.reject(oversized(size, &settings.limits));
    let stamp = now.format("%Y%m%dT%H%M%S");
    let quarantine = format!(
        "quarantine/{}/trop-volumineux-{stamp}.{}",
        inbox.declarant,
        inbox.extension()
    );
    objects
        .copy(bucket, &inbox.key, &settings.lake_bucket, &quarantine)
        .await?;
    write_receipt(objects, bucket, inbox, &report, now, None).await?;
    Ok(IngestOutcome::Rejected { report })
}

async fn write_receipt<O: ObjectStore>(
    objects: &O,
    bucket: &str,
    inbox: &InboxKey,
    report: &ValidationReport,
    now: DateTime<Utc>,
    summary: Option<&ApplySummary>,
) -> Result<(), StoreError> {
    put_text(
        objects,
        bucket,
        &inbox.receipt_key("accuse.txt"),
        receipt_text_applied(report, now, summary),
    )
    .await?;
    if !report.errors.is_empty() {
        let csv = errors_csv(report);
        objects
            .put(
                bucket,
                &inbox.receipt_key("erreurs.csv"),
                csv.into_bytes(),
                "text/csv; charset=utf-8",
                &BTreeMap::new(),
            )
            .await?;
    }
    Ok(())
}

async fn put_text<O: ObjectStore>(
    objects: &O,
    bucket: &str,
    key: &str,
    text: String,
) -> Result<(), StoreError> {
    objects
        .put(
            bucket,
            key,
            text.into_bytes(),
            "text/plain; charset=utf-8",
            &BTreeMap::new(),
        )
        .await
}

/// S3 metadata values are sent as HTTP headers: ASCII only.
fn ascii_metadata(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
