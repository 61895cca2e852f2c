//! The report handler driven by the sample events of `events/`, on the local backend.

use std::path::PathBuf;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use medistock_analytics::declaration::Limits;
use medistock_analytics::ingest::{IngestSettings, ingest_object};
use medistock_analytics::registry::Registry;
use medistock_analytics::risk::alert::AlertTopics;
use medistock_analytics::risk::config::RiskConfig;
use medistock_analytics::risk::{RiskRun, Scope, run_risk};
use medistock_domain::store::{AccountStore, Notification, Notifier, ObjectStore, StoreError};
use medistock_local::{LocalNotifier, LocalObjects, LocalState};
use report::{Config, HandlerError, handle, week_of};

const REGISTRY: &str = "declarant;nom;type\ngr-b;Grossiste B;grossiste\n";
const REFERENCES: &str =
    "cip13;denomination;groupe;mitm\n3400949497294;ANASTROZOLE 1 mg x30;12;oui\n";

fn event(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

async fn setup(dir: &std::path::Path) -> (LocalObjects, LocalState, Config) {
    let objects = LocalObjects::new(dir);
    let state = LocalState::in_memory().unwrap();
    let catalogue =
        medistock_analytics::catalogue::Catalogue::from_settings_csv(REFERENCES).unwrap();
    medistock_analytics::catalogue::save_catalogue_object(&objects, "lac", &catalogue)
        .await
        .unwrap();
    for account in medistock_analytics::registry::Registry::parse(REGISTRY)
        .unwrap()
        .to_accounts()
    {
        state.put_account(&account).await.unwrap();
    }
    let decl = "cip13;date_stock;stock;sorties\n3400949497294;2026-11-20;800;700\n3400949497706;2026-11-20;9000;700\n";
    objects
        .put(
            "depot",
            "inbox/gr-b/s.csv",
            decl.as_bytes().to_vec(),
            "text/csv",
            &Default::default(),
        )
        .await
        .unwrap();
    let settings = IngestSettings {
        lake_bucket: "lac".into(),
        limits: Limits::default(),
        lease: Duration::minutes(5),
        catalogue: None,
    };
    let now = at("2026-11-20T05:00:00Z");
    ingest_object(
        &objects,
        &state,
        &settings,
        "depot",
        "inbox/gr-b/s.csv",
        now,
    )
    .await
    .unwrap();
    let risk_config = RiskConfig::new(
        &Registry::parse(REGISTRY).unwrap(),
        &medistock_analytics::catalogue::Catalogue::from_settings_csv(REFERENCES).unwrap(),
    );
    let topics = AlertTopics {
        critical: "arn:critique".into(),
        info: "arn:info".into(),
    };
    let run = RiskRun {
        inbox_bucket: None,
        policy: Default::default(),
        lake_bucket: "lac",
        topics: &topics,
        config: &risk_config,
        history_cache: None,
    };
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    run_risk(&objects, &state, &run, &Scope::All, day, false, now)
        .await
        .unwrap();
    let config = Config {
        lake_bucket: "lac".into(),
        table_name: "unused".into(),
        info_topic: "arn:info".into(),
    };
    (objects, state, config)
}

struct Down;

impl Notifier for Down {
    async fn publish(&self, _: &Notification) -> Result<String, StoreError> {
        Err(StoreError::Aws {
            operation: "SNS.Publish",
            message: "injected".into(),
        })
    }
}

#[test]
fn the_schedule_reports_the_week_just_ended() {
    // Monday 23 November 2026, 08:00 in Paris: week 48 starts, week 47 is reported.
    let week = week_of(&event("report-schedule.json"), at("2026-11-23T07:00:00Z")).unwrap();
    assert_eq!(week.to_string(), "2026-W47");
    assert_eq!(
        week_of(&event("report-on-demand.json"), at("2026-12-30T07:00:00Z"))
            .unwrap()
            .to_string(),
        "2026-W47"
    );
    assert!(matches!(
        week_of(
            &serde_json::json!({"week": "S47"}),
            at("2026-11-23T07:00:00Z")
        ),
        Err(HandlerError::Request(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_is_written_and_announced_and_a_failed_announcement_fails_the_invocation() {
    let dir = tempfile::tempdir().unwrap();
    let (objects, state, config) = setup(dir.path()).await;
    let now = at("2026-11-23T07:00:00Z");

    let failed = handle(
        &objects,
        &state,
        &Down,
        &config,
        event("report-schedule.json"),
        now,
    )
    .await;
    assert!(
        matches!(failed, Err(HandlerError::Publish(_))),
        "Lambda retries: the announcement is never dropped"
    );

    let notifier = LocalNotifier::new(dir.path().join("alerts.jsonl"), false);
    let summary = handle(
        &objects,
        &state,
        &notifier,
        &config,
        event("report-schedule.json"),
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        (summary.week.as_str(), summary.references, summary.watched),
        ("2026-W47", 2, 1)
    );
    let html = objects
        .get("lac", &summary.html_key)
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8(html.bytes)
            .unwrap()
            .contains("ANASTROZOLE 1 mg x30")
    );
    assert!(
        objects
            .get("lac", &summary.csv_key)
            .await
            .unwrap()
            .is_some()
    );
    let sent = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert_eq!(sent.lines().count(), 1);
    assert!(
        sent.contains("Synthèse 2026-W47 : 0 en rupture ou critique, 1 en tension"),
        "{sent}"
    );
    assert!(sent.contains("s3://lac/reports/2026-W47/synthese.html"));
    assert!(sent.contains("arn:info"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_catalogue_is_a_configuration_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let objects = LocalObjects::new(dir.path());
    let state = LocalState::in_memory().unwrap();
    let notifier = LocalNotifier::new(dir.path().join("alerts.jsonl"), false);
    let config = Config {
        lake_bucket: "lac".into(),
        table_name: "unused".into(),
        info_topic: "arn:info".into(),
    };
    objects
        .put(
            "lac",
            "catalogue/catalogue.json",
            b"{pas du json".to_vec(),
            "application/json",
            &Default::default(),
        )
        .await
        .unwrap();
    for account in medistock_analytics::registry::Registry::parse(REGISTRY)
        .unwrap()
        .to_accounts()
    {
        state.put_account(&account).await.unwrap();
    }
    let err = handle(
        &objects,
        &state,
        &notifier,
        &config,
        event("report-on-demand.json"),
        at("2026-11-23T07:00:00Z"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, HandlerError::Config(_)), "{err}");
    assert!(
        err.to_string().contains("catalogue/catalogue.json"),
        "{err}"
    );
    assert!(objects.list("lac", "reports/").await.unwrap().is_empty());
    assert!(
        !dir.path().join("alerts.jsonl").exists(),
        "nobody is told of a report that does not exist"
    );
}
