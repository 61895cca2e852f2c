//! A subject's figures day by day, read back from the daily risk snapshots
//! (`risk/as_of=<date>/risk.parquet`): a reference's own, or a group's summed over its members.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Cursor;

use chrono::NaiveDate;
use futures::stream::{self, StreamExt, TryStreamExt};
use polars::prelude::*;

use medistock_domain::store::{ObjectStore, StoreError};
use medistock_domain::{Level, lake};

/// Snapshots read at once.
const READ_CONCURRENCY: usize = 8;

/// Days of snapshots read at most for one history: a measure's 28 days before and its first
/// months are what an analyst compares.
pub const MAX_HISTORY_DAYS: usize = 400;

/// Failures reading the history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// A storage backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A snapshot cannot be read.
    #[error("instantané de risque illisible : {0}")]
    Polars(#[from] PolarsError),
}

/// One subject's figures on one day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayFigures {
    /// The day computed.
    pub date: NaiveDate,
    /// Level.
    pub level: Level,
    /// Chain stock.
    pub chain_stock: f64,
    /// Estimated demand per day, when known.
    pub demand: Option<f64>,
    /// Days of cover.
    pub coverage_days: Option<f64>,
    /// Days to the projected stock-out.
    pub days_to_stockout: Option<i64>,
}

/// Every reference's figures, by CIP13, oldest day first.
pub type SubjectHistory = HashMap<String, Vec<DayFigures>>;

/// The snapshots of `days` (at most [`MAX_HISTORY_DAYS`], the latest kept) for the references
/// `cips` (`None`: every reference: the weekly synthesis reads its weeks once for its charts
/// and for the measures); a day without a snapshot is skipped. Snapshots are read a few at a
/// time and each is reduced to those references before the next ones are fetched: memory
/// follows the days and references asked for, not the snapshots' size.
pub async fn read_history<O: ObjectStore>(
    objects: &O,
    lake_bucket: &str,
    cips: Option<&HashSet<String>>,
    days: &BTreeSet<NaiveDate>,
) -> Result<SubjectHistory, HistoryError> {
    let mut out = SubjectHistory::new();
    if cips.is_some_and(HashSet::is_empty) {
        return Ok(out);
    }
    let days: Vec<NaiveDate> = days.iter().rev().take(MAX_HISTORY_DAYS).copied().collect();
    let cips = std::sync::Arc::new(cips.cloned());
    for chunk in days.chunks(READ_CONCURRENCY) {
        let mut reads = Vec::with_capacity(chunk.len());
        for day in chunk {
            reads.push(async move {
                let object = objects
                    .get(lake_bucket, &lake::risk_snapshot_key(*day))
                    .await?;
                Ok::<_, StoreError>(object.map(|o| o.bytes))
            });
        }
        let blobs: Vec<Option<Vec<u8>>> = stream::iter(reads)
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let cips = cips.clone();
        let part = tokio::task::spawn_blocking(move || {
            let mut part = SubjectHistory::new();
            for bytes in blobs.into_iter().flatten() {
                read_snapshot(bytes, cips.as_ref().as_ref(), &mut part)?;
            }
            Ok::<_, HistoryError>(part)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        for (cip, points) in part {
            out.entry(cip).or_default().extend(points);
        }
    }
    for points in out.values_mut() {
        points.sort_by_key(|p| p.date);
        points.dedup_by_key(|p| p.date);
    }
    Ok(out)
}

/// The days an impact reads for `measures` up to `as_of`: each one's window before its start
/// and its window since (see [`super::impact`]).
pub fn impact_days(
    measures: &[medistock_domain::measure::Measure],
    as_of: NaiveDate,
) -> BTreeSet<NaiveDate> {
    let mut days = BTreeSet::new();
    for m in measures {
        let (before, since) = super::impact::windows(m, as_of);
        for (from, to) in [before, since] {
            days.extend(from.iter_days().take_while(|d| *d <= to));
        }
    }
    days
}

fn read_snapshot(
    bytes: Vec<u8>,
    cips: Option<&HashSet<String>>,
    out: &mut SubjectHistory,
) -> Result<(), HistoryError> {
    let frame = ParquetReader::new(Cursor::new(bytes))
        .with_columns(Some(vec![
            "cip13".into(),
            "as_of".into(),
            "level".into(),
            "chain_stock".into(),
            "demand".into(),
            "coverage_days".into(),
            "days_to_stockout".into(),
        ]))
        .finish()?;
    let cip = frame.column("cip13")?.str()?;
    let dates = frame.column("as_of")?.str()?;
    let levels = frame.column("level")?.str()?;
    let stock = frame.column("chain_stock")?.f64()?;
    let demand = frame.column("demand")?.f64()?;
    let coverage = frame.column("coverage_days")?.f64()?;
    let days = frame.column("days_to_stockout")?.i64()?;
    for i in 0..frame.height() {
        let Some(c) = cip
            .get(i)
            .filter(|c| cips.is_none_or(|cips| cips.contains(*c)))
        else {
            continue;
        };
        let (Some(Ok(date)), Some(Some(level)), Some(chain_stock)) = (
            dates.get(i).map(str::parse::<NaiveDate>),
            levels.get(i).map(Level::parse),
            stock.get(i),
        ) else {
            continue;
        };
        out.entry(c.to_owned()).or_default().push(DayFigures {
            date,
            level,
            chain_stock,
            demand: demand.get(i),
            coverage_days: coverage.get(i),
            days_to_stockout: days.get(i),
        });
    }
    Ok(())
}

/// A subject's days: a reference's own, or for a group its members' summed (stock, demand),
/// the worst level and the soonest stock-out of the members computed that day.
pub fn subject_days(members: &[String], history: &SubjectHistory) -> Vec<DayFigures> {
    if let [one] = members {
        return history.get(one).cloned().unwrap_or_default();
    }
    let mut by_day: BTreeMap<NaiveDate, Vec<&DayFigures>> = BTreeMap::new();
    for m in members {
        for d in history.get(m).into_iter().flatten() {
            by_day.entry(d.date).or_default().push(d);
        }
    }
    by_day
        .into_iter()
        .map(|(date, days)| {
            let chain_stock = days.iter().map(|d| d.chain_stock).sum::<f64>();
            let known: Vec<f64> = days.iter().filter_map(|d| d.demand).collect();
            let demand = (!known.is_empty()).then(|| known.iter().sum::<f64>());
            DayFigures {
                date,
                level: days.iter().map(|d| d.level).max().unwrap_or(Level::Normal),
                chain_stock,
                demand,
                coverage_days: demand.filter(|d| *d > 0.0).map(|d| chain_stock / d),
                days_to_stockout: days.iter().filter_map(|d| d.days_to_stockout).min(),
            }
        })
        .collect()
}
