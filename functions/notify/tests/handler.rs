//! The notify handler driven by `events/notify-dynamodb-stream.json`, on moto: with a notifier
//! that fails once, and with an SNS topic whose SQS subscription receives the exact message and
//! attributes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lambda_events::event::dynamodb::Event;
use chrono::{DateTime, Utc};
use medistock_aws::DynamoState;
use medistock_domain::store::{
    AlertOutbox, AlertRecord, AlertStatus, Notification, Notifier, StoreError,
};

const KEY: &str = "3400949497294#2026-11-20#NORMAL-TENSION";

fn sample_event() -> Event {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/notify-dynamodb-stream.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn alert(topic: &str) -> AlertRecord {
    AlertRecord {
        key: KEY.into(),
        cip13: "3400949497294".into(),
        notification: Notification {
            topic: topic.into(),
            subject: "[Medistock] TENSION — ANASTROZOLE 1 mg x30 (3400949497294)".into(),
            body: "Référence : 3400949497294 — ANASTROZOLE 1 mg x30 (MITM)\nNiveau : TENSION (précédent : NORMAL)\n".into(),
            sms: None,
            attributes: BTreeMap::from([
                ("severity".into(), "warning".into()),
                ("level".into(), "TENSION".into()),
                ("cip13".into(), "3400949497294".into()),
                ("mitm".into(), "true".into()),
            ]),
        },
        status: AlertStatus::Pending,
        message_id: None,
        created_at: "2026-11-20T05:00:03Z".parse::<DateTime<Utc>>().unwrap(),
    }
}

/// A notifier that fails its first `failures` publishes, then records what it sends.
struct Flaky {
    failures: AtomicUsize,
    sent: Mutex<Vec<String>>,
}

impl Notifier for Flaky {
    async fn publish(&self, n: &Notification) -> Result<String, StoreError> {
        if self.failures.load(Ordering::SeqCst) > 0 {
            self.failures.fetch_sub(1, Ordering::SeqCst);
            return Err(StoreError::Aws {
                operation: "SNS.Publish",
                message: "injected".into(),
            });
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(n.subject.clone());
        Ok(format!("message-{}", sent.len()))
    }
}

/// A fresh state table on moto, `None` outside `scripts/test.sh`.
async fn moto_table() -> Option<DynamoState> {
    let endpoint = medistock_testkit::emulator()?;
    let sdk = medistock_testkit::aws::config(&endpoint).await;
    let table = medistock_testkit::unique("notify");
    let dynamo = medistock_testkit::aws::table(&sdk, &table).await;
    Some(DynamoState::new(dynamo, table))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_is_a_batch_item_failure_then_sent_once() {
    let Some(state) = moto_table().await else {
        return;
    };
    assert!(state.put_alert_once(&alert("information")).await.unwrap());
    let notifier = Flaky {
        failures: AtomicUsize::new(1),
        sent: Mutex::new(Vec::new()),
    };

    let first = notify::handle(&state, &notifier, sample_event()).await;
    let ids: Vec<_> = first
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(ids, [Some("111100000000012345678".to_owned())]);
    assert_eq!(
        state.alert(KEY).await.unwrap().unwrap().status,
        AlertStatus::Pending,
        "never dropped"
    );

    let retry = notify::handle(&state, &notifier, sample_event()).await;
    assert!(retry.batch_item_failures.is_empty());
    assert_eq!(
        state.alert(KEY).await.unwrap().unwrap().status,
        AlertStatus::Sent
    );
    // The stream delivers the record once more (or the MODIFY of "sent"): nothing is re-sent.
    let again = notify::handle(&state, &notifier, sample_event()).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(notifier.sent.lock().unwrap().len(), 1, "sent once");
    assert_eq!(
        state
            .alert(KEY)
            .await
            .unwrap()
            .unwrap()
            .message_id
            .as_deref(),
        Some("message-1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_moto_the_sqs_subscriber_receives_the_message_and_its_attributes() {
    use medistock_aws::{SnsNotifier, sdk_config};

    if medistock_testkit::emulator().is_none() {
        return;
    }
    let sdk = sdk_config().await;
    let id = std::process::id();
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let topic = sns
        .create_topic()
        .name(format!("info-{id}"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue = sqs
        .create_queue()
        .queue_name(format!("ansm-{id}"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .unwrap();
    let table = format!("notify-{id}");
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    medistock_testkit::aws::create_state_table(&dynamo, &table)
        .await
        .unwrap();
    let state = DynamoState::new(dynamo, table);
    state.put_alert_once(&alert(&topic)).await.unwrap();

    let notifier = SnsNotifier::new(sns);
    let response = notify::handle(&state, &notifier, sample_event()).await;
    assert!(response.batch_item_failures.is_empty());
    let again = notify::handle(&state, &notifier, sample_event()).await;
    assert!(again.batch_item_failures.is_empty());

    let received = sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let messages = received.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1, "published once");
    let envelope: serde_json::Value =
        serde_json::from_str(messages[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        envelope["Subject"],
        "[Medistock] TENSION — ANASTROZOLE 1 mg x30 (3400949497294)"
    );
    assert_eq!(envelope["Message"], alert(&topic).notification.body);
    for (name, value) in [
        ("severity", "warning"),
        ("level", "TENSION"),
        ("cip13", "3400949497294"),
        ("mitm", "true"),
    ] {
        assert_eq!(
            envelope["MessageAttributes"][name]["Value"], value,
            "{name}"
        );
    }
    let stored = state.alert(KEY).await.unwrap().unwrap();
    assert_eq!(stored.status, AlertStatus::Sent);
    assert_eq!(stored.message_id.as_deref(), envelope["MessageId"].as_str());
}
