//! The risk run over ingested declarations: levels, RISK items, outbox records once per
//! transition, the Parquet snapshot, and publication that retries what failed.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use medistock_analytics::declaration::Limits;
use medistock_analytics::ingest::{IngestSettings, ingest_object};
use medistock_analytics::registry::Registry;
use medistock_analytics::risk::alert::AlertTopics;
use medistock_analytics::risk::config::RiskConfig;
use medistock_analytics::risk::{RiskOutcome, RiskRun, Scope, run_risk};
use medistock_domain::Cip13;
use medistock_domain::Level;
use medistock_domain::relay::publish_pending;
use medistock_domain::store::{
    AlertOutbox, Notification, Notifier, ObjectStore, RiskStore, StoreError,
};
use medistock_local::{LocalBackend, LocalObjects, LocalState};
use medistock_testkit::objects::{Op, SpyObjects};
use polars::prelude::SerReader;

const REGISTRY: &str =
    "declarant;nom;type\nlab-a;Laboratoire A;exploitant\ngr-b;Grossiste B;grossiste\n";
const REFERENCES: &str = "cip13;denomination;groupe;mitm\n\
                          3400949497294;ANASTROZOLE 1 mg x30;12;oui\n\
                          3400949497706;ANASTROZOLE 1 mg x90;12;non\n";

fn topics() -> AlertTopics {
    AlertTopics {
        critical: "critique".into(),
        info: "info".into(),
    }
}

fn config() -> RiskConfig {
    RiskConfig::new(
        &Registry::parse(REGISTRY).unwrap(),
        &medistock_analytics::catalogue::Catalogue::from_settings_csv(REFERENCES).unwrap(),
    )
}

/// The run of these tests: lake `lac`, no inbox, the default policy and topics.
fn local_run(config: &RiskConfig) -> RiskRun<'_> {
    static TOPICS: std::sync::LazyLock<AlertTopics> = std::sync::LazyLock::new(topics);
    RiskRun {
        inbox_bucket: None,
        policy: Default::default(),
        lake_bucket: "lac",
        topics: &TOPICS,
        config,
        history_cache: None,
    }
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn at(d: u32) -> DateTime<Utc> {
    day(d).and_hms_opt(9, 0, 0).unwrap().and_utc()
}

async fn declare(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    declarant: &str,
    name: &str,
    text: &str,
    d: u32,
) {
    medistock_testkit::declare(objects, state, declarant, name, text.as_bytes(), at(d)).await;
}

/// The daily snapshot of the risk run of `day` (`YYYY-MM-DD`).
async fn snapshot(objects: &impl ObjectStore, day: &str) -> polars::prelude::DataFrame {
    let object = objects
        .get("lac", &format!("risk/as_of={day}/risk.parquet"))
        .await
        .unwrap()
        .unwrap();
    polars::prelude::ParquetReader::new(std::io::Cursor::new(object.bytes))
        .finish()
        .unwrap()
}

async fn item_of(
    state: &impl crate::State,
    subject: &str,
) -> Option<medistock_domain::store::RiskItem> {
    state
        .risk_items()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.subject == subject)
}

async fn level_of(state: &impl crate::State, cip: &str) -> Option<Level> {
    item_of(state, cip).await.map(|i| i.level)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn levels_transitions_and_alerts_once() {
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open(dir.path()).unwrap();
    let (objects, state) = (&backend.objects, &backend.state);
    // x30: 2000 units for 100 a day → 20 days: TENSION. x90: 9000 for 100 a day → 90 days: NORMAL.
    declare(objects, state, "gr-b", "s47.csv", "cip13;date_stock;stock;sorties;periode_jours\n3400949497294;2026-11-20;1500;700;7\n3400949497706;2026-11-20;6000;700;7\n", 20).await;
    declare(objects, state, "lab-a", "s47.csv", "cip13;date_stock;stock;sorties;periode_jours\n3400949497294;2026-11-20;500;700;7\n3400949497706;2026-11-20;3000;700;7\n", 20).await;
    let config = config();
    let run = local_run(&config);

    let RiskOutcome {
        summary,
        assessments,
        ..
    } = run_risk(objects, state, &run, &Scope::All, day(20), false, at(20))
        .await
        .unwrap();
    assert_eq!(summary.references, 2);
    let x30 = assessments
        .iter()
        .find(|a| a.cip13.as_str() == "3400949497294")
        .unwrap();
    assert_eq!(
        (x30.demand, x30.coverage_days, x30.days_to_stockout),
        (Some(100.0), Some(20.0), Some(20))
    );
    assert_eq!(x30.level, Level::Tension);
    assert_eq!(level_of(state, "3400949497706").await, Some(Level::Normal));
    // The group pools 11,000 units for 200 a day: 55 days, VIGILANCE, in the daily digest.
    assert_eq!(summary.group_levels.get(&Level::Vigilance), Some(&1));
    assert_eq!(level_of(state, "GROUPE#12").await, Some(Level::Vigilance));
    assert_eq!(summary.alerts_created, 2);
    let pending = state.pending_alerts().await.unwrap();
    assert_eq!(pending.len(), 2);
    let digest = pending
        .iter()
        .find(|a| a.key.starts_with("VIGILANCE#2026-11-20#"))
        .unwrap();
    assert_eq!(digest.notification.topic, "info");
    assert!(
        digest
            .notification
            .body
            .contains("  - groupe 12 (2 présentations) : 55 jours"),
        "{}",
        digest.notification.body
    );
    let alert = pending
        .iter()
        .find(|a| a.key == "3400949497294#2026-11-20#NORMAL-TENSION")
        .unwrap();
    let n = &alert.notification;
    assert_eq!(
        (n.topic.as_str(), n.sms.is_none()),
        ("info", true),
        "TENSION goes by email only"
    );
    assert_eq!(n.attributes["level"], "TENSION");
    assert_eq!(n.attributes["mitm"], "true");
    assert!(
        n.body
            .contains("Rupture prévue le : 10/12/2026 (dans 20 jours)"),
        "{}",
        n.body
    );
    assert!(
        n.body
            .contains("3400949497706 ANASTROZOLE 1 mg x90 : NORMAL, 90 jours"),
        "{}",
        n.body
    );
    let snapshot = objects
        .get("lac", "risk/as_of=2026-11-20/risk.parquet")
        .await
        .unwrap();
    assert!(snapshot.is_some());

    // The same run again (a retry, or the schedule firing twice): no new alert.
    let RiskOutcome { summary: again, .. } =
        run_risk(objects, state, &run, &Scope::All, day(20), false, at(20))
            .await
            .unwrap();
    assert_eq!((again.alerts_created, again.transitions.len()), (0, 0));

    // Four days later with 3 days of stock left: CRITIQUE, with an SMS on the critical topic.
    declare(
        objects,
        state,
        "gr-b",
        "s48.csv",
        "cip13;date_stock;stock;sorties;periode_jours\n3400949497294;2026-11-24;300;700;7\n",
        24,
    )
    .await;
    declare(
        objects,
        state,
        "lab-a",
        "s48.csv",
        "cip13;date_stock;stock;sorties;periode_jours\n3400949497294;2026-11-24;0;700;7\n",
        24,
    )
    .await;
    let RiskOutcome { summary: s24, .. } = run_risk(
        objects,
        state,
        &run,
        &Scope::References(vec![Cip13::parse("3400949497294").unwrap()]),
        day(24),
        false,
        at(24),
    )
    .await
    .unwrap();
    assert_eq!(s24.transitions.len(), 1);
    assert_eq!(
        (s24.transitions[0].from, s24.transitions[0].to),
        (Level::Tension, Level::Critique)
    );
    let critical = state
        .pending_alerts()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.key.ends_with("TENSION-CRITIQUE"))
        .unwrap();
    assert_eq!(critical.notification.topic, "critique");
    let sms = critical.notification.sms.unwrap();
    assert!(
        sms.starts_with(
            "Medistock CRITIQUE 3400949497294 ANASTROZOLE 1 mg x30: rupture prevue 27/11"
        ),
        "{sms}"
    );
    assert!(sms.len() <= 160 && sms.is_ascii());
}

