//! Declarants' SFTP access through AWS Transfer Family with a Lambda identity provider: the
//! account of each declarant (SSH public keys, type, status) lives in the state table, so a
//! declarant is onboarded, has its key rotated or is disabled without redeploying. On
//! login, Transfer asks the identity provider; the answer chroots the declarant in logical
//! directories (`/` → `inbox/<id>/`, `/accuses` → `receipts/<id>/`) and scopes its S3 access
//! with a session policy: it can drop files in its own inbox (and rename, stat or delete them
//! there, as SFTP clients do around an upload), read its own receipts and use the buckets' KMS
//! key; nothing else (no other folder, no listing outside its own, no other key).

use medistock_domain::DeclarantId;
use medistock_domain::account::Account;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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

/// Transfer Family's limit on the length of a session policy.
pub const SESSION_POLICY_MAX_LEN: usize = 2048;

/// Why the gateway's configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Not an S3 bucket name.
    #[error("nom de bucket invalide « {0} »")]
    InvalidBucket(String),
    /// Not the ARN of a KMS key (`arn:<partition>:kms:<région>:<compte>:key/<id>`).
    #[error(
        "ARN de clé KMS invalide « {0} » : arn:<partition>:kms:<région>:<compte>:key/<id> attendu"
    )]
    InvalidKeyArn(String),
    /// Not an IAM role ARN in the key's partition.
    #[error("ARN de rôle invalide « {0} » : arn:{1}:iam::<compte>:role/<nom> attendu")]
    InvalidRoleArn(String, String),
    /// The names are so long that the session policy of a declarant with the longest id would
    /// exceed what Transfer accepts.
    #[error(
        "politique de session de {0} caractères pour un identifiant de 64 caractères : \
         Transfer Family en accepte 2048 au plus"
    )]
    PolicyTooLong(usize),
}

/// The ARN of the KMS key that encrypts the inbox bucket. Its partition (`aws`, `aws-cn`,
/// `aws-us-gov`…) is the one every other ARN of the session policy is built in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyArn {
    arn: String,
    partition: String,
}

impl KeyArn {
    /// Checks `arn:<partition>:kms:<region>:<account>:key/<id>` (an alias ARN is refused: IAM
    /// matches a key's own ARN, never its aliases).
    pub fn parse(text: &str) -> Result<Self, GatewayError> {
        let invalid = || GatewayError::InvalidKeyArn(text.to_owned());
        let parts: Vec<&str> = text.split(':').collect();
        let ["arn", partition, "kms", region, account, resource] = parts[..] else {
            return Err(invalid());
        };
        let key_id = resource.strip_prefix("key/").ok_or_else(invalid)?;
        let word = |s: &str, extra: fn(u8) -> bool| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-' || extra(b))
        };
        let valid = word(partition, |_| false)
            && word(region, |b| b.is_ascii_digit())
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !key_id.is_empty()
            && key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid {
            return Err(invalid());
        }
        Ok(Self {
            arn: text.to_owned(),
            partition: partition.to_owned(),
        })
    }

    /// The whole ARN.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The partition, e.g. `aws`.
    pub fn partition(&self) -> &str {
        &self.partition
    }
}

/// What the identity provider hands out: the bucket behind the gateway, the key that encrypts
/// it and the role Transfer assumes. Built once, checked once: every declarant's session
/// policy then fits Transfer's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    bucket: String,
    data_key: KeyArn,
    role_arn: String,
}

impl Gateway {
    /// Checks the bucket name, the key ARN and the role ARN (same partition as the key), and
    /// that the session policy of a 64-character id stays within
    /// [`SESSION_POLICY_MAX_LEN`] (the policy grows with the id, so every id then fits).
    pub fn new(bucket: &str, data_key: &str, role_arn: &str) -> Result<Self, GatewayError> {
        let b = bucket.as_bytes();
        let bucket_ok = (3..=63).contains(&b.len())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.'))
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric();
        if !bucket_ok {
            return Err(GatewayError::InvalidBucket(bucket.to_owned()));
        }
        let data_key = KeyArn::parse(data_key)?;
        let role_prefix = format!("arn:{}:iam::", data_key.partition());
        if !role_arn.starts_with(&role_prefix) || !role_arn.contains(":role/") {
            return Err(GatewayError::InvalidRoleArn(
                role_arn.to_owned(),
                data_key.partition().to_owned(),
            ));
        }
        let gateway = Self {
            bucket: bucket.to_owned(),
            data_key,
            role_arn: role_arn.to_owned(),
        };
        let longest = "x".repeat(DeclarantId::MAX_LEN);
        let len = gateway.policy_for(&longest).to_string().len();
        if len > SESSION_POLICY_MAX_LEN {
            return Err(GatewayError::PolicyTooLong(len));
        }
        Ok(gateway)
    }

