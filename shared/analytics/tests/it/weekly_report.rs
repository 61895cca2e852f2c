//! The weekly synthesis over ingested declarations and a risk run: the references at each
//! level are exactly the RISK items', the figures are theirs, the week's files and the silent
//! declarants are counted, and hostile strings come out escaped (HTML) or neutralised (CSV).

use chrono::{DateTime, NaiveDate, Utc};
use medistock_analytics::registry::Registry;
use medistock_analytics::report::{Week, headline, write_report};
use medistock_analytics::risk::alert::AlertTopics;
use medistock_analytics::risk::config::RiskConfig;
use medistock_analytics::risk::{Assessment, RiskOutcome, RiskRun, Scope, run_risk};
use medistock_domain::Level;
use medistock_domain::store::{ObjectStore, RiskStore};
use medistock_local::LocalBackend;

const REGISTRY: &str = "declarant;nom;type\nlab-a;Laboratoire A;exploitant\ngr-b;Grossiste B;grossiste\ngr-c;Grossiste <b>C</b>;grossiste\n";
const REFERENCES: &str = "cip13;denomination;groupe;mitm\n\
    3400949497294;<script>alert(\"x\")</script> & co;12;oui\n\
    3400949497706;=HYPERLINK(\"http://evil\");12;non\n\
    3400930000007;PARACETAMOL 500 mg;;non\n";

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn at(d: u32) -> DateTime<Utc> {
    day(d).and_hms_opt(9, 0, 0).unwrap().and_utc()
}

async fn drop_file(backend: &LocalBackend, declarant: &str, name: &str, bytes: &[u8], d: u32) {
    medistock_testkit::declare(
        &backend.objects,
        &backend.state,
        declarant,
        name,
        bytes,
        at(d),
    )
    .await;
}

fn config(registry: &Registry, references: &str) -> RiskConfig {
    RiskConfig::new(
        registry,
        &medistock_analytics::catalogue::Catalogue::from_settings_csv(references).unwrap(),
    )
}

/// The week's synthesis written to the lake `lac`.
async fn report_of(
    backend: &LocalBackend,
    week: Week,
    config: &RiskConfig,
    registry: &Registry,
) -> medistock_analytics::report::ReportOutcome {
    write_report(
        &backend.objects,
        &backend.state,
        "lac",
        week,
        config,
        registry,
    )
    .await
    .unwrap()
}

/// A text the synthesis wrote to the lake.
async fn lake_text(backend: &LocalBackend, key: &str) -> String {
    let object = backend.objects.get("lac", key).await.unwrap().unwrap();
    String::from_utf8(object.bytes).unwrap()
}

/// The manufacturer's declaration of the x90 on the 5th: by the 20th its declarations are
/// not starting any more.
async fn lab_a_declares_the_x90_on_the_5th(backend: &LocalBackend) {
    drop_file(
        backend,
        "lab-a",
        "s45.csv",
        b"cip13;date_stock;stock;sorties;periode_jours\n3400949497706;2026-11-05;8000;700;7\n",
        5,
    )
    .await;
}

fn topics() -> AlertTopics {
    AlertTopics {
        critical: "critique".into(),
        info: "info".into(),
    }
}

/// The daily risk run of November `d`, every subject, at the day's hour.
async fn risk_on(backend: &LocalBackend, run: &RiskRun<'_>, d: u32) -> RiskOutcome {
    run_risk(
        &backend.objects,
        &backend.state,
        run,
        &Scope::All,
        day(d),
        false,
        at(d),
    )
    .await
    .unwrap()
}

