//! What the benchmarks share: a realistic wholesaler file and a timer.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// Depots of the generated wholesaler: every reference appears once per depot.
pub const DEPOTS: usize = 200;

/// A wholesaler's weekly file: every reference at every depot, a few supplies announced.
pub fn wholesaler_csv(lines: usize) -> Vec<u8> {
    let depots = DEPOTS;
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
        // A CIP7 becomes 34009 + CIP7 + its check digit.
        let cip13 = medistock_domain::Cip13::parse(&format!("{reference:07}"))
            .expect("a CIP7 always converts");
        let stock = next() % 20_000;
        let out_units = next() % 3_000;
        let held = if next() % 10 == 0 { next() % 100 } else { 0 };
        let supply = if next() % 20 == 0 {
            format!("{};2026-12-{:02}", next() % 50_000, 1 + next() % 28)
        } else {
            ";".into()
        };
        out.push_str(&format!(
            "{cip13};2026-11-20;{stock};{out_units};7;{held};{supply};Dépôt {:03}\n",
            i % depots
        ));
    }
    out.into_bytes()
}

pub fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
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
