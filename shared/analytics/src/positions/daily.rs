//! A file's daily totals: one row per (reference, date) summed over the sites the file lists
//! (stock, held stock, outflow, announced supplies, how many sites and which). The ingest
//! writes them beside the line-level history; the risk run reads only them, so that its cost
//! follows references and days, not how many depots the wholesalers have.
//!
//! Which sites a row covers is kept as a 64-bit signature (one bit per site name, from a
//! stable hash): two files of the same declarant, reference and date whose signatures do not
//! meet list different sites (a refused line sent again alone), and their totals add up;
//! otherwise the later file corrects the earlier one (see [`combine`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::Cursor;

use chrono::{DateTime, NaiveDate, Utc};
use medistock_domain::Cip13;
use polars::prelude::*;

use crate::declaration::cells::{date_from_epoch_days, epoch_days};

/// One (reference, date) of one file, summed over its sites.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyRow {
    /// The reference.
    pub cip13: Cip13,
    /// The date the figures describe.
    pub date: NaiveDate,
    /// Stock over the sites.
    pub stock: i64,
    /// Held (blocked) stock over the sites.
    pub held_stock: i64,
    /// Outflow per day over the sites that declare one; `None` when none does.
    pub daily_outflow: Option<f64>,
    /// Announced supply quantities over the sites; `None` when none is announced.
    pub supply_quantity: Option<i64>,
    /// Sites (lines) summed.
    pub sites: u32,
    /// Signature of the sites summed: the OR of [`site_bit`] over them.
    pub site_mask: u64,
}

/// The bit of a site name in a row's signature: FNV-1a, stable across builds and platforms.
pub fn site_bit(site: &str) -> u64 {
    let hash = site.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    1 << (hash % 64)
}

/// The daily rows of a file's normalized lines (the frame of
/// [`crate::declaration::NORMALIZED_COLUMNS`]), ordered by reference and date.
pub fn daily_rows(lines: &DataFrame) -> PolarsResult<Vec<DailyRow>> {
    let cips = lines.column("cip13")?.str()?;
    let dates = lines.column("date_stock")?.date()?.physical();
    let outflows = lines.column("daily_outflow")?.f64()?;
    // A column missing from older history counts as empty; without `site`, one site.
    let optional_i64 = |name: &str| match lines.column(name) {
        Ok(column) => column.i64().map(Some),
        Err(_) => Ok(None),
    };
    let stocks = optional_i64("stock")?;
    let held = optional_i64("stock_bloque")?;
    let supplies = optional_i64("appro_quantite")?;
    let sites = match lines.column("site") {
        Ok(column) => Some(column.str()?),
        Err(_) => None,
    };
    // polars' hasher: the std one (SipHash) showed in profiles of national replays.
    let mut rows: HashMap<(&str, i32), DailyRow, PlRandomState> = HashMap::default();
    for i in 0..lines.height() {
        let (Some(cip), Some(day)) = (cips.get(i), dates.get(i)) else {
            continue;
        };
        let entry = match rows.entry((cip, day)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let (Ok(cip13), Some(date)) = (Cip13::parse(cip), date_from_epoch_days(day))
                else {
                    continue;
                };
                e.insert(DailyRow {
                    cip13,
                    date,
                    stock: 0,
                    held_stock: 0,
                    daily_outflow: None,
                    supply_quantity: None,
                    sites: 0,
                    site_mask: 0,
                })
            }
        };
        let value = |column: Option<&Int64Chunked>| column.and_then(|c| c.get(i));
        entry.stock = entry.stock.saturating_add(value(stocks).unwrap_or(0));
        entry.held_stock = entry.held_stock.saturating_add(value(held).unwrap_or(0));
        if let Some(outflow) = outflows.get(i) {
            entry.daily_outflow = Some(entry.daily_outflow.unwrap_or(0.0) + outflow);
        }
        if let Some(quantity) = value(supplies) {
            entry.supply_quantity = Some(entry.supply_quantity.unwrap_or(0).saturating_add(quantity));
        }
        entry.sites = entry.sites.saturating_add(1);
        entry.site_mask |= site_bit(sites.and_then(|s| s.get(i)).unwrap_or(""));
    }
    let mut rows: Vec<DailyRow> = rows.into_values().collect();
    rows.sort_by_key(|r| (r.cip13, r.date));
    Ok(rows)
}

