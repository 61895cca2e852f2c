//! From validated lines to per-reference positions, and the Parquet form of normalized lines,
//! the history every risk computation reads. A wholesaler declares one line per depot; a
//! position is per (reference, declarant) and keeps each site's newest figures.

pub mod daily;

use chrono::{DateTime, NaiveDate, Utc};
use medistock_domain::position::{Position, SiteFigures, Supply};
use medistock_domain::{Cip13, DeclarantId};
use polars::prelude::*;

use crate::declaration::cells::date_from_epoch_days;

/// Normalized lines as Parquet, with the declarant and the file's hash on every row so that
/// the history can be queried without its S3 path; the columns and types are those of
/// [`medistock_domain::lake::HISTORY_COLUMNS`], which the Glue table declares.
pub fn normalized_parquet(
    lines: &DataFrame,
    declarant: &str,
    sha256: &str,
) -> PolarsResult<Vec<u8>> {
    let mut frame = lines
        .clone()
        .lazy()
        .with_columns([
            // Athena's `int` is signed: the line number is written as INT32, not UINT32.
            col("line").cast(DataType::Int32),
            lit(declarant).alias("declarant"),
            lit(sha256).alias("source_sha256"),
        ])
        .collect()?;
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).finish(&mut frame)?;
    Ok(out)
}

/// The position of each reference of a file, from its normalized lines: for each site, the
/// figures of its latest date (a file may carry history; sites declared at different dates are
/// all kept and summed). Quantities of one site and date are one line (validation refuses
/// conflicting duplicates).
pub fn file_positions(
    lines: &DataFrame,
    declarant: &DeclarantId,
    sha256: &str,
    uploaded_at: DateTime<Utc>,
) -> PolarsResult<Vec<Position>> {
    let cips = lines.column("cip13")?.str()?;
    let dates = lines.column("date_stock")?.date()?.physical();
    let stocks = lines.column("stock")?.i64()?;
    let held = lines.column("stock_bloque")?.i64()?;
    let outflows = lines.column("daily_outflow")?.f64()?;
    let supply_qty = lines.column("appro_quantite")?.i64()?;
    let supply_dates = lines.column("appro_date")?.date()?.physical();
    let sites = lines.column("site")?.str()?;
    let mut latest: std::collections::BTreeMap<(Cip13, &str), SiteFigures> = Default::default();
    for i in 0..lines.height() {
        let bad = || PolarsError::ComputeError(format!("ligne normalisée {i} incomplète").into());
        let cip13 = cips
            .get(i)
            .and_then(|c| Cip13::parse(c).ok())
            .ok_or_else(bad)?;
        let as_of = dates
            .get(i)
            .and_then(date_from_epoch_days)
            .ok_or_else(bad)?;
        let site = sites.get(i).unwrap_or("");
        if latest
            .get(&(cip13, site))
            .is_some_and(|held| held.as_of >= as_of)
        {
            continue;
        }
        let supplies = match (
            supply_dates.get(i).and_then(date_from_epoch_days),
            supply_qty.get(i),
        ) {
            (Some(date), Some(quantity)) => vec![Supply { date, quantity }],
            _ => Vec::new(),
        };
        latest.insert(
            (cip13, site),
            SiteFigures {
                site: site.to_owned(),
                as_of,
                stock: stocks.get(i).unwrap_or(0),
                stock_bloque: held.get(i).unwrap_or(0),
                daily_outflow: outflows.get(i),
                supplies,
                source_sha256: sha256.to_owned(),
                uploaded_at,
            },
        );
    }
    let mut by_reference: std::collections::BTreeMap<Cip13, Vec<SiteFigures>> = Default::default();
    for ((cip13, _), figures) in latest {
        by_reference.entry(cip13).or_default().push(figures);
    }
    Ok(by_reference
        .into_iter()
        .filter_map(|(cip13, sites)| Position::from_sites(cip13, declarant.clone(), sites))
        .collect())
}

/// The latest `date_stock` of normalized lines: the day a file's figures describe.
pub fn latest_date(lines: &DataFrame) -> Option<NaiveDate> {
    let dates = lines.column("date_stock").ok()?.date().ok()?;
    dates.physical().max().and_then(date_from_epoch_days)
}
