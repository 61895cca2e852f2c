//! S3 event keys: the key of an event notification is URL-encoded; this is the one place that
//! decodes it.

/// A key that is not valid percent-encoding of UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("clé d'événement S3 mal encodée : {0}")]
pub struct EventKeyError(pub String);

/// Decodes a key as S3 event notifications carry it: `+` for a space, `%XX` for other bytes
/// (UTF-8). `aws_lambda_events`' `url_decoded_key` is never filled by S3.
pub fn decode_event_key(raw: &str) -> Result<String, EventKeyError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| EventKeyError(raw.to_owned()))?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| EventKeyError(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_spaces_accents_and_plus_signs() {
        assert_eq!(
            decode_event_key("inbox/lab-a/stock+du+20%2F11.csv").unwrap(),
            "inbox/lab-a/stock du 20/11.csv"
        );
        assert_eq!(
            decode_event_key("inbox/lab-a/d%C3%A9p%C3%B4t+%2B+1.csv").unwrap(),
            "inbox/lab-a/dépôt + 1.csv"
        );
        assert!(decode_event_key("inbox/%ZZ").is_err());
        assert!(decode_event_key("inbox/%C3").is_err());
        assert!(decode_event_key("%").is_err());
    }
}
