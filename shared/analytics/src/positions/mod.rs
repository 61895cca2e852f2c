//! From validated lines to per-reference positions, and the Parquet form of normalized lines,
//! the history every risk computation reads. A wholesaler declares one line per depot; a
//! position is per (reference, declarant) and keeps each site's newest figures.

pub mod daily;

use chrono::{DateTime, NaiveDate, Utc};
use medistock_domain::position::{Position, SiteFigures, Supply};
use medistock_domain::{Cip13, DeclarantId};
use polars::prelude::*;

use crate::declaration::cells::date_from_epoch_days;
use crate::last_seen::LastSeen;

/// Rows per row group of the line-level Parquet: each group is built, encoded and dropped in
/// turn, so that a national file's declarant and hash columns (3.6 million copies each) never
/// exist whole.
const ROW_GROUP_ROWS: usize = 1 << 18;

/// Normalized lines as Parquet, with the declarant and the file's hash on every row so that
/// the history can be queried without its S3 path; the columns and types are those of
/// [`medistock_domain::lake::HISTORY_COLUMNS`], which the Glue table declares.
pub fn normalized_parquet(
    lines: &DataFrame,
    declarant: &str,
    sha256: &str,
) -> PolarsResult<Vec<u8>> {
    let group = |offset: usize, len: usize| -> PolarsResult<DataFrame> {
        let mut frame = lines
            .slice(offset as i64, len)
            .lazy()
            .with_columns([
                // Athena's `int` is signed: the line number is written as INT32, not UINT32.
                col("line").cast(DataType::Int32),
                lit(declarant).alias("declarant"),
                lit(sha256).alias("source_sha256"),
            ])
            .collect()?;
        // The writer wants the columns of a group in aligned chunks.
        frame.align_chunks_par();
        Ok(frame)
    };
    // The schema from an empty group, then the groups in turn.
    let schema = group(0, 0)?.schema().clone();
    let mut out = Vec::new();
    let mut writer = ParquetWriter::new(&mut out).batched(&schema)?;
    for offset in (0..lines.height()).step_by(ROW_GROUP_ROWS) {
        writer.write_batch(&group(offset, ROW_GROUP_ROWS.min(lines.height() - offset))?)?;
    }
    writer.finish()?;
    drop(writer);
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
    let mut batches = PositionBatches::new(lines, declarant, sha256, uploaded_at)?;
    let mut out = Vec::new();
    while let Some(batch) = batches.next_batch(usize::MAX)? {
        out.extend(batch);
    }
    Ok(out)
}

/// A file's positions, built a few references at a time in the order of their CIP13: a
/// national file holds 20,000 references × 180 depots, and its 3.6 million site figures need
/// never exist at once. The lines are ordered once, by a key of numbers (reference, site).
pub struct PositionBatches<'f> {
    cips: ByRow<'f, StringType>,
    dates: ByRow<'f, Int32Type>,
    stocks: ByRow<'f, Int64Type>,
    held: ByRow<'f, Int64Type>,
    outflows: ByRow<'f, Float64Type>,
    supply_qty: ByRow<'f, Int64Type>,
    supply_dates: ByRow<'f, Int32Type>,
    sites: ByRow<'f, StringType>,
    declarant: DeclarantId,
    sha256: String,
    uploaded_at: DateTime<Utc>,
    /// (reference, site, row), ordered: the reference's rank, the site's number.
    order: Vec<(u32, u32, u32)>,
    next: usize,
}

