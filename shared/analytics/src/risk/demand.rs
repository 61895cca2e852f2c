//! End-market demand per reference: wholesalers' outflow when they declare it (it is what
//! pharmacies order), else manufacturers'. Built from the daily totals of the files;
//! smoothed with exponential time weights (28-day scale) and a trend ratio (7-day mean over
//! 28-day mean) that catches an epidemic onset.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

use chrono::NaiveDate;
use polars::prelude::PlRandomState;

use crate::positions::daily::DailyRow;
use medistock_domain::{Cip13, DeclarantType};

/// Time scale of the smoothing, in days.
pub const SMOOTHING_DAYS: f64 = 28.0;
/// Observations older than this are ignored.
pub const LOOKBACK_DAYS: i64 = 56;
/// The trend ratio is kept within these bounds (a single outlier must not triple a forecast).
pub const TREND_BOUNDS: (f64, f64) = (0.5, 2.0);

/// Smoothed daily demand and its trend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemandEstimate {
    /// Units per day.
    pub daily: f64,
    /// Recent demand over the usual (1.0: stable; 1.5: +50 % this week).
    pub trend: f64,
    /// Observations used.
    pub observations: usize,
}

/// Daily demand observations per reference over a window of days, built declarant by
/// declarant from the daily totals of their files ([`crate::positions::daily`]) and summed
/// over the declarants of the type that measures demand (wholesalers when any declares, else
/// manufacturers). A (reference, date) that several files of one declarant describe is left
/// to the caller, who merges those files' lines site by site
/// ([`crate::positions::daily::resolve_day`]) and adds the result ([`Self::add_resolved`]).
///
/// References get a dense index as they are met and days are offsets in the window: the sums
/// are arrays, not maps, so a national replay (seven wholesalers × 20,000 references × 57 days
/// read every day) does not hash millions of keys.
#[derive(Debug)]
pub struct DemandSeries {
    first: NaiveDate,
    days: usize,
    index: HashMap<Cip13, usize, PlRandomState>,
    references: Vec<Cip13>,
    /// [reference × day] → (wholesalers' sum, manufacturers' sum).
    sums: Vec<(Option<f64>, Option<f64>)>,
    /// [reference × day] → the file of the current declarant that described it, if one did.
    seen: Vec<Option<u32>>,
    /// [reference × day] → (wholesalers' stock, manufacturers' stock, manufacturers' announced
    /// supplies), summed over the declarants (single precision: a history, not a ledger).
    stocks: Vec<StockCell>,
    /// The first day of the window any wholesaler, any manufacturer declared.
    first_day: (Option<NaiveDate>, Option<NaiveDate>),
}

/// Each reference's demand observations, by date.
pub type Observations = BTreeMap<Cip13, Vec<(NaiveDate, f64)>>;

/// One day's stocks of one reference.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct StockCell {
    wholesalers: Option<f32>,
    manufacturers: Option<f32>,
    announced: Option<f32>,
    announced_date: Option<NaiveDate>,
}

/// What a reference's declarations said day by day over the look-back, beside its demand:
/// the signals of a production stop, of supplies that slip, and of days the wholesalers ran
/// dry (their outflow then is what they served, not what was asked).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StockHistory {
    /// Wholesalers' summed stock, by date.
    pub wholesalers: Vec<(NaiveDate, f64)>,
    /// Manufacturers' summed stock, by date.
    pub manufacturers: Vec<(NaiveDate, f64)>,
    /// Manufacturers' announced supplies, by date of declaration: the quantity and the
    /// earliest date announced (when the history keeps it).
    pub announced: Vec<(NaiveDate, f64, Option<NaiveDate>)>,
}

/// A batch shows as a rise of the manufacturers' stock, between two declarations, of this
/// share of the quantity announced. The rise is the net change of the stock: a batch smaller
/// than the outflow between the two declarations and this share does not show, and any other
/// rise (a correction, returns) shows as one.
pub const BATCH_SHARE: f64 = 0.25;

impl StockHistory {
    /// Whether a batch of `quantity` announced came: the manufacturers' stock rose by
    /// [`BATCH_SHARE`] of it from one declaration to the next, the later dated after `from`
    /// and by `to`.
    pub fn batch_between(&self, from: NaiveDate, to: NaiveDate, quantity: f64) -> bool {
        self.manufacturers
            .windows(2)
            .any(|w| w[1].0 > from && w[1].0 <= to && w[1].1 - w[0].1 >= BATCH_SHARE * quantity)
    }

    /// Whether the date due of announcement `index` was pushed back: a later declaration,
    /// made from `due` to `by`, announced a date after it.
    pub fn pushed_back(&self, index: usize, due: NaiveDate, by: NaiveDate) -> bool {
        self.announced
            .iter()
            .skip(index + 1)
            .any(|(declared, _, next)| {
                (due..=by).contains(declared) && next.is_some_and(|n| n > due)
            })
    }
}