/// ANSM is told of an escalation and of the end of an alert, not of a step down within it: the
/// alert it received stays open, and the level with it, until NORMAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_episode_stays_open_until_the_return_to_normal() {
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open(dir.path()).unwrap();
    let (objects, state) = (&backend.objects, &backend.state);
    let x30 = Cip13::parse("3400949497294").unwrap();
    let only_x30 = Scope::References(vec![x30]);
    let config = config();
    let run = local_run(&config);
    let by_day = |d: u32, wholesaler: u32, manufacturer: u32| {
        let (objects, state) = (objects, state);
        async move {
            let line = |stock: u32| {
                format!(
                    "cip13;date_stock;stock;sorties;periode_jours\n3400949497294;2026-11-{d};{stock};700;7\n"
                )
            };
            declare(
                objects,
                state,
                "gr-b",
                &format!("j{d}.csv"),
                &line(wholesaler),
                d,
            )
            .await;
            declare(
                objects,
                state,
                "lab-a",
                &format!("j{d}.csv"),
                &line(manufacturer),
                d,
            )
            .await;
        }
    };
    // 2,000 units for 100 a day: 20 days, TENSION, announced.
    by_day(20, 1500, 500).await;
    let first = run_risk(objects, state, &run, &only_x30, day(20), false, at(20))
        .await
        .unwrap();
    assert_eq!(first.summary.transitions.len(), 1);
    assert_eq!(level_of(state, "3400949497294").await, Some(Level::Tension));

    // A batch arrives: 4,500 units, 45 days. The figures give VIGILANCE; no message, the level
    // stays at TENSION and says why.
    by_day(21, 2500, 2000).await;
    let held = run_risk(objects, state, &run, &only_x30, day(21), false, at(21))
        .await
        .unwrap();
    assert_eq!(
        (held.summary.transitions.len(), held.summary.alerts_created),
        (0, 0)
    );
    let a = &held.assessments[0];
    assert_eq!(
        (a.level, a.figures_level, a.days_to_stockout),
        (Level::Tension, Some(Level::Vigilance), Some(45))
    );
    let item = item_of(state, "3400949497294").await.unwrap();
    assert_eq!(
        (item.level, item.open_since),
        (Level::Tension, Some(day(20)))
    );
    assert!(
        item.figures.contains("\"figures_level\":\"VIGILANCE\""),
        "{}",
        item.figures
    );
    // The daily snapshot keeps both: the level held, and the figures' own.
    let frame = snapshot(objects, "2026-11-21").await;
    let text = |name: &str| {
        let column = frame.column(name).unwrap().str().unwrap().clone();
        column.get(0).map(str::to_owned)
    };
    assert_eq!(
        (text("level"), text("figures_level")),
        (Some("TENSION".into()), Some("VIGILANCE".into()))
    );

    // 13,000 units, 130 days, the manufacturer above its safety stock (two months of this MITM
    // reference): NORMAL, and the return is announced.
    by_day(22, 6000, 7000).await;
    let back = run_risk(objects, state, &run, &only_x30, day(22), false, at(22))
        .await
        .unwrap();
    assert_eq!(
        back.summary.transitions.len(),
        1,
        "{:?}",
        back.assessments[0]
    );
    assert_eq!(
        (
            back.summary.transitions[0].from,
            back.summary.transitions[0].to
        ),
        (Level::Tension, Level::Normal)
    );
    assert_eq!(back.assessments[0].figures_level, None);
    assert!(
        state
            .pending_alerts()
            .await
            .unwrap()
            .iter()
            .any(|p| p.key == "3400949497294#2026-11-22#TENSION-NORMAL")
    );
}

