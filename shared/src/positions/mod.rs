//! From validated lines to per-reference figures: a wholesaler declares one line per depot, a
//! position is per (reference, declarant, date). Aggregation runs in polars; the result is
//! small (one row per reference and date) and becomes plain structs for the state store.
//! Also the Parquet form of normalized lines, the history every risk computation reads.

use chrono::{DateTime, NaiveDate, Utc};
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

/// Most sites one position holds: a wholesaler has a few dozen depots; the bound keeps a
/// stored position far below DynamoDB's 400 KB item limit (each site carries at most one
/// supply, its line's).
pub const MAX_SITES_PER_POSITION: usize = 300;

/// One site's newest figures within a declarant's position (`site` is empty when the file
/// names no site).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteFigures {
    /// The site (depot), as declared; empty for a file without a `site` column.
    pub site: String,
    /// Date the figures are valid for.
    pub as_of: NaiveDate,
    /// Units available.
    pub stock: i64,
    /// Units held.
    pub stock_bloque: i64,
    /// Units out per day, when declared.
    pub daily_outflow: Option<f64>,
    /// Expected supplies.
    pub supplies: Vec<Supply>,
    /// SHA-256 of the file the figures come from.
    pub source_sha256: String,
    /// When that file was dropped: of two files with figures of the same date for a site, the
    /// later one is a correction and wins.
    pub uploaded_at: DateTime<Utc>,
}

/// A declarant's figures for a reference: per site, the newest figures declared, and their sum.
/// What the state store holds per (reference, declarant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// The reference.
    pub cip13: Cip13,
    /// Who declared it.
    pub declarant: DeclarantId,
    /// Date of the newest site figures.
    pub as_of: NaiveDate,
    /// Units available (sum over sites).
    pub stock: i64,
    /// Units held (sum over sites).
    pub stock_bloque: i64,
    /// Units out per day (sum over the sites that declared it).
    pub daily_outflow: Option<f64>,
    /// Sites summed.
    pub sites: u32,
    /// Expected supplies, summed by date.
    pub supplies: Vec<Supply>,
    /// SHA-256 of the newest file that changed it.
    pub source_sha256: String,
    /// The figures of each site (empty for a position stored before sites were kept).
    #[serde(default)]
    pub site_figures: Vec<SiteFigures>,
}

impl Position {
    /// The position of `sites` (at least one), their figures summed: quantities saturate
    /// rather than wrap.
    pub fn from_sites(
        cip13: Cip13,
        declarant: DeclarantId,
        mut sites: Vec<SiteFigures>,
    ) -> Option<Self> {
        sites.sort_by(|a, b| a.site.cmp(&b.site));
        let newest = sites.iter().max_by_key(|s| (s.as_of, s.uploaded_at))?;
        let as_of = newest.as_of;
        let source_sha256 = newest.source_sha256.clone();
        let outflows: Vec<f64> = sites.iter().filter_map(|s| s.daily_outflow).collect();
        let mut supplies: std::collections::BTreeMap<NaiveDate, i64> = Default::default();
        for supply in sites.iter().flat_map(|s| &s.supplies) {
            let sum = supplies.entry(supply.date).or_default();
            *sum = sum.saturating_add(supply.quantity);
        }
        Some(Self {
            cip13,
            declarant,
            as_of,
            stock: sites.iter().fold(0i64, |a, s| a.saturating_add(s.stock)),
            stock_bloque: sites
                .iter()
                .fold(0i64, |a, s| a.saturating_add(s.stock_bloque)),
            daily_outflow: (!outflows.is_empty()).then(|| outflows.iter().sum()),
            sites: sites.len() as u32,
            supplies: supplies
                .into_iter()
                .map(|(date, quantity)| Supply { date, quantity })
                .collect(),
            source_sha256,
            site_figures: sites,
        })
    }
}

