//! The declarant registry, `config/declarants.csv`: `declarant;nom;type`, type `exploitant`,
//! `grossiste` or `autre`. Who may declare, and how their stock counts in the chain.

use std::collections::BTreeMap;
use std::path::Path;

use crate::declaration::decode::decode_text;
use crate::domain::{DeclarantId, DeclarantType};

/// Path of the registry inside a data directory.
pub const REGISTRY_FILE: &str = "config/declarants.csv";

/// One registered declarant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declarant {
    /// Id (SFTP folder).
    pub id: DeclarantId,
    /// Company name.
    pub name: String,
    /// Role in the chain.
    pub kind: DeclarantType,
}

/// Why the registry cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The file cannot be read.
    #[error("{path} : {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("config/declarants.csv, ligne {line} : {reason}")]
    Line {
        /// Physical line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The registered declarants by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    /// Declarants by id.
    pub declarants: BTreeMap<DeclarantId, Declarant>,
}

impl Registry {
    /// Parses the CSV (header line first).
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let mut declarants = BTreeMap::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            let line_no = i + 1;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let cells: Vec<&str> = line.split(';').map(str::trim).collect();
            let bad = |reason: String| RegistryError::Line {
                line: line_no,
                reason,
            };
            let [id, name, kind] = cells[..] else {
                return Err(bad(format!(
                    "3 colonnes attendues (declarant;nom;type), {} lues",
                    cells.len()
                )));
            };
            let id = DeclarantId::parse(id).map_err(|e| bad(e.to_string()))?;
            let kind = DeclarantType::parse(kind).map_err(|e| bad(e.to_string()))?;
            declarants.insert(
                id.clone(),
                Declarant {
                    id,
                    name: name.to_owned(),
                    kind,
                },
            );
        }
        Ok(Self { declarants })
    }

    /// The CSV text of the registry (header first, by id).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("declarant;nom;type\n");
        for d in self.declarants.values() {
            out.push_str(&format!("{};{};{}\n", d.id, d.name, d.kind.as_str()));
        }
        out
    }

    /// The registry of a data directory; `None` when the file does not exist.
    pub fn load(data_dir: &Path) -> Result<Option<Self>, RegistryError> {
        let path = data_dir.join(REGISTRY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Self::parse(&decode_text(&bytes).0).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(RegistryError::Io { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_written_back_as_it_is_read() {
        let text =
            "declarant;nom;type\ngr-b;Grossiste B;grossiste\nlab-a;Laboratoire A;exploitant\n";
        let r = Registry::parse(text).unwrap();
        assert_eq!(r.to_csv(), text);
        assert_eq!(Registry::parse(&r.to_csv()).unwrap(), r);
    }

    #[test]
    fn reads_the_registry() {
        let r = Registry::parse("declarant;nom;type\r\nlab-a;Laboratoire A;exploitant\r\n\r\ngr-b;Grossiste B;grossiste\r\n").unwrap();
        assert_eq!(r.declarants.len(), 2);
        assert_eq!(
            r.declarants[&DeclarantId::parse("gr-b").unwrap()].kind,
            DeclarantType::Grossiste
        );
    }

    #[test]
    fn a_bad_line_is_named() {
        let err = Registry::parse("declarant;nom;type\nlab-a;A;pharmacie\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("config/declarants.csv, ligne 2 :"),
            "{err}"
        );
    }
}