/// One file's daily rows.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyFile {
    /// The file's hash.
    pub sha256: String,
    /// Its rows (see [`crate::positions::daily::daily_rows`]).
    pub rows: Vec<DailyRow>,
}

impl DemandSeries {
    /// Observations of the days of `window` (both ends included).
    pub fn new(window: RangeInclusive<NaiveDate>) -> Self {
        let days = (*window.end() - *window.start()).num_days().max(-1) + 1;
        Self {
            first: *window.start(),
            days: usize::try_from(days).unwrap_or(0),
            index: HashMap::default(),
            references: Vec::new(),
            sums: Vec::new(),
            seen: Vec::new(),
            stocks: Vec::new(),
            first_day: (None, None),
        }
    }

    /// The first day of the window a declarant of this type declared (wholesaler or
    /// manufacturer), if one did.
    pub fn first_day(&self, kind: DeclarantType) -> Option<NaiveDate> {
        match kind {
            DeclarantType::Grossiste => self.first_day.0,
            DeclarantType::Exploitant => self.first_day.1,
            DeclarantType::Autre => None,
        }
    }

    /// The day of a date in the window, if it is in.
    fn cell_day(&self, date: NaiveDate) -> Option<usize> {
        let day = usize::try_from((date - self.first).num_days()).ok()?;
        (day < self.days).then_some(day)
    }

    /// The cell of a reference and date, if the date is in the window.
    fn cell(&mut self, cip13: Cip13, date: NaiveDate) -> Option<usize> {
        let day = self.cell_day(date)?;
        let reference = match self.index.get(&cip13) {
            Some(i) => *i,
            None => {
                let i = self.references.len();
                self.index.insert(cip13, i);
                self.references.push(cip13);
                let cells = self.references.len() * self.days;
                self.sums.resize(cells, (None, None));
                self.seen.resize(cells, None);
                self.stocks.resize(cells, StockCell::default());
                i
            }
        };
        Some(reference * self.days + day)
    }

    fn add(&mut self, cell: usize, kind: DeclarantType, outflow: f64) {
        let entry = &mut self.sums[cell];
        let slot = match kind {
            DeclarantType::Grossiste => &mut entry.0,
            _ => &mut entry.1,
        };
        *slot = Some(slot.unwrap_or(0.0) + outflow);
    }

    /// Adds one declarant's files: each (reference, date) of the window that one file
    /// describes with an outflow. Returns those that several files describe, not added: the
    /// caller resolves them. Declarants of another type than wholesaler or manufacturer do
    /// not measure demand.
    pub fn add_declarant<F: std::borrow::Borrow<DailyFile>>(
        &mut self,
        kind: DeclarantType,
        files: &[F],
    ) -> Vec<(Cip13, NaiveDate)> {
        if !matches!(kind, DeclarantType::Grossiste | DeclarantType::Exploitant) {
            return Vec::new();
        }
        let in_window = files
            .iter()
            .flat_map(|f| &f.borrow().rows)
            .map(|r| r.date)
            .filter(|d| self.cell_day(*d).is_some())
            .min();
        let first = match kind {
            DeclarantType::Grossiste => &mut self.first_day.0,
            _ => &mut self.first_day.1,
        };
        *first = match (*first, in_window) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut touched = Vec::new();
        let mut shared = Vec::new();
        for (f, file) in files.iter().enumerate() {
            let f = u32::try_from(f).unwrap_or(u32::MAX);
            for row in file
                .borrow()
                .rows
                .iter()
                .filter(|r| r.daily_outflow.is_some())
            {
                let Some(cell) = self.cell(row.cip13, row.date) else {
                    continue;
                };
                match self.seen[cell] {
                    None => {
                        self.seen[cell] = Some(f);
                        touched.push((cell, row.daily_outflow.unwrap_or(0.0), row));
                    }
                    Some(other) if other != f => shared.push(cell),
                    Some(_) => {}
                }
            }
        }
        shared.sort_unstable();
        shared.dedup();
        for (cell, outflow, row) in touched {
            self.seen[cell] = None;
            if shared.binary_search(&cell).is_err() {
                self.add(cell, kind, outflow);
                let stocks = &mut self.stocks[cell];
                let add = |slot: &mut Option<f32>, v: f64| {
                    *slot = Some(slot.unwrap_or(0.0) + v as f32);
                };
                match kind {
                    DeclarantType::Grossiste => add(&mut stocks.wholesalers, row.stock as f64),
                    _ => {
                        add(&mut stocks.manufacturers, row.stock as f64);
                        if let Some(q) = row.supply_quantity.filter(|q| *q > 0) {
                            add(&mut stocks.announced, q as f64);
                            if let Some(d) = row.supply_date {
                                stocks.announced_date =
                                    Some(stocks.announced_date.map_or(d, |a| a.min(d)));
                            }
                        }
                    }
                }
            }
        }
        shared
            .into_iter()
            .filter_map(|cell| {
                let cip13 = *self.references.get(cell / self.days)?;
                let date = self
                    .first
                    .checked_add_days(chrono::Days::new((cell % self.days) as u64))?;
                Some((cip13, date))
            })
            .collect()
    }