/// A recomputation of an earlier day (an analyst looking back) writes that day's snapshot but
/// never overwrites a newer level, nor announces a transition from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recomputation_of_an_earlier_day_leaves_the_newer_levels_alone() {
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open(dir.path()).unwrap();
    let (objects, state) = (&backend.objects, &backend.state);
    let config = config();
    let run = local_run(&config);
    // Each day: the wholesaler's and the manufacturer's stock of the x30, 100 a day, then the run.
    let day_of = |d: u32, wholesaler: u32, manufacturer: u32| {
        let run = &run;
        async move {
            for (declarant, stock) in [("gr-b", wholesaler), ("lab-a", manufacturer)] {
                let text = format!(
                    "cip13;date_stock;stock;sorties;periode_jours\n3400949497294;2026-11-{d};{stock};700;7\n"
                );
                declare(objects, state, declarant, &format!("j{d}.csv"), &text, d).await;
            }
            run_risk(objects, state, run, &Scope::All, day(d), false, at(d))
                .await
                .unwrap();
        }
    };
    // 20 days on the 20th: TENSION; 3 days on the 24th: CRITIQUE.
    day_of(20, 1500, 500).await;
    day_of(24, 300, 0).await;
    assert_eq!(
        level_of(state, "3400949497294").await,
        Some(Level::Critique)
    );
    let alerts = state.pending_alerts().await.unwrap().len();

    // The 21st, computed again on the 25th (from the positions held, the newest figures).
    let past = run_risk(objects, state, &run, &Scope::All, day(21), false, at(25))
        .await
        .unwrap();
    let level = past.assessments[0].level;
    assert_eq!(past.summary.levels.get(&level), Some(&1), "counted");
    assert!(past.summary.transitions.is_empty(), "{:?}", past.summary);
    assert_eq!(past.summary.alerts_created, 0);
    assert_eq!(state.pending_alerts().await.unwrap().len(), alerts);
    let item = item_of(state, "3400949497294").await.unwrap();
    assert_eq!((item.level, item.as_of), (Level::Critique, day(24)));
    let frame = snapshot(objects, "2026-11-21").await;
    assert_eq!(
        frame.column("level").unwrap().str().unwrap().get(0),
        Some(level.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let objects = LocalObjects::new(dir.path());
    let state = LocalState::in_memory().unwrap();
    declare(
        &objects,
        &state,
        "gr-b",
        "s.csv",
        "cip13;date_stock;stock;sorties\n3400949497294;2026-11-20;10;700\n",
        20,
    )
    .await;
    let config = config();
    let run = local_run(&config);
    let RiskOutcome { summary, .. } =
        run_risk(&objects, &state, &run, &Scope::All, day(20), true, at(20))
            .await
            .unwrap();
    assert_eq!(summary.levels.get(&Level::Rupture), Some(&1));
    assert_eq!(
        summary.transitions.len(),
        1,
        "x90 has no position: NORMAL, no change"
    );
    assert!(state.risk_items().await.unwrap().is_empty());
    assert!(state.pending_alerts().await.unwrap().is_empty());
    assert_eq!(
        objects.list("lac", "risk/").await.unwrap(),
        Vec::<String>::new()
    );
}

/// Fails the first `failures` publications.
struct Flaky<N> {
    inner: N,
    failures: AtomicUsize,
}

impl<N: Notifier> Notifier for Flaky<N> {
    async fn publish(&self, n: &Notification) -> Result<String, StoreError> {
        if self.failures.load(Ordering::SeqCst) > 0 {
            self.failures.fetch_sub(1, Ordering::SeqCst);
            return Err(StoreError::Aws {
                operation: "SNS.Publish",
                message: "injected".into(),
            });
        }
        self.inner.publish(n).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_is_retried_and_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open(dir.path()).unwrap();
    declare(
        &backend.objects,
        &backend.state,
        "gr-b",
        "s.csv",
        "cip13;date_stock;stock;sorties\n3400949497294;2026-11-20;10;700\n",
        20,
    )
    .await;
    let config = config();
    let run = local_run(&config);
    run_risk(
        &backend.objects,
        &backend.state,
        &run,
        &Scope::All,
        day(20),
        false,
        at(20),
    )
    .await
    .unwrap();
    let notifier = Flaky {
        inner: backend.notifier,
        failures: AtomicUsize::new(1),
    };
    // Quiet hours off: this test is about retries, not about the night.
    let delivery = medistock_domain::relay::Delivery {
        policy: medistock_domain::lifecycle::AlertPolicy {
            quiet_hours: medistock_domain::lifecycle::QuietHours::parse("aucune").unwrap(),
            ..Default::default()
        },
        now: at(20),
    };
    let first = publish_pending(&backend.state, &notifier, &delivery)
        .await
        .unwrap();
    assert_eq!((first.sent, first.failed), (0, 1));
    assert_eq!(
        backend.state.pending_alerts().await.unwrap().len(),
        1,
        "never dropped"
    );
    let second = publish_pending(&backend.state, &notifier, &delivery)
        .await
        .unwrap();
    assert_eq!((second.sent, second.failed), (1, 0));
    let third = publish_pending(&backend.state, &notifier, &delivery)
        .await
        .unwrap();
    assert_eq!((third.sent, third.failed), (0, 0), "never sent twice");
    let lines = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 1);
    assert!(lines.contains("RUPTURE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_moto_the_run_writes_risk_items_outbox_records_and_the_snapshot() {
    use medistock_aws::{DynamoState, S3Objects};

    let Some(endpoint) = medistock_testkit::emulator() else {
        return;
    };
    let sdk = medistock_testkit::aws::config(&endpoint).await;
    let (inbox, lake, table) = (
        medistock_testkit::unique("depot"),
        medistock_testkit::unique("lac"),
        medistock_testkit::unique("risque"),
    );
    let s3 = medistock_testkit::aws::bucket(&sdk, &inbox).await;
    medistock_testkit::aws::bucket(&sdk, &lake).await;
    let state = DynamoState::new(
        medistock_testkit::aws::table(&sdk, &table).await,
        table.as_str(),
    );
    let objects = S3Objects::new(s3);
    let key = "inbox/gr-b/s47.csv";
    let text = "cip13;date_stock;stock;sorties\n3400949497294;2026-11-20;800;700\n3400949497706;2026-11-20;9000;700\n";
    objects
        .put(
            &inbox,
            key,
            text.as_bytes().to_vec(),
            "text/csv",
            &Default::default(),
        )
        .await
        .unwrap();
    let settings = IngestSettings {
        lake_bucket: lake.clone(),
        limits: Limits::default(),
        lease: Duration::minutes(5),
        catalogue: None,
    };
    ingest_object(&objects, &state, &settings, &inbox, key, at(20))
        .await
        .unwrap();

    // A wholesaler alone (no manufacturer whose first declarations are awaited).
    let config = RiskConfig::new(
        &Registry::parse("declarant;nom;type\ngr-b;Grossiste B;grossiste\n").unwrap(),
        &medistock_analytics::catalogue::Catalogue::from_settings_csv(REFERENCES).unwrap(),
    );
    let run = RiskRun {
        inbox_bucket: None,
        policy: Default::default(),
        lake_bucket: &lake,
        topics: &topics(),
        config: &config,
        history_cache: None,
    };
    let RiskOutcome { summary, .. } =
        run_risk(&objects, &state, &run, &Scope::All, day(20), false, at(20))
            .await
            .unwrap();
    assert_eq!((summary.references, summary.alerts_created), (2, 2));
    assert_eq!(
        level_of(&state, "3400949497294").await,
        Some(Level::Tension)
    );
    assert_eq!(level_of(&state, "3400949497706").await, Some(Level::Normal));
    let pending = state.pending_alerts().await.unwrap();
    let mut keys: Vec<&str> = pending.iter().map(|a| a.key.as_str()).collect();
    keys.sort();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], "3400949497294#2026-11-20#NORMAL-TENSION");
    assert!(keys[1].starts_with("VIGILANCE#2026-11-20#"), "{keys:?}");
    // Found again from its key alone (the notify function marks it sent that way).
    assert!(state.alert(keys[1]).await.unwrap().is_some());
    assert_eq!(
        objects.list(&lake, "risk/").await.unwrap(),
        ["risk/as_of=2026-11-20/risk.parquet"]
    );

    // A concurrent or repeated run: versions and the deterministic key keep one record.
    let RiskOutcome { summary: again, .. } =
        run_risk(&objects, &state, &run, &Scope::All, day(20), false, at(20))
            .await
            .unwrap();
    assert_eq!(again.alerts_created, 0);
    assert_eq!(state.pending_alerts().await.unwrap().len(), 2);
    assert_eq!(
        state
            .risk_items()
            .await
            .unwrap()
            .iter()
            .map(|i| (i.subject.as_str(), i.version))
            .collect::<Vec<_>>(),
        [("3400949497294", 2), ("3400949497706", 2), ("GROUPE#12", 2)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_of_one_group_escalating_together_make_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open(dir.path()).unwrap();
    let (objects, state) = (&backend.objects, &backend.state);
    // The manufacturer has declared for weeks (another reference): a presentation it does not
    // declare is assessed on the wholesalers' stock, not held as unknown.
    declare(
        objects,
        state,
        "lab-a",
        "s45.csv",
        "cip13;date_stock;stock;sorties;periode_jours\n3400930000007;2026-11-02;90000;700;7\n",
        2,
    )
    .await;
    // Both presentations at 10 and 20 days: TENSION each, and the group at 15 days.
    declare(objects, state, "gr-b", "s47.csv", "cip13;date_stock;stock;sorties;periode_jours\n3400949497294;2026-11-20;1000;700;7\n3400949497706;2026-11-20;2000;700;7\n", 20).await;
    let config = config();
    let run = local_run(&config);
    let RiskOutcome {
        summary, groups, ..
    } = run_risk(objects, state, &run, &Scope::All, day(20), false, at(20))
        .await
        .unwrap();
    assert_eq!(summary.levels.get(&Level::Tension), Some(&2));
    assert_eq!(
        (groups[0].level, groups[0].days_to_stockout),
        (Level::Tension, Some(15))
    );
    assert_eq!(summary.alerts_created, 1, "one message for the group");
    let pending = state.pending_alerts().await.unwrap();
    let n = &pending[0].notification;
    assert!(pending[0].key.starts_with("GROUPE#12#2026-11-20#"));
    assert_eq!(
        n.subject,
        "[Medistock] TENSION — groupe 12 : 2 présentation(s) en alerte"
    );
    assert!(
        n.body
            .starts_with("Groupe 12 : TENSION (précédent : NORMAL)\n")
    );
    assert!(
        n.body
            .contains("Rupture du groupe prévue le : 05/12/2026 (dans 15 jours)")
    );
    assert!(
        n.body
            .contains("[Medistock] TENSION — ANASTROZOLE 1 mg x30 (3400949497294)")
    );
    assert!(
        n.body
            .contains("[Medistock] TENSION — ANASTROZOLE 1 mg x90 (3400949497706)")
    );
    assert_eq!(
        (
            n.attributes["groupe"].as_str(),
            n.attributes["mitm"].as_str()
        ),
        ("12", "true")
    );

    // The x30 recovers with a big delivery while the x90 runs down: the group's figures give
    // VIGILANCE (54 days), which its open alert holds at TENSION (no message), the x90 does not
    // change, and the return to normal of the x30 goes out alone.
    declare(objects, state, "gr-b", "s48.csv", "cip13;date_stock;stock;sorties;periode_jours\n3400949497294;2026-11-21;9000;700;7\n3400949497706;2026-11-21;1900;700;7\n", 21).await;
    let RiskOutcome { summary, .. } =
        run_risk(objects, state, &run, &Scope::All, day(21), false, at(21))
            .await
            .unwrap();
    assert_eq!(summary.alerts_created, 1, "{summary:?}");
    assert_eq!(level_of(state, "GROUPE#12").await, Some(Level::Tension));
    assert!(
        state
            .alert("3400949497294#2026-11-21#TENSION-NORMAL")
            .await
            .unwrap()
            .is_some()
    );
}

/// The run reads the daily totals the ingest writes beside the lines, and only those of the
/// look-back window; for files written before them (lines only) it sums the lines itself.
/// Days several files describe are merged site by site as the positions are: a refused line
/// sent again alone completes its file, a file sent again replaces it, two overlapping files
/// keep each depot's newest line. The demand is exactly that, both ways, whatever the names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demand_from_daily_totals_and_from_lines_merges_files_as_the_positions_do() {
    const HEADER: &str = "cip13;date_stock;stock;sorties;periode_jours;site\n";
    let line = |date: &str, outflow: u32, site: &str| {
        format!("3400949497294;{date};900;{outflow};1;{site}\n")
    };
    // (name, text, day dropped), in the order dropped.
    let gr_b: Vec<(String, String, u32)> = vec![
        (
            "j10.csv".into(),
            format!(
                "{HEADER}{}{}",
                line("2026-11-10", 70, "Lyon"),
                line("2026-11-10", 40, "Lille")
            ),
            10,
        ),
        (
            "j12.csv".into(),
            format!("{HEADER}{}", line("2026-11-12", 60, "Lyon")),
            12,
        ),
        (
            "j12-lille.csv".into(),
            format!("{HEADER}{}", line("2026-11-12", 50, "Lille")),
            12,
        ),
        (
            "j13-a.csv".into(),
            format!("{HEADER}{}", line("2026-11-13", 10, "Lyon")),
            13,
        ),
        (
            "j13-b.csv".into(),
            format!(
                "{HEADER}{}{}",
                line("2026-11-13", 15, "Lille"),
                line("2026-11-13", 5, "Nantes")
            ),
            13,
        ),
        (
            "j13-c.csv".into(),
            format!("{HEADER}{}", line("2026-11-13", 20, "Lille")),
            13,
        ),
        (
            "j14.csv".into(),
            format!(
                "{HEADER}{}{}",
                line("2026-11-14", 80, "Lyon"),
                line("2026-11-14", 60, "Lille")
            ),
            14,
        ),
        (
            "j14-bis.csv".into(),
            format!(
                "{HEADER}{}{}",
                line("2026-11-14", 90, "Lyon"),
                line("2026-11-14", 70, "Lille")
            ),
            14,
        ),
    ];
    // 10th: 110; 12th: 60 + 50; 13th: Lyon 10 + Lille 20 (the later of its two lines) + Nantes 5;
    // 14th: the later file, 160. The manufacturer (100 a day) is not counted: wholesalers declare.
    let expected = medistock_analytics::risk::estimate_demand(
        &[
            (day(10), 110.0),
            (day(12), 110.0),
            (day(13), 35.0),
            (day(14), 160.0),
        ],
        day(16),
    )
    .unwrap()
    .daily;
    let config = config();
    let run = local_run(&config);
    // The same drops under swapped names: the order received decides, not the names.
    let swapped: Vec<(String, String, u32)> = gr_b
        .iter()
        .enumerate()
        .map(|(i, (_, text, d))| (format!("f{}.csv", 9 - i), text.clone(), *d))
        .collect();
    for (files, lines_only) in [
        (&gr_b, false),
        (&gr_b, true),
        (&swapped, false),
        (&swapped, true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::open(dir.path()).unwrap();
        let (objects, state) = (&backend.objects, &backend.state);
        for (name, text, d) in files {
            declare(objects, state, "gr-b", name, text, *d).await;
            // Reception times a millisecond apart at least: the order is the order dropped.
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
        declare(
            objects,
            state,
            "lab-a",
            "s46.csv",
            &format!("{HEADER}3400949497294;2026-11-14;5000;700;7;\n"),
            15,
        )
        .await;
        assert_eq!(
            objects.list("lac", "daily/").await.unwrap().len(),
            files.len() + 1
        );
        if lines_only {
            std::fs::remove_dir_all(dir.path().join("lac").join("daily")).unwrap();
        }
        let recording = SpyObjects::new(objects);
        let outcome = run_risk(&recording, state, &run, &Scope::All, day(16), true, at(16))
            .await
            .unwrap();
        let x30 = outcome
            .assessments
            .iter()
            .find(|a| a.cip13.as_str() == "3400949497294")
            .unwrap();
        assert_eq!(
            x30.demand,
            Some((expected * 1e6).round() / 1e6),
            "lines only: {lines_only}"
        );
        // 57 days of two prefixes listed, nothing else; only objects of those days read.
        let listed = recording.calls(Op::List);
        let window: Vec<NaiveDate> = (0..=56)
            .map(|back| day(16) - Duration::days(back))
            .collect();
        assert_eq!(listed.len(), 2 * window.len());
        for prefix in &listed {
            let date = prefix
                .strip_prefix("daily/as_of=")
                .or_else(|| prefix.strip_prefix("normalized/as_of="))
                .and_then(|rest| rest.strip_suffix('/'))
                .and_then(|d| d.parse::<NaiveDate>().ok());
            assert!(date.is_some_and(|d| window.contains(&d)), "{prefix}");
        }
        for key in recording.calls(Op::Get) {
            assert!(
                key.starts_with("daily/as_of=2026-11-1")
                    || key.starts_with("normalized/as_of=2026-11-1"),
                "{key}"
            );
        }
        // 74 days later, every file is older than the look-back: nothing is read, and demand
        // falls back to the outflow the positions hold (Lyon 90 + Lille 70 + Nantes 5).
        let later = run_risk(
            objects,
            state,
            &run,
            &Scope::All,
            day(16) + Duration::days(74),
            true,
            at(16),
        )
        .await
        .unwrap();
        let x30 = later
            .assessments
            .iter()
            .find(|a| a.cip13.as_str() == "3400949497294")
            .unwrap();
        assert_eq!(x30.demand, Some(165.0), "{x30:?}");
    }
}

/// At go-live (or on the first days of a replay) the manufacturers have not all declared yet:
/// a reference only the wholesalers have declared is "données incomplètes", not TENSION on
/// the wholesalers' stock alone; once manufacturers have declared for two weeks, a reference
/// none of them declares is assessed on what is declared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_go_live_a_manufacturer_not_yet_heard_from_is_unknown_not_nil() {
    let config = config();
    let run = local_run(&config);
    // 20 days of the wholesaler's stock for the x30.
    let wholesaler =
        "cip13;date_stock;stock;sorties;periode_jours\n3400949497294;2026-11-20;2000;700;7\n";
    let other =
        "cip13;date_stock;stock;sorties;periode_jours\n3400930000007;2026-11-02;90000;700;7\n";
    for (manufacturer_since, level, flagged) in [
        (None, Level::Vigilance, true),
        (Some(12), Level::Vigilance, true),
        (Some(2), Level::Tension, false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::open(dir.path()).unwrap();
        let (objects, state) = (&backend.objects, &backend.state);
        if let Some(d) = manufacturer_since {
            let text = other.replace("2026-11-02", &format!("2026-11-{d:02}"));
            declare(objects, state, "lab-a", "s.csv", &text, d).await;
        }
        declare(objects, state, "gr-b", "s47.csv", wholesaler, 20).await;
        let outcome = run_risk(objects, state, &run, &Scope::All, day(20), false, at(20))
            .await
            .unwrap();
        // The snapshot tells a withheld probability from one without meaning.
        let frame = snapshot(objects, "2026-11-20").await;
        let row = |name: &str| {
            let cip = frame.column("cip13").unwrap().str().unwrap().clone();
            let i = cip.iter().position(|c| c == Some(name)).unwrap();
            (
                frame
                    .column("p_stockout_withheld")
                    .unwrap()
                    .bool()
                    .unwrap()
                    .get(i),
                frame
                    .column("p_stockout_14d")
                    .unwrap()
                    .f64()
                    .unwrap()
                    .get(i),
            )
        };
        let (withheld, p14) = row("3400949497294");
        assert_eq!(
            withheld,
            Some(flagged),
            "manufacturers since {manufacturer_since:?}"
        );
        assert_eq!(p14.is_none(), flagged);
        let x30 = outcome
            .assessments
            .iter()
            .find(|a| a.cip13.as_str() == "3400949497294")
            .unwrap();
        assert_eq!(
            x30.level, level,
            "manufacturers since {manufacturer_since:?}"
        );
        assert_eq!(
            x30.flags
                .contains(&medistock_analytics::risk::QualityFlag::MissingManufacturers),
            flagged,
            "manufacturers since {manufacturer_since:?}"
        );
        assert_eq!(
            x30.days_to_stockout,
            Some(20),
            "the figures stay as declared"
        );
        assert_eq!(
            x30.probability.is_none(),
            flagged,
            "no probability from a lower bound of the stock"
        );
    }
}

/// The daily snapshot says whether a probability is a calibration's and keeps the model's own
/// beside it: the same figures in both columns without a map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_keeps_the_model_s_probability_beside_a_calibrated_one() {
    let mut calibrated = config();
    calibrated.calibration = Some(medistock_testkit::flat_calibration(0.07));
    let mut rows = Vec::new();
    for config in [config(), calibrated] {
        let run = local_run(&config);
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::open(dir.path()).unwrap();
        let (objects, state) = (&backend.objects, &backend.state);
        // 20 days of the wholesaler's stock for the x30, the manufacturer declaring.
        let other =
            "cip13;date_stock;stock;sorties;periode_jours\n3400930000007;2026-11-02;90000;700;7\n";
        declare(objects, state, "lab-a", "s.csv", other, 2).await;
        let wholesaler =
            "cip13;date_stock;stock;sorties;periode_jours\n3400949497294;2026-11-20;2000;700;7\n";
        declare(objects, state, "gr-b", "s47.csv", wholesaler, 20).await;
        run_risk(objects, state, &run, &Scope::All, day(20), false, at(20))
            .await
            .unwrap();
        let frame = snapshot(objects, "2026-11-20").await;
        let cip = frame.column("cip13").unwrap().str().unwrap().clone();
        let i = cip.iter().position(|c| c == Some("3400949497294")).unwrap();
        let float = |name: &str| frame.column(name).unwrap().f64().unwrap().get(i).unwrap();
        rows.push((
            [float("p_stockout_14d"), float("p_stockout_30d")],
            [float("p_stockout_model_14d"), float("p_stockout_model_30d")],
            frame
                .column("p_stockout_calibrated")
                .unwrap()
                .bool()
                .unwrap()
                .get(i)
                .unwrap(),
        ));
    }
    let (shown, model, flagged) = rows[0];
    assert_eq!(shown, model, "without a map, the model's figures");
    assert!(!flagged);
    assert!(model[1] > 0.5, "20 days of stock: {model:?}");
    assert_eq!(rows[1], ([0.07, 0.07], model, true));
}

/// The x30 (3400949497294) assessed on `as_of` under `config`: the wholesaler and lab-a (on
/// another reference) declare from 1 October, lab-a again on `as_of`; on `as_of` the
/// wholesaler holds 20 days of the x30 and no manufacturer has declared it.
async fn the_x30_no_manufacturer_declares(
    config: &RiskConfig,
    as_of: NaiveDate,
) -> medistock_analytics::risk::Assessment {
    let noon = |d: NaiveDate| d.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let header = "cip13;date_stock;stock;sorties;periode_jours\n";
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open(dir.path()).unwrap();
    let (objects, state) = (&backend.objects, &backend.state);
    let first = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    for (who, name, cip, at, stock) in [
        ("gr-b", "a.csv", "3400949497294", first, 9000),
        ("lab-a", "a.csv", "3400930000007", first, 9000),
        ("lab-a", "b.csv", "3400930000007", as_of, 90000),
        ("gr-b", "b.csv", "3400949497294", as_of, 2000),
    ] {
        let text = format!("{header}{cip};{at};{stock};700;7\n");
        medistock_testkit::declare(objects, state, who, name, text.as_bytes(), noon(at)).await;
    }
    let outcome = run_risk(
        objects,
        state,
        &local_run(config),
        &Scope::All,
        as_of,
        true,
        noon(as_of),
    )
    .await
    .unwrap();
    outcome
        .assessments
        .into_iter()
        .find(|a| a.cip13.as_str() == "3400949497294")
        .unwrap()
}

/// A registered manufacturer that has declared nothing yet is awaited in the first six weeks
/// of the history only: a reference no manufacturer declares is held at VIGILANCE on the
/// wholesalers' 20 days then, and assessed on what is declared (TENSION) after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manufacturer_that_never_declares_is_awaited_six_weeks_not_for_ever() {
    const TWO_LABS: &str = "declarant;nom;type\nlab-a;Laboratoire A;exploitant\n\
                            lab-c;Laboratoire C;exploitant\ngr-b;Grossiste B;grossiste\n";
    let config = RiskConfig::new(
        &Registry::parse(TWO_LABS).unwrap(),
        &medistock_analytics::catalogue::Catalogue::from_settings_csv(REFERENCES).unwrap(),
    );
    let date = |m: u32, d: u32| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    // Awaited on the 41st day after the wholesalers' first figures, not on the 42nd; lab-c
    // never declares.
    for (as_of, level, flagged) in [
        (date(10, 25), Level::Vigilance, true),
        (date(11, 11), Level::Vigilance, true),
        (date(11, 12), Level::Tension, false),
        (date(11, 20), Level::Tension, false),
    ] {
        let x30 = the_x30_no_manufacturer_declares(&config, as_of).await;
        assert_eq!(
            (x30.level, x30.days_to_stockout),
            (level, Some(20)),
            "{as_of}"
        );
        assert_eq!(
            x30.flags
                .contains(&medistock_analytics::risk::QualityFlag::MissingManufacturers),
            flagged,
            "{as_of}"
        );
    }
}

/// A manufacturer's account that is disabled, or declares on no cadence (`aucune`), is not
/// waited for in the first six weeks: the references no manufacturer declares are assessed on
/// what is declared from the first day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_or_unscheduled_manufacturer_is_not_awaited() {
    let registry = Registry::parse(
        "declarant;nom;type;cadence\nlab-a;Laboratoire A;exploitant;hebdomadaire\n\
         lab-c;Laboratoire C;exploitant;hebdomadaire\nlab-d;Laboratoire D;exploitant;aucune\n\
         gr-b;Grossiste B;grossiste;quotidienne\n",
    )
    .unwrap();
    let as_of = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
    // lab-c and lab-d never declare.
    for (lab_c_enabled, awaited) in [(true, true), (false, false)] {
        let mut accounts = registry.to_accounts();
        for account in &mut accounts {
            account.enabled = lab_c_enabled || account.id.as_str() != "lab-c";
        }
        let config = RiskConfig::new(
            &Registry::from_accounts(&accounts),
            &medistock_analytics::catalogue::Catalogue::from_settings_csv(REFERENCES).unwrap(),
        );
        let x30 = the_x30_no_manufacturer_declares(&config, as_of).await;
        let flagged = x30
            .flags
            .contains(&medistock_analytics::risk::QualityFlag::MissingManufacturers);
        assert_eq!(
            (x30.level, flagged),
            if awaited {
                (Level::Vigilance, true)
            } else {
                (Level::Tension, false)
            },
            "lab-c enabled: {lab_c_enabled}"
        );
    }
}

/// A reference whose manufacturer ANSM names (`exploitant` of the monitoring settings) is
/// awaited for as long as that manufacturer, expected to declare, has declared nothing: its
/// stock is unknown, not zero, weeks after go-live. A name that is not a manufacturer expected
/// to declare (unregistered, a wholesaler, a cadence `aucune`) awaits nobody; a group is
/// awaited when all its members are; a manufacturer that declares other references and leaves
/// one out does not hold it below TENSION.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_s_named_manufacturer_is_awaited_while_it_has_declared_nothing() {
    const LABS: &str = "declarant;nom;type;cadence\nlab-a;Laboratoire A;exploitant;\n\
                        lab-c;Laboratoire C;exploitant;\nlab-d;Laboratoire D;exploitant;aucune\n\
                        gr-b;Grossiste B;grossiste;\n";
    const NAMED: &str = "cip13;denomination;groupe;mitm;exploitant\n\
                         3400949497294;ANASTROZOLE 1 mg x30;12;oui;LAB-C\n\
                         3400949497706;ANASTROZOLE 1 mg x90;12;non;lab-c\n\
                         3400930000014;LETROZOLE 2,5 mg x30;13;non;lab-z\n\
                         3400930000021;LETROZOLE 2,5 mg x90;13;non;gr-b\n\
                         3400930000038;EXEMESTANE 25 mg;;non;lab-d\n\
                         3400930000045;TAMOXIFENE 20 mg;;non;lab-a\n\
                         3400930000052;LETROZOLE 2,5 mg x30;15;non;lab-c\n\
                         3400930000069;LETROZOLE 2,5 mg x90;15;non;\n";
    let config = RiskConfig::new(
        &Registry::parse(LABS).unwrap(),
        &medistock_analytics::catalogue::Catalogue::from_settings_csv(NAMED).unwrap(),
    );
    let run = local_run(&config);
    let date = |m: u32, d: u32| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    let noon = |d: NaiveDate| d.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let header = "cip13;date_stock;stock;sorties;periode_jours\n";
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open(dir.path()).unwrap();
    let (objects, state) = (&backend.objects, &backend.state);
    // Seven weeks after the wholesaler's and lab-a's first figures: nobody is awaited any
    // more for being registered only. lab-a declares another reference, never the tamoxifen.
    let (first, as_of) = (date(10, 1), date(11, 20));
    let all = [
        "3400949497294",
        "3400949497706",
        "3400930000014",
        "3400930000021",
        "3400930000038",
        "3400930000045",
        "3400930000052",
        "3400930000069",
    ];
    for (day, name) in [(first, "a.csv"), (as_of, "b.csv")] {
        let mut text = header.to_owned();
        for cip in all {
            // 20 days of the wholesaler's stock.
            text.push_str(&format!("{cip};{day};2000;700;7\n"));
        }
        medistock_testkit::declare(objects, state, "gr-b", name, text.as_bytes(), noon(day)).await;
        let lab = format!("{header}3400930000007;{day};90000;700;7\n");
        medistock_testkit::declare(objects, state, "lab-a", name, lab.as_bytes(), noon(day)).await;
    }
    let outcome = run_risk(objects, state, &run, &Scope::All, as_of, true, noon(as_of))
        .await
        .unwrap();
    let of = |cip: &str| {
        let a = outcome
            .assessments
            .iter()
            .find(|a| a.cip13.as_str() == cip)
            .unwrap();
        let flagged = a
            .flags
            .contains(&medistock_analytics::risk::QualityFlag::MissingManufacturers);
        (a.level, a.days_to_stockout, flagged)
    };
    let awaited = (Level::Vigilance, Some(20), true);
    let assessed = (Level::Tension, Some(20), false);
    assert_eq!(of(all[0]), awaited, "lab-c's");
    assert_eq!(of(all[1]), awaited, "lab-c's");
    assert_eq!(of(all[2]), assessed, "nobody's");
    assert_eq!(of(all[3]), assessed, "a wholesaler's");
    assert_eq!(
        of(all[4]),
        assessed,
        "a manufacturer that is expected to send nothing"
    );
    assert_eq!(
        of(all[5]),
        assessed,
        "left out by a manufacturer that declares"
    );
    let group = |g: &str| outcome.groups.iter().find(|x| x.group == g).unwrap().level;
    assert_eq!(group("12"), Level::Vigilance, "every member awaited");
    assert_eq!(group("13"), Level::Tension);
    assert_eq!(group("15"), Level::Tension, "one member awaited, one not");
    assert_eq!(of(all[6]), awaited, "lab-c's, in group 15");

    // lab-c's first declaration, of another reference, on the 25th: a run for the 20th has not
    // heard it yet; a run for the 25th has, and lab-c's references are assessed as declared.
    let later = date(11, 25);
    let lab = format!("{header}3400930000007;{later};90000;700;7\n");
    medistock_testkit::declare(
        objects,
        state,
        "lab-c",
        "c.csv",
        lab.as_bytes(),
        noon(later),
    )
    .await;
    for (day, expected) in [(as_of, awaited), (later, (Level::Tension, Some(15), false))] {
        let outcome = run_risk(objects, state, &run, &Scope::All, day, true, noon(day))
            .await
            .unwrap();
        let x30 = outcome
            .assessments
            .iter()
            .find(|a| a.cip13.as_str() == all[0])
            .unwrap();
        let flagged = x30
            .flags
            .contains(&medistock_analytics::risk::QualityFlag::MissingManufacturers);
        assert_eq!(
            (x30.level, x30.days_to_stockout, flagged),
            expected,
            "{day}"
        );
    }
}

