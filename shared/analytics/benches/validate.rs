//! Validation throughput on a wholesaler-sized file, next to a bare polars CSV read of the same
//! bytes in the same run. Target: parse + validate + positions costs less than 2× the bare read.
//!
//! ```sh
//! cargo bench -p medistock-analytics --bench validate            # 1,000,000 lines
//! MEDISTOCK_BENCH_LINES=5000000 cargo bench -p medistock-analytics --bench validate
//! ```

use std::io::Cursor;
use std::time::Duration;

use chrono::NaiveDate;
use medistock_analytics::declaration::{Limits, Status, ValidationContext, validate};
use medistock_analytics::positions::file_positions;
use medistock_domain::DeclarantId;
use polars::prelude::*;

mod common;
use common::{best_of, wholesaler_csv};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let lines: usize = std::env::var("MEDISTOCK_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runs = 5;
    let bytes = wholesaler_csv(lines);
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "fichier : {lines} lignes, {mb:.1} Mo ; meilleur de {runs} passages ; {} cœurs",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let (bare, frame) = best_of(runs, || {
        CsvReadOptions::default()
            .with_has_header(true)
            .map_parse_options(|p| p.with_separator(b';'))
            .into_reader_with_file_handle(Cursor::new(bytes.as_slice()))
            .finish()
            .expect("bare read")
    });
    assert_eq!(frame.height(), lines);

    let limits = Limits {
        max_file_bytes: u64::MAX,
        ..Limits::default()
    };
    let declarant = DeclarantId::parse("grossiste-bench").expect("id");
    let ctx = ValidationContext {
        declarant: None,
        today: NaiveDate::from_ymd_opt(2026, 11, 23).expect("date"),
        limits: &limits,
        catalogue: None,
    };
    let (validated, references) = best_of(runs, || {
        let v = validate(&bytes, "grossiste.csv", &ctx).expect("validation");
        assert_eq!(
            v.report.status,
            Status::Accepted,
            "{:?}",
            v.report.errors.first()
        );
        file_positions(
            v.lines.as_ref().expect("accepted lines"),
            &declarant,
            "bench",
            chrono::DateTime::UNIX_EPOCH,
        )
        .expect("positions")
        .len()
    });
    assert_eq!(references, lines.div_ceil(common::DEPOTS));

    let report = |label: &str, d: Duration| {
        let s = d.as_secs_f64();
        println!(
            "{label:<42} {s:>7.3} s  {:>12.0} lignes/s  {:>7.1} Mo/s",
            lines as f64 / s,
            mb / s
        );
    };
    report("lecture CSV polars seule (référence)", bare);
    report("lecture + validation + positions", validated);
    println!(
        "rapport validation / lecture seule : {:.2} (cible < 2)",
        validated.as_secs_f64() / bare.as_secs_f64()
    );
}