    /// The bucket behind the gateway.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key that encrypts the bucket.
    pub fn data_key(&self) -> &KeyArn {
        &self.data_key
    }

    /// The role Transfer assumes for the declarants' sessions.
    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    /// The logical directories of a declarant.
    pub fn home_directory(&self, id: &DeclarantId) -> Value {
        let bucket = &self.bucket;
        json!([
            { "Entry": "/", "Target": format!("/{bucket}/inbox/{id}") },
            { "Entry": "/accuses", "Target": format!("/{bucket}/receipts/{id}") },
        ])
    }

    /// The session policy of a declarant: in its own inbox, drop files and what SFTP clients
    /// need around a drop (a rename is a copy then a delete, a stat is a `HeadObject`: read and
    /// delete its own files, never another's); read its receipts; list its own folders; use the
    /// bucket's KMS key, which SSE-KMS needs for every upload and download. Nothing else. No
    /// sub-folder: the ingest reads only the files at the top of the inbox, so a `mkdir` or an
    /// upload into a sub-folder is refused at once, where the client shows it, rather than
    /// accepted and never read.
    pub fn session_policy(&self, id: &DeclarantId) -> Value {
        self.policy_for(id.as_str())
    }

    fn policy_for(&self, id: &str) -> Value {
        let s3 = format!("arn:{}:s3:::{}", self.data_key.partition(), self.bucket);
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ListOwnFolders",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": s3,
                    "Condition": { "StringLike": { "s3:prefix": [
                        format!("inbox/{id}/*"), format!("inbox/{id}/"),
                        format!("receipts/{id}/*"), format!("receipts/{id}/"),
                    ] } }
                },
                {
                    "Sid": "DropDeclarations",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": format!("{s3}/inbox/{id}/*")
                },
                {
                    "Sid": "NoSubfolders",
                    "Effect": "Deny",
                    "Action": "s3:PutObject",
                    "Resource": format!("{s3}/inbox/{id}/*/*")
                },
                {
                    "Sid": "RenameAndStatOwnDrops",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:DeleteObject"],
                    "Resource": format!("{s3}/inbox/{id}/*")
                },
                {
                    "Sid": "ReadReceipts",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                    "Resource": format!("{s3}/receipts/{id}/*")
                },
                {
                    "Sid": "EncryptionKey",
                    "Effect": "Allow",
                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": self.data_key.as_str()
                }
            ]
        })
    }
}

