//! End-market demand per reference: wholesalers' outflow when they declare it (it is what
//! pharmacies order), else manufacturers'. Built with polars from the normalized history;
//! smoothed with exponential time weights (28-day scale) and a trend ratio (7-day mean over
//! 28-day mean) that catches an epidemic onset.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use polars::prelude::*;

use crate::declaration::cells::date_from_epoch_days;
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

/// Daily demand observations per reference from normalized history (columns `cip13`,
/// `date_stock`, `daily_outflow`, `declarant`, `site`, `source_sha256`), given each
/// declarant's type. For one declarant, reference and date: each site's outflow is averaged
/// over the files that declare it (a file sent again), then the sites are added (one line per
/// depot; a correction file that lists only the site it corrects does not halve the others);
/// the result is summed over declarants of the type that measures demand.
pub fn demand_series(
    history: &DataFrame,
    kinds: &HashMap<String, DeclarantType>,
) -> PolarsResult<BTreeMap<Cip13, Vec<(NaiveDate, f64)>>> {
    let site = if history.column("site").is_ok() {
        col("site").fill_null(lit(""))
    } else {
        lit("")
    };
    let per_declarant = history
        .clone()
        .lazy()
        .filter(col("daily_outflow").is_not_null())
        .with_column(site.alias("site"))
        // A site has one line per file (validation refuses conflicting duplicates): the mean
        // over files is the sum over lines divided by the number of files.
        .group_by([
            col("cip13"),
            col("date_stock"),
            col("declarant"),
            col("site"),
        ])
        .agg([(col("daily_outflow").sum()
            / col("source_sha256").n_unique().cast(DataType::Float64))
        .alias("daily_outflow")])
        .group_by([col("cip13"), col("date_stock"), col("declarant")])
        .agg([col("daily_outflow").sum()])
        .sort(
            ["cip13", "date_stock", "declarant"],
            SortMultipleOptions::default(),
        )
        .collect()?;
    let cips = per_declarant.column("cip13")?.str()?;
    let dates = per_declarant.column("date_stock")?.cast(&DataType::Int32)?;
    let dates = dates.i32()?;
    let declarants = per_declarant.column("declarant")?.str()?;
    let outflows = per_declarant.column("daily_outflow")?.f64()?;
    // (cip13, date) -> (wholesalers' sum, manufacturers' sum)
    let mut sums: BTreeMap<(Cip13, NaiveDate), (Option<f64>, Option<f64>)> = BTreeMap::new();
    for i in 0..per_declarant.height() {
        let (Some(cip), Some(date), Some(declarant), Some(outflow)) = (
            cips.get(i),
            dates.get(i).and_then(date_from_epoch_days),
            declarants.get(i),
            outflows.get(i),
        ) else {
            continue;
        };
        let Ok(cip) = Cip13::parse(cip) else { continue };
        let entry = sums.entry((cip, date)).or_default();
        match kinds.get(declarant) {
            Some(DeclarantType::Grossiste) => entry.0 = Some(entry.0.unwrap_or(0.0) + outflow),
            Some(DeclarantType::Exploitant) => entry.1 = Some(entry.1.unwrap_or(0.0) + outflow),
            _ => {}
        }
    }
    let mut series: BTreeMap<Cip13, Vec<(NaiveDate, f64)>> = BTreeMap::new();
    for ((cip, date), (wholesalers, manufacturers)) in sums {
        if let Some(value) = wholesalers.or(manufacturers) {
            series.entry(cip).or_default().push((date, value));
        }
    }
    Ok(series)
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

    #[test]
    fn demand_series_adds_sites_prefers_wholesalers_and_averages_resent_files() {
        let days = |ds: &[u32]| {
            Int32Chunked::from_iter_values(
                "date_stock".into(),
                ds.iter()
                    .map(|x| crate::declaration::cells::epoch_days(d(*x))),
            )
            .into_date()
            .into_column()
        };
        let history = DataFrame::new(
            6,
            vec![
                StringChunked::from_iter_values("cip13".into(), ["3400949497294"; 6].into_iter())
                    .into_column(),
                days(&[16, 16, 16, 16, 23, 23]),
                StringChunked::from_iter_values(
                    "declarant".into(),
                    ["gr-a", "gr-a", "gr-b", "lab-c", "lab-c", "lab-c"].into_iter(),
                )
                .into_column(),
                StringChunked::from_iter_values(
                    "source_sha256".into(),
                    ["a", "a", "b", "c", "c1", "c2"].into_iter(),
                )
                .into_column(),
                Float64Chunked::from_iter_values(
                    "daily_outflow".into(),
                    [30.0, 15.0, 20.0, 99.0, 40.0, 60.0].into_iter(),
                )
                .into_column(),
            ],
        )
        .unwrap();
        let kinds = HashMap::from([
            ("gr-a".to_owned(), DeclarantType::Grossiste),
            ("gr-b".to_owned(), DeclarantType::Grossiste),
            ("lab-c".to_owned(), DeclarantType::Exploitant),
        ]);
        let series = demand_series(&history, &kinds).unwrap();
        let cip = Cip13::parse("3400949497294").unwrap();
        // 16 Nov: wholesaler A's two depots (30 + 15) and wholesaler B (20); 23 Nov: only the
        // manufacturer, with two files for the day: averaged.
        assert_eq!(series[&cip], [(d(16), 65.0), (d(23), 50.0)]);
    }

    #[test]
    fn a_correction_file_listing_one_site_does_not_halve_the_others() {
        // File "a": Lyon 30 (its Lille line was refused); file "b": the corrected Lille line
        // alone, same date. Demand is Lyon + Lille, not their average over two files.
        let history = DataFrame::new(
            2,
            vec![
                StringChunked::from_iter_values("cip13".into(), ["3400949497294"; 2].into_iter())
                    .into_column(),
                Int32Chunked::from_iter_values(
                    "date_stock".into(),
                    [16, 16]
                        .into_iter()
                        .map(|x| crate::declaration::cells::epoch_days(d(x))),
                )
                .into_date()
                .into_column(),
                StringChunked::from_iter_values("declarant".into(), ["gr-a"; 2].into_iter())
                    .into_column(),
                StringChunked::from_iter_values("site".into(), ["Lyon", "Lille"].into_iter())
                    .into_column(),
                StringChunked::from_iter_values("source_sha256".into(), ["a", "b"].into_iter())
                    .into_column(),
                Float64Chunked::from_iter_values("daily_outflow".into(), [30.0, 20.0].into_iter())
                    .into_column(),
            ],
        )
        .unwrap();
        let kinds = HashMap::from([("gr-a".to_owned(), DeclarantType::Grossiste)]);
        let series = demand_series(&history, &kinds).unwrap();
        let cip = Cip13::parse("3400949497294").unwrap();
        assert_eq!(series[&cip], [(d(16), 50.0)]);
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
