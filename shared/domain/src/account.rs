//! The declarant's account: who may drop files (SSH public keys, type, status), held in the
//! state store so that a declarant is onboarded, has its key rotated or is disabled without a
//! redeployment; and the changes an operator makes to it.

use serde::{Deserialize, Serialize};

use crate::{DeclarantId, DeclarantType};

/// A declarant's SFTP account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Id: the SFTP user name and the folder.
    pub id: DeclarantId,
    /// Company name.
    pub name: String,
    /// Role in the chain.
    pub kind: DeclarantType,
    /// SSH public keys (`ssh-ed25519 AAAA… comment`), several during a rotation.
    pub public_keys: Vec<String>,
    /// A disabled account cannot log in; its files and history stay.
    pub enabled: bool,
    /// How often it is expected to declare (`None`: its type's default, see
    /// [`Cadence::of`]).
    #[serde(default)]
    pub cadence: Option<Cadence>,
}

/// How often a declarant is expected to send a file: wholesalers every working day,
/// manufacturers every week by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cadence {
    /// Every working day (Monday to Friday).
    Quotidienne,
    /// Every week.
    Hebdomadaire,
    /// Not expected (a declarant that sends when it has something to say).
    Aucune,
}

impl Cadence {
    /// The spelling on the command line and in the registry.
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Quotidienne => "quotidienne",
            Cadence::Hebdomadaire => "hebdomadaire",
            Cadence::Aucune => "aucune",
        }
    }

    /// Parses `quotidienne`, `hebdomadaire` or `aucune`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "quotidienne" => Ok(Cadence::Quotidienne),
            "hebdomadaire" => Ok(Cadence::Hebdomadaire),
            "aucune" => Ok(Cadence::Aucune),
            other => Err(format!(
                "cadence inconnue « {} » : quotidienne, hebdomadaire ou aucune",
                other.chars().take(40).collect::<String>()
            )),
        }
    }

    /// A declarant's cadence: its own, else its type's default.
    pub fn of(account: &Account) -> Self {
        account.cadence.unwrap_or(match account.kind {
            DeclarantType::Grossiste => Cadence::Quotidienne,
            DeclarantType::Exploitant => Cadence::Hebdomadaire,
            DeclarantType::Autre => Cadence::Aucune,
        })
    }

    /// The day by which a declarant whose latest file came on `last` has lapsed: its next
    /// expected day plus a grace (one working day for a daily declarant, two days for a
    /// weekly one). `None` when nothing is expected.
    pub fn lapsed_after(self, last: chrono::NaiveDate) -> Option<chrono::NaiveDate> {
        use chrono::{Datelike, Days, Weekday};
        let next_working = |d: chrono::NaiveDate| {
            let mut d = d + Days::new(1);
            while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                d = d + Days::new(1);
            }
            d
        };
        match self {
            Cadence::Quotidienne => Some(next_working(next_working(last))),
            Cadence::Hebdomadaire => Some(last + Days::new(7 + 2)),
            Cadence::Aucune => None,
        }
    }
}

/// A change to a declarant's account (onboarding, key rotation, disabling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange {
    /// A new declarant with its first key.
    Add {
        /// Company name.
        name: String,
        /// Role.
        kind: DeclarantType,
        /// SSH public key.
        key: String,
    },
    /// A new key; the previous ones are kept when `keep_previous` (a rotation in two steps).
    RotateKey {
        /// SSH public key.
        key: String,
        /// Keep the keys held so far.
        keep_previous: bool,
    },
    /// No more logins; files, receipts and history stay.
    Disable,
    /// Logins again.
    Enable,
    /// Another expected cadence (`None`: the type's default).
    SetCadence(Option<Cadence>),
}

/// Why a change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// `Add` on an existing account.
    #[error("le déclarant {0} existe déjà (rotate-key pour changer sa clé)")]
    Exists(String),
    /// Any other change on a missing account.
    #[error("déclarant {0} inconnu (add pour l'inscrire)")]
    Unknown(String),
    /// Not an OpenSSH public key line.
    #[error("clé publique SSH invalide : {0}")]
    InvalidKey(String),
    /// A name the registry cannot hold.
    #[error("nom invalide : {0}")]
    InvalidName(String),
}

/// Checks an OpenSSH public key line (`type base64 [comment]`) and returns it trimmed.
pub fn check_public_key(line: &str) -> Result<String, AccountError> {
    let line = line.trim();
    let mut parts = line.split_whitespace();
    let (Some(kind), Some(body)) = (parts.next(), parts.next()) else {
        return Err(AccountError::InvalidKey(
            "attendu « type clé [commentaire] », par exemple « ssh-ed25519 AAAA… »".into(),
        ));
    };
    const KINDS: [&str; 5] = [
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
    ];
    if !KINDS.contains(&kind) {
        return Err(AccountError::InvalidKey(format!(
            "type « {kind} » non accepté (attendu : {})",
            KINDS.join(", ")
        )));
    }
    let base64 = body
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    if !base64 || body.len() < 16 || line.contains(['\n', '\r']) {
        return Err(AccountError::InvalidKey(
            "le corps de la clé n'est pas du base64".into(),
        ));
    }
    Ok(line.to_owned())
}

