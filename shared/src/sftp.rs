//! Declarants' SFTP access through AWS Transfer Family with a Lambda identity provider: the
//! account of each declarant (SSH public keys, type, status) lives in the state table, so a
//! declarant is onboarded, has its key rotated or is disabled without redeploying. On
//! login, Transfer asks the identity provider; the answer chroots the declarant in logical
//! directories (`/` → `inbox/<id>/`, `/accuses` → `receipts/<id>/`) and scopes its S3 access
//! with a session policy: it can drop files in its own inbox and read its own receipts,
//! nothing else (no delete, no other folder, no listing outside its own).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::{DeclarantId, DeclarantType};

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
}

/// What Transfer Family sends to a Lambda identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthRequest {
    /// The user name typed by the declarant.
    pub username: String,
    /// Present for password logins (refused: keys only).
    #[serde(default)]
    pub password: Option<String>,
    /// SFTP, FTPS or FTP.
    #[serde(default)]
    pub protocol: String,
    /// The Transfer server.
    #[serde(default)]
    pub server_id: String,
    /// The client's address.
    #[serde(default)]
    pub source_ip: String,
}

/// The answer that lets a declarant in (an empty JSON object refuses the login).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthResponse {
    /// The role Transfer assumes for S3 access.
    #[serde(rename = "Role")]
    pub role: String,
    /// `LOGICAL`: the declarant sees only its mappings.
    #[serde(rename = "HomeDirectoryType")]
    pub home_directory_type: String,
    /// The mappings, as a JSON string.
    #[serde(rename = "HomeDirectoryDetails")]
    pub home_directory_details: String,
    /// The session policy, as a JSON string.
    #[serde(rename = "Policy")]
    pub policy: String,
    /// Keys Transfer checks the client's key against.
    #[serde(rename = "PublicKeys")]
    pub public_keys: Vec<String>,
}

/// Why a login is refused (logged, never told to the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The user name is not a declarant id.
    #[error("identifiant invalide")]
    InvalidUser,
    /// No such account.
    #[error("compte inconnu")]
    UnknownAccount,
    /// The account is disabled.
    #[error("compte désactivé")]
    Disabled,
    /// A password was given: keys only.
    #[error("mot de passe refusé : clés SSH uniquement")]
    Password,
    /// Not SFTP.
    #[error("protocole refusé : SFTP uniquement")]
    Protocol,
    /// The account has no key.
    #[error("aucune clé publique enregistrée")]
    NoKey,
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

