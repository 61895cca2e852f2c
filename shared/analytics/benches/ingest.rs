//! A wholesaler's file ingested on the local backend, phase by phase, then end to end: read,
//! hash, archive, validate, line-level and daily history, one conditional write per
//! reference, receipt, ledger.
//!
//! ```sh
//! cargo bench --profile release -p medistock-analytics --bench ingest     # generated, 1,000,000 lines
//! MEDISTOCK_BENCH_FILE=national.csv cargo bench --profile release -p medistock-analytics --bench ingest
//! ```
//! (`medistock national --references 20000 --wholesalers 1 --depots 180 --manufacturers 0
//! --days 1` writes a national file of 3.6 M lines; `scripts/bench-national.sh` runs it beside
//! DuckDB.) Each phase prints its time and its own peak memory (VmHWM, reset before it); the
//! first is the baseline in the same process: polars' CSV reader alone, typed, and the sums.
//! Also prints the requests the AWS adapters would send for the same file.

use std::time::Instant;

use chrono::{Duration, Utc};
use medistock_analytics::declaration::{Limits, ValidationContext, validate};
use medistock_analytics::ingest::{IngestOutcome, IngestSettings, ingest_version};
use medistock_analytics::positions::daily::{daily_parquet, daily_rows};
use medistock_analytics::positions::{PositionBatches, normalized_parquet};
use medistock_domain::DeclarantId;
use medistock_domain::store::ObjectStore;
use medistock_local::{INBOX_BUCKET, LAKE_BUCKET, LocalBackend};

mod common;
use common::wholesaler_csv;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with(field))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets the peak to the current resident size (Linux), so that a phase's peak is its own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn phase<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let rss = status_mb("VmRSS:");
    reset_peak();
    let start = Instant::now();
    let value = f();
    println!(
        "  {name:<38} {:>7.3} s   pointe {:>6.0} Mo (+{:.0} Mo)",
        start.elapsed().as_secs_f64(),
        status_mb("VmHWM:"),
        status_mb("VmHWM:") - rss
    );
    value
}

/// The baseline: polars' multithreaded CSV reader on the same bytes with the declared types
/// (no validation, no line numbers, no receipt), then the sums per reference and date that
/// DuckDB computes in `scripts/bench-national.sh`. Returns the groups.
fn bare_polars(bytes: &[u8]) -> polars::prelude::PolarsResult<usize> {
    use polars::prelude::*;
    let schema = Schema::from_iter([
        Field::new("cip13".into(), DataType::String),
        Field::new("date_stock".into(), DataType::Date),
        Field::new("stock".into(), DataType::Int64),
        Field::new("sorties".into(), DataType::Int64),
        Field::new("periode_jours".into(), DataType::Int64),
        Field::new("stock_bloque".into(), DataType::Int64),
        Field::new("appro_quantite".into(), DataType::Int64),
        Field::new("appro_date".into(), DataType::Date),
        Field::new("site".into(), DataType::String),
    ]);
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_schema_overwrite(Some(std::sync::Arc::new(schema)))
        .map_parse_options(|p| p.with_separator(b';'))
        .into_reader_with_file_handle(std::io::Cursor::new(bytes))
        .finish()?;
    let sums = frame
        .lazy()
        .group_by([col("cip13"), col("date_stock")])
        .agg([
            len(),
            col("stock").sum(),
            col("sorties").sum(),
            col("stock_bloque").sum(),
            col("appro_quantite").sum(),
        ])
        .collect()?;
    Ok(sums.height())
}

fn main() {
    let bytes = match std::env::var("MEDISTOCK_BENCH_FILE") {
        Ok(path) => std::fs::read(&path).expect("MEDISTOCK_BENCH_FILE"),
        Err(_) => wholesaler_csv(
            std::env::var("MEDISTOCK_BENCH_LINES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1_000_000),
        ),
    };
    let mb = bytes.len() as f64 / 1e6;
    let declarant = DeclarantId::parse("gr-1").expect("id");
    let limits = Limits::default();
    let now = Utc::now();
    println!(
        "fichier : {mb:.1} Mo ; mémoire résidente au départ {:.0} Mo",
        status_mb("VmRSS:")
    );
    println!("référence dans le même processus :");
    phase("polars seul : lecture typée + somme", || {
        bare_polars(&bytes).expect("polars")
    });
    println!("par étape (dans le processus, le fichier déjà en mémoire) :");
    let ctx = ValidationContext {
        declarant: Some(&declarant),
        today: medistock_domain::paris_date(now),
        limits: &limits,
        catalogue: None,
    };
    let validation = phase("lecture et validation", || {
        validate(&bytes, "national.csv", &ctx).expect("validate")
    });
    let lines = validation.lines.expect("accepted");
    let count = lines.height();
    // As the ingest builds them: 500 references at a time, each batch dropped once written.
    let positions = phase("positions par référence (par lots)", || {
        let mut batches =
            PositionBatches::new(&lines, &declarant, "bench", now).expect("positions");
        let mut references = 0;
        while let Some(batch) = batches.next_batch(500).expect("positions") {
            references += batch.len();
        }
        references
    });
    let parquet = phase("historique par ligne (Parquet)", || {
        normalized_parquet(&lines, "gr-1", "bench").expect("parquet")
    });
    let daily = phase("totaux quotidiens (Parquet)", || {
        daily_parquet(&daily_rows(&lines).expect("rows"), "gr-1", "bench", now).expect("daily")
    });
    println!(
        "  {count} lignes, {} références ; Parquet {:.1} Mo par ligne, {:.2} Mo de totaux quotidiens",
        positions,
        parquet.len() as f64 / 1e6,
        daily.len() as f64 / 1e6
    );
    drop((lines, positions, parquet, daily));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::open(dir.path()).expect("backend");
        let key = "inbox/gr-1/stocks.csv";
        // The version dropped, as the S3 event names it.
        let version =
            backend.objects.put(INBOX_BUCKET, key, bytes, "text/csv", &Default::default()).await.expect("drop");
        let settings =
            IngestSettings { lake_bucket: LAKE_BUCKET.into(), limits: Limits::default(), lease: Duration::minutes(5), catalogue: None };
        let rss = status_mb("VmRSS:");
        reset_peak();
        let start = Instant::now();
        let outcome = ingest_version(
            &backend.objects,
            &backend.state,
            &settings,
            INBOX_BUCKET,
            key,
            version.as_deref(),
            Utc::now(),
        )
        .await
        .expect("ingest");
        let elapsed = start.elapsed().as_secs_f64();
        let IngestOutcome::Applied { report, summary } = outcome else { panic!("{outcome:?}") };
        assert_eq!(report.lines.accepted, count);
        println!(
            "ingestion locale de bout en bout : {elapsed:.3} s, {:.0} lignes/s, {:.1} Mo/s, pointe {:.0} Mo (+{:.0} Mo)",
            count as f64 / elapsed,
            mb / elapsed,
            status_mb("VmHWM:"),
            status_mb("VmHWM:") - rss
        );
        println!(
            "sur AWS, le même fichier : {} PutItem conditionnels DynamoDB (positions) + 2 PutItem (registre), \
             1 GetObject + 1 HeadObject, 1 CopyObject S3 (archive) et 3 PutObject (Parquet par ligne, totaux quotidiens, accusé)",
            summary.applied
        );
    });
}