fn risk_run<'a>(config: &'a RiskConfig, topics: &'a AlertTopics) -> RiskRun<'a> {
    RiskRun {
        inbox_bucket: None,
        policy: Default::default(),
        lake_bucket: "lac",
        topics,
        config,
        history_cache: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_synthesis_holds_the_risk_items_and_escapes_declarant_strings() {
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open(dir.path()).unwrap();
    let registry = Registry::parse(REGISTRY).unwrap();
    let config = config(&registry, REFERENCES);
    let topics = topics();
    let run = risk_run(&config, &topics);
    // The manufacturer declares since the 5th: by the 20th its declarations are not starting
    // any more, and a presentation it does not declare is assessed on the wholesalers' stock.
    lab_a_declares_the_x90_on_the_5th(&backend).await;
    // Last week (Wednesday 11 Nov): everything comfortable, so the levels change this week.
    drop_file(&backend, "gr-b", "s46.csv", b"cip13;date_stock;stock;sorties;periode_jours\n3400949497294;2026-11-11;9000;700;7\n3400949497706;2026-11-11;9000;700;7\n3400930000007;2026-11-11;9000;700;7\n", 11).await;
    risk_on(&backend, &run, 11).await;
    // This week (Friday 20 Nov): 20 days, 3 days, and 45 days.
    drop_file(&backend, "gr-b", "s47.csv", b"cip13;date_stock;stock;sorties;periode_jours\n3400949497294;2026-11-20;2000;700;7\n3400949497706;2026-11-20;300;700;7\n3400930000007;2026-11-20;4500;700;7\n", 20).await;
    drop_file(&backend, "lab-a", "s47.csv", b"cip13;date_stock;stock;sorties;periode_jours;appro_quantite;appro_date\n3400949497706;2026-11-20;0;0;7;5000;2026-12-15\n", 20).await;
    drop_file(
        &backend,
        "lab-a",
        "<img src=x onerror=alert(1)>.csv",
        b"%PDF-1.7 not a declaration",
        20,
    )
    .await;
    risk_on(&backend, &run, 20).await;

    let week = Week::of(day(20));
    let outcome = report_of(&backend, week, &config, &registry).await;
    let s = &outcome.synthesis;
    assert_eq!(outcome.html_key, "reports/2026-W47/synthese.html");

    // The references at each level are exactly the RISK items'.
    let items: Vec<_> = backend
        .state
        .risk_items()
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.group().is_none())
        .collect();
    for level in Level::ALL {
        let mut from_items: Vec<&str> = items
            .iter()
            .filter(|i| i.level == level)
            .map(|i| i.subject.as_str())
            .collect();
        let mut from_report: Vec<&str> = s
            .references
            .iter()
            .filter(|r| r.level() == level)
            .map(|r| r.assessment.cip13.as_str())
            .collect();
        from_items.sort();
        from_report.sort();
        assert_eq!(from_items, from_report, "{level:?}");
        assert_eq!(s.counts.get(&level).copied().unwrap_or(0), from_items.len());
    }
    assert_eq!(
        s.references
            .iter()
            .map(|r| (r.assessment.cip13.as_str(), r.level(), r.last_week))
            .collect::<Vec<_>>(),
        [
            ("3400949497706", Level::Critique, Some(Level::Normal)),
            ("3400949497294", Level::Tension, Some(Level::Normal)),
            ("3400930000007", Level::Vigilance, Some(Level::Normal)),
        ],
        "worst first, with last week's level"
    );
    // The figures are the RISK item's.
    for r in &s.references {
        let item = items
            .iter()
            .find(|i| i.subject == r.assessment.cip13.as_str())
            .unwrap();
        let stored: Assessment = serde_json::from_str(&item.figures).unwrap();
        assert_eq!(r.assessment, stored);
    }
    assert_eq!(s.groups.len(), 1);
    assert_eq!(
        (s.files.received, s.files.applied, s.files.rejected),
        (3, 2, 1),
        "this week's files only"
    );
    assert_eq!(
        s.silent.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["gr-c"]
    );

    let html = lake_text(&backend, &outcome.html_key).await;
    assert!(
        html.contains("CRITIQUE (rupture prévue sous 7 jours), TENSION (sous 30 jours), VIGILANCE (sous 60 jours"),
        "the legend gives the deployment's default thresholds"
    );
    let mut other = s.clone();
    other.default_thresholds.tension_days = 40.0;
    assert!(medistock_analytics::report::render_html(&other).contains("TENSION (sous 40 jours)"));
    assert!(!html.contains("<script"), "no script at all");
    assert!(!html.contains("<img"), "the file name is escaped");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;.csv"));
    assert!(html.contains("Grossiste &lt;b&gt;C&lt;/b&gt;"));
    assert!(
        !html.contains(" src=\"http") && !html.contains("href=\"http"),
        "self-contained: no external asset"
    );
    // TENSION or worse: a row and a chart; VIGILANCE: an entry of the compact list only.
    for (cip, rows, listed) in [
        ("3400949497706", 1, 0),
        ("3400949497294", 1, 0),
        ("3400930000007", 0, 1),
    ] {
        assert_eq!(
            html.matches(&format!("<tr><td>{cip}</td>")).count(),
            rows,
            "{cip}"
        );
        assert_eq!(
            html.matches(&format!("<span>{cip} <span class=\"muted\">"))
                .count(),
            listed,
            "{cip}"
        );
    }
    assert!(html.contains("<h2>Références en vigilance (1)</h2>"));
    assert!(html.contains("45 j</span>"), "with its coverage");
    assert_eq!(html.matches("<div class=\"chart\">").count(), 2);
    assert!(
        html.contains("rupture prévue 23/11"),
        "the CRITIQUE one runs out Monday"
    );

    let csv = lake_text(&backend, &outcome.csv_key).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "header and one line per reference");
    assert!(
        lines[1].starts_with(
            "3400949497706;\"'=HYPERLINK(\"\"http://evil\"\")\";12;non;CRITIQUE;NORMAL;0;300;"
        ),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains(";15/12/2026 5000;"), "{}", lines[1]);

    let mail = headline(&outcome, "s3://lac", "info");
    assert_eq!(
        mail.subject,
        "[Medistock] Synthèse 2026-W47 : 1 en rupture ou critique, 1 en tension"
    );
    assert!(
        mail.body
            .contains("s3://lac/reports/2026-W47/synthese.html")
    );
}

