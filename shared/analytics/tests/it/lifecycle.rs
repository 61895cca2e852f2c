//! The alert lifecycle over days of risk runs, on the local backend and on moto: a silent
//! declarant reminded once per lapse, a CRITIQUE nobody acknowledged recalled after 7 days,
//! an acknowledgement that stops the recall, the end of a silence said once, a measure in
//! force written into its subject's message.

use chrono::{DateTime, NaiveDate, Utc};
use medistock_analytics::declaration::Limits;
use medistock_analytics::ingest::{IngestSettings, ingest_object};
use medistock_analytics::registry::Registry;
use medistock_analytics::risk::alert::AlertTopics;
use medistock_analytics::risk::config::RiskConfig;
use medistock_analytics::risk::{RiskOutcome, RiskRun, RunSummary, Scope, run_risk};
use medistock_domain::Level;
use medistock_domain::lifecycle::{AlertPolicy, AlertState};
use medistock_domain::measure::{Measure, MeasureKind};
use medistock_domain::store::{
    AccountStore, AlertRecord, MeasureStore, ObjectStore, RiskItem, RiskStore,
};

const REGISTRY: &str =
    "declarant;nom;type\ngr-b;Grossiste B;grossiste\ngr-c;Grossiste C;grossiste\n";
const REFERENCES: &str = "cip13;denomination;groupe;mitm\n\
                          3400949497294;ANASTROZOLE 1 mg x30;12;oui\n\
                          3400949497706;ANASTROZOLE 1 mg x90;12;non\n";
const X30: &str = "3400949497294";

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn at(d: u32) -> DateTime<Utc> {
    day(d).and_hms_opt(9, 0, 0).unwrap().and_utc()
}

async fn run_day(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    inbox: &str,
    lake: &str,
    d: u32,
) -> RunSummary {
    // The x30 at 5 days of stock (CRITIQUE), the x90 at 90 days.
    let text = format!(
        "cip13;date_stock;stock;sorties\n{X30};2026-11-{d};500;700\n3400949497706;2026-11-{d};9000;700\n"
    );
    let key = format!("inbox/gr-b/s{d}.csv");
    objects
        .put(
            inbox,
            &key,
            text.into_bytes(),
            "text/csv",
            &Default::default(),
        )
        .await
        .unwrap();
    let settings = IngestSettings {
        lake_bucket: lake.to_owned(),
        limits: Limits::default(),
        lease: chrono::Duration::minutes(5),
        catalogue: None,
    };
    ingest_object(objects, state, &settings, inbox, &key, at(d))
        .await
        .unwrap();
    let config = RiskConfig::new(
        &Registry::parse(REGISTRY).unwrap(),
        &medistock_analytics::catalogue::Catalogue::from_settings_csv(REFERENCES).unwrap(),
    );
    let topics = AlertTopics {
        critical: "critique".into(),
        info: "info".into(),
    };
    let run = RiskRun {
        lake_bucket: lake,
        inbox_bucket: Some(inbox),
        policy: AlertPolicy::default(),
        topics: &topics,
        config: &config,
        history_cache: None,
    };
    let RiskOutcome { summary, .. } =
        run_risk(objects, state, &run, &Scope::All, day(d), false, at(d))
            .await
            .unwrap();
    summary
}

async fn item(state: &impl crate::State, subject: &str) -> RiskItem {
    state
        .risk_items()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.subject == subject)
        .unwrap()
}

async fn records_of(state: &impl crate::State, d: u32) -> Vec<AlertRecord> {
    let day = day(d).to_string();
    state
        .pending_alerts()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.key.contains(&day))
        .collect()
}