/// The account after `change`.
pub fn apply_change(
    id: &DeclarantId,
    current: Option<Account>,
    change: &AccountChange,
) -> Result<Account, AccountError> {
    match (current, change) {
        (Some(_), AccountChange::Add { .. }) => Err(AccountError::Exists(id.to_string())),
        (None, AccountChange::Add { name, kind, key }) => {
            let name = name.trim();
            if name.is_empty() || name.contains([';', '\n', '\r']) {
                return Err(AccountError::InvalidName(format!(
                    "« {name} » : non vide, sans point-virgule ni retour à la ligne"
                )));
            }
            Ok(Account {
                id: id.clone(),
                name: name.to_owned(),
                kind: *kind,
                public_keys: vec![check_public_key(key)?],
                enabled: true,
            })
        }
        (None, _) => Err(AccountError::Unknown(id.to_string())),
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

/// The logical directories of a declarant.
pub fn home_directory(bucket: &str, id: &DeclarantId) -> Value {
    json!([
        { "Entry": "/", "Target": format!("/{bucket}/inbox/{id}") },
        { "Entry": "/accuses", "Target": format!("/{bucket}/receipts/{id}") },
    ])
}

/// The session policy of a declarant: put into its inbox, read its receipts, list its own
/// folders; nothing else.
pub fn session_policy(bucket: &str, id: &DeclarantId) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListOwnFolders",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": format!("arn:aws:s3:::{bucket}"),
                "Condition": { "StringLike": { "s3:prefix": [
                    format!("inbox/{id}/*"), format!("inbox/{id}/"),
                    format!("receipts/{id}/*"), format!("receipts/{id}/"),
                ] } }
            },
            {
                "Sid": "DropDeclarations",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": format!("arn:aws:s3:::{bucket}/inbox/{id}/*")
            },
            {
                "Sid": "ReadReceipts",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": format!("arn:aws:s3:::{bucket}/receipts/{id}/*")
            }
        ]
    })
}

/// The identity provider's decision for `request` given the account found for its user name.
pub fn authorise(
    request: &AuthRequest,
    account: Option<&Account>,
    bucket: &str,
    role: &str,
) -> Result<AuthResponse, Refusal> {
    let id = DeclarantId::parse(&request.username).map_err(|_| Refusal::InvalidUser)?;
    let account = account
        .filter(|a| a.id == id)
        .ok_or(Refusal::UnknownAccount)?;
    if !account.enabled {
        return Err(Refusal::Disabled);
    }
    if request.password.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(Refusal::Password);
    }
    if !request.protocol.is_empty() && request.protocol != "SFTP" {
        return Err(Refusal::Protocol);
    }
    if account.public_keys.is_empty() {
        return Err(Refusal::NoKey);
    }
    Ok(AuthResponse {
        role: role.to_owned(),
        home_directory_type: "LOGICAL".to_owned(),
        home_directory_details: home_directory(bucket, &id).to_string(),
        policy: session_policy(bucket, &id).to_string(),
        public_keys: account.public_keys.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IAM evaluation of Allow statements as S3 applies them to one request: the action and
    /// resource must match (`*` wildcards), and a `StringLike` condition on `s3:prefix` must
    /// match the request's prefix. No Allow: implicit deny.
    fn allows(policy: &Value, action: &str, resource: &str, prefix: Option<&str>) -> bool {
        fn like(pattern: &str, text: &str) -> bool {
            match pattern.split_once('*') {
                None => pattern == text,
                Some((head, tail)) => {
                    text.starts_with(head)
                        && (0..=text.len() - head.len())
                            .any(|i| like(tail, &text[head.len() + i..]))
                }
            }
        }
        let list = |v: &Value| -> Vec<String> {
            match v {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                _ => Vec::new(),
            }
        };
        policy["Statement"].as_array().unwrap().iter().any(|s| {
            s["Effect"] == "Allow"
                && list(&s["Action"]).iter().any(|a| like(a, action))
                && list(&s["Resource"]).iter().any(|r| like(r, resource))
                && match s.get("Condition") {
                    None => true,
                    Some(c) => {
                        let patterns = list(&c["StringLike"]["s3:prefix"]);
                        prefix.is_some_and(|p| patterns.iter().any(|pat| like(pat, p)))
                    }
                }
        })
    }

    fn id(text: &str) -> DeclarantId {
        DeclarantId::parse(text).unwrap()
    }

    #[test]
    fn a_declarant_reaches_its_own_folders_and_nothing_else() {
        let p = session_policy("depot", &id("lab-a"));
        let object = |key: &str| format!("arn:aws:s3:::depot/{key}");
        let bucket = "arn:aws:s3:::depot";
        // Its own inbox: drop, not read back, not delete.
        assert!(allows(
            &p,
            "s3:PutObject",
            &object("inbox/lab-a/s48.csv"),
            None
        ));
        assert!(allows(
            &p,
            "s3:PutObject",
            &object("inbox/lab-a/sous/dossier.csv"),
            None
        ));
        assert!(!allows(
            &p,
            "s3:DeleteObject",
            &object("inbox/lab-a/s48.csv"),
            None
        ));
        // Its receipts: read, not write.
        assert!(allows(
            &p,
            "s3:GetObject",
            &object("receipts/lab-a/s48.csv.accuse.txt"),
            None
        ));
        assert!(!allows(
            &p,
            "s3:PutObject",
            &object("receipts/lab-a/faux.txt"),
            None
        ));
        // Another declarant's folders, even with a name that starts the same.
        for key in [
            "inbox/lab-b/s48.csv",
            "inbox/lab-ab/s48.csv",
            "receipts/lab-b/s48.csv.accuse.txt",
            "receipts/lab-ab/x.txt",
            "quarantine/lab-a/s48.csv",
            "s48.csv",
        ] {
            assert!(!allows(&p, "s3:PutObject", &object(key), None), "{key}");
            assert!(!allows(&p, "s3:GetObject", &object(key), None), "{key}");
        }
        // Listing: its own folders only.
        assert!(allows(&p, "s3:ListBucket", bucket, Some("inbox/lab-a/")));
        assert!(allows(
            &p,
            "s3:ListBucket",
            bucket,
            Some("receipts/lab-a/2026/")
        ));
        for prefix in ["", "inbox/", "inbox/lab-b/", "inbox/lab-ab/", "receipts/"] {
            assert!(
                !allows(&p, "s3:ListBucket", bucket, Some(prefix)),
                "{prefix:?}"
            );
        }
        assert!(!allows(&p, "s3:ListBucket", bucket, None));
        // Nothing in another bucket.
        assert!(!allows(
            &p,
            "s3:PutObject",
            "arn:aws:s3:::lac/inbox/lab-a/x.csv",
            None
        ));
    }

    fn account(enabled: bool, keys: &[&str]) -> Account {
        Account {
            id: id("lab-a"),
            name: "Laboratoire A".into(),
            kind: DeclarantType::Exploitant,
            public_keys: keys.iter().map(|k| k.to_string()).collect(),
            enabled,
        }
    }

    fn request(json: &str) -> AuthRequest {
        serde_json::from_str(json).unwrap()
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

    #[test]
    fn logins_are_keys_only_for_enabled_accounts() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample lab-a";
        let ok = request(
            r#"{"username":"lab-a","protocol":"SFTP","serverId":"s-1234","sourceIp":"192.0.2.10"}"#,
        );
        let answer = authorise(&ok, Some(&account(true, &[key])), "depot", "arn:role").unwrap();
        assert_eq!(answer.public_keys, [key]);
        assert_eq!(answer.home_directory_type, "LOGICAL");
        let mappings: Value = serde_json::from_str(&answer.home_directory_details).unwrap();
        assert_eq!(mappings[0]["Target"], "/depot/inbox/lab-a");
        assert_eq!(mappings[1]["Entry"], "/accuses");
        assert_eq!(mappings[1]["Target"], "/depot/receipts/lab-a");
        let wire = serde_json::to_value(&answer).unwrap();
        assert_eq!(wire["Role"], "arn:role");
        assert!(wire["Policy"].as_str().unwrap().contains("inbox/lab-a/*"));

        let with_password = request(r#"{"username":"lab-a","password":"x","protocol":"SFTP"}"#);
        assert_eq!(
            authorise(&with_password, Some(&account(true, &[key])), "depot", "r"),
            Err(Refusal::Password)
        );
        let ftp = request(r#"{"username":"lab-a","protocol":"FTP"}"#);
        assert_eq!(
            authorise(&ftp, Some(&account(true, &[key])), "depot", "r"),
            Err(Refusal::Protocol)
        );
        assert_eq!(
            authorise(&ok, Some(&account(false, &[key])), "depot", "r"),
            Err(Refusal::Disabled)
        );
        assert_eq!(
            authorise(&ok, Some(&account(true, &[])), "depot", "r"),
            Err(Refusal::NoKey)
        );
        assert_eq!(
            authorise(&ok, None, "depot", "r"),
            Err(Refusal::UnknownAccount)
        );
        let traversal = request(r#"{"username":"../lab-a","protocol":"SFTP"}"#);
        assert_eq!(
            authorise(&traversal, Some(&account(true, &[key])), "depot", "r"),
            Err(Refusal::InvalidUser)
        );
        let other = request(r#"{"username":"lab-b","protocol":"SFTP"}"#);
        assert_eq!(
            authorise(&other, Some(&account(true, &[key])), "depot", "r"),
            Err(Refusal::UnknownAccount),
            "an account found under another id never logs in"
        );
    }
}