    /// Adds the merged outflow of a (reference, date) that several files of one declarant
    /// describe.
    pub fn add_resolved(
        &mut self,
        kind: DeclarantType,
        cip13: Cip13,
        date: NaiveDate,
        outflow: f64,
    ) {
        if !matches!(kind, DeclarantType::Grossiste | DeclarantType::Exploitant) {
            return;
        }
        if let Some(cell) = self.cell(cip13, date) {
            self.add(cell, kind, outflow);
        }
    }

    /// The observations of each reference, by date, and its stock history.
    pub fn finish_with_history(self) -> (Observations, BTreeMap<Cip13, StockHistory>) {
        let mut histories = BTreeMap::new();
        for (i, cip13) in self.references.iter().enumerate() {
            let mut h = StockHistory::default();
            for (day, cell) in self.stocks[i * self.days..(i + 1) * self.days]
                .iter()
                .enumerate()
            {
                let Some(date) = self.first.checked_add_days(chrono::Days::new(day as u64)) else {
                    continue;
                };
                if let Some(v) = cell.wholesalers {
                    h.wholesalers.push((date, f64::from(v)));
                }
                if let Some(v) = cell.manufacturers {
                    h.manufacturers.push((date, f64::from(v)));
                }
                if let Some(v) = cell.announced {
                    h.announced.push((date, f64::from(v), cell.announced_date));
                }
            }
            if h != StockHistory::default() {
                histories.insert(*cip13, h);
            }
        }
        (self.finish(), histories)
    }

    /// The observations of each reference, by date.
    pub fn finish(self) -> BTreeMap<Cip13, Vec<(NaiveDate, f64)>> {
        let mut series: BTreeMap<Cip13, Vec<(NaiveDate, f64)>> = BTreeMap::new();
        for (i, cip13) in self.references.iter().enumerate() {
            let observations: Vec<(NaiveDate, f64)> = self.sums[i * self.days..(i + 1) * self.days]
                .iter()
                .enumerate()
                .filter_map(|(day, (wholesalers, manufacturers))| {
                    let value = wholesalers.or(*manufacturers)?;
                    let date = self.first.checked_add_days(chrono::Days::new(day as u64))?;
                    Some((date, value))
                })
                .collect();
            if !observations.is_empty() {
                series.insert(*cip13, observations);
            }
        }
        series
    }
}