/// A reference whose named manufacturer has not declared it is listed under that
/// manufacturer, in the HTML and the CSV; one it declares, or named after a wholesaler, is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_awaited_from_their_manufacturer_are_listed_under_it() {
    const NAMED: &str = "cip13;denomination;groupe;mitm;exploitant\n\
        3400949497294;ANASTROZOLE 1 mg x30;12;oui;lab-a\n\
        3400949497706;ANASTROZOLE 1 mg x90;12;non;LAB-A\n\
        3400930000007;PARACETAMOL 500 mg;;non;gr-b\n\
        3400930000014;LETROZOLE 2,5 mg;;non;lab-a\n";
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open(dir.path()).unwrap();
    // lab-d sends when it has something to say: not expected, but what it declares counts.
    let registry = Registry::parse(&format!(
        "{REGISTRY}lab-d;Laboratoire D;exploitant;aucune\n"
    ))
    .unwrap();
    let config = config(&registry, NAMED);
    let topics = topics();
    let run = risk_run(&config, &topics);
    lab_a_declares_the_x90_on_the_5th(&backend).await;
    // 20 days of the wholesaler's stock for each.
    drop_file(&backend, "gr-b", "s47.csv", b"cip13;date_stock;stock;sorties;periode_jours\n3400949497294;2026-11-20;2000;700;7\n3400949497706;2026-11-20;2000;700;7\n3400930000007;2026-11-20;2000;700;7\n3400930000014;2026-11-20;2000;700;7\n", 20).await;
    drop_file(
        &backend,
        "lab-d",
        "s47.csv",
        b"cip13;date_stock;stock;sorties;periode_jours\n3400930000014;2026-11-20;9000;700;7\n",
        20,
    )
    .await;
    let outcome = risk_on(&backend, &run, 20).await;
    let level = |cip: &str| {
        outcome
            .assessments
            .iter()
            .find(|a| a.cip13.as_str() == cip)
            .map(|a| a.level)
    };
    // lab-a declares (the x90): a reference of its that it leaves out is assessed on what
    // is declared, and listed.
    assert_eq!(
        level("3400949497294"),
        Some(Level::Tension),
        "left out by lab-a"
    );
    assert_eq!(
        level("3400930000007"),
        Some(Level::Tension),
        "nobody awaited"
    );
    let report = report_of(&backend, Week::of(day(20)), &config, &registry).await;
    let awaited: Vec<(&str, &str, Vec<&str>)> = report
        .synthesis
        .awaited
        .iter()
        .map(|a| {
            (
                a.id.as_str(),
                a.name.as_str(),
                a.references.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(awaited, [("lab-a", "Laboratoire A", vec!["3400949497294"])]);
    let html = lake_text(&backend, &report.html_key).await;
    assert!(html.contains("<h3>Références attendues de leur exploitant (1)</h3>"));
    assert!(
        html.contains(
            "<tr><td>lab-a</td><td>Laboratoire A</td><td>1</td><td>3400949497294</td></tr>"
        )
    );
    let csv = lake_text(&backend, &report.csv_key).await;
    let awaited_from = |cip: &str| {
        csv.lines()
            .find(|l| l.starts_with(cip))
            .and_then(|l| l.rsplit(';').nth(1))
            .map(str::to_owned)
    };
    assert_eq!(awaited_from("3400949497294").as_deref(), Some("lab-a"));
    assert_eq!(awaited_from("3400949497706").as_deref(), Some(""));
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(";exploitant_attendu;niveau_des_chiffres")
    );
}

/// A reference whose open alert holds it at TENSION while its figures give VIGILANCE: the
/// synthesis shows both, in the HTML and in the CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_held_by_an_open_alert_shows_the_figures_level_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open(dir.path()).unwrap();
    let registry = Registry::parse(REGISTRY).unwrap();
    let config = config(
        &registry,
        "cip13;denomination;groupe;mitm\n3400930000007;PARACETAMOL 500 mg;;non\n",
    );
    let topics = topics();
    let run = risk_run(&config, &topics);
    // 100 a day: 20 days on the 20th (TENSION), 45 days on the 21st (VIGILANCE figures).
    for (d, wholesaler, manufacturer) in [(20, 1500, 500), (21, 2500, 2000)] {
        for (declarant, stock) in [("gr-b", wholesaler), ("lab-a", manufacturer)] {
            let text = format!(
                "cip13;date_stock;stock;sorties;periode_jours\n3400930000007;2026-11-{d};{stock};700;7\n"
            );
            drop_file(
                &backend,
                declarant,
                &format!("j{d}.csv"),
                text.as_bytes(),
                d,
            )
            .await;
        }
        risk_on(&backend, &run, d).await;
    }
    let report = report_of(&backend, Week::of(day(21)), &config, &registry).await;
    let html = lake_text(&backend, &report.html_key).await;
    assert!(
        html.contains("maintenu (chiffres du jour : VIGILANCE, alerte ouverte jusqu'au retour à la normale ou 90 jours après son ouverture)"),
        "{html}"
    );
    let csv = lake_text(&backend, &report.csv_key).await;
    let row = csv
        .lines()
        .find(|l| l.starts_with("3400930000007"))
        .unwrap();
    let cells: Vec<&str> = row.split(';').collect();
    assert_eq!(
        (cells[4], cells[cells.len() - 1]),
        ("TENSION", "VIGILANCE"),
        "{row}"
    );
}

