//! A file's daily totals: one row per (reference, date) summed over the sites the file lists
//! (stock, held stock, outflow, announced supplies, how many sites). The ingest writes them
//! beside the line-level history; the risk run reads only them, so that its cost follows
//! references and days, not how many depots the wholesalers have.
//!
//! When several files of one declarant describe the same reference and date (a refused line
//! sent again alone, a file corrected), their totals cannot say which sites they share: the
//! risk run reads those files' lines for that day and merges them site by site as the
//! positions do ([`resolve_day`]).

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
    /// The earliest announced supply date over the sites (`None`: none, or history written
    /// before it was kept): a date that moves later from one declaration to the next, past
    /// the day it was due, is a supply that slips.
    pub supply_date: Option<NaiveDate>,
    /// Sites (lines) summed.
    pub sites: u32,
}

/// The daily rows of a file's normalized lines (the frame of
/// [`crate::declaration::NORMALIZED_COLUMNS`]), ordered by reference and date.
pub fn daily_rows(lines: &DataFrame) -> PolarsResult<Vec<DailyRow>> {
    let cips = lines.column("cip13")?.str()?;
    let dates = lines.column("date_stock")?.date()?.physical();
    let outflows = lines.column("daily_outflow")?.f64()?;
    // A column missing from older history counts as empty.
    let optional_i64 = |name: &str| match lines.column(name) {
        Ok(column) => column.i64().map(Some),
        Err(_) => Ok(None),
    };
    let stocks = optional_i64("stock")?;
    let held = optional_i64("stock_bloque")?;
    let supplies = optional_i64("appro_quantite")?;
    let supply_dates = match lines.column("appro_date") {
        Ok(column) => Some(column.date()?.physical()),
        Err(_) => None,
    };
    // Column by column in step: a lookup by row would search the chunks from the first every
    // time (a national file's frame has one chunk per piece and core).
    let (mut stocks, mut held, mut supplies) = (
        stocks.map(|c| c.iter()),
        held.map(|c| c.iter()),
        supplies.map(|c| c.iter()),
    );
    let mut supply_dates = supply_dates.map(|c| c.iter());
    let next = |it: &mut Option<_>| -> Option<i64> {
        it.as_mut()
            .and_then(|it: &mut _| Iterator::next(it))
            .flatten()
    };
    // polars' hasher: the std one (SipHash) showed in profiles of national replays.
    let mut rows: HashMap<(&str, i32), DailyRow, PlRandomState> = HashMap::default();
    for ((cip, day), outflow) in cips.iter().zip(dates.iter()).zip(outflows.iter()) {
        let (stock, held, supply) = (next(&mut stocks), next(&mut held), next(&mut supplies));
        let supply_date = supply_dates.as_mut().and_then(Iterator::next).flatten();
        let (Some(cip), Some(day)) = (cip, day) else {
            continue;
        };
        let entry = match rows.entry((cip, day)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let (Ok(cip13), Some(date)) = (Cip13::parse(cip), date_from_epoch_days(day)) else {
                    continue;
                };
                e.insert(DailyRow {
                    cip13,
                    date,
                    stock: 0,
                    held_stock: 0,
                    daily_outflow: None,
                    supply_quantity: None,
                    supply_date: None,
                    sites: 0,
                })
            }
        };
        entry.stock = entry.stock.saturating_add(stock.unwrap_or(0));
        entry.held_stock = entry.held_stock.saturating_add(held.unwrap_or(0));
        if let Some(outflow) = outflow {
            entry.daily_outflow = Some(entry.daily_outflow.unwrap_or(0.0) + outflow);
        }
        if let Some(quantity) = supply {
            entry.supply_quantity =
                Some(entry.supply_quantity.unwrap_or(0).saturating_add(quantity));
            if let Some(date) = supply_date.and_then(date_from_epoch_days) {
                entry.supply_date = Some(entry.supply_date.map_or(date, |d| d.min(date)));
            }
        }
        entry.sites = entry.sites.saturating_add(1);
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
            Int32Chunked::from_iter_values(
                "date_stock".into(),
                rows.iter().map(|r| epoch_days(r.date)),
            )
            .into_date()
            .into_column(),
            Int64Chunked::from_iter_values("stock".into(), rows.iter().map(|r| r.stock))
                .into_column(),
            Int64Chunked::from_iter_values(
                "stock_bloque".into(),
                rows.iter().map(|r| r.held_stock),
            )
            .into_column(),
            Float64Chunked::from_iter_options(
                "daily_outflow".into(),
                rows.iter().map(|r| r.daily_outflow),
            )
            .into_column(),
            Int64Chunked::from_iter_options(
                "appro_quantite".into(),
                rows.iter().map(|r| r.supply_quantity),
            )
            .into_column(),
            Int32Chunked::from_iter_options(
                "appro_date".into(),
                rows.iter().map(|r| r.supply_date.map(epoch_days)),
            )
            .into_date()
            .into_column(),
            Int32Chunked::from_iter_values(
                "sites".into(),
                rows.iter()
                    .map(|r| i32::try_from(r.sites).unwrap_or(i32::MAX)),
            )
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
    let mut columns = vec![
        "cip13".into(),
        "date_stock".into(),
        "stock".into(),
        "stock_bloque".into(),
        "daily_outflow".into(),
        "appro_quantite".into(),
        "sites".into(),
        "received_at_ms".into(),
    ];
    let mut reader = ParquetReader::new(Cursor::new(bytes));
    // Daily totals written before the earliest supply date was kept do not have it.
    if reader.schema()?.contains("appro_date") {
        columns.push("appro_date".into());
    }
    let frame = reader.with_columns(Some(columns)).finish()?;
    let supply_dates = match frame.column("appro_date") {
        Ok(column) => Some(column.date()?.physical()),
        Err(_) => None,
    };
    let cips = frame.column("cip13")?.str()?;
    let dates = frame.column("date_stock")?.date()?.physical();
    let stocks = frame.column("stock")?.i64()?;
    let held = frame.column("stock_bloque")?.i64()?;
    let outflows = frame.column("daily_outflow")?.f64()?;
    let supplies = frame.column("appro_quantite")?.i64()?;
    let sites = frame.column("sites")?.i32()?;
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
            supply_date: supply_dates
                .and_then(|c| c.get(i))
                .and_then(date_from_epoch_days),
            sites: sites
                .get(i)
                .and_then(|s| u32::try_from(s).ok())
                .unwrap_or(0),
        });
    }
    Ok((rows, received.get(0)))
}

