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

/// Message attribute saying whether a message is for email subscribers (`oui`/`non`).
pub const EMAIL_ATTRIBUTE: &str = "email";
/// Message attribute saying whether a message is for SMS subscribers (`oui`/`non`).
pub const SMS_ATTRIBUTE: &str = "sms";

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
        request = match (&n.sms, n.email) {
            // One message per protocol: full text by email, the short one by SMS.
            (Some(sms), true) => request.message_structure("json").message(
                serde_json::json!({ "default": n.body, "email": n.body, "sms": sms }).to_string(),
            ),
            // A held SMS released: the short text alone.
            (Some(sms), false) => request
                .message_structure("json")
                .message(serde_json::json!({ "default": sms, "sms": sms }).to_string()),
            (None, _) => request.message(&n.body),
        };
        // Subscriptions filter on these: email subscribers take `email = oui`, phones
        // `sms = oui` (the template's FilterPolicy), so that an email sent while its SMS is
        // held, and the SMS released later, each reach only their own subscribers.
        let channels = [
            (EMAIL_ATTRIBUTE, if n.email { "oui" } else { "non" }),
            (SMS_ATTRIBUTE, if n.sms.is_some() { "oui" } else { "non" }),
        ];
        let attributes = n
            .attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(channels);
        for (name, value) in attributes {
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