/// Checks a company name: not empty, no semicolon or line break (it is written in CSV and
/// shown in alerts); returns it trimmed.
pub fn check_name(name: &str) -> Result<String, AccountError> {
    let name = name.trim();
    if name.is_empty() || name.contains([';', '\n', '\r']) {
        return Err(AccountError::InvalidName(format!(
            "« {name} » : non vide, sans point-virgule ni retour à la ligne"
        )));
    }
    Ok(name.to_owned())
}

/// The account after `change`.
pub fn apply_change(
    id: &DeclarantId,
    current: Option<Account>,
    change: &AccountChange,
) -> Result<Account, AccountError> {
    match (current, change) {
        (Some(_), AccountChange::Add { .. }) => Err(AccountError::Exists(id.to_string())),
        (None, AccountChange::Add { name, kind, key }) => {
            let name = check_name(name)?;
            Ok(Account {
                cadence: None,
                id: id.clone(),
                name,
                kind: *kind,
                public_keys: vec![check_public_key(key)?],
                enabled: true,
            })
        }
        (None, _) => Err(AccountError::Unknown(id.to_string())),
        (Some(account), AccountChange::SetCadence(cadence)) => Ok(Account {
            cadence: *cadence,
            ..account
        }),
        (Some(mut account), AccountChange::RotateKey { key, keep_previous }) => {
            let key = check_public_key(key)?;
            if !keep_previous {
                account.public_keys.clear();
            }
            account.public_keys.retain(|k| *k != key);
            account.public_keys.push(key);
            Ok(account)
        }
        (Some(mut account), AccountChange::Disable) => {
            account.enabled = false;
            Ok(account)
        }
        (Some(mut account), AccountChange::Enable) => {
            account.enabled = true;
            Ok(account)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> DeclarantId {
        DeclarantId::parse(text).unwrap()
    }

    #[test]
    fn accounts_are_added_rotated_and_disabled() {
        let key1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFirst lab-a";
        let key2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAISecond lab-a";
        let add = AccountChange::Add {
            name: "Laboratoire A".into(),
            kind: DeclarantType::Exploitant,
            key: format!("  {key1}\n"),
        };
        let a = apply_change(&id("lab-a"), None, &add).unwrap();
        assert_eq!(
            (a.public_keys.as_slice(), a.enabled),
            ([key1.to_owned()].as_slice(), true)
        );
        assert_eq!(
            apply_change(&id("lab-a"), Some(a.clone()), &add),
            Err(AccountError::Exists("lab-a".into()))
        );
        let both = apply_change(
            &id("lab-a"),
            Some(a.clone()),
            &AccountChange::RotateKey {
                key: key2.into(),
                keep_previous: true,
            },
        )
        .unwrap();
        assert_eq!(both.public_keys, [key1, key2]);
        let only_new = apply_change(
            &id("lab-a"),
            Some(both),
            &AccountChange::RotateKey {
                key: key2.into(),
                keep_previous: false,
            },
        )
        .unwrap();
        assert_eq!(only_new.public_keys, [key2]);
        let off = apply_change(&id("lab-a"), Some(only_new), &AccountChange::Disable).unwrap();
        assert!(!off.enabled);
        assert_eq!(
            Cadence::of(&off),
            Cadence::Hebdomadaire,
            "a manufacturer's default"
        );
        let daily = apply_change(
            &id("lab-a"),
            Some(off),
            &AccountChange::SetCadence(Some(Cadence::Quotidienne)),
        )
        .unwrap();
        assert_eq!(Cadence::of(&daily), Cadence::Quotidienne);
        // Friday's file: Monday is expected, Tuesday is the grace, Wednesday is a lapse.
        let friday = "2026-11-20".parse().unwrap();
        assert_eq!(
            Cadence::Quotidienne.lapsed_after(friday),
            "2026-11-24".parse().ok()
        );
        assert_eq!(
            Cadence::Hebdomadaire.lapsed_after(friday),
            "2026-11-29".parse().ok()
        );
        assert_eq!(Cadence::Aucune.lapsed_after(friday), None);
        assert_eq!(
            apply_change(&id("lab-b"), None, &AccountChange::Disable),
            Err(AccountError::Unknown("lab-b".into()))
        );
        for bad in [
            "",
            "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
            "ssh-ed25519 pas-du-base64!",
            "ssh-ed25519",
        ] {
            assert!(check_public_key(bad).is_err(), "{bad:?}");
        }
        let bad_name = AccountChange::Add {
            name: "A;B".into(),
            kind: DeclarantType::Grossiste,
            key: key1.into(),
        };
        assert!(matches!(
            apply_change(&id("gr-x"), None, &bad_name),
            Err(AccountError::InvalidName(_))
        ));
    }
}
