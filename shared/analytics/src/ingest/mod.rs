//! The ingest core: one dropped file in, exactly-once effects out. Used by the `ingest` Lambda
//! (S3 + DynamoDB) and by `medistock ingest` (local backend) alike.
//!
//! Order of effects, each idempotent, so that a crash at any step followed by a retry ends in
//! the state of one clean run:
//! 1. claim the file in the ledger by its declarant and the SHA-256 of its bytes, under a token
//!    only this run holds (same bytes already processed for this declarant: a "déjà reçu"
//!    receipt, nothing applied; claimed by a live run: retry later);
//! 2. archive the raw bytes under `raw/` before any other effect (a copy of the version
//!    dropped, made while the file is validated);
//! 3. validate with the declarant taken from the key, never from the content;
//! 4. rejected: copy to `quarantine/`; accepted: write the normalized lines as Parquet under
//!    `normalized/` and their daily totals per reference under `daily/` while merging one
//!    position per reference, site by site (newer figures and corrections of the same date
//!    win, older ones never; the same file again is a no-op);
//! 5. write the receipt (text + CSV of rejected lines) under `receipts/<declarant>/`;
//! 6. mark the ledger entry applied or rejected.

mod keys;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::FutureExt;
use polars::prelude::{DataFrame, PolarsResult};

pub use keys::{InboxKey, KeyError, MAX_DERIVED_NAME_BYTES, bounded_name, is_temporary_upload};

use crate::catalogue::Catalogue;
use crate::declaration::receipt::{
    ApplySummary, duplicate_receipt_text, errors_csv, receipt_text_applied,
};
use crate::declaration::{Limits, ValidationContext, ValidationReport, oversized, validate_owned};
use crate::positions::daily::{daily_parquet, daily_rows};
use crate::positions::{PositionBatches, latest_date, normalized_parquet};
use medistock_domain::paris_date;
use medistock_domain::position::{Position, PositionWrite};
use medistock_domain::store::{
    Claim, FileLedger, FileStatus, LedgerEntry, ObjectStore, PositionStore, StoreError, lease_token,
};
use medistock_domain::{DeclarantId, lake, sha256_hex};

/// Where things go and the bounds applied.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// The lake bucket (archive, quarantine, normalized history).
    pub lake_bucket: String,
    /// Validation bounds.
    pub limits: Limits,
    /// How long a claim protects a file being processed (a crashed run's claim expires then).
    pub lease: Duration,
    /// The reference catalogue: with its presentations (a BDPM import), a line about a CIP13
    /// it does not know gets the `hors_catalogue` warning.
    pub catalogue: Option<Arc<Catalogue>>,
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

/// Processes the current version of one object of the inbox bucket. `key` is already
/// URL-decoded.
pub async fn ingest_object<O: ObjectStore, S: FileLedger + PositionStore>(
    objects: &O,
    state: &S,
    settings: &IngestSettings,
    bucket: &str,
    key: &str,
    now: DateTime<Utc>,
) -> Result<IngestOutcome, IngestError> {
    ingest_version(objects, state, settings, bucket, key, None, now).await
}

/// Processes one version of one object of the inbox bucket: the version the S3 event names
/// (or that the local drop wrote), so that a file overwritten before it is read is still
/// ingested, archived and answered as it was dropped. `key` is already URL-decoded.
pub async fn ingest_version<O: ObjectStore, S: FileLedger + PositionStore>(
    objects: &O,
    state: &S,
    settings: &IngestSettings,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    now: DateTime<Utc>,
) -> Result<IngestOutcome, IngestError> {
    let dropped = Dropped {
        key,
        version,
        at: None,
    };
    ingest_dropped(objects, state, settings, bucket, &dropped, now).await
}

/// What an S3 event says of a drop.
#[derive(Debug, Clone, Copy)]
pub struct Dropped<'e> {
    /// The object's key, URL-decoded.
    pub key: &'e str,
    /// The version written.
    pub version: Option<&'e str>,
    /// When the store finished writing it (the event's time, to the millisecond), if known.
    pub at: Option<DateTime<Utc>>,
}