/// The identity provider's decision for `request` given the account found for its user name.
/// The user name is read in any case (`LABO-A` logs in as the account `labo-a`).
pub fn authorise(
    request: &AuthRequest,
    account: Option<&Account>,
    gateway: &Gateway,
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
        role: gateway.role_arn.clone(),
        home_directory_type: "LOGICAL".to_owned(),
        home_directory_details: gateway.home_directory(&id).to_string(),
        policy: gateway.session_policy(&id).to_string(),
        public_keys: account.public_keys.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IAM evaluation of a policy as S3 applies it to one request: a statement applies when
    /// the action and resource match (`*` wildcards) and a `StringLike` condition on
    /// `s3:prefix`, if any, matches the request's prefix. A Deny that applies wins; else an
    /// Allow that applies allows; else implicit deny.
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
        let applies = |s: &Value| {
            list(&s["Action"]).iter().any(|a| like(a, action))
                && list(&s["Resource"]).iter().any(|r| like(r, resource))
                && match s.get("Condition") {
                    None => true,
                    Some(c) => {
                        let patterns = list(&c["StringLike"]["s3:prefix"]);
                        prefix.is_some_and(|p| patterns.iter().any(|pat| like(pat, p)))
                    }
                }
        };
        let statements = policy["Statement"].as_array().unwrap();
        for s in statements {
            assert!(s["Effect"] == "Allow" || s["Effect"] == "Deny", "{s}");
        }
        !statements
            .iter()
            .any(|s| s["Effect"] == "Deny" && applies(s))
            && statements
                .iter()
                .any(|s| s["Effect"] == "Allow" && applies(s))
    }

    fn id(text: &str) -> DeclarantId {
        DeclarantId::parse(text).unwrap()
    }

    const KEY: &str = "arn:aws:kms:eu-west-3:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    const ROLE: &str = "arn:aws:iam::123456789012:role/medistock-dev-sftp-declarants";

    fn gateway() -> Gateway {
        Gateway::new("depot", KEY, ROLE).unwrap()
    }

    #[test]
    fn a_declarant_reaches_its_own_folders_and_nothing_else() {
        let p = gateway().session_policy(&id("lab-a"));
        let object = |key: &str| format!("arn:aws:s3:::depot/{key}");
        let bucket = "arn:aws:s3:::depot";
        // Its own inbox: drop; read back and delete its own drops (rename, stat).
        for action in ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"] {
            assert!(
                allows(&p, action, &object("inbox/lab-a/s48.csv"), None),
                "{action}"
            );
        }
        // No sub-folder (the ingest would never read it): no `mkdir`, no upload into one.
        for key in [
            "inbox/lab-a/sous/dossier.csv",
            "inbox/lab-a/2026/",
            "inbox/lab-a/a/b/c.csv",
        ] {
            assert!(!allows(&p, "s3:PutObject", &object(key), None), "{key}");
        }
        // Older versions stay out of reach: a delete only hides the current version.
        for action in ["s3:DeleteObjectVersion", "s3:GetObjectVersion"] {
            assert!(
                !allows(&p, action, &object("inbox/lab-a/s48.csv"), None),
                "{action}"
            );
        }
        // Its receipts: read, not write, not delete.
        assert!(allows(
            &p,
            "s3:GetObject",
            &object("receipts/lab-a/s48.csv.accuse.txt"),
            None
        ));
        for action in ["s3:PutObject", "s3:DeleteObject"] {
            assert!(
                !allows(&p, action, &object("receipts/lab-a/faux.txt"), None),
                "{action}"
            );
        }
        // Another declarant's folders, even with a name that starts the same.
        for key in [
            "inbox/lab-b/s48.csv",
            "inbox/lab-ab/s48.csv",
            "inbox/lab-a",
            "receipts/lab-b/s48.csv.accuse.txt",
            "receipts/lab-ab/x.txt",
            "quarantine/lab-a/s48.csv",
            "s48.csv",
        ] {
            for action in ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"] {
                assert!(!allows(&p, action, &object(key), None), "{action} {key}");
            }
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
        for action in ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"] {
            assert!(
                !allows(&p, action, "arn:aws:s3:::lac/inbox/lab-a/x.csv", None),
                "{action}"
            );
        }
        // The buckets' key, for SSE-KMS uploads and downloads; no other key, no other use.
        for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
            assert!(allows(&p, action, KEY, None), "{action}");
            for other in [
                "arn:aws:kms:eu-west-3:123456789012:key/11111111-2222-3333-4444-555555555555",
                "arn:aws:kms:eu-west-3:999999999999:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                "arn:aws:kms:eu-west-3:123456789012:alias/medistock-dev",
            ] {
                assert!(!allows(&p, action, other, None), "{action} {other}");
            }
        }
        for action in [
            "kms:Encrypt",
            "kms:ReEncryptFrom",
            "kms:CreateGrant",
            "kms:GenerateDataKeyWithoutPlaintext",
        ] {
            assert!(!allows(&p, action, KEY, None), "{action}");
        }
    }

    /// Every request of one SFTP operation as Transfer makes it on S3 and KMS, for `lab-a`:
    /// `(action, resource, s3:prefix)`.
    fn operation(name: &str) -> Vec<(&'static str, String, Option<String>)> {
        let object = |key: &str| format!("arn:aws:s3:::depot/{key}");
        let inbox = |file: &str| object(&format!("inbox/lab-a/{file}"));
        match name {
            // `put s48.csv` (multipart for large files: parts need the key to decrypt too).
            "put" => vec![
                ("s3:PutObject", inbox("s48.csv"), None),
                ("kms:GenerateDataKey", KEY.into(), None),
                ("kms:Decrypt", KEY.into(), None),
            ],
            // WinSCP: upload to `s48.csv.filepart`, then rename (copy, then delete).
            "put-then-rename" => vec![
                ("s3:PutObject", inbox("s48.csv.filepart"), None),
                ("s3:GetObject", inbox("s48.csv.filepart"), None),
                ("s3:PutObject", inbox("s48.csv"), None),
                ("s3:DeleteObject", inbox("s48.csv.filepart"), None),
                ("kms:GenerateDataKey", KEY.into(), None),
                ("kms:Decrypt", KEY.into(), None),
            ],
            // `ls -l s48.csv` after the upload: HeadObject, and a 404 (not a 403) when the file
            // is missing, which S3 answers only to whoever may list the key's prefix.
            "stat" => vec![
                ("s3:GetObject", inbox("s48.csv"), None),
                (
                    "s3:ListBucket",
                    "arn:aws:s3:::depot".into(),
                    Some("inbox/lab-a/s48.csv".into()),
                ),
            ],
            // `get accuses/s48.csv.accuse.txt`.
            "get-receipt" => vec![
                (
                    "s3:GetObject",
                    object("receipts/lab-a/s48.csv.accuse.txt"),
                    None,
                ),
                ("kms:Decrypt", KEY.into(), None),
            ],
            _ => unreachable!("{name}"),
        }
    }

    #[test]
    fn sftp_clients_upload_rename_stat_and_download_under_the_session_policy() {
        let p = gateway().session_policy(&id("lab-a"));
        for name in ["put", "put-then-rename", "stat", "get-receipt"] {
            for (action, resource, prefix) in operation(name) {
                assert!(
                    allows(&p, action, &resource, prefix.as_deref()),
                    "{name}: {action} {resource} {prefix:?}"
                );
            }
        }
        // The same operations by lab-b's session, on lab-a's files: all denied.
        let other = gateway().session_policy(&id("lab-b"));
        for name in ["put", "put-then-rename", "stat", "get-receipt"] {
            for (action, resource, prefix) in operation(name) {
                if action.starts_with("s3:") {
                    assert!(
                        !allows(&other, action, &resource, prefix.as_deref()),
                        "{name}: {action} {resource}"
                    );
                }
            }
        }
    }

    #[test]
    fn arns_are_built_in_the_partition_of_the_key() {
        let key = "arn:aws-cn:kms:cn-north-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        let g = Gateway::new("depot", key, "arn:aws-cn:iam::123456789012:role/sftp").unwrap();
        let p = g.session_policy(&id("lab-a"));
        assert!(allows(
            &p,
            "s3:PutObject",
            "arn:aws-cn:s3:::depot/inbox/lab-a/s48.csv",
            None
        ));
        assert!(allows(&p, "kms:Decrypt", key, None));
        assert!(!p.to_string().contains("arn:aws:"), "{p}");
        assert_eq!(
            Gateway::new("depot", key, ROLE),
            Err(GatewayError::InvalidRoleArn(ROLE.into(), "aws-cn".into())),
            "a role of another partition"
        );
    }

    #[test]
    fn the_gateway_refuses_what_would_break_a_policy() {
        for bad in [
            "",
            "arn:aws:kms:eu-west-3:123456789012:alias/medistock-dev",
            "arn:aws:kms:eu-west-3:12345:key/abc",
            "arn:aws:s3:::depot",
            "arn:aws:kms:eu-west-3:123456789012:key/",
            "arn:aws:kms:eu-west-3:123456789012:key/a\"b",
            "arn::kms:eu-west-3:123456789012:key/abc",
            "arn:aws:kms:eu-west-3:123456789012:key/abc:extra",
        ] {
            assert_eq!(
                Gateway::new("depot", bad, ROLE),
                Err(GatewayError::InvalidKeyArn(bad.into())),
                "{bad:?}"
            );
        }
        for bad in ["", "ab", "Depot", "depot/inbox", "-depot", "depot*"] {
            assert_eq!(
                Gateway::new(bad, KEY, ROLE),
                Err(GatewayError::InvalidBucket(bad.into())),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Gateway::new("depot", KEY, "arn:aws:iam::123456789012:user/x"),
            Err(GatewayError::InvalidRoleArn(..))
        ));
    }

    #[test]
    fn the_longest_policy_fits_transfers_limit() {
        // The longest names: a 63-character bucket, a 64-character id, a multi-Region key of
        // the longest partition and Region names.
        let bucket = format!("medistock-inbox-prod-123456789012-{}", "x".repeat(29));
        assert_eq!(bucket.len(), 63);
        let key = "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef";
        let g = Gateway::new(
            &bucket,
            key,
            "arn:aws-us-gov:iam::123456789012:role/medistock-prod-sftp-declarants",
        )
        .unwrap();
        let longest = id(&"L".repeat(DeclarantId::MAX_LEN));
        let policy = g.session_policy(&longest).to_string();
        assert!(
            policy.len() <= SESSION_POLICY_MAX_LEN,
            "{} characters",
            policy.len()
        );
        let request = request(&format!(
            r#"{{"username":"{}","protocol":"SFTP"}}"#,
            "L".repeat(DeclarantId::MAX_LEN)
        ));
        let mut acc = account(true, &["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample"]);
        acc.id = longest;
        let answer = authorise(&request, Some(&acc), &g).unwrap();
        assert_eq!(answer.policy, policy);
        // A configuration that would not fit is refused at start-up, not at a login.
        let huge = format!(
            "arn:aws:kms:eu-west-3:123456789012:key/{}",
            "k".repeat(1000)
        );
        assert!(matches!(
            Gateway::new("depot", &huge, ROLE),
            Err(GatewayError::PolicyTooLong(n)) if n > SESSION_POLICY_MAX_LEN
        ));
    }

    fn account(enabled: bool, keys: &[&str]) -> Account {
        Account {
            cadence: None,
            id: id("lab-a"),
            name: "Laboratoire A".into(),
            kind: medistock_domain::DeclarantType::Exploitant,
            public_keys: keys.iter().map(|k| k.to_string()).collect(),
            enabled,
        }
    }

    fn request(json: &str) -> AuthRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn logins_are_keys_only_for_enabled_accounts() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample lab-a";
        let ok = request(
            r#"{"username":"lab-a","protocol":"SFTP","serverId":"s-1234","sourceIp":"192.0.2.10"}"#,
        );
        let answer = authorise(&ok, Some(&account(true, &[key])), &gateway()).unwrap();
        assert_eq!(answer.public_keys, [key]);
        assert_eq!(answer.home_directory_type, "LOGICAL");
        let mappings: Value = serde_json::from_str(&answer.home_directory_details).unwrap();
        assert_eq!(mappings[0]["Target"], "/depot/inbox/lab-a");
        assert_eq!(mappings[1]["Entry"], "/accuses");
        assert_eq!(mappings[1]["Target"], "/depot/receipts/lab-a");
        let wire = serde_json::to_value(&answer).unwrap();
        assert_eq!(wire["Role"], ROLE);
        assert!(wire["Policy"].as_str().unwrap().contains("inbox/lab-a/*"));

        let with_password = request(r#"{"username":"lab-a","password":"x","protocol":"SFTP"}"#);
        assert_eq!(
            authorise(&with_password, Some(&account(true, &[key])), &gateway()),
            Err(Refusal::Password)
        );
        let ftp = request(r#"{"username":"lab-a","protocol":"FTP"}"#);
        assert_eq!(
            authorise(&ftp, Some(&account(true, &[key])), &gateway()),
            Err(Refusal::Protocol)
        );
        assert_eq!(
            authorise(&ok, Some(&account(false, &[key])), &gateway()),
            Err(Refusal::Disabled)
        );
        assert_eq!(
            authorise(&ok, Some(&account(true, &[])), &gateway()),
            Err(Refusal::NoKey)
        );
        assert_eq!(
            authorise(&ok, None, &gateway()),
            Err(Refusal::UnknownAccount)
        );
        let traversal = request(r#"{"username":"../lab-a","protocol":"SFTP"}"#);
        assert_eq!(
            authorise(&traversal, Some(&account(true, &[key])), &gateway()),
            Err(Refusal::InvalidUser)
        );
        let upper = request(r#"{"username":"LAB-A","protocol":"SFTP"}"#);
        let answer = authorise(&upper, Some(&account(true, &[key])), &gateway()).unwrap();
        let mappings: Value = serde_json::from_str(&answer.home_directory_details).unwrap();
        assert_eq!(
            (&mappings[0]["Target"], &mappings[1]["Target"]),
            (
                &json!("/depot/inbox/lab-a"),
                &json!("/depot/receipts/lab-a")
            ),
            "LAB-A logs in as the account lab-a, in its one folder"
        );
        assert_eq!(
            answer.policy,
            gateway().session_policy(&id("lab-a")).to_string()
        );
        let other = request(r#"{"username":"lab-b","protocol":"SFTP"}"#);
        assert_eq!(
            authorise(&other, Some(&account(true, &[key])), &gateway()),
            Err(Refusal::UnknownAccount),
            "an account found under another id never logs in"
        );
    }
}
