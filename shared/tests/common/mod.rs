//! Helpers shared by the integration tests: the moto emulator started by `scripts/test.sh`,
//! and fresh buckets and tables for each test.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

/// The emulator's endpoint, or `None` outside `scripts/test.sh`. Under CI a missing emulator
/// fails the test instead of skipping it.
pub fn emulator() -> Option<String> {
    match std::env::var("MEDISTOCK_TEST_ENDPOINT") {
        Ok(endpoint) => Some(endpoint),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "MEDISTOCK_TEST_ENDPOINT is not set under CI: run scripts/test.sh"
            );
            eprintln!(
                "NOT RUN against moto: MEDISTOCK_TEST_ENDPOINT is not set (run scripts/test.sh)"
            );
            None
        }
    }
}

/// A name no other test uses in this run.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Drops `bytes` as `inbox/<declarant>/<name>` into bucket `depot` and runs the ingest core on
/// it at `at`, with the default limits and lake `lac`; panics on an infrastructure error.
pub async fn declare(
    objects: &impl medistock_core::store::ObjectStore,
    state: &impl medistock_core::store::StateStore,
    declarant: &str,
    name: &str,
    bytes: &[u8],
    at: chrono::DateTime<chrono::Utc>,
) {
    let key = format!("inbox/{declarant}/{name}");
    let version = objects
        .put(
            "depot",
            &key,
            bytes.to_vec(),
            "text/csv",
            &Default::default(),
        )
        .await
        .unwrap();
    let settings = medistock_core::ingest::IngestSettings {
        lake_bucket: "lac".into(),
        limits: medistock_core::declaration::Limits::default(),
        lease: chrono::Duration::minutes(5),
    };
    medistock_core::ingest::ingest_version(
        objects,
        state,
        &settings,
        "depot",
        &key,
        version.as_deref(),
        at,
    )
    .await
    .unwrap();
}

#[cfg(feature = "aws")]
pub mod aws {
    use medistock_core::store::aws::provision::{create_bucket, create_state_table};

    /// SDK configuration for the emulator at `endpoint`, with the production retry policy.
    pub async fn config(endpoint: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("eu-west-3"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(medistock_core::store::aws::MAX_ATTEMPTS),
            )
            .load()
            .await
    }

    /// A new bucket.
    pub async fn bucket(config: &aws_config::SdkConfig, name: &str) -> aws_sdk_s3::Client {
        let client = medistock_core::store::aws::s3_client(config);
        create_bucket(&client, name).await.expect("create bucket");
        client
    }

    /// Turns versioning on, as on the deployed inbox bucket.
    pub async fn enable_versioning(client: &aws_sdk_s3::Client, bucket: &str) {
        use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
        client
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("enable versioning");
    }

    /// A new table with the single-table key schema (pk, sk).
    pub async fn table(config: &aws_config::SdkConfig, name: &str) -> aws_sdk_dynamodb::Client {
        let client = aws_sdk_dynamodb::Client::new(config);
        create_state_table(&client, name)
            .await
            .expect("create table");
        client
    }
}
