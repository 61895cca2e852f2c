//! The daily risk run at national scale on the local backend: 20,000 references, 7
//! wholesalers declaring every day for each of their depots, 20 manufacturers every week,
//! 56 days of history (the look-back), as the ingest leaves them: positions with one figure
//! per depot, daily totals per file, and the files' line-level history (listed, not read,
//! when their daily totals exist).
//!
//! ```sh
//! cargo bench --profile release -p medistock-analytics --bench risk                    # 5 depots
//! MEDISTOCK_BENCH_DEPOTS=25 cargo bench --profile release -p medistock-analytics --bench risk
//! MEDISTOCK_BENCH_REFERENCES=5000 cargo bench --profile release -p medistock-analytics --bench risk
//! ```
//! Prints each run's time and peak memory (VmHWM, reset before the run), then the time and
//! size of the weekly synthesis over the same state with eight weeks of daily snapshots.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{Days, NaiveDate, Utc};
use medistock_analytics::positions::daily::{DailyRow, daily_parquet};
use medistock_analytics::registry::Registry;
use medistock_analytics::report::{Week, write_report};
use medistock_analytics::risk::alert::AlertTopics;
use medistock_analytics::risk::config::RiskConfig;
use medistock_analytics::risk::{RiskOutcome, RiskRun, Scope, run_risk};
use medistock_domain::lake;
use medistock_domain::position::{Position, SiteFigures};
use medistock_domain::store::{ObjectStore, PositionStore};
use medistock_domain::{Cip13, DeclarantId};
use medistock_local::{LAKE_BUCKET, LocalBackend};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn cip(i: usize) -> Cip13 {
    // A CIP7 becomes 34009 + CIP7 + its computed check digit.
    Cip13::parse(&format!("{:07}", 3_000_000 + i)).expect("a CIP7 always converts")
}

fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn peak_memory_mb() -> Option<f64> {
    status_mb("VmHWM:")
}