/// The synthesis reads each snapshot once: the weeks shown for every reference, and the days
/// of a measure's window before them for the measured references only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_measures_window_before_the_weeks_shown_is_read_for_its_references_only() {
    use medistock_analytics::report::load_input;
    use medistock_domain::measure::{Measure, MeasureKind};
    use medistock_domain::store::MeasureStore;
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open(dir.path()).unwrap();
    let config = config(&Registry::parse(REGISTRY).unwrap(), REFERENCES);
    let topics = topics();
    let run = risk_run(&config, &topics);
    let week = Week::of(day(20));
    let mut first = week;
    for _ in 1..medistock_analytics::report::WEEKS_SHOWN {
        first = first.previous();
    }
    // A day before the weeks shown, then a day of the week.
    let early = first.start() - chrono::Duration::days(10);
    for date in [early, day(20)] {
        let text = format!(
            "cip13;date_stock;stock;sorties;periode_jours\n\
             3400949497294;{date};2000;700;7\n3400930000007;{date};4500;700;7\n"
        );
        let now = date.and_hms_opt(9, 0, 0).unwrap().and_utc();
        let name = format!("{date}.csv");
        medistock_testkit::declare(
            &backend.objects,
            &backend.state,
            "gr-b",
            &name,
            text.as_bytes(),
            now,
        )
        .await;
        run_risk(
            &backend.objects,
            &backend.state,
            &run,
            &Scope::All,
            date,
            false,
            now,
        )
        .await
        .unwrap();
    }
    let measure = Measure {
        id: "MES-1".into(),
        subject: "3400949497294".into(),
        kind: MeasureKind::Contingentement,
        start: first.start() + chrono::Duration::days(3),
        end: None,
        note: "quotas".into(),
        by: "analyste".into(),
        recorded_at: at(20),
        version: 1,
    };
    assert!(backend.state.put_measure(&measure, None).await.unwrap());
    let input = load_input(&backend.objects, &backend.state, "lac", week, &config)
        .await
        .unwrap();
    let dates = |points: &[medistock_analytics::measures::DayFigures]| -> Vec<NaiveDate> {
        points.iter().map(|p| p.date).collect()
    };
    assert_eq!(
        input.measure_history.keys().collect::<Vec<_>>(),
        ["3400949497294"],
        "only the measured reference's history is kept"
    );
    assert_eq!(
        dates(&input.measure_history["3400949497294"]),
        [early, day(20)]
    );
    for cip in ["3400949497294", "3400930000007"] {
        let shown: Vec<NaiveDate> = input.snapshots[cip].iter().map(|p| p.as_of).collect();
        assert_eq!(
            shown,
            [day(20)],
            "{cip}: the charts show the weeks shown only"
        );
    }
}
