//! Inbox keys: `inbox/<declarant>/<name>`, the only place declarants can write. The declarant
//! is the key prefix set by the SFTP gateway, never a value inside the file.

use crate::domain::{DeclarantError, DeclarantId};

/// Why a key is not a declaration drop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not under `inbox/<declarant>/`, or in a sub-folder of it.
    #[error("clé hors de inbox/<déclarant>/<fichier> : {0}")]
    OutsideInbox(String),
    /// The prefix is not a valid declarant id.
    #[error("dossier de déclarant invalide dans {key} : {source}")]
    Declarant {
        /// The key.
        key: String,
        /// Why the id is invalid.
        source: DeclarantError,
    },
    /// The key is not valid percent-encoding of UTF-8.
    #[error("clé d'événement S3 mal encodée : {0}")]
    Encoding(String),
}

/// A key of the inbox, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxKey {
    /// The whole key.
    pub key: String,
    /// The declarant (folder).
    pub declarant: DeclarantId,
    /// The file name as dropped.
    pub name: String,
}

impl InboxKey {
    /// Splits `inbox/<declarant>/<name>`; sub-folders and other prefixes are refused.
    pub fn parse(key: &str) -> Result<Self, KeyError> {
        let outside = || KeyError::OutsideInbox(key.to_owned());
        let rest = key.strip_prefix("inbox/").ok_or_else(outside)?;
        let (declarant, name) = rest.split_once('/').ok_or_else(outside)?;
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(outside());
        }
        let declarant = DeclarantId::parse(declarant).map_err(|source| KeyError::Declarant {
            key: key.to_owned(),
            source,
        })?;
        Ok(Self {
            key: key.to_owned(),
            declarant,
            name: name.to_owned(),
        })
    }

    /// The receipt key for this file: `receipts/<declarant>/<name>.<suffix>`.
    pub fn receipt_key(&self, suffix: &str) -> String {
        format!("receipts/{}/{}.{suffix}", self.declarant, self.name)
    }

    /// The extension kept for archives: `xlsx`, `csv` or `txt` (anything else).
    pub fn extension(&self) -> &'static str {
        let lower = self.name.to_ascii_lowercase();
        if lower.ends_with(".xlsx") {
            "xlsx"
        } else if lower.ends_with(".csv") {
            "csv"
        } else {
            "txt"
        }
    }
}

/// Decodes a key as S3 event notifications carry it: `+` for a space, `%XX` for other bytes
/// (UTF-8). `aws_lambda_events`' `url_decoded_key` is never filled by S3.
pub fn decode_event_key(raw: &str) -> Result<String, KeyError> {
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
                    .ok_or_else(|| KeyError::Encoding(raw.to_owned()))?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| KeyError::Encoding(raw.to_owned()))
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

    #[test]
    fn splits_inbox_keys() {
        let k = InboxKey::parse("inbox/grossiste-a/stocks du 20.11.CSV").unwrap();
        assert_eq!(
            (k.declarant.as_str(), k.name.as_str(), k.extension()),
            ("grossiste-a", "stocks du 20.11.CSV", "csv")
        );
        assert_eq!(
            k.receipt_key("accuse.txt"),
            "receipts/grossiste-a/stocks du 20.11.CSV.accuse.txt"
        );
    }

    #[test]
    fn refuses_keys_outside_a_declarant_folder() {
        for key in [
            "receipts/a1/x.csv",
            "inbox/x.csv",
            "inbox/a1/",
            "inbox/a1/sub/x.csv",
            "inbox/A1/x.csv",
            "inbox/../x.csv",
        ] {
            assert!(InboxKey::parse(key).is_err(), "{key}");
        }
    }
}