impl<'f> PositionBatches<'f> {
    /// Orders the lines of `lines` (the normalized frame) by reference and site.
    pub fn new(
        lines: &'f DataFrame,
        declarant: &DeclarantId,
        sha256: &str,
        uploaded_at: DateTime<Utc>,
    ) -> PolarsResult<Self> {
        let cips = lines.column("cip13")?.str()?;
        let sites = lines.column("site")?.str()?;
        let n = lines.height();
        // Sites numbered as they come: a position sorts its sites by name itself.
        let mut numbers = SiteNumbers::default();
        let mut order = Vec::with_capacity(n);
        // A reference's lines most often follow one another (a national file lists its 180
        // depots together): its rank is reused.
        let mut ranks: LastSeen<&str, u32> = LastSeen::default();
        for (row, (cip, site)) in cips.iter().zip(sites.iter()).enumerate() {
            let bad =
                || PolarsError::ComputeError(format!("ligne normalisée {row} incomplète").into());
            let rank = cip
                .and_then(|cip| ranks.get(cip, |text| Cip13::parse(text).ok().map(|c| c.rank())))
                .ok_or_else(bad)?;
            let site = numbers.number(site);
            let row = u32::try_from(row).map_err(|_| bad())?;
            order.push((rank, site, row));
        }
        order.sort_unstable();
        Ok(Self {
            cips: ByRow::new(cips),
            dates: ByRow::new(lines.column("date_stock")?.date()?.physical()),
            stocks: ByRow::new(lines.column("stock")?.i64()?),
            held: ByRow::new(lines.column("stock_bloque")?.i64()?),
            outflows: ByRow::new(lines.column("daily_outflow")?.f64()?),
            supply_qty: ByRow::new(lines.column("appro_quantite")?.i64()?),
            supply_dates: ByRow::new(lines.column("appro_date")?.date()?.physical()),
            sites: ByRow::new(sites),
            declarant: declarant.clone(),
            sha256: sha256.to_owned(),
            uploaded_at,
            order,
            next: 0,
        })
    }

    /// The positions of the next `references` references (at least one), `None` when all
    /// were given.
    pub fn next_batch(&mut self, references: usize) -> PolarsResult<Option<Vec<Position>>> {
        let mut out = Vec::new();
        while self.next < self.order.len() && out.len() < references.max(1) {
            let reference = self.order[self.next].0;
            let mut sites: Vec<SiteFigures> = Vec::new();
            let mut cip13 = None;
            while let Some(&(r, site, _)) = self.order.get(self.next) {
                if r != reference {
                    break;
                }
                // The rows of one site: the one of the latest date stands.
                let mut latest: Option<(i32, usize)> = None;
                while let Some(&(r, s, row)) = self.order.get(self.next) {
                    if (r, s) != (reference, site) {
                        break;
                    }
                    let row = row as usize;
                    let date = self.dates.get(row).ok_or_else(|| incomplete(row))?;
                    if latest.is_none_or(|(d, _)| date > d) {
                        latest = Some((date, row));
                    }
                    self.next += 1;
                }
                let Some((_, row)) = latest else { continue };
                if cip13.is_none() {
                    cip13 = self.cips.get(row).and_then(|c| Cip13::parse(c).ok());
                }
                sites.push(self.site_figures(row)?);
            }
            let cip13 = cip13.ok_or_else(|| incomplete(self.next))?;
            if let Some(position) = Position::from_sites(cip13, self.declarant.clone(), sites) {
                out.push(position);
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }

    fn site_figures(&self, row: usize) -> PolarsResult<SiteFigures> {
        let as_of = self
            .dates
            .get(row)
            .and_then(date_from_epoch_days)
            .ok_or_else(|| incomplete(row))?;
        let supplies = match (
            self.supply_dates.get(row).and_then(date_from_epoch_days),
            self.supply_qty.get(row),
        ) {
            (Some(date), Some(quantity)) => vec![Supply { date, quantity }],
            _ => Vec::new(),
        };
        Ok(SiteFigures {
            site: self.sites.get(row).unwrap_or("").to_owned(),
            as_of,
            stock: self.stocks.get(row).unwrap_or(0),
            stock_bloque: self.held.get(row).unwrap_or(0),
            daily_outflow: self.outflows.get(row),
            supplies,
            source_sha256: self.sha256.clone(),
            uploaded_at: self.uploaded_at,
        })
    }
}

/// A column read row by row in the order of a reference's lines: the chunk of the last row
/// read is tried first (a reference's lines are most often written together, so in one chunk),
/// where polars' lookup by row searches the chunks from the first every time.
struct ByRow<'f, T: PolarsDataType> {
    chunks: Vec<&'f T::Array>,
    /// First row of each chunk, then the number of rows.
    starts: Vec<usize>,
    last: std::cell::Cell<usize>,
}

impl<'f, T: PolarsDataType> ByRow<'f, T> {
    fn new(column: &'f ChunkedArray<T>) -> Self {
        let chunks: Vec<&'f T::Array> = column.downcast_iter().collect();
        let mut starts = Vec::with_capacity(chunks.len() + 1);
        let mut at = 0;
        for len in column.chunk_lengths() {
            starts.push(at);
            at += len;
        }
        starts.push(at);
        Self {
            chunks,
            starts,
            last: std::cell::Cell::new(0),
        }
    }

