//! The daily risk run at national scale on the local backend: 20,000 references, a
//! manufacturer and a wholesaler each, 90 days of daily history.
//!
//! ```sh
//! cargo bench -p medistock-analytics --bench risk
//! MEDISTOCK_BENCH_REFERENCES=5000 cargo bench -p medistock-analytics --bench risk
//! ```
//! Prints the run time and the process's peak memory (VmHWM), then the time and size of the
//! weekly synthesis over the same state with eight weeks of daily snapshots.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{Days, NaiveDate, Utc};
use medistock_analytics::declaration::cells::epoch_days;
use medistock_analytics::registry::Registry;
use medistock_analytics::report::{Week, write_report};
use medistock_analytics::risk::alert::AlertTopics;
use medistock_analytics::risk::config::RiskConfig;
use medistock_analytics::risk::{RiskOutcome, RiskRun, Scope, run_risk};
use medistock_domain::position::Position;
use medistock_domain::store::{ObjectStore, PositionStore};
use medistock_domain::{Cip13, DeclarantId};
use medistock_local::{LAKE_BUCKET, LocalBackend};
use polars::prelude::*;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn cip(i: usize) -> Cip13 {
    // A CIP7 becomes 34009 + CIP7 + its computed check digit.
    Cip13::parse(&format!("{:07}", 3_000_000 + i)).expect("a CIP7 always converts")
}

fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let references: usize = std::env::var("MEDISTOCK_BENCH_REFERENCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let days = 90u64;
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::open(dir.path()).expect("backend");
        let setup = Instant::now();
        let lab = DeclarantId::parse("lab-a").expect("id");
        let wholesaler = DeclarantId::parse("gr-b").expect("id");
        let mut positions = Vec::with_capacity(references * 2);
        for i in 0..references {
            let demand = 50.0 + (i % 200) as f64;
            for (declarant, stock) in [(&lab, demand * 40.0), (&wholesaler, demand * (5 + i % 40) as f64)] {
                positions.push(Position {
                    cip13: cip(i),
                    declarant: declarant.clone(),
                    as_of,
                    stock: stock as i64,
                    stock_bloque: 0,
                    daily_outflow: Some(demand),
                    sites: 1,
                    supplies: Vec::new(),
                    source_sha256: "bench".into(),
                    site_figures: Vec::new(),
                });
            }
        }
        backend.state.apply_positions(&positions).await.expect("positions");
        let cips: Vec<String> = (0..references).map(|i| cip(i).to_string()).collect();
        for day in 0..days {
            let date = as_of.checked_sub_days(Days::new(days - 1 - day)).expect("date");
            let outflows = (0..references).map(|i| (50 + i % 200) as f64 * (1.0 + 0.1 * ((day + i as u64) % 7) as f64 / 7.0));
            let mut frame = DataFrame::new(
                references,
                vec![
                    StringChunked::from_iter_values("cip13".into(), cips.iter().map(String::as_str)).into_column(),
                    Int32Chunked::full("date_stock".into(), epoch_days(date), references).into_date().into_column(),
                    StringChunked::full("declarant".into(), "gr-b", references).into_column(),
                    Float64Chunked::from_iter_values("daily_outflow".into(), outflows).into_column(),
                    StringChunked::full("source_sha256".into(), &format!("jour-{day}"), references).into_column(),
                ],
            )
            .expect("frame");
            let mut bytes = Vec::new();
            ParquetWriter::new(&mut bytes).finish(&mut frame).expect("parquet");
            let key = format!("normalized/as_of={date}/declarant=gr-b/{day}.parquet");
            backend.objects.put(LAKE_BUCKET, &key, bytes, "application/vnd.apache.parquet", &BTreeMap::new()).await.expect("put");
        }
        println!("mise en place : {references} références, {} positions, {days} jours d'historique ({:.1} s)", positions.len(), setup.elapsed().as_secs_f64());
        let registry = Registry::parse("declarant;nom;type\nlab-a;Labo A;exploitant\ngr-b;Grossiste B;grossiste\n").expect("registry");
        let config = RiskConfig::new(&registry, &Default::default());
        let topics = AlertTopics { critical: "critique".into(), info: "information".into() };
        let run = RiskRun { lake_bucket: LAKE_BUCKET, topics: &topics, config: &config };
        let before = peak_memory_mb();
        for pass in ["premier calcul (tout est nouveau)", "calcul suivant (niveaux connus)"] {
            let start = Instant::now();
            let RiskOutcome { summary, .. } = run_risk(&backend.objects, &backend.state, &run, &Scope::All, as_of, false, Utc::now()).await.expect("run");
            let levels: Vec<String> = summary.levels.iter().map(|(l, n)| format!("{} {n}", l.as_str())).collect();
            println!(
                "{pass} : {:.2} s, {} références ({}), {} alertes créées",
                start.elapsed().as_secs_f64(),
                summary.references,
                levels.join(", "),
                summary.alerts_created
            );
        }
        println!(
            "mémoire de pointe du processus : {:.0} Mo (dont {:.0} Mo avant les calculs)",
            peak_memory_mb().unwrap_or(f64::NAN),
            before.unwrap_or(f64::NAN)
        );
        assert!(backend.objects.list(LAKE_BUCKET, "risk/").await.expect("list").len() == 1);

        // The weekly synthesis over the same state, with eight weeks of daily snapshots.
        let snapshot = backend.objects.get(LAKE_BUCKET, &format!("risk/as_of={as_of}/risk.parquet")).await.expect("get").expect("snapshot");
        for back in 1..56u64 {
            let date = as_of.checked_sub_days(Days::new(back)).expect("date");
            backend.objects.put(LAKE_BUCKET, &format!("risk/as_of={date}/risk.parquet"), snapshot.bytes.clone(), "application/vnd.apache.parquet", &BTreeMap::new()).await.expect("put");
        }
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
        println!("mémoire de pointe du processus après la synthèse : {:.0} Mo", peak_memory_mb().unwrap_or(f64::NAN));
    });
}
