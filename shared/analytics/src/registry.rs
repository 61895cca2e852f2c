//! The declarants' types, as the risk run and the synthesis read them: built from the
//! declarants' accounts ([`Registry::from_accounts`], the one record of a declarant), or read
//! from its CSV import format, `config/declarants.csv`: `declarant;nom;type[;cadence]`, type
//! `exploitant`, `grossiste` or `autre`, cadence `quotidienne`, `hebdomadaire` or `aucune`
//! (empty or absent: the type's default) (`medistock declarants import`, a replayed folder).
//! How each declarant's stock counts in the chain. Ids are
//! read in any case (`LABO-A`) and kept in their canonical lower-case form; a declarant listed
//! twice, even in two spellings, is an error rather than a silent choice between two lines.

use std::collections::BTreeMap;
use std::path::Path;

use crate::declaration::decode::decode_text;
use medistock_domain::account::{Account, Cadence};
use medistock_domain::{DeclarantId, DeclarantType};

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
    /// Expected cadence (`None`: the type's default).
    pub cadence: Option<Cadence>,
    /// Whether its account may log in (an imported registry's accounts are).
    pub enabled: bool,
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
    /// Parses the CSV (header line first); ids are stored in their canonical form.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let mut declarants = BTreeMap::new();
        let mut first_line = BTreeMap::new();
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
            let (id, name, kind, cadence) = match cells[..] {
                [id, name, kind] => (id, name, kind, ""),
                [id, name, kind, cadence] => (id, name, kind, cadence),
                _ => {
                    return Err(bad(format!(
                        "3 ou 4 colonnes attendues (declarant;nom;type;cadence), {} lues",
                        cells.len()
                    )));
                }
            };
            let cadence = (!cadence.is_empty())
                .then(|| Cadence::parse(cadence))
                .transpose()
                .map_err(bad)?;
            let id = DeclarantId::parse(id).map_err(|e| bad(e.to_string()))?;
            let kind = DeclarantType::parse(kind).map_err(|e| bad(e.to_string()))?;
            if let Some(first) = first_line.insert(id.clone(), line_no) {
                return Err(bad(format!(
                    "le déclarant {id} est déjà inscrit ligne {first} (majuscules et minuscules \
                     sont équivalentes)"
                )));
            }
            declarants.insert(
                id.clone(),
                Declarant {
                    id,
                    name: name.to_owned(),
                    kind,
                    cadence,
                    enabled: true,
                },
            );
        }
        Ok(Self { declarants })
    }

    /// The CSV text of the registry (header first, by id).
    pub fn to_csv(&self) -> String {
        // The cadence column only when a declarant has its own.
        let cadences = self.declarants.values().any(|d| d.cadence.is_some());
        let mut out = String::from(if cadences {
            "declarant;nom;type;cadence\n"
        } else {
            "declarant;nom;type\n"
        });
        for d in self.declarants.values() {
            out.push_str(&format!("{};{};{}", d.id, d.name, d.kind.as_str()));
            if cadences {
                out.push(';');
                out.push_str(d.cadence.map_or("", Cadence::as_str));
            }
            out.push('\n');
        }
        out
    }

    /// The registry of the declarants' accounts.
    pub fn from_accounts(accounts: &[Account]) -> Self {
        Self {
            declarants: accounts
                .iter()
                .map(|a| {
                    (
                        a.id.clone(),
                        Declarant {
                            id: a.id.clone(),
                            name: a.name.clone(),
                            kind: a.kind,
                            cadence: a.cadence,
                            enabled: a.enabled,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The accounts of an imported registry: enabled, without keys (nobody logs in until a
    /// key is added with `rotate-key`).
    pub fn to_accounts(&self) -> Vec<Account> {
        self.declarants
            .values()
            .map(|d| Account {
                cadence: d.cadence,
                id: d.id.clone(),
                name: d.name.clone(),
                kind: d.kind,
                public_keys: Vec::new(),
                enabled: true,
            })
            .collect()
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
    fn a_cadence_column_is_read_checked_and_written_back() {
        let text =
            "declarant;nom;type;cadence\ngr-a;A;grossiste;hebdomadaire\nlab-b;B;exploitant;\n";
        let registry = Registry::parse(text).unwrap();
        assert_eq!(registry.to_csv(), text);
        let accounts = registry.to_accounts();
        assert_eq!(accounts[0].cadence, Some(Cadence::Hebdomadaire));
        assert_eq!(
            Cadence::of(&accounts[1]),
            Cadence::Hebdomadaire,
            "a manufacturer's default"
        );
        let bad = Registry::parse("declarant;nom;type;cadence\ngr-a;A;grossiste;mensuelle\n");
        let e = bad.unwrap_err().to_string();
        assert!(
            e.contains("ligne 2") && e.contains("cadence inconnue « mensuelle »"),
            "{e}"
        );
    }

    #[test]
    fn the_registry_is_written_back_as_it_is_read() {
        let text =
            "declarant;nom;type\ngr-b;Grossiste B;grossiste\nlab-a;Laboratoire A;exploitant\n";
        let r = Registry::parse(text).unwrap();
        assert_eq!(r.to_csv(), text);
        assert_eq!(Registry::parse(&r.to_csv()).unwrap(), r);
    }

    #[test]
    fn accounts_and_the_registry_carry_the_same_declarants() {
        let r = Registry::parse("declarant;nom;type\ngr-b;Grossiste B;grossiste\n").unwrap();
        let accounts = r.to_accounts();
        assert_eq!(accounts.len(), 1);
        assert!(accounts[0].enabled && accounts[0].public_keys.is_empty());
        assert_eq!(Registry::from_accounts(&accounts), r);
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
    fn ids_are_read_in_any_case_and_written_back_canonical() {
        let r = Registry::parse(
            "declarant;nom;type\nLABO-A;Laboratoire A;exploitant\nGR-OCP;OCP;grossiste\nLab_Sud;Sud;autre\n",
        )
        .unwrap();
        let a = &r.declarants[&DeclarantId::parse("labo-a").unwrap()];
        assert_eq!(
            (a.id.as_str(), a.kind),
            ("labo-a", DeclarantType::Exploitant)
        );
        assert_eq!(
            r.to_csv(),
            "declarant;nom;type\ngr-ocp;OCP;grossiste\nlab_sud;Sud;autre\nlabo-a;Laboratoire A;exploitant\n"
        );
    }

    #[test]
    fn a_declarant_listed_twice_in_two_spellings_is_refused() {
        let err = Registry::parse(
            "declarant;nom;type\nlabo-a;Laboratoire A;exploitant\nLABO-A;Autre A;grossiste\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config/declarants.csv, ligne 3 : le déclarant labo-a est déjà inscrit ligne 2 \
             (majuscules et minuscules sont équivalentes)"
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
