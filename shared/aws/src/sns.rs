//! Notification through SNS: email text, short SMS, and message attributes for filters.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::aws_error;
use medistock_domain::store::{Notification, Notifier, StoreError};

/// Publishes to SNS topics.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: Client,
}

impl SnsNotifier {
    /// Wraps a client built once at start-up.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// SNS subjects: at most 100 printable characters, no line break.
fn subject(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(100).collect()
}

impl Notifier for SnsNotifier {
    async fn publish(&self, n: &Notification) -> Result<String, StoreError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&n.topic)
            .subject(subject(&n.subject));
        request = match &n.sms {
            // One message per protocol: full text by email, the short one by SMS.
            Some(sms) => request.message_structure("json").message(
                serde_json::json!({ "default": n.body, "email": n.body, "sms": sms }).to_string(),
            ),
            None => request.message(&n.body),
        };
        for (name, value) in &n.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| StoreError::Aws {
                    operation: "SNS.Publish",
                    message: e.to_string(),
                })?;
            request = request.message_attributes(name, attribute);
        }
        let out = request
            .send()
            .await
            .map_err(|e| aws_error("SNS.Publish", e))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}
