//! End-market demand per reference: wholesalers' outflow when they declare it (it is what
//! pharmacies order), else manufacturers'. Built from the daily totals of the files;
//! smoothed with exponential time weights (28-day scale) and a trend ratio (7-day mean over
//! 28-day mean) that catches an epidemic onset.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

use chrono::NaiveDate;
use polars::prelude::PlRandomState;

use crate::positions::daily::{Combined, DailyRow, combine};
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
/// declarant from the daily totals of their files ([`crate::positions::daily`]): for one
/// declarant, reference and date, its files are combined in the order they were received
/// ([`combine`]: sites listed apart add up, a later file corrects an earlier one); the result
/// is summed over the declarants of the type that measures demand (wholesalers when any
/// declares, else manufacturers).
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
    /// [reference × day] → one declarant's files combined (reused from declarant to declarant).
    combined: Vec<Option<Combined>>,
}

/// One file's daily rows and when it was received (milliseconds since the epoch; `None` for
/// history written before reception times were kept: such files come first, in key order).
pub type DailyFile = (Option<i64>, Vec<DailyRow>);

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
            combined: Vec::new(),
        }
    }

    /// The cell of a reference and date, if the date is in the window.
    fn cell(&mut self, cip13: Cip13, date: NaiveDate) -> Option<usize> {
        let day = usize::try_from((date - self.first).num_days()).ok()?;
        if day >= self.days {
            return None;
        }
        let reference = match self.index.get(&cip13) {
            Some(i) => *i,
            None => {
                let i = self.references.len();
                self.index.insert(cip13, i);
                self.references.push(cip13);
                let cells = self.references.len() * self.days;
                self.sums.resize(cells, (None, None));
                self.combined.resize(cells, None);
                i
            }
        };
        Some(reference * self.days + day)
    }

    /// Adds one declarant's files (any order). Declarants of another type than wholesaler or
    /// manufacturer do not measure demand.
    pub fn add_declarant(&mut self, kind: DeclarantType, mut files: Vec<DailyFile>) {
        if !matches!(kind, DeclarantType::Grossiste | DeclarantType::Exploitant) {
            return;
        }
        files.sort_by_key(|(received, _)| *received);
        let mut touched = Vec::new();
        for (_, rows) in &files {
            for row in rows {
                let Some(cell) = self.cell(row.cip13, row.date) else {
                    continue;
                };
                let held = self.combined[cell];
                if let Some(next) = combine(held, row) {
                    if held.is_none() {
                        touched.push(cell);
                    }
                    self.combined[cell] = Some(next);
                }
            }
        }
        for cell in touched {
            let Some(c) = self.combined[cell].take() else {
                continue;
            };
            let entry = &mut self.sums[cell];
            let slot = match kind {
                DeclarantType::Grossiste => &mut entry.0,
                _ => &mut entry.1,
            };
            *slot = Some(slot.unwrap_or(0.0) + c.daily_outflow);
        }
    }

    /// The observations of each reference, by date.
    pub fn finish(self) -> BTreeMap<Cip13, Vec<(NaiveDate, f64)>> {
        let mut series: BTreeMap<Cip13, Vec<(NaiveDate, f64)>> = BTreeMap::new();
        for (i, cip13) in self.references.iter().enumerate() {
            let observations: Vec<(NaiveDate, f64)> = self.sums
                [i * self.days..(i + 1) * self.days]
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

    fn daily(day: u32, outflow: f64, sites: &[&str]) -> DailyRow {
        use crate::positions::daily::site_bit;
        DailyRow {
            cip13: Cip13::parse("3400949497294").unwrap(),
            date: d(day),
            stock: 0,
            held_stock: 0,
            daily_outflow: Some(outflow),
            supply_quantity: None,
            sites: sites.len() as u32,
            site_mask: sites.iter().fold(0, |m, s| m | site_bit(s)),
        }
    }

    #[test]
    fn demand_adds_declarants_prefers_wholesalers_and_takes_the_latest_file() {
        let mut series = DemandSeries::new(d(1)..=d(28));
        // 16 Nov: wholesaler A's two depots (30 + 15 in one file) and wholesaler B (20).
        series.add_declarant(
            DeclarantType::Grossiste,
            vec![(Some(1), vec![daily(16, 45.0, &["Lyon", "Lille"])])],
        );
        series.add_declarant(
            DeclarantType::Grossiste,
            vec![(Some(2), vec![daily(16, 20.0, &[""])])],
        );
        // The manufacturer: ignored on the 16th, where wholesalers declare; on the 23rd, two
        // files for the day, listed in any order: the later one (received at 9) corrects.
        series.add_declarant(
            DeclarantType::Exploitant,
            vec![
                (Some(9), vec![daily(23, 60.0, &[""])]),
                (Some(5), vec![daily(16, 99.0, &[""]), daily(23, 40.0, &[""])]),
            ],
        );
        // Another type, and a date outside the window: nothing.
        series.add_declarant(
            DeclarantType::Autre,
            vec![(Some(3), vec![daily(24, 500.0, &[""])])],
        );
        series.add_declarant(
            DeclarantType::Grossiste,
            vec![(Some(3), vec![daily(29, 7.0, &[""]), daily(1, 8.0, &[""])])],
        );
        let cip = Cip13::parse("3400949497294").unwrap();
        assert_eq!(
            series.finish()[&cip],
            [(d(1), 8.0), (d(16), 65.0), (d(23), 60.0)],
            "the window's first day is in, the day after its last is not"
        );
    }

    #[test]
    fn a_correction_file_listing_one_site_does_not_halve_the_others() {
        // File "a": Lyon 30 (its Lille line was refused); file "b": the corrected Lille line
        // alone, same date. Demand is Lyon + Lille, not their average over two files.
        let mut series = DemandSeries::new(d(1)..=d(30));
        series.add_declarant(
            DeclarantType::Grossiste,
            vec![
                (Some(1), vec![daily(16, 30.0, &["Lyon"])]),
                (Some(2), vec![daily(16, 20.0, &["Lille"])]),
            ],
        );
        let cip = Cip13::parse("3400949497294").unwrap();
        assert_eq!(series.finish()[&cip], [(d(16), 50.0)]);
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
