//! Validation throughput on a wholesaler-sized file, next to a bare polars CSV read of the same
//! bytes in the same run. Target: parse + validate + aggregate costs less than 2× the bare read.
//!
//! ```sh
//! cargo bench -p medistock-core --bench validate            # 1,000,000 lines
//! MEDISTOCK_BENCH_LINES=5000000 cargo bench -p medistock-core --bench validate
//! ```

use std::io::Cursor;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use medistock_core::declaration::{Limits, Status, ValidationContext, validate};
use medistock_core::positions::aggregate;
use polars::prelude::*;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A wholesaler's weekly file: every reference at every depot, a few supplies announced.
fn wholesaler_csv(lines: usize) -> Vec<u8> {
    let depots = 200;
    let mut out = String::with_capacity(lines * 80);
    out.push_str("cip13;date_stock;stock;sorties;periode_jours;stock_bloque;appro_quantite;appro_date;site\n");
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..lines {
        let reference = 3_000_000 + (i / depots) as u64;
        let cip12 = format!("34009{reference:07}");
        let sum: u32 = cip12
            .bytes()
            .enumerate()
            .map(|(k, d)| u32::from(d - b'0') * if k % 2 == 0 { 1 } else { 3 })
            .sum();
        let check = (10 - sum % 10) % 10;
        let stock = next() % 20_000;
        let out_units = next() % 3_000;
        let held = if next() % 10 == 0 { next() % 100 } else { 0 };
        let supply = if next() % 20 == 0 {
            format!("{};2026-12-{:02}", next() % 50_000, 1 + next() % 28)
        } else {
            ";".into()
        };
        out.push_str(&format!(
            "{cip12}{check};2026-11-20;{stock};{out_units};7;{held};{supply};Dépôt {:03}\n",
            i % depots
        ));
    }
    out.into_bytes()
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f();
        best = best.min(start.elapsed());
        last = Some(value);
    }
    (best, last.expect("at least one run"))
}

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
        aggregate(v.lines.as_ref().expect("accepted lines"))
            .expect("aggregate")
            .height()
    });
    assert_eq!(references, lines.div_ceil(200));

    let report = |label: &str, d: Duration| {
        let s = d.as_secs_f64();
        println!(
            "{label:<42} {s:>7.3} s  {:>12.0} lignes/s  {:>7.1} Mo/s",
            lines as f64 / s,
            mb / s
        );
    };
    report("lecture CSV polars seule (référence)", bare);
    report("lecture + validation + agrégation", validated);
    println!(
        "rapport validation / lecture seule : {:.2} (cible < 2)",
        validated.as_secs_f64() / bare.as_secs_f64()
    );
}
