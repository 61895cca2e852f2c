//! The identity provider driven by the sample login of `events/`, on the state table (moto).

use std::path::PathBuf;

use medistock_domain::account::Account;
use medistock_domain::store::AccountStore;
use medistock_domain::{DeclarantId, DeclarantType};
use serde_json::{Value, json};
use sftp_auth::{Config, handle};

fn event(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

const KEY_ARN: &str = "arn:aws:kms:eu-west-3:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

fn env(name: &str) -> Option<String> {
    let value = match name {
        "INBOX_BUCKET" => "medistock-dev-inbox",
        "TABLE_NAME" => "unused",
        "SFTP_ROLE_ARN" => "arn:aws:iam::123456789012:role/medistock-dev-sftp",
        "DATA_KEY_ARN" => KEY_ARN,
        _ => return None,
    };
    Some(value.to_owned())
}

fn config() -> Config {
    Config::from_env(env).unwrap()
}

#[test]
fn the_configuration_names_the_missing_or_invalid_variable() {
    let without_key = Config::from_env(|name| env(name).filter(|_| name != "DATA_KEY_ARN"));
    assert_eq!(
        without_key,
        Err(medistock_domain::env::ConfigError::Missing("DATA_KEY_ARN"))
    );
    let alias = Config::from_env(|name| match name {
        "DATA_KEY_ARN" => Some("arn:aws:kms:eu-west-3:123456789012:alias/medistock-dev".into()),
        _ => env(name),
    });
    assert!(
        alias.as_ref().is_err_and(|e| e
            .to_string()
            .starts_with("variable d'environnement DATA_KEY_ARN invalide")),
        "{alias:?}"
    );
    let china = Config::from_env(|name| match name {
        "DATA_KEY_ARN" => Some(KEY_ARN.replace("arn:aws:", "arn:aws-cn:")),
        _ => env(name),
    });
    assert!(
        china.as_ref().is_err_and(|e| e
            .to_string()
            .starts_with("variable d'environnement SFTP_ROLE_ARN invalide")),
        "a role in another partition than the key: {china:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_declarant_gets_its_folders_and_a_disabled_one_nothing() {
    let Some(endpoint) = medistock_testkit::emulator() else {
        return;
    };
    let sdk = medistock_testkit::aws::config(&endpoint).await;
    let table = medistock_testkit::unique("comptes");
    let state =
        medistock_aws::DynamoState::new(medistock_testkit::aws::table(&sdk, &table).await, table);
    let login = event("sftp-auth-login.json");
    assert_eq!(
        handle(&state, &config(), login.clone()).await.unwrap(),
        json!({}),
        "unknown account"
    );
    let mut account = Account {
        cadence: None,
        id: DeclarantId::parse("lab-sanofi").unwrap(),
        name: "Sanofi Winthrop Industrie".into(),
        kind: DeclarantType::Exploitant,
        public_keys: vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey lab-sanofi".into()],
        enabled: true,
    };
    state.put_account(&account).await.unwrap();
    let answer = handle(&state, &config(), login.clone()).await.unwrap();
    assert_eq!(
        answer["Role"],
        "arn:aws:iam::123456789012:role/medistock-dev-sftp"
    );
    assert_eq!(answer["HomeDirectoryType"], "LOGICAL");
    let home: Value =
        serde_json::from_str(answer["HomeDirectoryDetails"].as_str().unwrap()).unwrap();
    assert_eq!(
        home,
        json!([
            {"Entry": "/", "Target": "/medistock-dev-inbox/inbox/lab-sanofi"},
            {"Entry": "/accuses", "Target": "/medistock-dev-inbox/receipts/lab-sanofi"}
        ])
    );
    let policy: Value = serde_json::from_str(answer["Policy"].as_str().unwrap()).unwrap();
    let statement = |sid: &str| {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .cloned()
            .unwrap_or_else(|| panic!("no statement {sid}: {policy}"))
    };
    assert_eq!(
        statement("DropDeclarations")["Resource"],
        "arn:aws:s3:::medistock-dev-inbox/inbox/lab-sanofi/*"
    );
    assert_eq!(
        statement("EncryptionKey"),
        json!({
            "Sid": "EncryptionKey",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": KEY_ARN
        }),
        "the key reaches the session policy from DATA_KEY_ARN"
    );
    assert_eq!(answer["PublicKeys"], json!(account.public_keys));

    // The sample login types LAB-SANOFI; lab-sanofi is the same account, with the same answer.
    assert_eq!(login["username"], "LAB-SANOFI");
    let mut lower = login.clone();
    lower["username"] = json!("lab-sanofi");
    assert_eq!(handle(&state, &config(), lower).await.unwrap(), answer);

    account.enabled = false;
    state.put_account(&account).await.unwrap();
    assert_eq!(handle(&state, &config(), login).await.unwrap(), json!({}));
    assert_eq!(
        handle(&state, &config(), json!({"nothing": true}))
            .await
            .unwrap(),
        json!({}),
        "an unreadable request is refused"
    );
}

/// Against the real protocol (moto): a table that cannot be read is an error, never a login.
#[tokio::test]
async fn on_moto_a_storage_failure_refuses_by_error() {
    if medistock_testkit::emulator().is_none() {
        return;
    }
    // AWS_ENDPOINT_URL points the SDK at moto (scripts/test.sh); this table does not exist.
    let backend = medistock_aws::AwsBackend::load("medistock-absent-accounts").await;
    let result = handle(&backend.state, &config(), event("sftp-auth-login.json")).await;
    let err = result.unwrap_err();
    assert!(
        err.to_string().contains("DynamoDB.GetItem")
            && err.to_string().contains("ResourceNotFound"),
        "{err}"
    );
}
