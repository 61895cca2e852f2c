//! The `notify` Lambda, two triggers:
//! - the DynamoDB stream of the alert outbox (new pending records): each record is relayed
//!   ([`medistock_domain::relay`]): muted when a silence covers it, published to SNS (its SMS
//!   held in the quiet hours), its new status written. A record that could not be relayed is
//!   reported as a batch item failure, so Lambda retries from it: never dropped.
//! - a schedule (`{"release_held_sms": true}`, every 15 minutes): the records still pending
//!   [`medistock_domain::relay::OVERDUE_AFTER_MINUTES`] after their creation are relayed (the
//!   stream gives up on a record after its retries, or after a day: the schedule does not),
//!   then the SMS held in the quiet hours whose time has come are sent. No Lambda sleeps
//!   through the night.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::{DateTime, Utc};
use medistock_domain::env::ConfigError;
use medistock_domain::lifecycle::{AlertPolicy, POLICY_ENV_VARS};
use medistock_domain::relay::{Delivery, PublishSummary, RelayError, relay_key, scheduled_pass};
use medistock_domain::store::{AlertOutbox, AlertStateStore, Notifier};
use serde_json::Value;

/// The environment variables the function requires.
pub const REQUIRED_VARS: [&str; 1] = ["TABLE_NAME"];

/// Every environment variable the function reads: the table, and the delivery policy
/// (`QUIET_HOURS`, `URGENT_SMS_IN_QUIET_HOURS`; `RECALL_DAYS` is the risk function's).
pub const ENV_VARS: [&str; 3] = ["TABLE_NAME", "QUIET_HOURS", "URGENT_SMS_IN_QUIET_HOURS"];

/// The delivery policy from the environment (`var`): quiet hours and urgent SMS.
pub fn policy(var: impl Fn(&str) -> Option<String>) -> Result<AlertPolicy, ConfigError> {
    AlertPolicy::from_settings(|name| {
        (POLICY_ENV_VARS.contains(&name) && ENV_VARS.contains(&name))
            .then(|| var(name))
            .flatten()
    })
    .map_err(|e| ConfigError::Invalid {
        name: e.name,
        reason: e.to_string(),
    })
}

/// What an invocation returns.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Response {
    /// For a stream batch: the records to retry.
    Stream(DynamoDbEventResponse),
    /// For the schedule: what was released.
    Released(PublishSummary),
}

/// Why an invocation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Neither a stream batch nor the schedule's payload.
    #[error("événement inattendu : ni lot du flux DynamoDB, ni {{\"release_held_sms\": true}}")]
    Event,
    /// The stream batch does not decode.
    #[error("lot du flux illisible : {0}")]
    Decode(String),
    /// The scheduled pass could not list the records or write a status (retried at the next
    /// schedule).
    #[error(transparent)]
    Relay(#[from] RelayError),
}

/// Handles one invocation: a stream batch or the release schedule.
pub async fn handle_event<S: AlertOutbox + AlertStateStore, N: Notifier>(
    state: &S,
    notifier: &N,
    policy: AlertPolicy,
    payload: Value,
    now: DateTime<Utc>,
) -> Result<Response, NotifyError> {
    let delivery = Delivery { policy, now };
    if payload.get("Records").is_some() {
        let event: Event =
            serde_json::from_value(payload).map_err(|e| NotifyError::Decode(e.to_string()))?;
        return Ok(Response::Stream(
            handle(state, notifier, &delivery, event).await,
        ));
    }
    if payload.get("release_held_sms").and_then(Value::as_bool) == Some(true) {
        let summary = scheduled_pass(state, notifier, &delivery).await?;
        tracing::info!(
            overdue_sent = summary.sent,
            overdue_sms_held = summary.sms_held,
            released = summary.sms_released,
            muted = summary.muted,
            failed = summary.failed,
            "passage programmé terminé (alertes en attente en retard, SMS retenus)"
        );
        return Ok(Response::Released(summary));
    }
    Err(NotifyError::Event)
}

/// Handles one batch of stream records.
pub async fn handle<S: AlertOutbox + AlertStateStore, N: Notifier>(
    state: &S,
    notifier: &N,
    delivery: &Delivery,
    event: Event,
) -> DynamoDbEventResponse {
    let mut failures = Vec::new();
    for record in event.records {
        let Some(key) = medistock_aws::stream::alert_key(&record.change.new_image) else {
            continue;
        };
        if let Err(e) = relay_key(state, notifier, &key, delivery).await {
            e.log();
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            failures.push(failure);
        }
    }
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failures;
    response
}