/// What writing a file's position for one reference did, site by site.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PositionWrite {
    /// Sites written: new, newer, a correction, or the same file again.
    pub applied: Vec<String>,
    /// Among them, sites whose figures of the same date, from an earlier file, were replaced,
    /// or that complete that date (a line refused before and sent again).
    pub corrected: Vec<String>,
    /// Sites not written, with the date held: the position holds newer figures for them (a
    /// later date, or the same date from a later file).
    pub stale: Vec<(String, NaiveDate)>,
    /// Sites not written because the position already holds [`MAX_SITES_PER_POSITION`] sites.
    pub over_limit: Vec<String>,
}

impl PositionWrite {
    /// Whether anything was written.
    pub fn changed(&self) -> bool {
        !self.applied.is_empty()
    }
}

/// Merges a file's position into the one held: for each site of the file, its figures replace
/// the site's figures held when they are of a later date, or of the same date and from a
/// later file (a correction, e.g. a refused line sent again), or from the same file (a retry);
/// sites the file does not list keep their figures. Returns the position to store (`None`:
/// nothing to write) and what happened to each site.
///
/// A file without sites (the declarant's whole stock) and a file with sites are not added
/// together: when one form follows the other, the newer replaces the whole position. A
/// position stored before sites were kept (no site figures) is replaced whole by a strictly
/// newer file, as it was then.
pub fn merge(held: Option<&Position>, incoming: &Position) -> (Option<Position>, PositionWrite) {
    let Some(held) = held else {
        return replace_whole(incoming);
    };
    if held.site_figures.is_empty() {
        return if incoming.as_of > held.as_of || incoming.source_sha256 == held.source_sha256 {
            replace_whole(incoming)
        } else {
            keep_whole(incoming, held.as_of)
        };
    }
    // A file without sites declares the declarant's whole stock: it cannot be added to figures
    // per site. When one form follows the other, the newer file replaces the whole position.
    let is_total = |p: &Position| p.site_figures.iter().any(|s| s.site.is_empty());
    if is_total(held) != is_total(incoming) {
        let newest = |p: &Position| {
            p.site_figures
                .iter()
                .map(|s| (s.as_of, s.uploaded_at, s.source_sha256.clone()))
                .max()
        };
        return if newest(incoming) > newest(held) {
            replace_whole(incoming)
        } else {
            keep_whole(incoming, held.as_of)
        };
    }
    let mut write = PositionWrite::default();
    let mut sites: std::collections::BTreeMap<&str, &SiteFigures> = held
        .site_figures
        .iter()
        .map(|s| (s.site.as_str(), s))
        .collect();
    for new in &incoming.site_figures {
        match sites.get(new.site.as_str()) {
            None if sites.len() >= MAX_SITES_PER_POSITION => {
                write.over_limit.push(new.site.clone());
            }
            None => {
                // A site that completes a date already declared (its line refused, then sent
                // again) is reported with the corrections.
                if new.as_of == held.as_of && new.source_sha256 != held.source_sha256 {
                    write.corrected.push(new.site.clone());
                }
                sites.insert(&new.site, new);
                write.applied.push(new.site.clone());
            }
            Some(old) => {
                let same_file = old.source_sha256 == new.source_sha256;
                let newer = new.as_of > old.as_of
                    || (new.as_of == old.as_of
                        && (new.uploaded_at, &new.source_sha256)
                            > (old.uploaded_at, &old.source_sha256));
                if same_file || newer {
                    if !same_file && new.as_of == old.as_of {
                        write.corrected.push(new.site.clone());
                    }
                    sites.insert(&new.site, new);
                    write.applied.push(new.site.clone());
                } else {
                    write.stale.push((new.site.clone(), old.as_of));
                }
            }
        }
    }
    if write.applied.is_empty() {
        return (None, write);
    }
    let merged = Position::from_sites(
        held.cip13,
        held.declarant.clone(),
        sites.into_values().cloned().collect(),
    );
    (merged, write)
}