/// When the lines of files that share a day are gone from the lake (deleted by hand, a
/// lifecycle rule), the run still completes: each file's daily total stands for its whole
/// stock, and the newer file wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_day_whose_lines_are_gone_falls_back_to_the_newer_total() {
    const HEADER: &str = "cip13;date_stock;stock;sorties;periode_jours;site\n";
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open(dir.path()).unwrap();
    let (objects, state) = (&backend.objects, &backend.state);
    declare(
        objects,
        state,
        "gr-b",
        "a.csv",
        &format!("{HEADER}3400949497294;2026-11-14;900;30;1;Lyon\n"),
        14,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    declare(
        objects,
        state,
        "gr-b",
        "b.csv",
        &format!("{HEADER}3400949497294;2026-11-14;900;20;1;Lille\n"),
        14,
    )
    .await;
    std::fs::remove_dir_all(dir.path().join("lac").join("normalized")).unwrap();
    let config = config();
    let run = local_run(&config);
    let outcome = run_risk(objects, state, &run, &Scope::All, day(16), true, at(16))
        .await
        .unwrap();
    let x30 = outcome
        .assessments
        .iter()
        .find(|a| a.cip13.as_str() == "3400949497294")
        .unwrap();
    // With its lines, the day is Lyon 30 + Lille 20; without them, the newer file's 20.
    assert_eq!(x30.demand, Some(20.0));
}

