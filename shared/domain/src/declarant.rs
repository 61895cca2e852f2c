//! Who declares: the declarant id (an S3 prefix and an SFTP home, so only safe characters) and
//! the declarant type, which decides how its stock counts in the chain.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest declarant id: short enough for an SFTP user name and an S3 prefix.
pub const DECLARANT_ID_MAX_LEN: usize = 64;

/// Why a text is not a declarant id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclarantError {
    /// Too short or too long, or with a character outside `A-Z a-z 0-9 - _`.
    #[error(
        "identifiant de déclarant invalide « {0} » : 2 à 64 caractères parmi A-Z, a-z, 0-9, - et _, \
         commençant par une lettre ou un chiffre (majuscules et minuscules sont équivalentes)"
    )]
    InvalidId(String),
    /// A valid id not written in its canonical (lower-case) form where only that form is
    /// accepted: S3 prefixes.
    #[error("dossier non canonique « {given} » : le dossier du déclarant s'écrit « {canonical} »")]
    NotCanonical {
        /// The text as given.
        given: String,
        /// Its canonical form.
        canonical: String,
    },
    /// Not one of the known declarant types.
    #[error("type de déclarant inconnu « {0} » : exploitant, grossiste ou autre attendu")]
    InvalidType(String),
}

/// A declarant id: 2 to 64 characters among `A-Z`, `a-z`, `0-9`, `-`, `_`, starting with a
/// letter or a digit, as registries and SFTP user names write them (`LABO-A`, `Lab_Sud`).
///
/// Case does not matter: the id is kept in one canonical lower-case form, the only one used for
/// S3 prefixes, table keys and display, so `LABO-A` and `labo-a` are one declarant with one
/// folder. No `/`, `.` or space, so that it can never escape its S3 prefix.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeclarantId(String);

impl DeclarantId {
    /// Longest declarant id.
    pub const MAX_LEN: usize = DECLARANT_ID_MAX_LEN;

    /// Checks an id in any case and keeps its canonical lower-case form.
    pub fn parse(text: &str) -> Result<Self, DeclarantError> {
        let bytes = text.as_bytes();
        let safe = (2..=DECLARANT_ID_MAX_LEN).contains(&bytes.len())
            && bytes[0].is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
        if safe {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(DeclarantError::InvalidId(text.to_owned()))
        }
    }

    /// Checks an id that must already be in its canonical form, such as the folder of an S3
    /// key: `LABO-A` is refused with [`DeclarantError::NotCanonical`], so that one declarant
    /// never has two prefixes.
    pub fn parse_canonical(text: &str) -> Result<Self, DeclarantError> {
        let id = Self::parse(text)?;
        if id.0 == text {
            Ok(id)
        } else {
            Err(DeclarantError::NotCanonical {
                given: text.to_owned(),
                canonical: id.0,
            })
        }
    }

    /// The canonical (lower-case) id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeclarantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DeclarantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeclarantId({})", self.0)
    }
}

impl std::str::FromStr for DeclarantId {
    type Err = DeclarantError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for DeclarantId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DeclarantId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The role of a declarant in the supply chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclarantType {
    /// Laboratoire exploitant: holds the manufacturer's stock and the legal safety stock.
    Exploitant,
    /// Grossiste-répartiteur: its outflow is the best measure of end-market demand.
    Grossiste,
    /// Anyone else (dépositaire, hospital central pharmacy…): counted, not used for demand.
    Autre,
}

impl DeclarantType {
    /// Parses the type as written in `config/declarants.csv` (a few spellings accepted).
    pub fn parse(text: &str) -> Result<Self, DeclarantError> {
        match text.trim().to_lowercase().as_str() {
            "exploitant" | "laboratoire" | "laboratoire exploitant" => Ok(Self::Exploitant),
            "grossiste"
            | "grossiste-repartiteur"
            | "grossiste-répartiteur"
            | "grossiste_repartiteur" => Ok(Self::Grossiste),
            "autre" | "other" => Ok(Self::Autre),
            _ => Err(DeclarantError::InvalidType(text.to_owned())),
        }
    }

    /// The canonical spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Exploitant => "exploitant",
            Self::Grossiste => "grossiste",
            Self::Autre => "autre",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_safe_ids() {
        for id in ["lab-sanofi", "gr_ocp_01", "42", "a1"] {
            assert_eq!(DeclarantId::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn ids_as_registries_write_them_are_one_declarant_in_lower_case() {
        for (written, canonical) in [
            ("LABO-A", "labo-a"),
            ("GR-OCP", "gr-ocp"),
            ("Lab_Sud", "lab_sud"),
            ("A1", "a1"),
        ] {
            let id = DeclarantId::parse(written).unwrap();
            assert_eq!(id, DeclarantId::parse(canonical).unwrap(), "{written}");
            assert_eq!(
                (id.as_str(), id.to_string().as_str()),
                (canonical, canonical)
            );
            assert_eq!(written.parse::<DeclarantId>().unwrap(), id);
            let json: DeclarantId = serde_json::from_str(&format!("\"{written}\"")).unwrap();
            assert_eq!(
                serde_json::to_string(&json).unwrap(),
                format!("\"{canonical}\"")
            );
        }
        let max = "A".repeat(DECLARANT_ID_MAX_LEN);
        assert_eq!(
            DeclarantId::parse(&max).unwrap().as_str(),
            "a".repeat(DECLARANT_ID_MAX_LEN)
        );
    }

    #[test]
    fn only_the_canonical_spelling_passes_where_a_prefix_is_read() {
        assert_eq!(
            DeclarantId::parse_canonical("labo-a").unwrap().as_str(),
            "labo-a"
        );
        let err = DeclarantId::parse_canonical("LABO-A").unwrap_err();
        assert_eq!(
            err,
            DeclarantError::NotCanonical {
                given: "LABO-A".into(),
                canonical: "labo-a".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "dossier non canonique « LABO-A » : le dossier du déclarant s'écrit « labo-a »"
        );
        assert!(matches!(
            DeclarantId::parse_canonical("../x"),
            Err(DeclarantError::InvalidId(_))
        ));
    }

    #[test]
    fn rejects_ids_that_could_escape_a_prefix() {
        let too_long = "a".repeat(DECLARANT_ID_MAX_LEN + 1);
        let too_long_upper = "A".repeat(DECLARANT_ID_MAX_LEN + 1);
        for id in [
            "",
            "a",
            "A",
            "../x",
            "..",
            "a/b",
            "A/B",
            "a\\b",
            "a.b",
            "LAB.A",
            "-lab",
            "_lab",
            "-LAB",
            "lab x",
            "LAB\tX",
            "é-lab",
            "LABÉ",
            "K\u{212A}",
            "lab-a\0",
            too_long.as_str(),
            too_long_upper.as_str(),
        ] {
            assert!(DeclarantId::parse(id).is_err(), "{id:?} should be refused");
        }
        let err = DeclarantId::parse("Lab Sud").unwrap_err().to_string();
        assert!(err.contains("A-Z, a-z, 0-9, - et _"), "{err}");
    }

    #[test]
    fn parses_declarant_types() {
        assert_eq!(
            DeclarantType::parse("Exploitant").unwrap(),
            DeclarantType::Exploitant
        );
        assert_eq!(
            DeclarantType::parse("grossiste-répartiteur").unwrap(),
            DeclarantType::Grossiste
        );
        assert!(DeclarantType::parse("pharmacie").is_err());
    }
}
