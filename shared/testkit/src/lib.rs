//! What Medistock's tests share: the moto emulator started by `scripts/test.sh` ([`aws`]),
//! names no other test uses, an object store that records and refuses ([`objects`]), and
//! (feature `ingest`) a declaration dropped and ingested.
//! A dev-dependency only: nothing here ships in a Lambda or in the command.

pub mod aws;
pub mod objects;

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

#[cfg(feature = "ingest")]
/// A calibration of one step: `share` whatever the model says, learnt with the default model
/// (the risk run's unless told otherwise) from « archives ».
pub fn flat_calibration(share: f64) -> medistock_analytics::risk::calibration::CalibrationMap {
    use medistock_analytics::risk::calibration::{CalibrationMap, Knot};
    let step = vec![Knot {
        predicted: 0.5,
        observed: share,
        assessments: 1_000,
    }];
    CalibrationMap {
        model: medistock_analytics::risk::config::ModelOptions::default().signature(),
        learnt_from: "archives".into(),
        within_14_days: step.clone(),
        within_30_days: step,
    }
}

#[cfg(feature = "ingest")]
/// Drops `bytes` as `inbox/<declarant>/<name>` into bucket `depot` and runs the ingest core on
/// it at `at`, with the default limits and lake `lac`; panics on an infrastructure error.
pub async fn declare(
    objects: &impl medistock_domain::store::ObjectStore,
    state: &(impl medistock_domain::store::FileLedger + medistock_domain::store::PositionStore),
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
    let settings = medistock_analytics::ingest::IngestSettings {
        lake_bucket: "lac".into(),
        limits: medistock_analytics::declaration::Limits::default(),
        lease: chrono::Duration::minutes(5),
        catalogue: None,
    };
    medistock_analytics::ingest::ingest_version(
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