/// The daily rows as Parquet, with the declarant, the file's hash and its reception time on
/// every row.
pub fn daily_parquet(
    rows: &[DailyRow],
    declarant: &str,
    sha256: &str,
    received_at: DateTime<Utc>,
) -> PolarsResult<Vec<u8>> {
    let n = rows.len();
    let mut frame = DataFrame::new(
        n,
        vec![
            StringChunked::from_iter_values("cip13".into(), rows.iter().map(|r| r.cip13.as_str()))
                .into_column(),
            Int32Chunked::from_iter_values("date_stock".into(), rows.iter().map(|r| epoch_days(r.date)))
                .into_date()
                .into_column(),
            Int64Chunked::from_iter_values("stock".into(), rows.iter().map(|r| r.stock)).into_column(),
            Int64Chunked::from_iter_values("stock_bloque".into(), rows.iter().map(|r| r.held_stock))
                .into_column(),
            Float64Chunked::from_iter_options("daily_outflow".into(), rows.iter().map(|r| r.daily_outflow))
                .into_column(),
            Int64Chunked::from_iter_options("appro_quantite".into(), rows.iter().map(|r| r.supply_quantity))
                .into_column(),
            Int32Chunked::from_iter_values(
                "sites".into(),
                rows.iter().map(|r| i32::try_from(r.sites).unwrap_or(i32::MAX)),
            )
            .into_column(),
            // Parquet has no unsigned 64-bit type Athena reads: the signature's bits as INT64.
            Int64Chunked::from_iter_values("site_mask".into(), rows.iter().map(|r| r.site_mask as i64))
                .into_column(),
            StringChunked::from_iter_values("declarant".into(), std::iter::repeat_n(declarant, n))
                .into_column(),
            StringChunked::from_iter_values("source_sha256".into(), std::iter::repeat_n(sha256, n))
                .into_column(),
            Int64Chunked::from_iter_values(
                "received_at_ms".into(),
                std::iter::repeat_n(received_at.timestamp_millis(), n),
            )
            .into_column(),
        ],
    )?;
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).finish(&mut frame)?;
    Ok(out)
}

/// A daily object read back: its rows and the file's reception time (milliseconds since the
/// epoch; `None` for an empty file).
pub fn read_daily_parquet(bytes: Vec<u8>) -> PolarsResult<(Vec<DailyRow>, Option<i64>)> {
    let frame = ParquetReader::new(Cursor::new(bytes))
        .with_columns(Some(vec![
            "cip13".into(),
            "date_stock".into(),
            "stock".into(),
            "stock_bloque".into(),
            "daily_outflow".into(),
            "appro_quantite".into(),
            "sites".into(),
            "site_mask".into(),
            "received_at_ms".into(),
        ]))
        .finish()?;
    let cips = frame.column("cip13")?.str()?;
    let dates = frame.column("date_stock")?.date()?.physical();
    let stocks = frame.column("stock")?.i64()?;
    let held = frame.column("stock_bloque")?.i64()?;
    let outflows = frame.column("daily_outflow")?.f64()?;
    let supplies = frame.column("appro_quantite")?.i64()?;
    let sites = frame.column("sites")?.i32()?;
    let masks = frame.column("site_mask")?.i64()?;
    let received = frame.column("received_at_ms")?.i64()?;
    let mut rows = Vec::with_capacity(frame.height());
    for i in 0..frame.height() {
        let (Some(cip13), Some(date)) = (
            cips.get(i).and_then(|c| Cip13::parse(c).ok()),
            dates.get(i).and_then(date_from_epoch_days),
        ) else {
            continue;
        };
        rows.push(DailyRow {
            cip13,
            date,
            stock: stocks.get(i).unwrap_or(0),
            held_stock: held.get(i).unwrap_or(0),
            daily_outflow: outflows.get(i),
            supply_quantity: supplies.get(i),
            sites: sites.get(i).and_then(|s| u32::try_from(s).ok()).unwrap_or(0),
            site_mask: masks.get(i).map_or(0, |m| m as u64),
        });
    }
    Ok((rows, received.get(0)))
}

/// What one declarant's files say of one (reference, date), file after file in the order they
/// were received: the sum over the sites they cover and which sites.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Combined {
    /// Outflow per day over the sites covered.
    pub daily_outflow: f64,
    /// Sites covered.
    pub sites: u32,
    /// Their signature.
    pub site_mask: u64,
}