/// A replay keeps the look-back's decoded totals from one day to the next: the levels are
/// those of runs that read everything afresh, and the cache holds the look-back only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_with_its_history_cache_assesses_as_fresh_runs_do() {
    let (cached_dir, fresh_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cached = LocalBackend::open(cached_dir.path()).unwrap();
    let fresh = LocalBackend::open(fresh_dir.path()).unwrap();
    let config = config();
    let cache = medistock_analytics::risk::HistoryCache::new();
    let topics = topics();
    let run = |history_cache| RiskRun {
        inbox_bucket: None,
        policy: Default::default(),
        lake_bucket: "lac",
        topics: &topics,
        config: &config,
        history_cache,
    };
    let start = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    let days = 75;
    for n in 0..days {
        let date = start + Duration::days(n);
        let now = date.and_hms_opt(9, 0, 0).unwrap().and_utc();
        // The wholesaler every day, with a corrected file on some days (two files for one
        // date); the manufacturer every week, its stock falling.
        let stock = 3000 - 35 * n;
        let mut files = vec![(
            "gr-b",
            format!("{date}.csv"),
            format!(
                "cip13;date_stock;stock;sorties;periode_jours\n\
                 3400949497294;{date};{stock};{};1\n3400949497706;{date};8000;90;1\n",
                80 + n % 9
            ),
        )];
        if n % 10 == 3 {
            files.push((
                "gr-b",
                format!("{date}-correction.csv"),
                format!(
                    "cip13;date_stock;stock;sorties;periode_jours\n3400949497294;{date};{};70;1\n",
                    stock - 10
                ),
            ));
        }
        if n % 7 == 0 {
            files.push((
                "lab-a",
                format!("{date}.csv"),
                format!(
                    "cip13;date_stock;stock;sorties;periode_jours;appro_quantite;appro_date\n\
                     3400949497294;{date};{};600;7;;\n3400949497706;{date};20000;600;7;5000;{}\n",
                    (4000 - 40 * n).max(0),
                    date + Duration::days(20)
                ),
            ));
        }
        for backend in [&cached, &fresh] {
            for (declarant, name, text) in &files {
                medistock_testkit::declare(
                    &backend.objects,
                    &backend.state,
                    declarant,
                    name,
                    text.as_bytes(),
                    now,
                )
                .await;
            }
        }
        let mut outcomes = Vec::new();
        for (backend, history_cache) in [(&cached, Some(&cache)), (&fresh, None)] {
            let outcome = run_risk(
                &backend.objects,
                &backend.state,
                &run(history_cache),
                &Scope::All,
                date,
                false,
                now,
            )
            .await
            .unwrap();
            outcomes.push(outcome);
        }
        let [with_cache, afresh] = &outcomes[..] else {
            unreachable!("two runs")
        };
        assert_eq!(with_cache.assessments, afresh.assessments, "{date}");
        assert_eq!(with_cache.summary.levels, afresh.summary.levels, "{date}");
    }
    // The look-back is 57 days: the wholesaler's files of those days, its corrections and
    // the manufacturer's weekly files; older files were dropped.
    let daily = |n: i64| 1 + usize::from(n % 10 == 3) + usize::from(n % 7 == 0);
    let expected: usize = (days - 57..days).map(daily).sum();
    assert_eq!(cache.len(), expected);
}

