//! The `ingest` Lambda: S3 `ObjectCreated` events on `inbox/` → the ingest core.
//!
//! Bad input (a file that fails validation, a key outside a declarant folder) is answered
//! with a receipt or a log line, and the invocation succeeds: retrying would not help.
//! Infrastructure errors fail the invocation so that Lambda retries it, then sends it to the
//! on-failure destination, a queue that delivers it back later ([`redriven`]); every effect of
//! the core is idempotent, so a retry of a whole event whose records partly succeeded is safe.

mod catalogue_cache;
mod event_key;
mod redriven;

use std::sync::Arc;
use std::time::Instant;

pub use catalogue_cache::{CATALOGUE_TTL, CatalogueCache};
pub use event_key::{EventKeyError, decode_event_key};
use lambda_runtime::Diagnostic;
use medistock_analytics::catalogue::Catalogue;
use medistock_domain::env::{ConfigError, Retry};
pub use redriven::{EventError, Invocation, invocation};

use aws_lambda_events::event::s3::S3Event;
use chrono::{DateTime, Duration, Utc};
use medistock_analytics::declaration::Limits;
use medistock_analytics::ingest::{
    Dropped, IngestError, IngestOutcome, IngestSettings, ingest_dropped,
};
use medistock_domain::store::{FileLedger, ObjectStore, PositionStore};
use serde::Serialize;

/// The environment variables the function reads (the SAM template must set exactly these,
/// plus `POLARS_MAX_THREADS`, which polars reads).
pub const ENV_VARS: [&str; 3] = ["LAKE_BUCKET", "TABLE_NAME", "MAX_FILE_MB"];

/// Configuration read once from the environment at start-up.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `LAKE_BUCKET`: archive, quarantine and history.
    pub lake_bucket: String,
    /// `TABLE_NAME`: the state table.
    pub table_name: String,
    /// `MAX_FILE_MB` (default 200): larger files are rejected unread.
    pub max_file_mb: u64,
}

impl Config {
    /// Reads the configuration through `var` (the process environment in `main`).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            var(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let max_file_mb = match var("MAX_FILE_MB") {
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                name: "MAX_FILE_MB",
                reason: format!("« {v} » n'est pas un nombre de Mo"),
            })?,
            None => 200,
        };
        Ok(Self {
            lake_bucket: required("LAKE_BUCKET")?,
            table_name: required("TABLE_NAME")?,
            max_file_mb,
        })
    }

    /// Ingest settings for an invocation that must end by `deadline`: a claim outlives the
    /// invocation by a minute, so that a retry after a crash or a timeout can take it over.
    pub fn settings(
        &self,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
        catalogue: Option<Arc<Catalogue>>,
    ) -> IngestSettings {
        IngestSettings {
            lake_bucket: self.lake_bucket.clone(),
            limits: Limits {
                max_file_bytes: self.max_file_mb * 1_000_000,
                ..Limits::default()
            },
            lease: (deadline - now).max(Duration::zero()) + Duration::minutes(1),
            catalogue,
        }
    }
}

/// What an invocation did, returned as the function's result.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Records in the event.
    pub records: usize,
    /// Files applied (possibly with line errors).
    pub applied: usize,
    /// Files rejected as a whole.
    pub rejected: usize,
    /// Files already received.
    pub duplicates: usize,
    /// Records that were not declarations (other event types, keys outside the inbox).
    pub ignored: usize,
}