/// One file's lines of a (reference, date) that several files of a declarant describe, in the
/// order the positions merge files: when received, then the file's hash.
#[derive(Debug, Clone, PartialEq)]
pub struct FileDay {
    /// Reception time (milliseconds since the epoch) and the file's hash.
    pub order: (i64, String),
    /// Each site's outflow per day (`""`: a file that declares the whole stock in one line).
    pub lines: SiteOutflows,
}

/// The declarant's outflow per day of one reference and date that several files describe,
/// merged as the positions are ([`medistock_domain::position::merge`]): site by site, the
/// newest file's line wins (a refused line sent again alone completes its file, a correction
/// replaces the sites it lists); a file without sites and files with sites do not add up,
/// the newer form wins whole. `None` when no line gives an outflow.
pub fn resolve_day(mut files: Vec<FileDay>) -> Option<f64> {
    files.sort_by(|a, b| a.order.cmp(&b.order));
    let is_total = |f: &FileDay| f.lines.iter().any(|(site, _)| site.is_empty());
    // From the newest file of the newest form on: a change of form discards what came before.
    let newest_total = files.iter().rposition(is_total);
    let newest_sites = files.iter().rposition(|f| !is_total(f));
    let from = match (newest_total, newest_sites) {
        (Some(t), Some(s)) if t > s => t,
        (Some(t), Some(_)) => t + 1,
        (Some(t), None) => t,
        (None, _) => 0,
    };
    let mut sites: std::collections::BTreeMap<&str, Option<f64>> = Default::default();
    for file in &files[from..] {
        for (site, outflow) in &file.lines {
            sites.insert(site, *outflow);
        }
    }
    sites
        .values()
        .flatten()
        .fold(None, |sum, v| Some(sum.unwrap_or(0.0) + v))
}

/// Each site's outflow per day (`""`: the whole stock in one line), as [`FileDay::lines`].
pub type SiteOutflows = Vec<(String, Option<f64>)>;