/// The incoming position replaces the one held (or is the first), with at most
/// [`MAX_SITES_PER_POSITION`] sites: the others are reported, not stored.
fn replace_whole(incoming: &Position) -> (Option<Position>, PositionWrite) {
    let mut write = PositionWrite {
        applied: incoming
            .site_figures
            .iter()
            .map(|s| s.site.clone())
            .collect(),
        ..PositionWrite::default()
    };
    if incoming.site_figures.len() <= MAX_SITES_PER_POSITION {
        return (Some(incoming.clone()), write);
    }
    write.over_limit = write.applied.split_off(MAX_SITES_PER_POSITION);
    let kept = incoming.site_figures[..MAX_SITES_PER_POSITION].to_vec();
    let position = Position::from_sites(incoming.cip13, incoming.declarant.clone(), kept);
    (position, write)
}

/// The position held stays: every site of the incoming one is older.
fn keep_whole(incoming: &Position, held_as_of: NaiveDate) -> (Option<Position>, PositionWrite) {
    let write = PositionWrite {
        stale: incoming
            .site_figures
            .iter()
            .map(|s| (s.site.clone(), held_as_of))
            .collect(),
        ..PositionWrite::default()
    };
    (None, write)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn site(name: &str, d: u32, stock: i64, sha: &str) -> SiteFigures {
        SiteFigures {
            site: name.to_owned(),
            as_of: day(d),
            stock,
            stock_bloque: 0,
            daily_outflow: None,
            supplies: Vec::new(),
            source_sha256: sha.to_owned(),
            uploaded_at: DateTime::from_timestamp(1_800_000_000 + i64::from(d), 0).unwrap(),
        }
    }

    fn position(sites: Vec<SiteFigures>) -> Position {
        Position::from_sites(
            Cip13::parse("3400949497294").unwrap(),
            DeclarantId::parse("gr-a").unwrap(),
            sites,
        )
        .unwrap()
    }

    #[test]
    fn a_total_and_figures_per_site_are_never_added_together() {
        let per_site = position(vec![
            site("Lyon", 20, 100, "a"),
            site("Lille", 20, 200, "a"),
        ]);
        let older_total = position(vec![site("", 19, 5000, "b")]);
        let (merged, write) = merge(Some(&per_site), &older_total);
        assert_eq!((merged, write.stale.len()), (None, 1));
        let newer_total = position(vec![site("", 21, 250, "c")]);
        let (merged, _) = merge(Some(&per_site), &newer_total);
        let merged = merged.unwrap();
        assert_eq!((merged.stock, merged.sites), (250, 1));
        let (back, _) = merge(Some(&merged), &per_site);
        assert_eq!(
            back, None,
            "older figures per site do not replace a newer total"
        );
    }

    #[test]
    fn a_position_stored_without_sites_is_replaced_whole_by_a_newer_file() {
        let mut legacy = position(vec![site("", 20, 900, "old")]);
        legacy.site_figures.clear();
        let newer = position(vec![site("Lyon", 21, 100, "new")]);
        let (merged, write) = merge(Some(&legacy), &newer);
        assert_eq!(
            (merged.unwrap().stock, write.applied),
            (100, vec!["Lyon".into()])
        );
        let older = position(vec![site("Lyon", 19, 100, "older")]);
        assert_eq!(merge(Some(&legacy), &older).0, None);
    }

    #[test]
    fn a_first_file_with_more_sites_than_the_bound_stores_the_bound() {
        let sites: Vec<SiteFigures> = (0..MAX_SITES_PER_POSITION + 5)
            .map(|i| site(&format!("dépôt {i:04}"), 20, 1, "a"))
            .collect();
        let (stored, write) = merge(None, &position(sites));
        let stored = stored.unwrap();
        assert_eq!(stored.site_figures.len(), MAX_SITES_PER_POSITION);
        assert_eq!(stored.stock, MAX_SITES_PER_POSITION as i64);
        assert_eq!(
            (write.applied.len(), write.over_limit.len()),
            (MAX_SITES_PER_POSITION, 5)
        );
    }

    #[test]
    fn sums_saturate() {
        let p = position(vec![site("A", 20, i64::MAX, "a"), site("B", 20, 10, "a")]);
        assert_eq!(p.stock, i64::MAX);
    }
}