/// A manufacturer's promises are learnt over every reference it alone declares, and shown with
/// each of them: a supply announced and pushed back week after week on one reference tells how
/// much to count on its announcements for another. A reference another manufacturer also
/// declares neither adds to the record (the history sums both) nor gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manufacturer_s_broken_promises_are_learnt_across_its_references() {
    let registry = "declarant;nom;type\nlab-a;Laboratoire A;exploitant\n\
                    lab-c;Laboratoire C;exploitant\ngr-b;Grossiste B;grossiste\n";
    let config = RiskConfig::new(
        &Registry::parse(registry).unwrap(),
        &medistock_analytics::catalogue::Catalogue::from_settings_csv(REFERENCES).unwrap(),
    );
    let run = local_run(&config);
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open(dir.path()).unwrap();
    let (objects, state) = (&backend.objects, &backend.state);
    let day = |m: u32, d: u32| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    let noon = |d: NaiveDate| d.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let header = "cip13;date_stock;stock;sorties;periode_jours;appro_quantite;appro_date\n";
    let header_site =
        "cip13;date_stock;stock;sorties;periode_jours;appro_quantite;appro_date;site\n";
    // lab-a, weekly: 3400949497294 announces 3,000 units for 10 October, then pushes them
    // back a week at a time, its stock only falling; 3400949497706 announces nothing.
    // 3400930000007, declared by lab-a and lab-c, breaks the same promises: not counted.
    let weeks = [
        (day(10, 1), 5_000, day(10, 10)),
        (day(10, 8), 4_300, day(10, 10)),
        (day(10, 15), 3_600, day(10, 22)),
        (day(10, 22), 2_900, day(10, 29)),
        (day(10, 29), 2_200, day(11, 5)),
    ];
    for (at, stock, due) in weeks {
        let text = format!(
            "{header}3400949497294;{at};{stock};700;7;3000;{due}\n\
             3400949497706;{at};9000;700;7;;\n3400930000007;{at};{stock};700;7;3000;{due}\n"
        );
        medistock_testkit::declare(
            objects,
            state,
            "lab-a",
            &format!("{at}.csv"),
            text.as_bytes(),
            noon(at),
        )
        .await;
        // 3400930000014, declared by lab-a depot by depot in a file per depot: the sum of
        // the day's files tells no batch, not counted either.
        for (site, stock) in [("Lyon", stock), ("Lille", 9_000)] {
            let text = format!("{header_site}3400930000014;{at};{stock};700;7;3000;{due};{site}\n");
            medistock_testkit::declare(
                objects,
                state,
                "lab-a",
                &format!("{at}-{site}.csv"),
                text.as_bytes(),
                noon(at),
            )
            .await;
        }
        let text = format!("{header}3400930000007;{at};9000;700;7;;\n");
        medistock_testkit::declare(
            objects,
            state,
            "lab-c",
            &format!("{at}.csv"),
            text.as_bytes(),
            noon(at),
        )
        .await;
        let text = format!(
            "{header}3400949497294;{at};2000;700;7;;\n3400949497706;{at};2000;700;7;;\n\
             3400930000007;{at};2000;700;7;;\n"
        );
        medistock_testkit::declare(
            objects,
            state,
            "gr-b",
            &format!("{at}.csv"),
            text.as_bytes(),
            noon(at),
        )
        .await;
    }
    let as_of = day(10, 29);
    let outcome = run_risk(objects, state, &run, &Scope::All, as_of, true, noon(as_of))
        .await
        .unwrap();
    let record = |cip: &str| {
        outcome
            .assessments
            .iter()
            .find(|a| a.cip13.as_str() == cip)
            .unwrap()
            .supply_record
    };
    // 10 and 22 October promised and not kept (judged by the declarations of 22 and 29
    // October, a week after them; 29 October's not yet); 10 October pushed back, and reached
    // 14 days later by the declaration of 29 October, without its batch.
    let learnt = medistock_analytics::risk::SupplyRecord {
        promised: 2,
        kept: 0,
        pushed: 1,
        pushed_came: 0,
    };
    assert_eq!(record("3400949497294"), learnt);
    assert_eq!(
        record("3400949497706"),
        learnt,
        "the manufacturer's record, learnt on its other reference"
    );
    assert_eq!(
        record("3400930000007"),
        Default::default(),
        "two manufacturers: the defaults"
    );
    assert_eq!(
        record("3400930000014"),
        Default::default(),
        "a manufacturer declaring depot by depot: the defaults"
    );
    assert!(learnt.on_time() < 0.8 && learnt.after_push() < 0.2);
    // The alert shows it beside the probability, and says the probability did not take it.
    let other = outcome
        .assessments
        .iter()
        .find(|a| a.cip13.as_str() == "3400949497706")
        .unwrap();
    assert!(other.probability.is_some() && !other.supply_record_used);
    let alert = medistock_analytics::risk::alert::notification(
        other,
        Level::Normal,
        &config.settings(&other.cip13),
        &[],
        &topics(),
    );
    assert!(
        alert.body.contains(
            "Promesses de l'exploitant : dates d'approvisionnement annoncées par l'exploitant \
             sur 8 semaines, toutes références qu'il déclare seul : 0 sur 2 tenues"
        ) && alert
            .body
            .contains("après un report, 0 sur 1 reçus dans les 14 jours suivant la date manquée (indicatif : la probabilité n'en tient pas compte)"),
        "{}",
        alert.body
    );
}

