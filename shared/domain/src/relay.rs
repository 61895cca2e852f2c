//! The outbox relay, once for every caller: the `notify` function (one record per stream
//! event) and the local pipeline (every pending record). A record is published only while the
//! store still holds it as pending, and marked sent with the message id; a failed publish
//! leaves it pending for the next attempt: never dropped. The one window left is a publish
//! that succeeds followed by a failed `mark sent`: the next attempt sends it again (SNS
//! standard topics, the only ones that reach email and SMS, have no deduplication).

use serde::Serialize;

use crate::store::{AlertOutbox, AlertRecord, AlertStatus, Notifier, StoreError};

/// Why an alert was not relayed; it stays pending in both cases.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The record could not be read, or the message could not be published.
    #[error("alerte {key} non publiée : {source}")]
    NotPublished {
        /// The alert's key.
        key: String,
        /// The store's or the notifier's error.
        source: StoreError,
    },
    /// Published, but not marked sent: the next attempt publishes it again.
    #[error("alerte {key} publiée ({message_id}) mais non marquée envoyée : {source}")]
    NotMarked {
        /// The alert's key.
        key: String,
        /// The message id the notifier returned.
        message_id: String,
        /// The store's error.
        source: StoreError,
    },
}

/// What relaying one record did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relayed {
    /// Published and marked sent, with the notifier's message id.
    Sent(String),
    /// Already sent, or no such record: nothing to do.
    NotPending,
}

/// Relays the record stored under `key`, if it is still pending.
pub async fn relay_key<O: AlertOutbox, N: Notifier>(
    outbox: &O,
    notifier: &N,
    key: &str,
) -> Result<Relayed, RelayError> {
    match outbox.alert(key).await {
        Ok(Some(alert)) if alert.status == AlertStatus::Pending => {
            send(outbox, notifier, &alert).await.map(Relayed::Sent)
        }
        Ok(_) => Ok(Relayed::NotPending),
        Err(source) => Err(RelayError::NotPublished {
            key: key.to_owned(),
            source,
        }),
    }
}

/// What publishing the outbox did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PublishSummary {
    /// Published and marked sent.
    pub sent: usize,
    /// Left pending after a failed publish (retried next time).
    pub failed: usize,
}

/// Publishes every pending record and marks it sent. A failed publish leaves the record
/// pending and is counted; a failure to list or to mark is an error.
pub async fn publish_pending<O: AlertOutbox, N: Notifier>(
    outbox: &O,
    notifier: &N,
) -> Result<PublishSummary, RelayError> {
    let mut summary = PublishSummary::default();
    let pending = outbox
        .pending_alerts()
        .await
        .map_err(|source| RelayError::NotPublished {
            key: "*".to_owned(),
            source,
        })?;
    for alert in pending {
        match send(outbox, notifier, &alert).await {
            Ok(_) => summary.sent += 1,
            Err(e @ RelayError::NotPublished { .. }) => {
                tracing::warn!(key = alert.key, error = %e, "publication échouée : l'alerte reste en attente");
                summary.failed += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(summary)
}

async fn send<O: AlertOutbox, N: Notifier>(
    outbox: &O,
    notifier: &N,
    alert: &AlertRecord,
) -> Result<String, RelayError> {
    let key = alert.key.as_str();
    let message_id = notifier
        .publish(&alert.notification)
        .await
        .map_err(|source| RelayError::NotPublished {
            key: key.to_owned(),
            source,
        })?;
    if let Err(source) = outbox.mark_alert_sent(key, &message_id).await {
        return Err(RelayError::NotMarked {
            key: key.to_owned(),
            message_id,
            source,
        });
    }
    tracing::info!(
        key,
        message_id,
        level = alert.notification.attributes.get("level"),
        "alerte publiée"
    );
    Ok(message_id)
}
