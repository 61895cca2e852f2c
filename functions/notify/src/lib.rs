//! The `notify` Lambda: DynamoDB stream records of the alert outbox → SNS → marked sent.
//!
//! The relay is the domain's ([`medistock_domain::relay`]): a record is published only if the
//! table still holds it as pending (a retried batch never re-sends what was marked sent). A
//! record that could not be relayed is reported as a batch item failure, so Lambda retries
//! from it: never dropped.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use medistock_domain::relay::{RelayError, relay_key};
use medistock_domain::store::{AlertOutbox, Notifier};

/// The environment variables the function reads.
pub const ENV_VARS: [&str; 1] = ["TABLE_NAME"];

/// Handles one batch of stream records.
pub async fn handle<S: AlertOutbox, N: Notifier>(
    outbox: &S,
    notifier: &N,
    event: Event,
) -> DynamoDbEventResponse {
    let mut failures = Vec::new();
    for record in event.records {
        let Some(key) = medistock_aws::stream::alert_key(&record.change.new_image) else {
            continue;
        };
        if let Err(e) = relay_key(outbox, notifier, &key).await {
            match &e {
                RelayError::NotPublished { .. } => {
                    tracing::warn!(key, error = %e, "publication échouée : l'alerte reste en attente")
                }
                RelayError::NotMarked { .. } => {
                    tracing::error!(key, error = %e, "alerte publiée mais non marquée envoyée")
                }
            }
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            failures.push(failure);
        }
    }
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failures;
    response
}