/// Handles one S3 event. Returns the first infrastructure error after trying every record.
pub async fn handle<O: ObjectStore, S: FileLedger + PositionStore>(
    objects: &O,
    state: &S,
    config: &Config,
    catalogue: &CatalogueCache,
    event: S3Event,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> Result<Summary, HandlerError> {
    let catalogue = catalogue
        .get(objects, &config.lake_bucket, CATALOGUE_TTL)
        .await;
    let settings = config.settings(now, deadline, catalogue);
    let mut summary = Summary {
        records: event.records.len(),
        ..Summary::default()
    };
    let mut first_error = None;
    for record in event.records {
        let event_name = record.event_name.unwrap_or_default();
        // The exact version the event is about: the inbox is versioned, and a file overwritten
        // before this runs must still be ingested as it was dropped.
        let version = record.s3.object.version_id.filter(|v| !v.is_empty());
        let (Some(bucket), Some(raw_key)) = (record.s3.bucket.name, record.s3.object.key) else {
            tracing::warn!(event_name, "enregistrement S3 sans seau ni clé : ignoré");
            summary.ignored += 1;
            continue;
        };
        if !event_name.starts_with("ObjectCreated") {
            tracing::info!(
                event_name,
                key = raw_key,
                "événement autre que ObjectCreated : ignoré"
            );
            summary.ignored += 1;
            continue;
        }
        let key = match decode_event_key(&raw_key) {
            Ok(key) => key,
            Err(e) => {
                tracing::warn!(key = raw_key, error = %e, "clé illisible : ignorée");
                summary.ignored += 1;
                continue;
            }
        };
        let started = Instant::now();
        // The event's time, to the millisecond: of two drops in one second, the later is
        // the correction (S3's Last-Modified has whole seconds).
        let dropped = Dropped {
            key: &key,
            version: version.as_deref(),
            at: Some(record.event_time),
        };
        match ingest_dropped(objects, state, &settings, &bucket, &dropped, now).await {
            Ok(outcome) => log_outcome(&mut summary, &key, &outcome, started),
            Err(e) => {
                tracing::error!(key, error = %e, duration_ms = started.elapsed().as_millis() as u64, "échec d'infrastructure : l'invocation sera rejouée");
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(summary),
    }
}

/// Why an invocation failed; every failure fails the invocation, so that Lambda retries it
/// and, after its retries, sends it to the on-failure destination.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A record could not be ingested.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The invocation's payload is neither an S3 event nor a message of the retry queue.
    #[error(transparent)]
    Event(#[from] EventError),
}

impl HandlerError {
    /// Whether a retry of the invocation can help.
    pub fn retry(&self) -> Retry {
        match self {
            HandlerError::Ingest(IngestError::Store(e)) => e.retry(),
            HandlerError::Ingest(IngestError::InProgress { .. }) => Retry::Helps,
            HandlerError::Ingest(_) | HandlerError::Event(_) => Retry::Useless,
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let kind = match &e {
            HandlerError::Ingest(IngestError::InProgress { .. }) => "InProgress",
            HandlerError::Ingest(IngestError::Store(_)) => "Storage",
            HandlerError::Ingest(_) => "Validation",
            HandlerError::Event(_) => "Event",
        };
        Diagnostic {
            error_type: e.retry().error_type(kind),
            error_message: e.to_string(),
        }
    }
}

fn log_outcome(summary: &mut Summary, key: &str, outcome: &IngestOutcome, started: Instant) {
    let duration_ms = started.elapsed().as_millis() as u64;
    match outcome {
        IngestOutcome::Applied {
            report,
            summary: applied,
        } => {
            summary.applied += 1;
            tracing::info!(
                file = key,
                declarant = report.declarant.as_deref().unwrap_or_default(),
                sha256 = report.sha256,
                status = ?report.status,
                lines_total = report.lines.total,
                lines_accepted = report.lines.accepted,
                lines_rejected = report.lines.rejected,
                positions_applied = applied.applied,
                positions_not_newer = applied.not_newer.len(),
                sites_corrected = applied.corrected.len(),
                duration_ms,
                "fichier appliqué"
            );
        }
        IngestOutcome::Rejected { report } => {
            summary.rejected += 1;
            let codes: Vec<&str> = report.file_errors.iter().map(|e| e.code.as_str()).collect();
            tracing::info!(file = key, sha256 = report.sha256, reasons = ?codes, duration_ms, "fichier rejeté");
        }
        IngestOutcome::Duplicate { sha256, first } => {
            summary.duplicates += 1;
            tracing::info!(
                file = key,
                sha256,
                first_key = first.key,
                duration_ms,
                "fichier déjà reçu"
            );
        }
        IngestOutcome::Ignored { reason } => {
            summary.ignored += 1;
            tracing::warn!(file = key, reason, "objet ignoré");
        }
    }
}
