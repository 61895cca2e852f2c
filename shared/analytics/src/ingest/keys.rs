//! Inbox keys: `inbox/<declarant>/<name>`, the only place declarants can write. The declarant
//! is the key prefix set by the SFTP gateway, never a value inside the file.

use medistock_domain::{DeclarantError, DeclarantId};

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
}

/// Longest file name, in bytes, that a derived object name (receipt) keeps as is; a longer
/// one is cut and tagged with a hash of the whole name, so that a receipt's name always fits
/// a file system (255 bytes) and an S3 key (1,024 bytes).
pub const MAX_DERIVED_NAME_BYTES: usize = 120;

/// A key of the inbox, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxKey {
    /// The whole key.
    pub key: String,
    /// The declarant (folder).
    pub declarant: DeclarantId,
    /// The file name as dropped.
    pub name: String,
    /// The object version the file arrived as, when the bucket versions objects.
    pub version: Option<String>,
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
        // The gateway writes canonical folders only: one declarant, one S3 prefix.
        let declarant =
            DeclarantId::parse_canonical(declarant).map_err(|source| KeyError::Declarant {
                key: key.to_owned(),
                source,
            })?;
        Ok(Self {
            key: key.to_owned(),
            declarant,
            name: name.to_owned(),
            version: None,
        })
    }

    /// The same key, naming one version of the object.
    pub fn with_version(mut self, version: Option<&str>) -> Self {
        self.version = version.map(str::to_owned);
        self
    }

    /// The receipt key for this file: `receipts/<declarant>/<name>.<suffix>`, with a tag of
    /// the object's version when there is one (`<name>.v<8 hex>.<suffix>`), so that two
    /// versions dropped under one name never share a receipt. A name longer than
    /// [`MAX_DERIVED_NAME_BYTES`] is cut and tagged with a hash of the whole name.
    pub fn receipt_key(&self, suffix: &str) -> String {
        let stem = bounded_name(&self.name);
        match &self.version {
            Some(version) => format!(
                "receipts/{}/{stem}.v{}.{suffix}",
                self.declarant,
                &medistock_domain::sha256_hex(version.as_bytes())[..8]
            ),
            None => format!("receipts/{}/{stem}.{suffix}", self.declarant),
        }
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

/// A file name fit to derive object names from: as is up to [`MAX_DERIVED_NAME_BYTES`],
/// else cut at a character boundary and tagged `~<8 hex of the whole name's SHA-256>`.
pub fn bounded_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name.len() <= MAX_DERIVED_NAME_BYTES {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut cut = MAX_DERIVED_NAME_BYTES - 9;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let tag = &medistock_domain::sha256_hex(name.as_bytes())[..8];
    std::borrow::Cow::Owned(format!("{}~{tag}", &name[..cut]))
}

/// Whether `name` is an SFTP client's temporary upload rather than a declaration: WinSCP's
/// `….filepart`, `….part`, `….tmp` (any case), an office lock file `~$…`, or a hidden name
/// starting with `.`. Clients upload under such a name and then rename the file (Transfer
/// copies it to the final key, then deletes it), so only the final name is a declaration.
/// `name` is a file name or a whole key: only its last segment counts.
pub fn is_temporary_upload(name: &str) -> bool {
    let name = name.rsplit('/').next().unwrap_or(name);
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || [".filepart", ".part", ".tmp"]
            .iter()
            .any(|suffix| lower.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn receipts_of_two_versions_differ_and_long_names_are_bounded() {
        let k = InboxKey::parse("inbox/lab-a/stock.csv").unwrap();
        let v1 = k
            .clone()
            .with_version(Some("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"));
        let v2 = k
            .clone()
            .with_version(Some("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHZ"));
        assert_ne!(v1.receipt_key("accuse.txt"), v2.receipt_key("accuse.txt"));
        assert!(
            v1.receipt_key("accuse.txt")
                .starts_with("receipts/lab-a/stock.csv.v")
        );

        let long = format!("inbox/lab-a/{}é.csv", "x".repeat(230));
        let k = InboxKey::parse(&long).unwrap();
        let receipt = k.receipt_key("erreurs.csv");
        let file_name = receipt.rsplit('/').next().unwrap();
        assert!(file_name.len() <= 255, "{}", file_name.len());
        assert!(bounded_name(&k.name).len() <= MAX_DERIVED_NAME_BYTES);
        // Two long names that share their first 120 bytes still get two receipts.
        let other = InboxKey::parse(&format!("inbox/lab-a/{}è.csv", "x".repeat(230))).unwrap();
        assert_ne!(other.receipt_key("accuse.txt"), k.receipt_key("accuse.txt"));
        // A name that is cut inside a multi-byte character stays valid UTF-8.
        let accents = "é".repeat(200);
        assert!(bounded_name(&accents).len() <= MAX_DERIVED_NAME_BYTES);
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

    #[test]
    fn temporary_upload_names_are_recognised() {
        for name in [
            "s48.csv.filepart",
            "S48.CSV.FILEPART",
            "s48.csv.part",
            "s48.xlsx.tmp",
            "s48.TMP",
            "~$stocks.xlsx",
            ".s48.csv",
            ".s48.csv.swp",
            ".",
            "inbox/lab-a/s48.csv.filepart",
            "inbox/lab-a/.hidden.csv",
        ] {
            assert!(is_temporary_upload(name), "{name:?}");
        }
        for name in [
            "s48.csv",
            "stocks.xlsx",
            "parts.csv",
            "stock.tmp.csv",
            "s48.partial.csv",
            "rapport~$.csv",
            "inbox/.lab-a/s48.csv",
            "",
        ] {
            assert!(!is_temporary_upload(name), "{name:?}");
        }
    }
}