/// On S3 (moto), the calibration is kept beside the catalogue and read back whole; one larger
/// than any map is refused by its size and left aside by the run; a lake the store cannot
/// read fails the run's configuration, to be retried, rather than running without the map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_moto_the_calibration_is_read_bounded_and_a_store_failure_is_not_taken_for_absence() {
    use medistock_analytics::risk::calibration::{
        CALIBRATION_FILE, CalibrationError, MAX_CALIBRATION_BYTES, load_calibration_object,
        save_calibration_object,
    };
    use medistock_analytics::risk::config::{LakeConfigError, load_calibration};
    use medistock_aws::S3Objects;

    let Some(endpoint) = medistock_testkit::emulator() else {
        return;
    };
    let sdk = medistock_testkit::aws::config(&endpoint).await;
    let lake = medistock_testkit::unique("lac");
    let objects = S3Objects::new(medistock_testkit::aws::bucket(&sdk, &lake).await);
    assert_eq!(
        load_calibration(&objects, &lake, &Default::default())
            .await
            .unwrap(),
        None
    );
    let map = medistock_testkit::flat_calibration(0.07);
    save_calibration_object(&objects, &lake, &map)
        .await
        .unwrap();
    assert_eq!(
        load_calibration(&objects, &lake, &Default::default())
            .await
            .unwrap(),
        Some(map)
    );

    let padded = format!(
        "{{\"learnt_from\": \"{}\"}}",
        "x".repeat(MAX_CALIBRATION_BYTES as usize)
    );
    objects
        .put(
            &lake,
            CALIBRATION_FILE,
            padded.into_bytes(),
            "application/json",
            &Default::default(),
        )
        .await
        .unwrap();
    assert!(matches!(
        load_calibration_object(&objects, &lake).await,
        Err(CalibrationError::TooLarge(size)) if size > MAX_CALIBRATION_BYTES
    ));
    assert_eq!(
        load_calibration(&objects, &lake, &Default::default())
            .await
            .unwrap(),
        None
    );

    let missing = medistock_testkit::unique("absent");
    assert!(matches!(
        load_calibration(&objects, &missing, &Default::default()).await,
        Err(LakeConfigError::Calibration(CalibrationError::Store(_)))
    ));
}
