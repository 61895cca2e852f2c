//! From validated lines to per-reference figures: a wholesaler declares one line per depot, a
//! position is per (reference, declarant, date). Aggregation runs in polars; the result is
//! small (one row per reference and date) and becomes plain structs for the state store.
//! Also the Parquet form of normalized lines, the history every risk computation reads.

use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::declaration::cells::date_from_epoch_days;
use crate::domain::{Cip13, DeclarantId};

/// An expected supply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Supply {
    /// Expected date.
    pub date: NaiveDate,
    /// Units expected.
    pub quantity: i64,
}

/// The figures of one reference at one date, summed over the declarant's sites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceSnapshot {
    /// The reference.
    pub cip13: Cip13,
    /// Date the figures are valid for.
    pub date_stock: NaiveDate,
    /// Units available.
    pub stock: i64,
    /// Units held.
    pub stock_bloque: i64,
    /// Units out per day (sum over sites of sorties / periode_jours); `None` when no line gave
    /// an outflow.
    pub daily_outflow: Option<f64>,
    /// Number of lines (sites) summed.
    pub sites: u32,
    /// Expected supplies, by date.
    pub supplies: Vec<Supply>,
}

/// Aggregates normalized lines (see [`crate::declaration::validate::NORMALIZED_COLUMNS`]) per
/// reference and date, sorted by reference then date.
pub fn aggregate(lines: &DataFrame) -> PolarsResult<DataFrame> {
    let keys = [col("cip13"), col("date_stock")];
    let figures = lines.clone().lazy().group_by(keys.clone()).agg([
        col("stock").sum().alias("stock"),
        col("stock_bloque").sum().alias("stock_bloque"),
        when(col("daily_outflow").count().gt(lit(0)))
            .then(col("daily_outflow").sum())
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("daily_outflow"),
        len().alias("sites"),
    ]);
    let supplies = lines
        .clone()
        .lazy()
        .filter(col("appro_date").is_not_null())
        .group_by([col("cip13"), col("date_stock"), col("appro_date")])
        .agg([col("appro_quantite").sum()])
        .sort(["appro_date"], SortMultipleOptions::default())
        .group_by(keys.clone())
        .agg([col("appro_date"), col("appro_quantite")]);
    figures
        .join(supplies, keys.clone(), keys, JoinArgs::new(JoinType::Left))
        .sort(["cip13", "date_stock"], SortMultipleOptions::default())
        .collect()
}

/// The aggregated frame as structs.
pub fn snapshots(aggregated: &DataFrame) -> PolarsResult<Vec<ReferenceSnapshot>> {
    let cips = aggregated.column("cip13")?.str()?;
    let dates = aggregated.column("date_stock")?.date()?.physical();
    let stocks = aggregated.column("stock")?.i64()?;
    let held = aggregated.column("stock_bloque")?.i64()?;
    let outflows = aggregated.column("daily_outflow")?.f64()?;
    let sites = aggregated.column("sites")?.cast(&DataType::UInt32)?;
    let sites = sites.u32()?;
    let supply_dates = aggregated.column("appro_date")?.list()?;
    let supply_qty = aggregated.column("appro_quantite")?.list()?;
    let mut out = Vec::with_capacity(aggregated.height());
    for i in 0..aggregated.height() {
        let bad = || PolarsError::ComputeError(format!("ligne agrégée {i} incomplète").into());
        let cip13 = cips
            .get(i)
            .and_then(|c| Cip13::parse(c).ok())
            .ok_or_else(bad)?;
        let date_stock = dates
            .get(i)
            .and_then(date_from_epoch_days)
            .ok_or_else(bad)?;
        let mut supplies = Vec::new();
        if let (Some(d), Some(q)) = (supply_dates.get_as_series(i), supply_qty.get_as_series(i)) {
            // List items may come back as the physical i32 of the date.
            let d = d.cast(&DataType::Int32)?;
            let d = d.i32()?;
            let q = q.i64()?.clone();
            for (date, quantity) in d.iter().zip(q.iter()) {
                if let (Some(date), Some(quantity)) =
                    (date.and_then(date_from_epoch_days), quantity)
                {
                    supplies.push(Supply { date, quantity });
                }
            }
        }
        out.push(ReferenceSnapshot {
            cip13,
            date_stock,
            stock: stocks.get(i).unwrap_or(0),
            stock_bloque: held.get(i).unwrap_or(0),
            daily_outflow: outflows.get(i),
            sites: sites.get(i).unwrap_or(0),
            supplies,
        });
    }
    Ok(out)
}

/// Normalized lines as Parquet, with the declarant and the file's hash on every row so that
/// the history can be queried without its S3 path.
pub fn normalized_parquet(
    lines: &DataFrame,
    declarant: &str,
    sha256: &str,
) -> PolarsResult<Vec<u8>> {
    let mut frame = lines
        .clone()
        .lazy()
        .with_columns([
            lit(declarant).alias("declarant"),
            lit(sha256).alias("source_sha256"),
        ])
        .collect()?;
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).finish(&mut frame)?;
    Ok(out)
}

/// A declarant's latest figures for a reference: what the state store holds per
/// (reference, declarant), replaced only by a strictly newer `as_of`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// The reference.
    pub cip13: Cip13,
    /// Who declared it.
    pub declarant: DeclarantId,
    /// Date the figures are valid for.
    pub as_of: NaiveDate,
    /// Units available.
    pub stock: i64,
    /// Units held.
    pub stock_bloque: i64,
    /// Units out per day, when declared.
    pub daily_outflow: Option<f64>,
    /// Lines (sites) summed.
    pub sites: u32,
    /// Expected supplies.
    pub supplies: Vec<Supply>,
    /// SHA-256 of the file it comes from.
    pub source_sha256: String,
}

/// The position of each reference of a file: its latest date (a file may carry history).
pub fn latest_positions(
    snapshots: &[ReferenceSnapshot],
    declarant: &DeclarantId,
    sha256: &str,
) -> Vec<Position> {
    let mut latest: std::collections::BTreeMap<Cip13, &ReferenceSnapshot> =
        std::collections::BTreeMap::new();
    for s in snapshots {
        let entry = latest.entry(s.cip13).or_insert(s);
        if s.date_stock > entry.date_stock {
            *entry = s;
        }
    }
    latest
        .into_values()
        .map(|s| Position {
            cip13: s.cip13,
            declarant: declarant.clone(),
            as_of: s.date_stock,
            stock: s.stock,
            stock_bloque: s.stock_bloque,
            daily_outflow: s.daily_outflow,
            sites: s.sites,
            supplies: s.supplies.clone(),
            source_sha256: sha256.to_owned(),
        })
        .collect()
}

/// The latest `date_stock` of normalized lines: the day a file's figures describe.
pub fn latest_date(lines: &DataFrame) -> Option<NaiveDate> {
    let dates = lines.column("date_stock").ok()?.date().ok()?;
    dates.physical().max().and_then(date_from_epoch_days)
}
