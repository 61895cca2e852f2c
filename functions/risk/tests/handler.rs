//! The risk handler driven by the sample events of `events/`, on the local backend.

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use medistock_analytics::declaration::Limits;
use medistock_analytics::ingest::{IngestSettings, ingest_object};
use medistock_analytics::risk::alert::AlertTopics;
use medistock_domain::Level;
use medistock_domain::store::{AccountStore, AlertOutbox, ObjectStore, RiskStore};
use medistock_local::{LocalObjects, LocalState};
use risk::{Config, handle};

fn event(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-11-20T05:00:00Z".parse().unwrap()
}

/// The scheduled run of `events/risk-schedule.json`, at [`now`].
async fn scheduled(
    objects: &LocalObjects,
    state: &LocalState,
    config: &Config,
) -> Result<medistock_analytics::risk::RunSummary, risk::HandlerError> {
    handle(objects, state, config, event("risk-schedule.json"), now()).await
}

async fn setup(dir: &std::path::Path) -> (LocalObjects, LocalState, Config) {
    let objects = LocalObjects::new(dir);
    let state = LocalState::in_memory().unwrap();
    let catalogue = medistock_analytics::catalogue::Catalogue::from_settings_csv(
        "cip13;denomination;groupe;mitm\n3400949497294;ANASTROZOLE 1 mg x30;12;oui\n",
    )
    .unwrap();
    medistock_analytics::catalogue::save_catalogue_object(&objects, "lac", &catalogue)
        .await
        .unwrap();
    for account in medistock_analytics::registry::Registry::parse(
        "declarant;nom;type\ngr-b;Grossiste B;grossiste\n",
    )
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
    ingest_object(
        &objects,
        &state,
        &settings,
        "depot",
        "inbox/gr-b/s.csv",
        now(),
    )
    .await
    .unwrap();
    let config = Config {
        lake_bucket: "lac".into(),
        table_name: "unused".into(),
        topics: AlertTopics {
            critical: "arn:critique".into(),
            info: "arn:info".into(),
        },
        inbox_bucket: "depot".into(),
        policy: Default::default(),
        model: Default::default(),
    };
    (objects, state, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_computes_everything_for_today() {
    let dir = tempfile::tempdir().unwrap();
    let (objects, state, config) = setup(dir.path()).await;
    let summary = scheduled(&objects, &state, &config).await.unwrap();
    assert_eq!(
        (
            summary.as_of.to_string().as_str(),
            summary.references,
            summary.dry_run
        ),
        ("2026-11-20", 2, false)
    );
    assert_eq!(summary.levels.get(&Level::Tension), Some(&1));
    assert_eq!(summary.alerts_created, 1);
    assert_eq!(
        state.pending_alerts().await.unwrap()[0].notification.topic,
        "arn:info"
    );
    assert!(
        objects
            .get("lac", "risk/as_of=2026-11-20/risk.parquet")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_on_demand_payload_limits_the_scope_and_can_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (objects, state, config) = setup(dir.path()).await;
    let summary = handle(
        &objects,
        &state,
        &config,
        event("risk-on-demand.json"),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(
        (summary.references, summary.dry_run, summary.alerts_created),
        (2, true, 0)
    );
    assert!(state.risk_items().await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_requests_and_missing_configuration_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let objects = LocalObjects::new(dir.path());
    let state = LocalState::in_memory().unwrap();
    let config = Config {
        lake_bucket: "lac".into(),
        table_name: "t".into(),
        topics: AlertTopics {
            critical: "c".into(),
            info: "i".into(),
        },
        inbox_bucket: "depot".into(),
        policy: Default::default(),
        model: Default::default(),
    };
    let bad = handle(
        &objects,
        &state,
        &config,
        serde_json::json!({"scope": {"cip13": ["123"]}}),
        now(),
    )
    .await
    .unwrap_err();
    assert!(
        bad.to_string()
            .starts_with("requête invalide : cip13 « 123 »"),
        "{bad}"
    );
    assert_eq!(
        lambda_runtime::Diagnostic::from(bad).error_type,
        "Medistock.Poison.Request",
        "a retry cannot help a bad request"
    );
    let corrupt = b"{pas du json".to_vec();
    objects
        .put(
            "lac",
            "catalogue/catalogue.json",
            corrupt,
            "application/json",
            &Default::default(),
        )
        .await
        .unwrap();
    let nobody = scheduled(&objects, &state, &config).await.unwrap_err();
    assert!(
        nobody
            .to_string()
            .starts_with("configuration : aucun déclarant inscrit"),
        "without accounts every stock would count as « autre »: {nobody}"
    );
    assert_eq!(
        lambda_runtime::Diagnostic::from(nobody).error_type,
        "Medistock.Poison.Configuration"
    );
    for account in medistock_analytics::registry::Registry::parse(
        "declarant;nom;type\ngr-b;Grossiste B;grossiste\n",
    )
    .unwrap()
    .to_accounts()
    {
        state.put_account(&account).await.unwrap();
    }
    let missing = scheduled(&objects, &state, &config).await.unwrap_err();
    assert_eq!(
        missing.to_string(),
        "configuration : catalogue/catalogue.json : catalogue stocké illisible (catalogue/catalogue.json) : key must be a string at line 1 column 2"
    );
    assert_eq!(
        lambda_runtime::Diagnostic::from(missing).error_type,
        "Medistock.Poison.Configuration"
    );
    let env = Config::from_env(|n| (n != "INFO_TOPIC_ARN").then(|| "x".to_owned())).unwrap_err();
    assert_eq!(
        env.to_string(),
        "variable d'environnement INFO_TOPIC_ARN absente"
    );
    // The model's signals: as measured by default, others chosen by the deployment.
    let with = |signals: &'static str| {
        Config::from_env(move |n| match n {
            "RECALL_DAYS" => None,
            "MODEL_WITHOUT" => Some(signals.to_owned()),
            _ => Some("x".to_owned()),
        })
    };
    assert_eq!(with("").unwrap().model, Default::default());
    let chosen = with("slip, undeclared,+batches").unwrap().model;
    assert!(!chosen.slipped_supplies && !chosen.undeclared_manufacturers);
    assert!(chosen.inferred_batches && chosen.production_stop);
    let bad = with("tout").unwrap_err().to_string();
    assert!(
        bad.contains("MODEL_WITHOUT") && bad.contains("signal inconnu « tout »"),
        "{bad}"
    );
}

/// The deployment's `MODEL_WITHOUT` reaches the run: with a manufacturer registered and not
/// heard from after 19 days of wholesalers' figures, the x30's 8 days of wholesalers' stock
/// are held at VIGILANCE by default (`undeclared`), and read as TENSION without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_signals_of_the_deployment_reach_the_run() {
    let mut levels = Vec::new();
    for signals in ["", "undeclared"] {
        let dir = tempfile::tempdir().unwrap();
        let (objects, state, mut config) = setup(dir.path()).await;
        for account in medistock_analytics::registry::Registry::parse(
            "declarant;nom;type\nlab-a;Laboratoire A;exploitant\n",
        )
        .unwrap()
        .to_accounts()
        {
            state.put_account(&account).await.unwrap();
        }
        // The wholesaler's first figures, 19 days before the run.
        let old = "cip13;date_stock;stock;sorties\n3400949497294;2026-11-01;2700;700\n";
        medistock_testkit::declare(&objects, &state, "gr-b", "old.csv", old.as_bytes(), now())
            .await;
        config.model = medistock_analytics::risk::config::ModelOptions::without(signals).unwrap();
        scheduled(&objects, &state, &config).await.unwrap();
        levels.push(x30_item(&state).await.map(|i| i.level));
    }
    assert_eq!(levels, [Some(Level::Vigilance), Some(Level::Tension)]);
}

/// The calibration kept beside the catalogue reaches the deployed run: the RISK item's
/// figures carry the calibrated probability and the model's own; a map that does not read, or
/// was learnt with another model than the deployment's (`MODEL_WITHOUT`), is left aside and
/// the run goes on with the model's figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calibration_in_the_lake_reaches_the_run_and_a_broken_one_is_left_aside() {
    use medistock_analytics::risk::config::ModelOptions;
    let map = serde_json::to_vec(&medistock_testkit::flat_calibration(0.07)).unwrap();
    let calibrated = scheduled_run_with(&map, ModelOptions::default()).await;
    assert_eq!(
        (calibrated.within_14_days, calibrated.within_30_days),
        (0.07, 0.07)
    );
    let [model_14, model_30] = calibrated.before_calibration.unwrap();
    assert!(model_30 > 0.9 && model_14 <= model_30, "{calibrated:?}");

    for (stored, model, case) in [
        (
            map.as_slice(),
            ModelOptions::without("episode").unwrap(),
            "the same map, the deployment without the episode rule",
        ),
        (
            b"{\"learnt_from\": \"tronque".as_slice(),
            ModelOptions::default(),
            "a map that does not read",
        ),
    ] {
        let shown = scheduled_run_with(stored, model).await;
        assert_eq!(shown.before_calibration, None, "{case}: {shown:?}");
        assert_eq!(
            [shown.within_14_days, shown.within_30_days],
            [model_14, model_30],
            "{case}"
        );
    }
}

/// The x30's probability after a scheduled run of the model `model`, with `stored` as the
/// lake's calibration.
async fn scheduled_run_with(
    stored: &[u8],
    model: medistock_analytics::risk::config::ModelOptions,
) -> medistock_analytics::risk::probability::StockoutProbability {
    let dir = tempfile::tempdir().unwrap();
    let (objects, state, mut config) = setup(dir.path()).await;
    config.model = model;
    objects
        .put(
            "lac",
            medistock_analytics::risk::calibration::CALIBRATION_FILE,
            stored.to_vec(),
            "application/json",
            &Default::default(),
        )
        .await
        .unwrap();
    scheduled(&objects, &state, &config).await.unwrap();
    probability_of_x30(&state).await
}

/// The x30's RISK item, if the run wrote one.
async fn x30_item(state: &LocalState) -> Option<medistock_domain::store::RiskItem> {
    state
        .risk_items()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.subject == "3400949497294")
}

/// The probability stored with the x30's RISK item.
async fn probability_of_x30(
    state: &LocalState,
) -> medistock_analytics::risk::probability::StockoutProbability {
    let item = x30_item(state).await.unwrap();
    let assessment: medistock_analytics::risk::Assessment =
        serde_json::from_str(&item.figures).unwrap();
    assessment.probability.unwrap()
}