async fn lifecycle_over_days(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    inbox: &str,
    lake: &str,
) {
    for account in Registry::parse(REGISTRY).unwrap().to_accounts() {
        state.put_account(&account).await.unwrap();
    }
    // A quota on the x30's group, in force from the 18th.
    let measure = Measure::new(
        "MES-20261118-00000001".into(),
        "GROUPE#12",
        MeasureKind::Contingentement,
        day(18),
        None,
        "quotas de 80 %",
        "Jeanne",
        at(18),
    )
    .unwrap();
    assert!(state.put_measure(&measure, None).await.unwrap());

    // Day 20 (Friday): the x30 opens an episode at CRITIQUE; gr-c never declared: silent,
    // reminded in its receipts folder.
    let first = run_day(objects, state, inbox, lake, 20).await;
    assert_eq!(first.levels.get(&Level::Critique), Some(&1), "{first:?}");
    assert_eq!(first.silent_declarants, ["gr-c"]);
    assert_eq!(first.reminders_written, 1);
    assert_eq!(first.measures_in_force, 1);
    let reminder = objects
        .get(inbox, "receipts/gr-c/rappel-premiere-declaration.txt")
        .await
        .unwrap()
        .expect("the reminder is in gr-c's receipts folder");
    let text = String::from_utf8(reminder.bytes).unwrap();
    assert!(
        text.contains("Grossiste C (gr-c) depuis l'ouverture de votre compte"),
        "{text}"
    );
    assert!(text.contains("chaque jour ouvré"), "{text}");
    let x30 = item(state, X30).await;
    assert_eq!((x30.open_since, x30.recalled_on), (Some(day(20)), None));
    let records = records_of(state, 20).await;
    let message = records
        .iter()
        .find(|r| r.key.starts_with("GROUPE#12#") || r.key.starts_with(X30))
        .expect("the x30's message");
    assert!(
        message.notification.body.contains("Mesures en cours :\n  - MES-20261118-00000001 (contingentement, du 18/11/2026, par Jeanne)"),
        "{}",
        message.notification.body
    );
    assert_eq!(
        message.silence_scope,
        [vec![X30.to_owned(), "GROUPE#12".to_owned()]]
    );
    let digest = records
        .iter()
        .find(|r| r.key == "POINT#2026-11-20")
        .expect("the day's point");
    assert!(
        digest.notification.body.contains("Déclarants silencieux")
            && digest
                .notification
                .body
                .contains("gr-c (Grossiste C, grossiste, cadence quotidienne)"),
        "{}",
        digest.notification.body
    );

    // Day 27: still CRITIQUE, nobody acknowledged it: recalled; gr-c not reminded twice.
    let week = run_day(objects, state, inbox, lake, 27).await;
    assert_eq!(week.recalls, [X30]);
    assert_eq!(week.reminders_written, 0, "one reminder per lapse");
    assert_eq!(week.silent_declarants, ["gr-c"]);
    let x30 = item(state, X30).await;
    assert_eq!(
        (x30.open_since, x30.recalled_on),
        (Some(day(20)), Some(day(27)))
    );
    let digest = records_of(state, 27).await;
    let digest = digest.iter().find(|r| r.key == "POINT#2026-11-27").unwrap();
    assert!(
        digest.notification.body.contains(&format!(
            "  - {X30} ANASTROZOLE 1 mg x30 : CRITIQUE depuis le 20/11/2026"
        )),
        "{}",
        digest.notification.body
    );
    assert!(
        digest.notification.subject.contains("1 rappel(s)"),
        "{}",
        digest.notification.subject
    );

    // Acknowledged at CRITIQUE, and silenced until the 28th.
    let acked = AlertState::new(X30)
        .unwrap()
        .acknowledge(
            "Paul",
            "appel du laboratoire",
            at(27),
            Level::Critique,
            Some(day(20)),
        )
        .unwrap()
        .silenced(day(28), "Paul", "import en cours", at(27))
        .unwrap();
    assert!(state.put_alert_state(&acked, None).await.unwrap());

    // Day 29: the silence is over and the x30 still CRITIQUE: one message says so; no recall
    // (acknowledged), even 9 days after the last one... the recall period counts from it.
    let after = run_day(objects, state, inbox, lake, 29).await;
    assert!(after.recalls.is_empty(), "{after:?}");
    let end = state
        .alert(&format!("FINSILENCE#{X30}#2026-11-28"))
        .await
        .unwrap()
        .expect("the end of the silence is said");
    assert_eq!(
        end.notification.subject,
        "[Medistock] Fin du silence — ANASTROZOLE 1 mg x30 toujours CRITIQUE"
    );
    // A rerun of the day sends no second point, and recalls the same subjects.
    let created = state.pending_alerts().await.unwrap().len();
    let rerun = run_day(objects, state, inbox, lake, 29).await;
    assert_eq!(rerun.alerts_created, 0, "{rerun:?}");
    assert_eq!(state.pending_alerts().await.unwrap().len(), created);
    // Said once.
    let again = run_day(objects, state, inbox, lake, 30).await;
    assert!(again.recalls.is_empty());
    let ends = state
        .pending_alerts()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.key.starts_with("FINSILENCE#"))
        .count();
    assert_eq!(ends, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_over_days_on_the_local_backend() {
    let dir = tempfile::tempdir().unwrap();
    let backend = medistock_local::LocalBackend::open(dir.path()).unwrap();
    lifecycle_over_days(&backend.objects, &backend.state, "depot", "lac").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_moto_the_lifecycle_over_days() {
    use medistock_aws::{DynamoState, S3Objects};
    let Some(endpoint) = medistock_testkit::emulator() else {
        return;
    };
    let sdk = medistock_testkit::aws::config(&endpoint).await;
    let (inbox, lake, table) = (
        medistock_testkit::unique("depot"),
        medistock_testkit::unique("lac"),
        medistock_testkit::unique("cycle"),
    );
    let s3 = medistock_testkit::aws::bucket(&sdk, &inbox).await;
    medistock_testkit::aws::bucket(&sdk, &lake).await;
    let state = DynamoState::new(
        medistock_testkit::aws::table(&sdk, &table).await,
        table.as_str(),
    );
    lifecycle_over_days(&S3Objects::new(s3), &state, &inbox, &lake).await;
}

/// What the lifecycle adds is best effort: a snapshot that does not decode (a hostile or torn
/// object in the lake) and a receipts folder that cannot be written leave the levels and the
/// alerts of the day intact, and the next run writes the reminder it could not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_snapshot_or_an_unwritable_receipts_folder_never_stops_the_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let backend = medistock_local::LocalBackend::open(dir.path()).unwrap();
    let (objects, state) = (&backend.objects, &backend.state);
    for account in Registry::parse(REGISTRY).unwrap().to_accounts() {
        state.put_account(&account).await.unwrap();
    }
    let measure = Measure::new(
        "MES-20261118-00000002".into(),
        X30,
        MeasureKind::Importation,
        day(18),
        None,
        "import",
        "Jeanne",
        at(18),
    )
    .unwrap();
    assert!(state.put_measure(&measure, None).await.unwrap());
    // The day before's snapshot is not Parquet; gr-c's receipts folder is a file.
    objects
        .put(
            "lac",
            &medistock_domain::lake::risk_snapshot_key(day(19)),
            b"PAR1 not a parquet file".to_vec(),
            "application/vnd.apache.parquet",
            &Default::default(),
        )
        .await
        .unwrap();
    std::fs::create_dir_all(dir.path().join("depot/receipts")).unwrap();
    std::fs::write(dir.path().join("depot/receipts/gr-c"), b"not a folder").unwrap();

    let summary = run_day(objects, state, "depot", "lac", 20).await;
    assert_eq!(
        summary.levels.get(&Level::Critique),
        Some(&1),
        "{summary:?}"
    );
    assert!(summary.alerts_created >= 2, "{summary:?}");
    assert_eq!(
        summary.measures_in_force, 0,
        "the measure's figures were dropped"
    );
    assert_eq!(summary.silent_declarants, ["gr-c"]);
    assert_eq!(
        summary.reminders_written, 0,
        "the folder could not be written"
    );
    let records = records_of(state, 20).await;
    assert!(
        records
            .iter()
            .all(|r| !r.notification.body.contains("Mesures en cours")),
        "no half-computed figures"
    );
    assert_eq!(
        state
            .risk_items()
            .await
            .unwrap()
            .iter()
            .find(|i| i.subject == X30)
            .map(|i| i.level),
        Some(Level::Critique),
        "the levels were written"
    );

    // The folder repaired: the next run writes the reminder of the same lapse, once.
    std::fs::remove_file(dir.path().join("depot/receipts/gr-c")).unwrap();
    let next = run_day(objects, state, "depot", "lac", 21).await;
    assert_eq!(next.reminders_written, 1);
    assert!(
        objects
            .get("depot", "receipts/gr-c/rappel-premiere-declaration.txt")
            .await
            .unwrap()
            .is_some()
    );
}
