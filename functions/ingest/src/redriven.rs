//! The events the ingest gave up on, delivered again from a queue.
//!
//! S3 invokes the function asynchronously; Lambda retries a failed invocation twice within a
//! few minutes, then sends a record of it to the function's on-failure destination, a queue
//! that delivers it back to the function after a delay (`IngestRetries` in the template). A
//! run killed outright (a timeout, memory exhausted) leaves its claim on the file until a
//! minute after its deadline: the two quick retries meet that claim and fail; the queue's
//! delivery comes after it has lapsed and takes it over. A message that fails again returns
//! to the queue, and after a few receipts goes to the last queue, which raises an alarm.

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::Value;

/// What an invocation brings.
#[derive(Debug)]
pub enum Invocation {
    /// S3's own event: files dropped.
    Dropped(S3Event),
    /// Messages of the retry queue, the S3 events they carry gathered in one (the queue
    /// delivers one message an invocation).
    Redriven(S3Event),
}

/// Why an invocation's payload is refused: the invocation fails (a message of the retry
/// queue goes back to it, then to the last queue).
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Neither an S3 event nor a message of the retry queue.
    #[error("événement illisible : ni événement S3, ni message de la file de reprise ({0})")]
    Unreadable(String),
    /// A message of the retry queue that does not hold the S3 event of a failed invocation.
    #[error("message {message} de la file de reprise illisible : {reason}")]
    Message {
        /// The message's id.
        message: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads an invocation's payload: an S3 event, or the retry queue's messages, each the record
/// Lambda wrote of an invocation it gave up on (`requestPayload`: the S3 event).
pub fn invocation(payload: Value) -> Result<Invocation, EventError> {
    let from_queue = payload
        .get("Records")
        .and_then(|r| r.get(0))
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs");
    if !from_queue {
        return serde_json::from_value(payload)
            .map(Invocation::Dropped)
            .map_err(|e| EventError::Unreadable(e.to_string()));
    }
    let queue: SqsEvent =
        serde_json::from_value(payload).map_err(|e| EventError::Unreadable(e.to_string()))?;
    let mut records = Vec::new();
    for message in queue.records {
        let id = message.message_id.unwrap_or_default();
        let refused = |reason: String| EventError::Message {
            message: id.clone(),
            reason,
        };
        let body = message
            .body
            .ok_or_else(|| refused("message sans corps".into()))?;
        let mut failed: Value = serde_json::from_str(&body).map_err(|e| refused(e.to_string()))?;
        let request = failed
            .get_mut("requestPayload")
            .map(Value::take)
            .ok_or_else(|| refused("pas d'invocation échouée (requestPayload absent)".into()))?;
        let event: S3Event =
            serde_json::from_value(request).map_err(|e| refused(format!("événement S3 : {e}")))?;
        let attempts = failed
            .pointer("/requestContext/approximateInvokeCount")
            .and_then(Value::as_u64);
        let condition = failed
            .pointer("/requestContext/condition")
            .and_then(Value::as_str)
            .unwrap_or_default();
        tracing::warn!(
            message = id,
            attempts,
            condition,
            records = event.records.len(),
            "événement repris de la file : l'ingestion l'avait abandonné"
        );
        records.extend(event.records);
    }
    let mut gathered = S3Event::default();
    gathered.records = records;
    Ok(Invocation::Redriven(gathered))
}

impl Invocation {
    /// The S3 event to ingest.
    pub fn into_event(self) -> S3Event {
        match self {
            Invocation::Dropped(event) | Invocation::Redriven(event) => event,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_event() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/ingest-s3-put.json"
        );
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn queued(body: &str) -> Value {
        serde_json::json!({"Records": [{
            "messageId": "m-1",
            "receiptHandle": "r",
            "body": body,
            "attributes": {},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-3:123456789012:medistock-dev-ingest-retries",
            "awsRegion": "eu-west-3"
        }]})
    }

    #[test]
    fn an_s3_event_is_a_drop() {
        let Invocation::Dropped(event) = invocation(s3_event()).unwrap() else {
            panic!("a drop");
        };
        assert_eq!(event.records.len(), 1);
    }

    #[test]
    fn a_message_of_the_retry_queue_gives_back_the_event_given_up_on() {
        let failed = serde_json::json!({
            "version": "1.0",
            "timestamp": "2026-11-23T08:40:12.418Z",
            "requestContext": {
                "requestId": "e4b0c2a1",
                "functionArn": "arn:aws:lambda:eu-west-3:123456789012:function:medistock-dev-ingest:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3
            },
            "requestPayload": s3_event(),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": "InProgress", "errorMessage": "…"}
        });
        let Invocation::Redriven(event) = invocation(queued(&failed.to_string())).unwrap() else {
            panic!("redriven");
        };
        let original: S3Event = serde_json::from_value(s3_event()).unwrap();
        assert_eq!(event.records.len(), 1);
        assert_eq!(
            event.records[0].s3.object.key,
            original.records[0].s3.object.key
        );
        assert_eq!(event.records[0].event_time, original.records[0].event_time);
    }

    /// The sample message of `events/` (what `sam local invoke` can be given): the retry
    /// queue's delivery of an event given up on.
    #[test]
    fn the_sample_message_of_the_retry_queue_is_read() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/ingest-retry-sqs.json"
        );
        let message: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let Invocation::Redriven(event) = invocation(message).unwrap() else {
            panic!("redriven");
        };
        let original: S3Event = serde_json::from_value(s3_event()).unwrap();
        assert_eq!(event, original);
    }

    /// Lambda's documentation's own invocation record of an event that failed three times
    /// (a run killed: « Process exited before completing request »), as it gives it, with an
    /// S3 event in place of its example payload; and with its example payload as it is, not
    /// an S3 event: refused, so that it ends in the last queue instead of being read as
    /// nothing to do.
    #[test]
    fn the_invocation_record_as_lambda_documents_it() {
        const RECORD: &str = r#"{
"version": "1.0",
"timestamp": "2019-11-14T18:16:05.568Z",
"requestContext": {
"requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST",
"condition": "RetriesExhausted",
"approximateInvokeCount": 3
},
"requestPayload": PAYLOAD,
"responseContext": {
"statusCode": 200,
"executedVersion": "$LATEST",
"functionError": "Unhandled"
},
"responsePayload": {
"errorMessage": "RequestId: e4b46cbf-b738-xmpl-8880-a18cdf61200e Process exited before completing request"
}
}"#;
        let s3 = RECORD.replace("PAYLOAD", &s3_event().to_string());
        let Invocation::Redriven(event) = invocation(queued(&s3)).unwrap() else {
            panic!("redriven");
        };
        assert_eq!(
            event,
            serde_json::from_value::<S3Event>(s3_event()).unwrap()
        );
        let orders = RECORD.replace(
            "PAYLOAD",
            r#"{"ORDER_IDS": ["9e07af03-ce31-4ff3-xmpl-36dce652cb4f", "637de236-e7b2-464e-xmpl-baf57f86bb53"]}"#,
        );
        let err = invocation(queued(&orders)).unwrap_err();
        assert!(matches!(err, EventError::Message { .. }), "{err}");
    }

    /// Messages of one delivery gathered, in order (the queue delivers one at a time; a
    /// batch, should its size change, loses none).
    #[test]
    fn the_events_of_several_messages_are_gathered() {
        let failed = |key: &str| {
            let mut event = s3_event();
            event["Records"][0]["s3"]["object"]["key"] = key.into();
            serde_json::json!({ "requestPayload": event }).to_string()
        };
        let mut batch = queued(&failed("inbox/a/1.csv"));
        let mut second = batch["Records"][0].clone();
        second["messageId"] = "m-2".into();
        second["body"] = failed("inbox/b/2.csv").into();
        batch["Records"].as_array_mut().unwrap().push(second);
        let event = invocation(batch).unwrap().into_event();
        let keys: Vec<_> = event
            .records
            .iter()
            .map(|r| r.s3.object.key.clone())
            .collect();
        assert_eq!(
            keys,
            [Some("inbox/a/1.csv".into()), Some("inbox/b/2.csv".into())]
        );
    }

    #[test]
    fn a_message_without_the_failed_event_is_refused_with_its_id() {
        for body in [
            "pas du JSON",
            "{}",
            r#"{"requestPayload": {"Records": [{"s3": 12}]}}"#,
        ] {
            let err = invocation(queued(body)).unwrap_err();
            assert!(
                matches!(&err, EventError::Message { message, .. } if message == "m-1"),
                "{body}: {err}"
            );
        }
        let err = invocation(serde_json::json!({"Records": "non"})).unwrap_err();
        assert!(matches!(err, EventError::Unreadable(_)), "{err}");
    }
}