/// When a file was dropped: the object's time as the store gives it (`Last-Modified`, to the
/// second on S3), then, within that second, the event's time (when the store finished the
/// write, to the millisecond), capped at the second's last millisecond. Of two files with
/// figures of one date for a site, the later drop is the correction: two drops whose
/// `Last-Modified` name one second would otherwise be ordered by their hashes. Drops are thus
/// ordered by their second first (for a multipart upload, S3's `Last-Modified` is when the
/// upload began), then by when they ended. An event time before the object's (a store with
/// exact times, the local one) changes nothing.
pub fn drop_time(modified: DateTime<Utc>, event: Option<DateTime<Utc>>) -> DateTime<Utc> {
    match event {
        Some(at) if at > modified => {
            // The last millisecond of the object's second, whether or not the store gives
            // fractions of it.
            let second_end = chrono::SubsecRound::trunc_subsecs(modified, 0)
                + chrono::Duration::milliseconds(999);
            at.min(second_end).max(modified)
        }
        _ => modified,
    }
}

/// [`ingest_version`], with the event's time (see [`drop_time`]).
pub async fn ingest_dropped<O: ObjectStore, S: FileLedger + PositionStore>(
    objects: &O,
    state: &S,
    settings: &IngestSettings,
    bucket: &str,
    dropped: &Dropped<'_>,
    now: DateTime<Utc>,
) -> Result<IngestOutcome, IngestError> {
    let Dropped { key, version, at } = *dropped;
    let inbox = match InboxKey::parse(key) {
        Ok(inbox) => inbox.with_version(version),
        Err(e) => {
            return Ok(IngestOutcome::Ignored {
                reason: e.to_string(),
            });
        }
    };
    if keys::is_temporary_upload(&inbox.name) {
        return Ok(IngestOutcome::Ignored {
            reason: format!("nom de transfert temporaire, ignoré : {key}"),
        });
    }
    let Some(head) = objects.head(bucket, key, version).await? else {
        return Ok(IngestOutcome::Ignored {
            reason: format!("objet absent : {key}"),
        });
    };
    // Above the bound, the object is never loaded: it is archived by copy, its hash is not
    // needed for the verdict, and the receipt says why.
    if head.size > settings.limits.max_file_bytes {
        return reject_oversized(objects, settings, bucket, &inbox, head.size, now).await;
    }
    let Some(object) = objects.get_version(bucket, key, version).await? else {
        return Ok(IngestOutcome::Ignored {
            reason: format!("objet absent : {key}"),
        });
    };
    let sha256 = sha256_hex(&object.bytes);
    let claim = LedgerEntry {
        sha256: sha256.clone(),
        status: FileStatus::Processing,
        key: key.to_owned(),
        version: version.map(str::to_owned),
        declarant: inbox.declarant.to_string(),
        owner: lease_token(),
        lines: [0; 3],
        received_at: now,
        lease_until: now + settings.lease,
        finished_at: None,
    };
    let owner = claim.owner.clone();
    // From the claim on, one place gives it up when the run fails: an error (a claim whose
    // answer failed may have been written), or a panic, caught only for that and passed on.
    // The runtime turns either into a failed invocation, whose retry would otherwise find the
    // file claimed for the rest of the lease (longer than the retries last) and leave it
    // unanswered. The release is conditional on this run's token: nothing where another run
    // holds the file.
    let result = AssertUnwindSafe(async {
        match state.claim_file(&claim).await? {
            Claim::Acquired => {}
            Claim::Done(first) => {
                // The same event delivered again: its receipt is already there. A new drop
                // of the same bytes (another name or version) gets a receipt of its own that
                // says so.
                let redelivery = first.key == claim.key && first.version == claim.version;
                if !redelivery {
                    let text = duplicate_receipt_text(&inbox.name, &sha256, now, &first);
                    put_text(objects, bucket, &inbox.receipt_key("accuse.txt"), text).await?;
                }
                return Ok(IngestOutcome::Duplicate {
                    sha256: sha256.clone(),
                    first,
                });
            }
            Claim::InProgress(held) => {
                return Err(IngestError::InProgress {
                    sha256: sha256.clone(),
                    until: held.lease_until,
                });
            }
        }
        process(
            objects,
            state,
            settings,
            bucket,
            &inbox,
            object.bytes,
            drop_time(head.last_modified, at),
            claim,
            now,
        )
        .await
    })
    .catch_unwind()
    .await;
    if !matches!(result, Ok(Ok(_))) {
        // Best effort: a retry can claim at once instead of waiting for the lease.
        let _ = state
            .release_file(inbox.declarant.as_str(), &sha256, &owner)
            .await;
    }
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[allow(clippy::too_many_arguments)]
async fn process<O: ObjectStore, S: FileLedger + PositionStore>(
    objects: &O,
    state: &S,
    settings: &IngestSettings,
    bucket: &str,
    inbox: &InboxKey,
    bytes: Vec<u8>,
    uploaded_at: DateTime<Utc>,
    mut entry: LedgerEntry,
    now: DateTime<Utc>,
) -> Result<IngestOutcome, IngestError> {
    let sha256 = entry.sha256.clone();
    let ext = inbox.extension();
    let metadata = BTreeMap::from([
        ("declarant".to_owned(), inbox.declarant.to_string()),
        ("sha256".to_owned(), sha256.clone()),
        ("original-name".to_owned(), ascii_metadata(&inbox.name)),
    ]);
    let raw_key = lake::raw_key(inbox.declarant.as_str(), now, &sha256, ext);
    // The archive is written while the file is validated (which has no effect of its own),
    // and finished before any other effect.
    let source = ArchiveSource::of(inbox, &bytes);
    let archive = archive(
        objects, settings, bucket, inbox, &raw_key, &metadata, source,
    );
    let (archived, checked) = tokio::join!(
        archive,
        checked_off_the_runtime(
            bytes,
            inbox,
            settings.limits.clone(),
            settings.catalogue.clone(),
            &sha256,
            now,
        )
    );
    let ((), checked) = both(archived.map_err(IngestError::from), checked)?;
    let report = checked.report;
    let summary = match checked.accepted {
        None => {
            let quarantine = lake::quarantine_key(inbox.declarant.as_str(), &sha256, ext);
            objects
                .copy(
                    &settings.lake_bucket,
                    &raw_key,
                    None,
                    &settings.lake_bucket,
                    &quarantine,
                    None,
                )
                .await?;
            write_receipt(objects, bucket, inbox, &report, now, None).await?;
            None
        }
        Some(accepted) => {
            // The line-level history and the daily totals are encoded and written while the
            // positions are merged. A failure of either (a store down, or an encoding that fails
            // every time) leaves the file unrecorded: no receipt, the claim released, the
            // invocation retried, then dead-lettered; each effect being idempotent, the run that
            // succeeds ends as one clean run. Meanwhile a file's positions may be visible
            // without its daily totals, or the reverse.
            let history = write_history(
                objects,
                settings,
                inbox,
                accepted.lines.clone(),
                accepted.latest_date,
                &sha256,
                &metadata,
                uploaded_at,
            );
            let positions = apply_positions(
                state,
                accepted.lines,
                &inbox.declarant,
                &sha256,
                uploaded_at,
            );
            let (history, summary) = tokio::join!(history, positions);
            let ((), summary) = both(history, summary)?;
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
    if !state.finish_file(&entry).await? {
        // This run's lease ran out and another run took the file over: every effect above is
        // idempotent and that run records the end itself.
        tracing::warn!(
            declarant = %inbox.declarant,
            sha256 = %sha256,
            "bail expiré pendant le traitement : la fin est laissée à l'exécution qui a repris le fichier"
        );
    }
    Ok(match summary {
        Some(summary) => IngestOutcome::Applied { report, summary },
        None => IngestOutcome::Rejected { report },
    })
}

/// The results of two effects run together (each always runs to its end): both, or the first
/// error, the second one logged rather than lost.
fn both<A, B>(
    first: Result<A, IngestError>,
    second: Result<B, IngestError>,
) -> Result<(A, B), IngestError> {
    match (first, second) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Err(e), Err(other)) => {
            tracing::warn!(error = %other, "seconde erreur de la même étape : {e}");
            Err(e)
        }
    }
}

/// What the archive is made from.
enum ArchiveSource<'a> {
    /// The version of the inbox object that was read.
    Version(&'a str),
    /// The bytes read, when no version was named.
    Bytes(Vec<u8>),
}

impl<'a> ArchiveSource<'a> {
    /// The version read where it names one file for good, else a copy of the bytes read (the
    /// current object may already be another file: the bytes hashed are the bytes archived).
    /// `"null"` is the version of an object written while the bucket's versioning was off or
    /// suspended: the next write under its key replaces it in place.
    fn of(inbox: &'a InboxKey, bytes: &[u8]) -> Self {
        match inbox.version.as_deref() {
            Some(version) if version != "null" => Self::Version(version),
            _ => Self::Bytes(bytes.to_vec()),
        }
    }
}

/// Archives the file under `raw_key`: a copy of the inbox version in the store (server-side on
/// S3: the bytes neither copied here nor sent again), or the bytes read.
async fn archive<O: ObjectStore>(
    objects: &O,
    settings: &IngestSettings,
    bucket: &str,
    inbox: &InboxKey,
    raw_key: &str,
    metadata: &BTreeMap<String, String>,
    source: ArchiveSource<'_>,
) -> Result<(), StoreError> {
    match source {
        ArchiveSource::Version(version) => {
            objects
                .copy(
                    bucket,
                    &inbox.key,
                    Some(version),
                    &settings.lake_bucket,
                    raw_key,
                    Some(metadata),
                )
                .await
        }
        ArchiveSource::Bytes(bytes) => objects
            .put(
                &settings.lake_bucket,
                raw_key,
                bytes,
                "application/octet-stream",
                metadata,
            )
            .await
            .map(|_| ()),
    }
}

/// References whose positions are built and written at a time: a national file's 20,000
/// positions of 180 sites each never exist at once, and the next batch is built while the
/// store writes the current one. 250 rather than 500: the history is encoded at the same time,
/// and with 500 the ingest of a national file peaked at 571–615 MB instead of 521–556 MB, for
/// no gain in time (docs/development.md).
const POSITION_BATCH: usize = 250;

/// Merges a file's positions into the store, a batch of references at a time; returns what
/// the writes did, for the receipt. Each position's write is atomic and idempotent, so a crash
/// between two batches is repaired by the retry like any other.
async fn apply_positions<S: PositionStore>(
    state: &S,
    lines: DataFrame,
    declarant: &DeclarantId,
    sha256: &str,
    uploaded_at: DateTime<Utc>,
) -> Result<ApplySummary, IngestError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<PolarsResult<Vec<Position>>>(1);
    let (declarant_owned, sha256_owned) = (declarant.clone(), sha256.to_owned());
    let producer = tokio::task::spawn_blocking(move || {
        let mut batches =
            match PositionBatches::new(&lines, &declarant_owned, &sha256_owned, uploaded_at) {
                Ok(batches) => batches,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
        loop {
            let batch = match batches.next_batch(POSITION_BATCH) {
                Ok(Some(batch)) => Ok(batch),
                Ok(None) => return,
                Err(e) => Err(e),
            };
            let failed = batch.is_err();
            // The receiver gone (a failed write): nothing more to build.
            if tx.blocking_send(batch).is_err() || failed {
                return;
            }
        }
    });
    let mut summary = ApplySummary::default();
    let result = async {
        while let Some(batch) = rx.recv().await {
            let batch = batch?;
            let writes = state.apply_positions(&batch).await?;
            summarise(&mut summary, &batch, &writes);
        }
        Ok::<_, IngestError>(())
    }
    .await;
    drop(rx);
    producer
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    result.map(|()| summary)
}

/// Adds what the position writes of a batch did to the receipt's summary.
fn summarise(summary: &mut ApplySummary, positions: &[Position], writes: &[PositionWrite]) {
    for (position, write) in positions.iter().zip(writes) {
        let cip13 = position.cip13.to_string();
        if write.changed() {
            summary.applied += 1;
        }
        let labelled = |site: &str| {
            if site.is_empty() {
                cip13.clone()
            } else {
                format!("{cip13} (site « {site} »)")
            }
        };
        for (site, held) in &write.stale {
            summary.not_newer.push_with(|| (labelled(site), *held));
        }
        for site in &write.corrected {
            summary
                .corrected
                .push_with(|| (cip13.clone(), site.clone()));
        }
        for site in &write.over_limit {
            summary
                .over_limit
                .push_with(|| (cip13.clone(), site.clone()));
        }
    }
}

/// The verdict on a file and, when accepted, what it contributes.
struct Checked {
    report: ValidationReport,
    accepted: Option<Accepted>,
}

struct Accepted {
    /// The normalized lines, whose positions are merged a batch at a time.
    lines: DataFrame,
    latest_date: NaiveDate,
}

/// Writes the normalized lines as Parquet (line-level history, for Athena and audits) and
/// their daily totals (what the risk run reads); the encoding runs on tokio's blocking pool.
#[allow(clippy::too_many_arguments)]
async fn write_history<O: ObjectStore>(
    objects: &O,
    settings: &IngestSettings,
    inbox: &InboxKey,
    lines: DataFrame,
    latest_date: NaiveDate,
    sha256: &str,
    metadata: &BTreeMap<String, String>,
    uploaded_at: DateTime<Utc>,
) -> Result<(), IngestError> {
    let (declarant, sha) = (inbox.declarant.clone(), sha256.to_owned());
    let (parquet, daily) = tokio::task::spawn_blocking(move || {
        let parquet = normalized_parquet(&lines, declarant.as_str(), &sha)?;
        let daily = daily_parquet(&daily_rows(&lines)?, declarant.as_str(), &sha, uploaded_at)?;
        Ok::<_, IngestError>((parquet, daily))
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    let declarant = inbox.declarant.as_str();
    // The line-level Parquet first, the daily totals only once it is written: the risk run
    // reads a file's lines when several files describe one day (it does not consult the
    // ledger), and takes totals without lines for a whole-stock file.
    objects
        .put(
            &settings.lake_bucket,
            &lake::normalized_key(latest_date, declarant, sha256),
            parquet,
            "application/vnd.apache.parquet",
            metadata,
        )
        .await?;
    objects
        .put(
            &settings.lake_bucket,
            &lake::daily_key(latest_date, declarant, sha256),
            daily,
            "application/vnd.apache.parquet",
            metadata,
        )
        .await?;
    Ok(())
}

/// Validation is CPU work (and polars blocks its thread): it runs on tokio's blocking pool,
/// never on an async worker.
async fn checked_off_the_runtime(
    bytes: Vec<u8>,
    inbox: &InboxKey,
    limits: Limits,
    catalogue: Option<Arc<Catalogue>>,
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
            catalogue: catalogue.as_deref(),
        };
        // The bytes are released once the lines are typed, before the checks across the file.
        let validation = validate_owned(bytes, sha256, &inbox.name, &ctx)?;
        let accepted = validation.lines.map(|lines| Accepted {
            latest_date: latest_date(&lines).unwrap_or_else(|| paris_date(now)),
            lines,
        });
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
    let quarantine = lake::oversize_quarantine_key(
        inbox.declarant.as_str(),
        now,
        &inbox.key,
        inbox.version.as_deref(),
        inbox.extension(),
    );
    objects
        .copy(
            bucket,
            &inbox.key,
            inbox.version.as_deref(),
            &settings.lake_bucket,
            &quarantine,
            None,
        )
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
        .await?;
    Ok(())
}

/// S3 metadata values are sent as HTTP headers: ASCII only, and all of an object's user
/// metadata must fit in 2 KB.
fn ascii_metadata(text: &str) -> String {
    bounded_name(text)
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::drop_time;
    use chrono::{DateTime, Utc};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn drops_of_one_second_are_ordered_by_when_they_ended() {
        let second = at("2026-11-23T09:29:58Z");
        // S3: the object's time to the second, the event's to the millisecond.
        assert_eq!(
            drop_time(second, Some(at("2026-11-23T09:29:58.870Z"))),
            at("2026-11-23T09:29:58.870Z")
        );
        // A multipart upload: the object's time is when it began, the event's when it ended,
        // seconds later: ordered by its second, after the drops that ended within it.
        assert_eq!(
            drop_time(second, Some(at("2026-11-23T09:31:02.004Z"))),
            at("2026-11-23T09:29:58.999Z")
        );
        // One that ended just past the second, against one that ended within it.
        assert!(
            drop_time(second, Some(at("2026-11-23T09:29:59.050Z")))
                > drop_time(second, Some(at("2026-11-23T09:29:58.300Z")))
        );
        // A store with exact times (the local one), or no event: the object's time stands.
        let exact = at("2026-11-23T09:29:58.500Z");
        assert_eq!(
            drop_time(exact, Some(at("2026-11-23T09:29:58.100Z"))),
            exact
        );
        assert_eq!(drop_time(exact, None), exact);
        // A store with fractions whose event comes later: never past the object's second.
        assert_eq!(
            drop_time(exact, Some(at("2026-11-23T09:30:05.000Z"))),
            at("2026-11-23T09:29:58.999Z")
        );
        assert_eq!(
            drop_time(exact, Some(at("2026-11-23T09:29:58.700Z"))),
            at("2026-11-23T09:29:58.700Z")
        );
    }
}
