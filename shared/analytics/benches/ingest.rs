//! A wholesaler-sized file ingested end to end on the local backend: read, hash, archive,
//! validate, Parquet history, one conditional write per reference, receipt, ledger.
//!
//! ```sh
//! cargo bench -p medistock-analytics --bench ingest            # 1,000,000 lines
//! ```
//! Also prints the requests the AWS adapters would send for the same file.

use std::time::Instant;

use chrono::{Duration, Utc};
use medistock_analytics::declaration::Limits;
use medistock_analytics::ingest::{IngestOutcome, IngestSettings, ingest_object};
use medistock_domain::store::ObjectStore;
use medistock_local::{INBOX_BUCKET, LAKE_BUCKET, LocalBackend};

mod common;
use common::wholesaler_csv;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let lines: usize = std::env::var("MEDISTOCK_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let bytes = wholesaler_csv(lines);
    let mb = bytes.len() as f64 / 1e6;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::open(dir.path()).expect("backend");
        let key = "inbox/grossiste-a/stocks.csv";
        backend.objects.put(INBOX_BUCKET, key, bytes, "text/csv", &Default::default()).await.expect("drop");
        let settings =
            IngestSettings { lake_bucket: LAKE_BUCKET.into(), limits: Limits::default(), lease: Duration::minutes(5), catalogue: None };
        let start = Instant::now();
        let outcome = ingest_object(&backend.objects, &backend.state, &settings, INBOX_BUCKET, key, Utc::now())
            .await
            .expect("ingest");
        let elapsed = start.elapsed().as_secs_f64();
        let IngestOutcome::Applied { report, summary } = outcome else { panic!("{outcome:?}") };
        assert_eq!(report.lines.accepted, lines);
        println!("fichier : {lines} lignes, {mb:.1} Mo, {} références", summary.applied);
        println!("ingestion locale de bout en bout : {elapsed:.3} s, {:.0} lignes/s, {:.1} Mo/s", lines as f64 / elapsed, mb / elapsed);
        println!(
            "écritures d'état : {} (une par référence et déclarant) + 2 pour le registre des fichiers",
            summary.applied
        );
        println!(
            "sur AWS, le même fichier : {} PutItem conditionnels DynamoDB (positions) + 2 PutItem (registre), \
             1 GetObject + 1 HeadObject, 3 PutObject S3 (archive, Parquet, accusé)",
            summary.applied
        );
    });
}
