//! The `risk` Lambda: the daily EventBridge schedule, or an analyst's on-demand payload
//! `{"scope": "all" | {"cip13": [...]}, "as_of": "YYYY-MM-DD"?, "dry_run": bool?}`, runs the
//! risk computation and returns its summary. Alerts are not published here: the records it
//! writes to the outbox reach the `notify` function through the table's stream.

use chrono::{DateTime, NaiveDate, Utc};
use lambda_runtime::Diagnostic;
use medistock_analytics::risk::alert::AlertTopics;
use medistock_analytics::risk::config::{
    LakeConfigError, ModelOptions, load_calibration, load_config,
};
use medistock_analytics::risk::{RiskError, RiskOutcome, RiskRun, RunSummary, Scope, run_risk};
use medistock_domain::env::Retry;
use medistock_domain::lifecycle::AlertPolicy;
use medistock_domain::store::{
    AccountStore, AlertOutbox, AlertStateStore, FileLedger, MeasureStore, ObjectStore,
    PositionStore, RiskStore,
};
use medistock_domain::{Cip13, paris_date};
use serde::Deserialize;
use serde_json::Value;

/// The environment variables the function requires.
pub const REQUIRED_VARS: [&str; 5] = [
    "LAKE_BUCKET",
    "TABLE_NAME",
    "CRITICAL_TOPIC_ARN",
    "INFO_TOPIC_ARN",
    "INBOX_BUCKET",
];

/// Every environment variable the function reads: the required ones, the recall period of
/// unacknowledged subjects (`RECALL_DAYS`, 7 by default), and the model's signals turned off
/// or on (`MODEL_WITHOUT`, as `medistock backtest --without`: empty by default, every signal
/// as measured in docs/risk-model.md).
pub const ENV_VARS: [&str; 7] = [
    "LAKE_BUCKET",
    "TABLE_NAME",
    "CRITICAL_TOPIC_ARN",
    "INFO_TOPIC_ARN",
    "INBOX_BUCKET",
    "RECALL_DAYS",
    "MODEL_WITHOUT",
];

/// Configuration read once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Lake bucket: history, catalogue, snapshots.
    pub lake_bucket: String,
    /// State table.
    pub table_name: String,
    /// Alert topics.
    pub topics: AlertTopics,
    /// Inbox bucket: reminders to silent declarants in `receipts/<id>/`.
    pub inbox_bucket: String,
    /// Recall period.
    pub policy: AlertPolicy,
    /// The model's signals (`MODEL_WITHOUT`).
    pub model: ModelOptions,
}

impl Config {
    /// Reads the configuration through `var`; the error names the missing variable.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, medistock_domain::env::ConfigError> {
        let [lake_bucket, table_name, critical, info, inbox_bucket] =
            medistock_domain::env::required(&var, REQUIRED_VARS)?;
        let policy =
            AlertPolicy::from_settings(|name| (name == "RECALL_DAYS").then(|| var(name)).flatten())
                .map_err(|e| medistock_domain::env::ConfigError::Invalid {
                    name: "RECALL_DAYS",
                    reason: e.to_string(),
                })?;
        let model =
            ModelOptions::without(&var("MODEL_WITHOUT").unwrap_or_default()).map_err(|reason| {
                medistock_domain::env::ConfigError::Invalid {
                    name: "MODEL_WITHOUT",
                    reason,
                }
            })?;
        Ok(Self {
            lake_bucket,
            table_name,
            topics: AlertTopics { critical, info },
            inbox_bucket,
            policy,
            model,
        })
    }
}

/// Why a run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload is neither a schedule event nor a valid on-demand request.
    #[error("requête invalide : {0}")]
    Request(String),
    /// The accounts or the catalogue cannot be read.
    #[error("configuration : {0}")]
    Config(#[from] LakeConfigError),
    /// The run failed (storage, computation): Lambda retries the scheduled invocation.
    #[error(transparent)]
    Run(#[from] RiskError),
}

impl HandlerError {
    /// Whether a retry of the invocation can help.
    pub fn retry(&self) -> Retry {
        match self {
            HandlerError::Request(_) => Retry::Useless,
            HandlerError::Config(e) => e.retry(),
            HandlerError::Run(RiskError::Store(e)) => e.retry(),
            HandlerError::Run(_) => Retry::Useless,
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let kind = match &e {
            HandlerError::Request(_) => "Request",
            HandlerError::Config(_) => "Configuration",
            HandlerError::Run(_) => "Run",
        };
        Diagnostic {
            error_type: e.retry().error_type(kind),
            error_message: e.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ScopeRequest {
    Named(String),
    References { cip13: Vec<String> },
}

#[derive(Debug, Deserialize)]
struct OnDemand {
    scope: ScopeRequest,
    as_of: Option<NaiveDate>,
    #[serde(default)]
    dry_run: bool,
}

/// What to compute: scope, date and whether to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// References.
    pub scope: Scope,
    /// Date (default: today in Paris).
    pub as_of: NaiveDate,
    /// Compute without writing.
    pub dry_run: bool,
}

/// Reads the payload: an on-demand request (it has `scope`), else a schedule event.
pub fn parse_request(payload: &Value, now: DateTime<Utc>) -> Result<Request, HandlerError> {
    if payload.get("scope").is_none() {
        return Ok(Request {
            scope: Scope::All,
            as_of: paris_date(now),
            dry_run: false,
        });
    }
    let on_demand: OnDemand = serde_json::from_value(payload.clone())
        .map_err(|e| HandlerError::Request(e.to_string()))?;
    let scope = match on_demand.scope {
        ScopeRequest::Named(name) if name == "all" => Scope::All,
        ScopeRequest::Named(other) => {
            return Err(HandlerError::Request(format!(
                "scope « {other} » : \"all\" ou {{\"cip13\": [...]}} attendu"
            )));
        }
        ScopeRequest::References { cip13 } => Scope::References(
            cip13
                .iter()
                .map(|c| {
                    Cip13::parse(c)
                        .map_err(|e| HandlerError::Request(format!("cip13 « {c} » : {e}")))
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(Request {
        scope,
        as_of: on_demand.as_of.unwrap_or_else(|| paris_date(now)),
        dry_run: on_demand.dry_run,
    })
}

/// Handles one invocation.
pub async fn handle<
    O: ObjectStore,
    S: PositionStore
        + RiskStore
        + AlertOutbox
        + AccountStore
        + AlertStateStore
        + MeasureStore
        + FileLedger,
>(
    objects: &O,
    state: &S,
    config: &Config,
    payload: Value,
    now: DateTime<Utc>,
) -> Result<RunSummary, HandlerError> {
    let request = parse_request(&payload, now)?;
    let (_, mut risk_config, _) = load_config(objects, state, &config.lake_bucket).await?;
    risk_config.model = config.model;
    risk_config.calibration =
        load_calibration(objects, &config.lake_bucket, &risk_config.model).await?;
    let run = RiskRun {
        lake_bucket: &config.lake_bucket,
        inbox_bucket: Some(&config.inbox_bucket),
        policy: config.policy,
        topics: &config.topics,
        config: &risk_config,
        history_cache: None,
    };
    let RiskOutcome { summary, .. } = run_risk(
        objects,
        state,
        &run,
        &request.scope,
        request.as_of,
        request.dry_run,
        now,
    )
    .await?;
    tracing::info!(
        as_of = %summary.as_of,
        references = summary.references,
        transitions = summary.transitions.len(),
        alerts_created = summary.alerts_created,
        dry_run = summary.dry_run,
        "calcul du risque terminé"
    );
    Ok(summary)
}
