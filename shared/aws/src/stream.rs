//! DynamoDB stream images: what the `notify` function reads from a stream record, decoded
//! against the table's key layout ([`crate::keys`]) rather than re-parsed by the function.

use serde_dynamo::{AttributeValue, Item};

use crate::keys;

/// The alert key of a stream record's image, `None` when the item is not an alert record.
pub fn alert_key(image: &Item) -> Option<String> {
    let text = |name: &str| match image.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    };
    keys::alert_key(text("pk")?, text("sk")?).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(pk: &str, sk: &str) -> Item {
        let mut item = std::collections::HashMap::new();
        item.insert("pk".to_owned(), AttributeValue::S(pk.to_owned()));
        item.insert("sk".to_owned(), AttributeValue::S(sk.to_owned()));
        Item::from(item)
    }

    #[test]
    fn only_alert_records_have_an_alert_key() {
        let key = "3400949497294#2026-11-23#NORMAL-TENSION";
        assert_eq!(
            alert_key(&image("ALERT#3400949497294", key)).as_deref(),
            Some(key)
        );
        assert_eq!(alert_key(&image("REF#3400949497294", "RISK")), None);
        assert_eq!(
            alert_key(&Item::from(std::collections::HashMap::new())),
            None
        );
    }
}