/// The demand estimate at `as_of` from dated observations (any order); `None` without any
/// observation in the last `LOOKBACK_DAYS` days.
pub fn estimate_demand(series: &[(NaiveDate, f64)], as_of: NaiveDate) -> Option<DemandEstimate> {
    let recent: Vec<(f64, f64)> = series
        .iter()
        .filter_map(|(date, value)| {
            let age = (as_of - *date).num_days();
            (0..=LOOKBACK_DAYS)
                .contains(&age)
                .then_some((age as f64, *value))
        })
        .collect();
    if recent.is_empty() {
        return None;
    }
    let (weighted, weights) = recent.iter().fold((0.0, 0.0), |(s, w), (age, v)| {
        let weight = (-age / SMOOTHING_DAYS).exp();
        (s + weight * v, w + weight)
    });
    let mean_within = |days: f64| {
        let values: Vec<f64> = recent
            .iter()
            .filter(|(age, _)| *age < days)
            .map(|(_, v)| *v)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let trend = match (mean_within(7.0), mean_within(28.0)) {
        (Some(week), Some(month)) if month > 0.0 => {
            (week / month).clamp(TREND_BOUNDS.0, TREND_BOUNDS.1)
        }
        _ => 1.0,
    };
    // Rounded to a millionth of a unit: equal observations give exactly their value, so that a
    // projection does not run out a day early on floating-point noise.
    let round = |v: f64| (v * 1e6).round() / 1e6;
    Some(DemandEstimate {
        daily: round(weighted / weights),
        trend: round(trend),
        observations: recent.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    #[test]
    fn stable_demand_is_its_value_with_a_flat_trend() {
        let series = [(d(2), 100.0), (d(9), 100.0), (d(16), 100.0), (d(23), 100.0)];
        let e = estimate_demand(&series, d(23)).unwrap();
        assert_eq!(e.daily, 100.0);
        assert_eq!((e.trend, e.observations), (1.0, 4));
    }

    #[test]
    fn a_spike_this_week_raises_the_trend() {
        // Last 7 days: 200; last 28 days: (100 + 100 + 100 + 200) / 4 = 125 → trend 1.6.
        let series = [(d(2), 100.0), (d(9), 100.0), (d(16), 100.0), (d(23), 200.0)];
        let e = estimate_demand(&series, d(23)).unwrap();
        assert!((e.trend - 1.6).abs() < 1e-9, "{}", e.trend);
        assert!(
            e.daily > 125.0 && e.daily < 200.0,
            "recent values weigh more: {}",
            e.daily
        );
    }

    fn daily(day: u32, outflow: f64) -> DailyRow {
        DailyRow {
            cip13: Cip13::parse("3400949497294").unwrap(),
            date: d(day),
            stock: 0,
            held_stock: 0,
            daily_outflow: Some(outflow),
            supply_quantity: None,
            supply_date: None,
            sites: 1,
        }
    }

    fn file(sha: &str, rows: Vec<DailyRow>) -> DailyFile {
        DailyFile {
            sha256: sha.to_owned(),
            rows,
        }
    }

    #[test]
    fn demand_adds_declarants_prefers_wholesalers_and_leaves_shared_days_to_resolve() {
        let mut series = DemandSeries::new(d(1)..=d(28));
        let cip = Cip13::parse("3400949497294").unwrap();
        // 16 Nov: wholesaler A (45 over its depots) and wholesaler B (20).
        assert!(
            series
                .add_declarant(
                    DeclarantType::Grossiste,
                    &[file("a", vec![daily(16, 45.0)])]
                )
                .is_empty()
        );
        assert!(
            series
                .add_declarant(
                    DeclarantType::Grossiste,
                    &[file("b", vec![daily(16, 20.0)])]
                )
                .is_empty()
        );
        // The manufacturer: ignored on the 16th, where wholesalers declare; on the 23rd, two
        // files for the day: left to resolve, then added as resolved.
        let shared = series.add_declarant(
            DeclarantType::Exploitant,
            &[
                file("c1", vec![daily(16, 99.0), daily(23, 40.0)]),
                file("c2", vec![daily(23, 60.0)]),
            ],
        );
        assert_eq!(shared, [(cip, d(23))]);
        series.add_resolved(DeclarantType::Exploitant, cip, d(23), 60.0);
        // Another type, and dates outside the window: nothing.
        assert!(
            series
                .add_declarant(
                    DeclarantType::Autre,
                    &[
                        file("x", vec![daily(24, 500.0)]),
                        file("y", vec![daily(24, 1.0)])
                    ]
                )
                .is_empty()
        );
        series.add_declarant(
            DeclarantType::Grossiste,
            &[file("z", vec![daily(29, 7.0), daily(1, 8.0)])],
        );
        series.add_resolved(DeclarantType::Grossiste, cip, d(29), 7.0);
        assert_eq!(series.first_day(DeclarantType::Grossiste), Some(d(1)));
        assert_eq!(series.first_day(DeclarantType::Exploitant), Some(d(16)));
        assert_eq!(series.first_day(DeclarantType::Autre), None);
        assert_eq!(
            series.finish()[&cip],
            [(d(1), 8.0), (d(16), 65.0), (d(23), 60.0)],
            "the window's first day is in, the day after its last is not"
        );
    }

    #[test]
    fn a_day_one_file_describes_twice_is_not_shared() {
        // Two dates in one file, and the next declarant starting afresh on the same cells.
        let mut series = DemandSeries::new(d(1)..=d(30));
        let one = file("a", vec![daily(16, 30.0), daily(17, 20.0)]);
        assert!(
            series
                .add_declarant(DeclarantType::Grossiste, std::slice::from_ref(&one))
                .is_empty()
        );
        assert!(
            series
                .add_declarant(DeclarantType::Grossiste, &[one])
                .is_empty()
        );
        let cip = Cip13::parse("3400949497294").unwrap();
        assert_eq!(series.finish()[&cip], [(d(16), 60.0), (d(17), 40.0)]);
    }

    #[test]
    fn no_history_means_no_estimate() {
        assert_eq!(estimate_demand(&[], d(23)), None);
        let old = [(NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(), 50.0)];
        assert_eq!(
            estimate_demand(&old, d(23)),
            None,
            "older than the look-back"
        );
        let future = [(d(30), 50.0)];
        assert_eq!(
            estimate_demand(&future, d(23)),
            None,
            "not visible yet on as_of"
        );
    }
}
