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
use medistock_domain::lifecycle::{AlertPolicy, AlertState};
use medistock_domain::relay::Delivery;
use medistock_domain::store::{
    AlertOutbox, AlertRecord, AlertStateStore, AlertStatus, Notification, Notifier, StoreError,
};

const KEY: &str = "3400949497294#2026-11-20#NORMAL-TENSION";

fn sample_event() -> Event {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/notify-dynamodb-stream.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn alert(topic: &str) -> AlertRecord {
    AlertRecord::pending(
        KEY.into(),
        "3400949497294".into(),
        Notification {
            topic: topic.into(),
            subject: "[Medistock] TENSION — ANASTROZOLE 1 mg x30 (3400949497294)".into(),
            body: "Référence : 3400949497294 — ANASTROZOLE 1 mg x30 (MITM)\nNiveau : TENSION (précédent : NORMAL)\n".into(),
            sms: None,
            email: true,
            attributes: BTreeMap::from([
                ("severity".into(), "warning".into()),
                ("level".into(), "TENSION".into()),
                ("cip13".into(), "3400949497294".into()),
                ("mitm".into(), "true".into()),
            ]),
        },
        "2026-11-20T05:00:03Z".parse::<DateTime<Utc>>().unwrap(),
    )
}

/// 10:00 in Paris, outside the quiet hours, default policy.
fn daytime() -> Delivery {
    Delivery {
        policy: AlertPolicy::default(),
        now: "2026-11-20T09:00:00Z".parse().unwrap(),
    }
}

/// A notifier that fails its first `failures` publishes, then records what it sends.
struct Flaky {
    failures: AtomicUsize,
    sent: Mutex<Vec<String>>,
}

impl Flaky {
    fn failing(failures: usize) -> Self {
        Self {
            failures: AtomicUsize::new(failures),
            sent: Mutex::new(Vec::new()),
        }
    }
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

/// [`moto_table`] holding the pending record of [`alert`] (created 05:00:03 UTC).
async fn moto_table_with_one_alert() -> Option<DynamoState> {
    let state = moto_table().await?;
    assert!(state.put_alert_once(&alert("information")).await.unwrap());
    Some(state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_is_a_batch_item_failure_then_sent_once() {
    let Some(state) = moto_table_with_one_alert().await else {
        return;
    };
    let notifier = Flaky::failing(1);

    let first = notify::handle(&state, &notifier, &daytime(), sample_event()).await;
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

    let retry = notify::handle(&state, &notifier, &daytime(), sample_event()).await;
    assert!(retry.batch_item_failures.is_empty());
    assert_eq!(
        state.alert(KEY).await.unwrap().unwrap().status,
        AlertStatus::Sent
    );
    // The stream delivers the record once more (or the MODIFY of "sent"): nothing is re-sent.
    let again = notify::handle(&state, &notifier, &daytime(), sample_event()).await;
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
async fn a_record_the_stream_gave_up_on_is_sent_by_the_schedule() {
    // Created at 05:00:03 UTC; the stream's retries all failed (SNS down) and it gave up.
    let Some(state) = moto_table_with_one_alert().await else {
        return;
    };
    let notifier = Flaky::failing(1);
    let pass = serde_json::json!({"release_held_sms": true});
    let run = |now: &str| {
        notify::handle_event(
            &state,
            &notifier,
            AlertPolicy::default(),
            pass.clone(),
            now.parse().unwrap(),
        )
    };
    // Twenty minutes old: still the stream's; nothing tried.
    let early = run("2026-11-20T05:20:00Z").await.unwrap();
    assert!(matches!(early, notify::Response::Released(ref s) if s.sent + s.failed == 0));
    // Overdue: tried, SNS still failing, left pending; the next pass sends it, once.
    let failed = run("2026-11-20T05:45:00Z").await.unwrap();
    assert!(matches!(failed, notify::Response::Released(ref s) if s.failed == 1));
    assert_eq!(
        state.alert(KEY).await.unwrap().unwrap().status,
        AlertStatus::Pending,
        "never dropped"
    );
    let sent = run("2026-11-20T06:00:00Z").await.unwrap();
    assert!(
        matches!(sent, notify::Response::Released(ref s) if s.sent == 1),
        "{sent:?}"
    );
    assert_eq!(
        state.alert(KEY).await.unwrap().unwrap().status,
        AlertStatus::Sent
    );
    let again = run("2026-11-20T06:15:00Z").await.unwrap();
    assert!(matches!(again, notify::Response::Released(ref s) if s.sent == 0));
    assert_eq!(notifier.sent.lock().unwrap().len(), 1, "sent once");
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
    let queue = subscribed_queue(&sns, &sqs, &topic, &format!("ansm-{id}"), None).await;
    let table = format!("notify-{id}");
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    medistock_testkit::aws::create_state_table(&dynamo, &table)
        .await
        .unwrap();
    let state = DynamoState::new(dynamo, table);
    state.put_alert_once(&alert(&topic)).await.unwrap();

    let notifier = SnsNotifier::new(sns);
    let response = notify::handle(&state, &notifier, &daytime(), sample_event()).await;
    assert!(response.batch_item_failures.is_empty());
    let again = notify::handle(&state, &notifier, &daytime(), sample_event()).await;
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

/// A queue subscribed to `topic`, with a filter policy if given; returns its URL.
async fn subscribed_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    topic: &str,
    name: &str,
    filter: Option<&str>,
) -> String {
    let queue = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let mut subscription = sns
        .subscribe()
        .topic_arn(topic)
        .protocol("sqs")
        .endpoint(&arn);
    if let Some(filter) = filter {
        subscription = subscription.attributes("FilterPolicy", filter);
    }
    subscription.send().await.unwrap();
    queue
}

async fn bodies(sqs: &aws_sdk_sqs::Client, queue: &str) -> Vec<serde_json::Value> {
    let received = sqs
        .receive_message()
        .queue_url(queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let messages = received.messages.unwrap_or_default();
    for m in &messages {
        sqs.delete_message()
            .queue_url(queue)
            .receipt_handle(m.receipt_handle.as_deref().unwrap())
            .send()
            .await
            .unwrap();
    }
    messages
        .iter()
        .map(|m| serde_json::from_str(m.body.as_deref().unwrap()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_moto_an_sms_at_night_waits_for_the_schedule_and_a_silenced_subject_is_muted() {
    use medistock_aws::{SnsNotifier, sdk_config};

    if medistock_testkit::emulator().is_none() {
        return;
    }
    let sdk = sdk_config().await;
    let id = medistock_testkit::unique("nuit");
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let topic = sns
        .create_topic()
        .name(format!("critique-{id}"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    // The template's subscriptions: email takes email = oui, phones sms = oui.
    let email = subscribed_queue(
        &sns,
        &sqs,
        &topic,
        &format!("email-{id}"),
        Some(r#"{"email": ["oui"]}"#),
    )
    .await;
    let phone = subscribed_queue(
        &sns,
        &sqs,
        &topic,
        &format!("sms-{id}"),
        Some(r#"{"sms": ["oui"]}"#),
    )
    .await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    medistock_testkit::aws::create_state_table(&dynamo, &id)
        .await
        .unwrap();
    let state = DynamoState::new(dynamo, id.clone());
    let mut critical = alert(&topic);
    critical.notification.sms = Some("Medistock CRITIQUE ANASTROZOLE".into());
    critical.silence_scope = vec![vec!["3400949497294".into()]];
    state.put_alert_once(&critical).await.unwrap();
    let notifier = SnsNotifier::new(sns);
    let policy = AlertPolicy::default();

    // 06:00 in Paris: the email goes, the SMS is held until 08:00.
    let night: DateTime<Utc> = "2026-11-20T05:00:00Z".parse().unwrap();
    let delivery = Delivery { policy, now: night };
    let response = notify::handle(&state, &notifier, &delivery, sample_event()).await;
    assert!(response.batch_item_failures.is_empty());
    let held = state.alert(KEY).await.unwrap().unwrap();
    assert_eq!(held.status, AlertStatus::SmsHeld);
    assert_eq!(
        held.sms_release_at,
        Some("2026-11-20T07:00:00Z".parse().unwrap())
    );
    let emails = bodies(&sqs, &email).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0]["Message"], critical.notification.body);
    assert!(bodies(&sqs, &phone).await.is_empty(), "no SMS at night");

    // The schedule before 08:00 releases nothing; at 08:05 the SMS alone, once.
    let early = serde_json::json!({"release_held_sms": true});
    let before = notify::handle_event(
        &state,
        &notifier,
        policy,
        early.clone(),
        "2026-11-20T06:45:00Z".parse().unwrap(),
    )
    .await
    .unwrap();
    assert!(matches!(before, notify::Response::Released(ref s) if s.sms_released == 0));
    let after = notify::handle_event(
        &state,
        &notifier,
        policy,
        early.clone(),
        "2026-11-20T07:05:00Z".parse().unwrap(),
    )
    .await
    .unwrap();
    assert!(matches!(after, notify::Response::Released(ref s) if s.sms_released == 1));
    let texts = bodies(&sqs, &phone).await;
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0]["Message"], "Medistock CRITIQUE ANASTROZOLE");
    assert!(
        bodies(&sqs, &email).await.is_empty(),
        "the email is not sent twice"
    );
    assert_eq!(
        state.alert(KEY).await.unwrap().unwrap().status,
        AlertStatus::Sent
    );
    let again = notify::handle_event(
        &state,
        &notifier,
        policy,
        early,
        "2026-11-20T07:20:00Z".parse().unwrap(),
    )
    .await
    .unwrap();
    assert!(matches!(again, notify::Response::Released(ref s) if s.sms_released == 0));

    // A silenced subject: the next record is muted with why, nothing published.
    let silenced = AlertState::new("3400949497294")
        .unwrap()
        .silenced(
            "2026-11-30".parse().unwrap(),
            "Jeanne",
            "contingentement",
            Utc::now(),
        )
        .unwrap();
    assert!(state.put_alert_state(&silenced, None).await.unwrap());
    let mut next = critical.clone();
    next.key = "3400949497294#2026-11-21#TENSION-CRITIQUE".into();
    state.put_alert_once(&next).await.unwrap();
    let relayed = medistock_domain::relay::relay_key(&state, &notifier, &next.key, &daytime())
        .await
        .unwrap();
    assert!(
        matches!(relayed, medistock_domain::relay::Relayed::Muted(_)),
        "{relayed:?}"
    );
    let muted = state.alert(&next.key).await.unwrap().unwrap();
    assert_eq!(muted.status, AlertStatus::Muted);
    assert!(
        muted
            .muted
            .unwrap()
            .contains("silencé jusqu'au 30/11/2026 par Jeanne")
    );
    assert!(bodies(&sqs, &email).await.is_empty() && bodies(&sqs, &phone).await.is_empty());

    // Neither a stream batch nor the schedule: refused, named.
    let odd = notify::handle_event(
        &state,
        &notifier,
        policy,
        serde_json::json!({"x": 1}),
        Utc::now(),
    )
    .await;
    assert!(odd.is_err());
}

#[tokio::test]
async fn a_stream_batch_that_does_not_decode_is_refused_whole_and_sends_nothing() {
    // No call reaches the table: the batch is refused before any record is read.
    let sdk = medistock_testkit::aws::config("http://127.0.0.1:9").await;
    let state = DynamoState::new(aws_sdk_dynamodb::Client::new(&sdk), "nulle-part");
    let notifier = Flaky::failing(0);
    for bad in [
        serde_json::json!({"Records": "pas une liste"}),
        serde_json::json!({"Records": [{"dynamodb": {"NewImage": 7}}]}),
    ] {
        let out = notify::handle_event(
            &state,
            &notifier,
            AlertPolicy::default(),
            bad.clone(),
            Utc::now(),
        )
        .await;
        assert!(
            matches!(out, Err(notify::NotifyError::Decode(_))),
            "{bad}: {out:?}"
        );
    }
    assert!(notifier.sent.lock().unwrap().is_empty());
}
