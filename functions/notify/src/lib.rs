//! The `notify` Lambda: DynamoDB stream records of the alert outbox → SNS → marked sent.
//!
//! A record is published only if the table still holds it as pending (a retried batch never
//! re-sends what was marked sent). A failed publish leaves it pending and reports the record as
//! a batch item failure, so Lambda retries from it: never dropped. The remaining window is a
//! publish that succeeds followed by a failed `mark sent`: then the retry sends it again (SNS
//! standard topics, the only ones that reach email and SMS, have no deduplication).

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use medistock_core::store::{AlertStatus, Notifier, StateStore};

/// The environment variables the function reads.
pub const ENV_VARS: [&str; 1] = ["TABLE_NAME"];

/// Handles one batch of stream records.
pub async fn handle<S: StateStore, N: Notifier>(
    state: &S,
    notifier: &N,
    event: Event,
) -> DynamoDbEventResponse {
    let mut failures = Vec::new();
    for record in event.records {
        let image = record.change.new_image.inner();
        let text = |name: &str| match image.get(name) {
            Some(serde_dynamo::AttributeValue::S(s)) => Some(s.as_str()),
            _ => None,
        };
        if !text("pk").is_some_and(|pk| pk.starts_with("ALERT#")) {
            continue;
        }
        let Some(key) = text("sk") else { continue };
        let failed = || {
            let mut f = DynamoDbBatchItemFailure::default();
            f.item_identifier = record.change.sequence_number.clone();
            f
        };
        let current = match state.alert(key).await {
            Ok(Some(alert)) if alert.status == AlertStatus::Pending => alert,
            Ok(_) => continue,
            Err(e) => {
                tracing::error!(key, error = %e, "lecture de l'alerte impossible");
                failures.push(failed());
                continue;
            }
        };
        match notifier.publish(&current.notification).await {
            Ok(message_id) => {
                if let Err(e) = state.mark_alert_sent(key, &message_id).await {
                    tracing::error!(key, message_id, error = %e, "alerte publiée mais non marquée envoyée");
                    failures.push(failed());
                } else {
                    tracing::info!(
                        key,
                        message_id,
                        level = current.notification.attributes.get("level"),
                        "alerte publiée"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(key, error = %e, "publication échouée : l'alerte reste en attente");
                failures.push(failed());
            }
        }
    }
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failures;
    response
}