/// Resets the peak to the current resident size (Linux), so that a phase's peak is its own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let references = env("MEDISTOCK_BENCH_REFERENCES", 20_000);
    let depots = env("MEDISTOCK_BENCH_DEPOTS", 5);
    let wholesalers = 7usize;
    let manufacturers = 20usize;
    let days = 56u64;
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::open(dir.path()).expect("backend");
        let setup = Instant::now();
        let id = |name: String| DeclarantId::parse(&name).expect("id");
        let demand = |i: usize| 50.0 + (i % 200) as f64;
        let site_names: Vec<String> = (1..=depots).map(|d| format!("Dépôt {d:03}")).collect();
        let uploaded_at = as_of.and_hms_opt(8, 0, 0).expect("time").and_utc();
        let figures = |site: &str, stock: f64, outflow: f64| SiteFigures {
            site: site.to_owned(),
            as_of,
            stock: stock as i64,
            stock_bloque: 0,
            daily_outflow: Some(outflow),
            supplies: Vec::new(),
            source_sha256: "bench".into(),
            uploaded_at,
        };
        let mut position_count = 0;
        for w in 0..=wholesalers {
            // Declarant 0 is the manufacturers (one position per reference), then each wholesaler.
            let mut positions = Vec::with_capacity(references);
            for i in 0..references {
                let d = demand(i);
                let position = if w == 0 {
                    let lab = id(format!("lab-{}", 1 + i % manufacturers));
                    Position::from_sites(cip(i), lab, vec![figures("", d * 40.0, d)])
                } else {
                    let share = d / (wholesalers * depots) as f64;
                    let cover = (5 + (i + w) % 40) as f64;
                    let sites = site_names.iter().map(|s| figures(s, share * cover, share)).collect();
                    Position::from_sites(cip(i), id(format!("gr-{w}")), sites)
                };
                positions.extend(position);
            }
            position_count += positions.len();
            backend.state.apply_positions(&positions).await.expect("positions");
        }
        let put = |key: String, bytes: Vec<u8>| {
            let objects = &backend.objects;
            async move {
                objects.put(LAKE_BUCKET, &key, bytes, "application/vnd.apache.parquet", &BTreeMap::new()).await.expect("put");
            }
        };
        let mut files = 0usize;
        let mut lines = 0usize;
        for day in 0..days {
            let date = as_of.checked_sub_days(Days::new(days - 1 - day)).expect("date");
            let at = date.and_hms_opt(20, 0, 0).expect("time").and_utc();
            let row = |i: usize, outflow: f64, sites: u32| DailyRow {
                cip13: cip(i),
                date,
                stock: (outflow * 20.0) as i64,
                held_stock: 0,
                daily_outflow: Some(outflow),
                supply_quantity: None,
                supply_date: None,
                sites,
            };
            let wave = |i: usize| 1.0 + 0.1 * ((day + i as u64) % 7) as f64 / 7.0;
            for w in 1..=wholesalers {
                let rows: Vec<DailyRow> = (0..references)
                    .map(|i| row(i, demand(i) * wave(i) / wholesalers as f64, depots as u32))
                    .collect();
                let sha = format!("j{day}-gr{w}");
                let declarant = format!("gr-{w}");
                put(lake::daily_key(date, &declarant, &sha), daily_parquet(&rows, &declarant, &sha, at).expect("daily")).await;
                // The file's lines: listed by the run, not read (their daily totals exist).
                put(lake::normalized_key(date, &declarant, &sha), b"PAR1".to_vec()).await;
                files += 1;
                lines += references * depots;
            }
            for m in (0..manufacturers).filter(|m| (day + *m as u64).is_multiple_of(7)) {
                let rows: Vec<DailyRow> = (m..references)
                    .step_by(manufacturers)
                    .map(|i| row(i, demand(i) * wave(i), 1))
                    .collect();
                let sha = format!("j{day}-lab{m}");
                let declarant = format!("lab-{}", m + 1);
                put(lake::daily_key(date, &declarant, &sha), daily_parquet(&rows, &declarant, &sha, at).expect("daily")).await;
                lines += rows.len();
                put(lake::normalized_key(date, &declarant, &sha), b"PAR1".to_vec()).await;
                files += 1;
            }
        }
        println!(
            "mise en place : {references} références, {wholesalers} grossistes × {depots} dépôts, {manufacturers} laboratoires, \
             {position_count} positions, {files} fichiers sur {days} jours ({} lignes déclarées) en {:.1} s",
            lines,
            setup.elapsed().as_secs_f64()
        );
        // The set-up's writes leave the database's write-ahead log full; a daily run finds it
        // checkpointed by the day's ingests.
        let checkpoint = Instant::now();
        backend.state.checkpoint().expect("checkpoint");
        println!("point de contrôle du journal SQLite après la mise en place : {:.2} s", checkpoint.elapsed().as_secs_f64());
        let mut registry_csv = String::from("declarant;nom;type\n");
        for w in 1..=wholesalers {
            registry_csv.push_str(&format!("gr-{w};Grossiste {w};grossiste\n"));
        }
        for m in 1..=manufacturers {
            registry_csv.push_str(&format!("lab-{m};Laboratoire {m};exploitant\n"));
        }
        let registry = Registry::parse(&registry_csv).expect("registry");
        let config = RiskConfig::new(&registry, &Default::default());
        let topics = AlertTopics { critical: "critique".into(), info: "information".into() };
        let run = RiskRun {
            lake_bucket: LAKE_BUCKET,
            inbox_bucket: None,
            policy: Default::default(),
            topics: &topics,
            config: &config,
            history_cache: None,
        };
        let before = status_mb("VmRSS:");
        for pass in ["premier calcul (tout est nouveau)", "calcul suivant (niveaux connus)"] {
            reset_peak();
            let start = Instant::now();
            let RiskOutcome { summary, .. } = run_risk(&backend.objects, &backend.state, &run, &Scope::All, as_of, false, Utc::now()).await.expect("run");
            let levels: Vec<String> = summary.levels.iter().map(|(l, n)| format!("{} {n}", l.as_str())).collect();
            println!(
                "{pass} : {:.2} s, mémoire de pointe {:.0} Mo, {} références ({}), {} alertes créées",
                start.elapsed().as_secs_f64(),
                peak_memory_mb().unwrap_or(f64::NAN),
                summary.references,
                levels.join(", "),
                summary.alerts_created
            );
        }
        println!("mémoire résidente avant les calculs : {:.0} Mo", before.unwrap_or(f64::NAN));
        assert!(backend.objects.list(LAKE_BUCKET, "risk/").await.expect("list").len() == 1);

        // The weekly synthesis over the same state, with eight weeks of daily snapshots.
        let snapshot = backend.objects.get(LAKE_BUCKET, &format!("risk/as_of={as_of}/risk.parquet")).await.expect("get").expect("snapshot");
        for back in 1..56u64 {
            let date = as_of.checked_sub_days(Days::new(back)).expect("date");
            backend.objects.put(LAKE_BUCKET, &format!("risk/as_of={date}/risk.parquet"), snapshot.bytes.clone(), "application/vnd.apache.parquet", &BTreeMap::new()).await.expect("put");
        }
        reset_peak();
        let start = Instant::now();
        let report = write_report(&backend.objects, &backend.state, LAKE_BUCKET, Week::of(as_of), &config, &registry).await.expect("report");
        println!(
            "synthèse hebdomadaire : {:.2} s, {} références dont {} en vigilance ou pire, HTML {:.0} Ko, CSV {:.0} Ko",
            start.elapsed().as_secs_f64(),
            report.synthesis.references.len(),
            report.synthesis.watched().count(),
            report.html_bytes as f64 / 1024.0,
            backend.objects.size(LAKE_BUCKET, &report.csv_key).await.expect("size").unwrap_or(0) as f64 / 1024.0
        );
        println!("mémoire de pointe de la synthèse : {:.0} Mo", peak_memory_mb().unwrap_or(f64::NAN));
    });
}