    /// The value of `row`, `None` when null or past the end.
    fn get(&self, row: usize) -> Option<<T::Array as StaticArray>::ValueT<'f>> {
        let mut chunk = self.last.get();
        let within = |k: usize| {
            self.starts.get(k).is_some_and(|s| *s <= row)
                && self.starts.get(k + 1).is_some_and(|e| row < *e)
        };
        if !within(chunk) {
            chunk = self.starts.partition_point(|s| *s <= row).saturating_sub(1);
            self.last.set(chunk);
        }
        let array: &'f T::Array = self.chunks.get(chunk)?;
        array.get(row - self.starts[chunk])
    }
}

/// Sites numbered in the order they come (the empty name for a file without sites): a key of
/// numbers orders and groups lines where their names would be compared and copied.
/// (polars' hasher: SipHash showed in profiles of national files, one lookup per line.)
/// A file most often lists each reference's sites in one order: the site after the previous
/// line's (in the order first seen) is tried before the map.
#[derive(Default)]
pub(crate) struct SiteNumbers<'a> {
    numbers: std::collections::HashMap<&'a str, u32, PlRandomState>,
    /// Each number's name.
    names: Vec<&'a str>,
    /// The previous line's site.
    last: Option<u32>,
}

impl<'a> SiteNumbers<'a> {
    /// The number of a site, given on its first sight (a file has fewer sites than lines,
    /// and lines are counted in u32).
    pub(crate) fn number(&mut self, site: Option<&'a str>) -> u32 {
        let site = site.unwrap_or("");
        // The site after the previous line's, or the first after the last.
        let guess = match self.last {
            Some(n) if (n as usize + 1) < self.names.len() => n + 1,
            _ => 0,
        };
        let number = if self.names.get(guess as usize) == Some(&site) {
            guess
        } else {
            let next = self.names.len() as u32;
            let number = *self.numbers.entry(site).or_insert(next);
            if number == next {
                self.names.push(site);
            }
            number
        };
        self.last = Some(number);
        number
    }
}

fn incomplete(row: usize) -> PolarsError {
    PolarsError::ComputeError(format!("ligne normalisée {row} incomplète").into())
}

/// The latest `date_stock` of normalized lines: the day a file's figures describe.
pub fn latest_date(lines: &DataFrame) -> Option<NaiveDate> {
    let dates = lines.column("date_stock").ok()?.date().ok()?;
    dates.physical().max().and_then(date_from_epoch_days)
}

#[cfg(test)]
mod tests {
    use super::SiteNumbers;

    /// Whatever the order of the sites (repeated in one order, shuffled, new ones midway,
    /// lines without a site), each gets the number of its first sight, as a plain map gives.
    #[test]
    fn sites_are_numbered_in_the_order_first_seen_whatever_their_order() {
        let names: Vec<String> = (0..12).map(|i| format!("DEPOT-{i:02}")).collect();
        let mut sequences: Vec<Vec<Option<&str>>> = Vec::new();
        let cycle: Vec<Option<&str>> = names[..6].iter().map(|n| Some(n.as_str())).collect();
        sequences.push(cycle.repeat(4));
        let mut seed = 7u64;
        for _ in 0..200 {
            let mut sequence = cycle.repeat(2);
            for _ in 0..40 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let pick = (seed >> 33) as usize % (names.len() + 1);
                sequence.push(names.get(pick).map(String::as_str));
            }
            sequence.extend(cycle.iter().rev());
            sequences.push(sequence);
        }
        for sequence in sequences {
            let mut numbers = SiteNumbers::default();
            let mut expected = std::collections::HashMap::new();
            for site in &sequence {
                let next = expected.len() as u32;
                let want = *expected.entry(site.unwrap_or("")).or_insert(next);
                assert_eq!(numbers.number(*site), want, "{sequence:?}");
            }
        }
    }
}
