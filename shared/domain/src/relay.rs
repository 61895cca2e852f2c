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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::store::Notification;

    /// An outbox in memory whose `mark sent` fails `mark_failures` times.
    #[derive(Default)]
    struct Outbox {
        records: Mutex<BTreeMap<String, AlertRecord>>,
        mark_failures: AtomicUsize,
    }

    impl AlertOutbox for Outbox {
        async fn put_alert_once(&self, alert: &AlertRecord) -> Result<bool, StoreError> {
            let mut records = self.records.lock().unwrap();
            Ok(records.insert(alert.key.clone(), alert.clone()).is_none())
        }
        async fn alert(&self, key: &str) -> Result<Option<AlertRecord>, StoreError> {
            Ok(self.records.lock().unwrap().get(key).cloned())
        }
        async fn pending_alerts(&self) -> Result<Vec<AlertRecord>, StoreError> {
            let records = self.records.lock().unwrap();
            let pending = records
                .values()
                .filter(|a| a.status == AlertStatus::Pending);
            Ok(pending.cloned().collect())
        }
        async fn mark_alert_sent(&self, key: &str, message_id: &str) -> Result<(), StoreError> {
            if self.mark_failures.load(Ordering::SeqCst) > 0 {
                self.mark_failures.fetch_sub(1, Ordering::SeqCst);
                return Err(StoreError::Aws {
                    operation: "DynamoDB.UpdateItem",
                    message: "injected".into(),
                });
            }
            let mut records = self.records.lock().unwrap();
            let record = records
                .get_mut(key)
                .ok_or(StoreError::Corrupt(key.into()))?;
            record.status = AlertStatus::Sent;
            record.message_id = Some(message_id.to_owned());
            Ok(())
        }
    }

    /// A notifier that fails `failures` times, then counts what it sends.
    #[derive(Default)]
    struct Counting {
        failures: AtomicUsize,
        sent: AtomicUsize,
    }

    impl Notifier for Counting {
        async fn publish(&self, _: &Notification) -> Result<String, StoreError> {
            if self.failures.load(Ordering::SeqCst) > 0 {
                self.failures.fetch_sub(1, Ordering::SeqCst);
                return Err(StoreError::Aws {
                    operation: "SNS.Publish",
                    message: "injected".into(),
                });
            }
            let n = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(format!("m-{n}"))
        }
    }

    fn record(key: &str) -> AlertRecord {
        AlertRecord {
            key: key.into(),
            cip13: "3400949497294".into(),
            notification: Notification {
                topic: "information".into(),
                subject: "[Medistock] TENSION".into(),
                body: "corps".into(),
                sms: None,
                attributes: BTreeMap::new(),
            },
            status: AlertStatus::Pending,
            message_id: None,
            created_at: "2026-11-23T05:00:00Z".parse().unwrap(),
        }
    }

    #[tokio::test]
    async fn a_failed_publish_or_mark_leaves_the_record_pending_for_the_next_attempt() {
        let outbox = Outbox::default();
        outbox.put_alert_once(&record("a")).await.unwrap();
        outbox.put_alert_once(&record("b")).await.unwrap();
        let notifier = Counting {
            failures: AtomicUsize::new(1),
            ..Counting::default()
        };
        // The first publish fails: counted, left pending; the second goes through.
        let summary = publish_pending(&outbox, &notifier).await.unwrap();
        assert_eq!(summary, PublishSummary { sent: 1, failed: 1 });
        assert_eq!(outbox.pending_alerts().await.unwrap().len(), 1);

        // Published but not marked: an error naming the message, the record still pending.
        outbox.mark_failures.store(1, Ordering::SeqCst);
        let pending = outbox.pending_alerts().await.unwrap()[0].key.clone();
        let err = relay_key(&outbox, &notifier, &pending).await.unwrap_err();
        assert!(
            matches!(&err, RelayError::NotMarked { message_id, .. } if message_id == "m-2"),
            "{err}"
        );
        assert_eq!(
            outbox.pending_alerts().await.unwrap().len(),
            1,
            "never dropped"
        );

        // The retry sends it again (the documented window) and marks it; then nothing is left.
        assert_eq!(
            relay_key(&outbox, &notifier, &pending).await.unwrap(),
            Relayed::Sent("m-3".into())
        );
        assert_eq!(
            relay_key(&outbox, &notifier, &pending).await.unwrap(),
            Relayed::NotPending,
            "a redelivered event sends nothing"
        );
        assert_eq!(
            relay_key(&outbox, &notifier, "inconnue").await.unwrap(),
            Relayed::NotPending
        );
        assert!(outbox.pending_alerts().await.unwrap().is_empty());
    }
}
