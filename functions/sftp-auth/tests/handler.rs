//! The identity provider driven by the sample login of `events/`, on the local backend.

use std::path::PathBuf;

use medistock_core::domain::{DeclarantId, DeclarantType};
use medistock_core::sftp::Account;
use medistock_core::store::StateStore;
use medistock_core::store::local::LocalState;
use serde_json::{Value, json};
use sftp_auth::{Config, handle};

fn event(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn config() -> Config {
    Config {
        inbox_bucket: "medistock-dev-inbox".into(),
        table_name: "unused".into(),
        role_arn: "arn:aws:iam::123456789012:role/medistock-dev-sftp".into(),
    }
}

#[tokio::test]
async fn a_registered_declarant_gets_its_folders_and_a_disabled_one_nothing() {
    let state = LocalState::in_memory().unwrap();
    let login = event("sftp-auth-login.json");
    assert_eq!(
        handle(&state, &config(), login.clone()).await.unwrap(),
        json!({}),
        "unknown account"
    );
    let mut account = Account {
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
    assert_eq!(
        policy["Statement"][1]["Resource"],
        "arn:aws:s3:::medistock-dev-inbox/inbox/lab-sanofi/*"
    );
    assert_eq!(answer["PublicKeys"], json!(account.public_keys));

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
    let Ok(_endpoint) = std::env::var("MEDISTOCK_TEST_ENDPOINT") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "MEDISTOCK_TEST_ENDPOINT is not set under CI"
        );
        eprintln!("NOT RUN against moto: MEDISTOCK_TEST_ENDPOINT is not set (run scripts/test.sh)");
        return;
    };
    // AWS_ENDPOINT_URL points the SDK at moto (scripts/test.sh); this table does not exist.
    let backend = medistock_core::store::aws::AwsBackend::load("medistock-absent-accounts").await;
    let result = handle(&backend.state, &config(), event("sftp-auth-login.json")).await;
    let err = result.unwrap_err();
    assert!(
        err.to_string().contains("DynamoDB.GetItem")
            && err.to_string().contains("ResourceNotFound"),
        "{err}"
    );
}
