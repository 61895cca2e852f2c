//! Who declares: the declarant id (an S3 prefix and an SFTP home, so only safe characters) and
//! the declarant type, which decides how its stock counts in the chain.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest declarant id: short enough for an SFTP user name and an S3 prefix.
pub const DECLARANT_ID_MAX_LEN: usize = 64;

/// Why a text is not a declarant id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclarantError {
    /// Empty, too long, or with a character outside `a-z 0-9 - _`.
    #[error(
        "identifiant de déclarant invalide « {0} » : 2 à 64 caractères parmi a-z, 0-9, - et _, \
         commençant par une lettre ou un chiffre"
    )]
    InvalidId(String),
    /// Not one of the known declarant types.
    #[error("type de déclarant inconnu « {0} » : exploitant, grossiste ou autre attendu")]
    InvalidType(String),
}

/// A declarant id: 2 to 64 characters among `a-z`, `0-9`, `-`, `_`, starting with a letter or a
/// digit. Lower case only, so that two prefixes never differ by case alone; no `/`, `.` or space,
/// so that it can never escape its S3 prefix.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeclarantId(String);

impl DeclarantId {
    /// Checks and wraps an id.
    pub fn parse(text: &str) -> Result<Self, DeclarantError> {
        let bytes = text.as_bytes();
        let safe = (2..=DECLARANT_ID_MAX_LEN).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase() | bytes[0].is_ascii_digit()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_');
        if safe {
            Ok(Self(text.to_owned()))
        } else {
            Err(DeclarantError::InvalidId(text.to_owned()))
        }
    }

    /// The id as text.
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
    fn rejects_ids_that_could_escape_a_prefix_or_collide_by_case() {
        let too_long = "a".repeat(65);
        for id in [
            "",
            "a",
            "../x",
            "a/b",
            "a.b",
            "Lab",
            "-lab",
            "_lab",
            "lab x",
            "é-lab",
            too_long.as_str(),
        ] {
            assert!(DeclarantId::parse(id).is_err(), "{id:?} should be refused");
        }
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
