//! The `report` Lambda: the weekly EventBridge schedule (Monday morning: the week just ended)
//! or `{"week": "2026-W48"}` writes `reports/<week>/synthese.html` and `.csv` to the lake, then
//! emails the headline figures and where the report is to the info topic.

use chrono::{DateTime, Utc};
use lambda_runtime::Diagnostic;
use medistock_analytics::report::{ReportError, Week, headline, write_report};
use medistock_analytics::risk::config::{LakeConfigError, load_config};
use medistock_domain::env::Retry;
use medistock_domain::paris_date;
use medistock_domain::store::{
    AccountStore, AlertStateStore, FileLedger, MeasureStore, Notifier, ObjectStore, PositionStore,
    RiskStore, StoreError,
};
use serde::Serialize;
use serde_json::Value;

/// The environment variables the function reads.
pub const ENV_VARS: [&str; 3] = ["LAKE_BUCKET", "TABLE_NAME", "INFO_TOPIC_ARN"];

/// Configuration read once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Lake bucket: snapshots in, reports out.
    pub lake_bucket: String,
    /// State table.
    pub table_name: String,
    /// Topic of the announcement email.
    pub info_topic: String,
}

impl Config {
    /// Reads the configuration through `var`; the error names the missing variable.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, medistock_domain::env::ConfigError> {
        let [lake_bucket, table_name, info_topic] = medistock_domain::env::required(var, ENV_VARS)?;
        Ok(Self {
            lake_bucket,
            table_name,
            info_topic,
        })
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload names no valid week.
    #[error("requête invalide : {0}")]
    Request(String),
    /// The accounts or the catalogue cannot be read.
    #[error("configuration : {0}")]
    Config(#[from] LakeConfigError),
    /// Reading the state or writing the report failed: Lambda retries.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The announcement could not be published: Lambda retries (the report is rewritten).
    #[error(transparent)]
    Publish(#[from] StoreError),
}

impl HandlerError {
    /// Whether a retry of the invocation can help.
    pub fn retry(&self) -> Retry {
        match self {
            HandlerError::Request(_) => Retry::Useless,
            HandlerError::Config(e) => e.retry(),
            HandlerError::Report(ReportError::Store(e)) | HandlerError::Publish(e) => e.retry(),
            HandlerError::Report(_) => Retry::Useless,
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let kind = match &e {
            HandlerError::Request(_) => "Request",
            HandlerError::Config(_) => "Configuration",
            HandlerError::Report(_) => "Report",
            HandlerError::Publish(_) => "Publish",
        };
        Diagnostic {
            error_type: e.retry().error_type(kind),
            error_message: e.to_string(),
        }
    }
}

/// What the function returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The week.
    pub week: String,
    /// Report key.
    pub html_key: String,
    /// Table key.
    pub csv_key: String,
    /// References in the report.
    pub references: usize,
    /// References in VIGILANCE or worse.
    pub watched: usize,
    /// Message id of the announcement.
    pub message_id: String,
}

/// The week to report: `{"week": "…"}`, else (schedule) the week before the one of `now` in Paris.
pub fn week_of(payload: &Value, now: DateTime<Utc>) -> Result<Week, HandlerError> {
    match payload.get("week") {
        Some(Value::String(text)) => {
            Week::parse(text).map_err(|e| HandlerError::Request(e.to_string()))
        }
        Some(other) => Err(HandlerError::Request(format!(
            "week : texte AAAA-Wss attendu, reçu {other}"
        ))),
        None => Ok(Week::of(paris_date(now)).previous()),
    }
}

/// Handles one invocation.
pub async fn handle<
    O: ObjectStore,
    S: PositionStore + RiskStore + FileLedger + AccountStore + MeasureStore + AlertStateStore,
    N: Notifier,
>(
    objects: &O,
    state: &S,
    notifier: &N,
    config: &Config,
    payload: Value,
    now: DateTime<Utc>,
) -> Result<Summary, HandlerError> {
    let week = week_of(&payload, now)?;
    let (registry, risk_config, _) = load_config(objects, state, &config.lake_bucket).await?;
    let outcome = write_report(
        objects,
        state,
        &config.lake_bucket,
        week,
        &risk_config,
        &registry,
    )
    .await?;
    let location = format!("s3://{}", config.lake_bucket);
    let message_id = notifier
        .publish(&headline(&outcome, &location, &config.info_topic))
        .await?;
    let summary = Summary {
        week: week.to_string(),
        html_key: outcome.html_key,
        csv_key: outcome.csv_key,
        references: outcome.synthesis.references.len(),
        watched: outcome.synthesis.watched().count(),
        message_id,
    };
    tracing::info!(
        week = summary.week,
        references = summary.references,
        watched = summary.watched,
        html_bytes = outcome.html_bytes,
        "synthèse hebdomadaire écrite"
    );
    Ok(summary)
}