/// Folds the next file's row (with an outflow) into what earlier files said of the same
/// declarant, reference and date:
/// - sites the earlier files did not list (signatures that do not meet): they add up, as a
///   refused line sent again alone completes its file;
/// - as many sites or more: the later file replaces the earlier ones, as it does in the
///   positions (a file sent again, or corrected as a whole);
/// - fewer sites, some already listed: a correction of those sites; it replaces their share
///   of the total (the average per site, since the earlier per-site figures are not kept).
pub fn combine(held: Option<Combined>, next: &DailyRow) -> Option<Combined> {
    let Some(outflow) = next.daily_outflow else {
        return held;
    };
    let incoming = Combined {
        daily_outflow: outflow,
        sites: next.sites.max(1),
        site_mask: next.site_mask,
    };
    Some(match held {
        None => incoming,
        Some(h) if h.site_mask & incoming.site_mask == 0 => Combined {
            daily_outflow: h.daily_outflow + incoming.daily_outflow,
            sites: h.sites.saturating_add(incoming.sites),
            site_mask: h.site_mask | incoming.site_mask,
        },
        Some(h) if incoming.sites >= h.sites => incoming,
        Some(h) => {
            let kept = f64::from(h.sites - incoming.sites) / f64::from(h.sites);
            Combined {
                daily_outflow: h.daily_outflow * kept + incoming.daily_outflow,
                sites: h.sites,
                site_mask: h.site_mask | incoming.site_mask,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn lines(rows: &[(&str, u32, i64, Option<f64>, Option<i64>, &str)]) -> DataFrame {
        let day = |d: u32| epoch_days(NaiveDate::from_ymd_opt(2026, 11, d).unwrap());
        DataFrame::new(
            rows.len(),
            vec![
                StringChunked::from_iter_values("cip13".into(), rows.iter().map(|r| r.0)).into_column(),
                Int32Chunked::from_iter_values("date_stock".into(), rows.iter().map(|r| day(r.1)))
                    .into_date()
                    .into_column(),
                Int64Chunked::from_iter_values("stock".into(), rows.iter().map(|r| r.2)).into_column(),
                Int64Chunked::from_iter_values("stock_bloque".into(), rows.iter().map(|_| 1)).into_column(),
                Float64Chunked::from_iter_options("daily_outflow".into(), rows.iter().map(|r| r.3))
                    .into_column(),
                Int64Chunked::from_iter_options("appro_quantite".into(), rows.iter().map(|r| r.4))
                    .into_column(),
                StringChunked::from_iter_values("site".into(), rows.iter().map(|r| r.5)).into_column(),
            ],
        )
        .unwrap()
    }

    const A: &str = "3400949497294";
    const B: &str = "3400949497706";

    #[test]
    fn a_file_is_summed_per_reference_and_date_over_its_sites() {
        let frame = lines(&[
            (A, 20, 100, Some(10.0), None, "Lyon"),
            (A, 20, 50, Some(5.0), Some(300), "Lille"),
            (A, 19, 70, None, None, "Lyon"),
            (B, 20, 7, Some(1.5), Some(20), "Lyon"),
        ]);
        let rows = daily_rows(&frame).unwrap();
        assert_eq!(rows.len(), 3);
        let a20 = rows.iter().find(|r| r.cip13.as_str() == A && r.date.day() == 20).unwrap();
        assert_eq!((a20.stock, a20.held_stock, a20.sites), (150, 2, 2));
        assert_eq!((a20.daily_outflow, a20.supply_quantity), (Some(15.0), Some(300)));
        assert_eq!(a20.site_mask, site_bit("Lyon") | site_bit("Lille"));
        let a19 = rows.iter().find(|r| r.cip13.as_str() == A && r.date.day() == 19).unwrap();
        assert_eq!((a19.daily_outflow, a19.supply_quantity, a19.sites), (None, None, 1));
        // Written and read back as they were, with the reception time.
        let at: DateTime<Utc> = "2026-11-20T08:00:00Z".parse().unwrap();
        let bytes = daily_parquet(&rows, "gr-a", "abc", at).unwrap();
        let (back, received) = read_daily_parquet(bytes).unwrap();
        assert_eq!(back, rows);
        assert_eq!(received, Some(at.timestamp_millis()));
    }

    fn row(outflow: f64, sites: &[&str]) -> DailyRow {
        DailyRow {
            cip13: Cip13::parse(A).unwrap(),
            date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            stock: 0,
            held_stock: 0,
            daily_outflow: Some(outflow),
            supply_quantity: None,
            sites: sites.len() as u32,
            site_mask: sites.iter().fold(0, |m, s| m | site_bit(s)),
        }
    }

    fn fold(rows: &[DailyRow]) -> f64 {
        rows.iter().fold(None, combine).unwrap().daily_outflow
    }

    #[test]
    fn files_of_one_day_combine_as_the_positions_do() {
        assert_ne!(site_bit("Lyon"), site_bit("Lille"), "the example needs two bits");
        // A refused line sent again alone completes its file.
        assert_eq!(fold(&[row(30.0, &["Lyon"]), row(20.0, &["Lille"])]), 50.0);
        // The same sites again: the later file replaces the earlier one.
        assert_eq!(fold(&[row(30.0, &["Lyon", "Lille"]), row(36.0, &["Lyon", "Lille"])]), 36.0);
        // One of four sites corrected: its average share (10) is replaced by the correction.
        let four = ["Lyon", "Lille", "Nantes", "Brest"];
        let bits: std::collections::BTreeSet<u64> = four.iter().map(|s| site_bit(s)).collect();
        assert_eq!(bits.len(), 4, "the example needs four bits");
        assert_eq!(fold(&[row(40.0, &four), row(25.0, &["Lille"])]), 55.0);
        // A row without outflow says nothing of demand.
        let mut silent = row(0.0, &["Lyon"]);
        silent.daily_outflow = None;
        assert_eq!(combine(None, &silent), None);
        assert_eq!(fold(&[row(12.0, &["Lyon"]), silent]), 12.0);
    }
}