/// Each site's outflow in a file's normalized lines, for the (reference, date) pairs asked.
pub fn site_lines(
    lines: &DataFrame,
    wanted: &std::collections::HashSet<(Cip13, NaiveDate)>,
) -> PolarsResult<HashMap<(Cip13, NaiveDate), SiteOutflows>> {
    let cips = lines.column("cip13")?.str()?;
    let dates = lines.column("date_stock")?.date()?.physical();
    let outflows = lines.column("daily_outflow")?.f64()?;
    // History written before sites were read has no `site` column: one line for the stock.
    let sites = match lines.column("site") {
        Ok(column) => Some(column.str()?),
        Err(_) => None,
    };
    let mut out: HashMap<(Cip13, NaiveDate), SiteOutflows> = HashMap::new();
    for i in 0..lines.height() {
        let (Some(cip13), Some(date)) = (
            cips.get(i).and_then(|c| Cip13::parse(c).ok()),
            dates.get(i).and_then(date_from_epoch_days),
        ) else {
            continue;
        };
        if wanted.contains(&(cip13, date)) {
            let site = sites.and_then(|s| s.get(i)).unwrap_or("").to_owned();
            out.entry((cip13, date))
                .or_default()
                .push((site, outflows.get(i)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    /// (reference, day of November, stock, outflow, supply, site).
    type Line<'a> = (&'a str, u32, i64, Option<f64>, Option<i64>, &'a str);

    fn lines(rows: &[Line<'_>]) -> DataFrame {
        let day = |d: u32| epoch_days(NaiveDate::from_ymd_opt(2026, 11, d).unwrap());
        DataFrame::new(
            rows.len(),
            vec![
                StringChunked::from_iter_values("cip13".into(), rows.iter().map(|r| r.0))
                    .into_column(),
                Int32Chunked::from_iter_values("date_stock".into(), rows.iter().map(|r| day(r.1)))
                    .into_date()
                    .into_column(),
                Int64Chunked::from_iter_values("stock".into(), rows.iter().map(|r| r.2))
                    .into_column(),
                Int64Chunked::from_iter_values("stock_bloque".into(), rows.iter().map(|_| 1))
                    .into_column(),
                Float64Chunked::from_iter_options("daily_outflow".into(), rows.iter().map(|r| r.3))
                    .into_column(),
                Int64Chunked::from_iter_options("appro_quantite".into(), rows.iter().map(|r| r.4))
                    .into_column(),
                StringChunked::from_iter_values("site".into(), rows.iter().map(|r| r.5))
                    .into_column(),
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
        let a20 = rows
            .iter()
            .find(|r| r.cip13.as_str() == A && r.date.day() == 20)
            .unwrap();
        assert_eq!((a20.stock, a20.held_stock, a20.sites), (150, 2, 2));
        assert_eq!(
            (a20.daily_outflow, a20.supply_quantity),
            (Some(15.0), Some(300))
        );
        let a19 = rows
            .iter()
            .find(|r| r.cip13.as_str() == A && r.date.day() == 19)
            .unwrap();
        assert_eq!(
            (a19.daily_outflow, a19.supply_quantity, a19.sites),
            (None, None, 1)
        );
        // Written and read back as they were, with the reception time.
        let at: DateTime<Utc> = "2026-11-20T08:00:00Z".parse().unwrap();
        let bytes = daily_parquet(&rows, "gr-a", "abc", at).unwrap();
        let (back, received) = read_daily_parquet(bytes).unwrap();
        assert_eq!(back, rows);
        assert_eq!(received, Some(at.timestamp_millis()));
    }

    fn day(order: i64, lines: &[(&str, f64)]) -> FileDay {
        FileDay {
            order: (order, format!("sha{order}")),
            lines: lines
                .iter()
                .map(|(s, v)| ((*s).to_owned(), Some(*v)))
                .collect(),
        }
    }

    #[test]
    fn files_of_one_day_merge_site_by_site_as_the_positions_do() {
        // A refused line sent again alone completes its file.
        assert_eq!(
            resolve_day(vec![day(1, &[("Lyon", 30.0)]), day(2, &[("Lille", 20.0)])]),
            Some(50.0)
        );
        // Sent again: the later file replaces the earlier one, whatever the listing order.
        let again = [
            day(2, &[("Lyon", 36.0), ("Lille", 1.0)]),
            day(1, &[("Lyon", 30.0), ("Lille", 20.0)]),
        ];
        assert_eq!(resolve_day(again.to_vec()), Some(37.0));
        // Two halves of a wholesaler's depots in two files add up; an overlap is replaced.
        let halves = [
            day(1, &[("A", 1.0), ("B", 2.0)]),
            day(2, &[("B", 5.0), ("C", 4.0)]),
        ];
        assert_eq!(resolve_day(halves.to_vec()), Some(10.0));
        // One of four sites corrected, one site new.
        let four = day(1, &[("A", 10.0), ("B", 10.0), ("C", 10.0), ("D", 10.0)]);
        assert_eq!(
            resolve_day(vec![four, day(2, &[("B", 25.0), ("E", 3.0)])]),
            Some(58.0)
        );
        // A file without sites and a file with sites do not add up: the newer form wins.
        assert_eq!(
            resolve_day(vec![day(1, &[("", 100.0)]), day(2, &[("A", 7.0)])]),
            Some(7.0)
        );
        assert_eq!(
            resolve_day(vec![day(1, &[("A", 7.0)]), day(2, &[("", 100.0)])]),
            Some(100.0)
        );
        assert_eq!(
            resolve_day(vec![
                day(1, &[("A", 7.0)]),
                day(2, &[("", 100.0)]),
                day(3, &[("", 90.0)])
            ]),
            Some(90.0)
        );
        // Ties on reception time are broken by the file's hash, as the positions break them.
        let tie = |sha: &str, v: f64| FileDay {
            order: (5, sha.to_owned()),
            lines: vec![("A".into(), Some(v))],
        };
        assert_eq!(resolve_day(vec![tie("bb", 2.0), tie("aa", 1.0)]), Some(2.0));
        // A line without outflow says nothing of demand.
        let silent = FileDay {
            order: (3, "c".into()),
            lines: vec![("A".into(), None)],
        };
        assert_eq!(resolve_day(vec![silent.clone()]), None);
        assert_eq!(
            resolve_day(vec![day(1, &[("A", 7.0), ("B", 2.0)]), silent]),
            Some(2.0)
        );
    }
}
