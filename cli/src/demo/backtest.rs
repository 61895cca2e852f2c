//! The model's scoreboard: replaying the days, how early and how reliably it warned.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use medistock_domain::Cip13;
use medistock_domain::Level;

/// Scores of a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scoreboard {
    /// References replayed.
    pub references: usize,
    /// True stock-outs in the period.
    pub stockouts: usize,
    /// Share of stock-outs warned (TENSION or worse, held until the stock-out) 14 days ahead.
    pub recall_at_14d: f64,
    /// Median days between the warning and the stock-out, over warned stock-outs.
    pub median_lead_time_days: Option<f64>,
    /// Escalations to TENSION or worse with no stock-out within 60 days, per 20 reference-months.
    pub false_alerts_per_20_reference_months: f64,
    /// Announced transitions per reference-month.
    pub alerts_per_reference_month: f64,
}

/// Scores daily levels against the true stock-out days.
pub fn score(
    levels: &BTreeMap<Cip13, Vec<(NaiveDate, Level)>>,
    truth: &BTreeMap<Cip13, NaiveDate>,
) -> Scoreboard {
    let mut leads = Vec::new();
    let mut stockouts = 0;
    let mut false_alerts = 0;
    let mut alerts = 0;
    let mut reference_days = 0usize;
    for (cip, days) in levels {
        reference_days += days.len();
        let stockout = truth.get(cip).copied();
        if let Some(s) = stockout.filter(|s| days.first().is_some_and(|(d, _)| d <= s)) {
            stockouts += 1;
            // The warning: the start of the last unbroken run of TENSION-or-worse days up to s.
            let mut warned_since = None;
            for (d, level) in days.iter().filter(|(d, _)| *d <= s) {
                if *level >= Level::Tension {
                    warned_since.get_or_insert(*d);
                } else {
                    warned_since = None;
                }
            }
            if let Some(w) = warned_since {
                leads.push((s - w).num_days() as f64);
            }
        }
        let mut previous = Level::Normal;
        for (d, level) in days {
            let escalation = *level > previous && *level >= Level::Tension;
            if medistock_analytics::risk::alert::is_announced(previous, *level) {
                alerts += 1;
            }
            if escalation && !stockout.is_some_and(|s| s >= *d && (s - *d).num_days() <= 60) {
                false_alerts += 1;
            }
            previous = *level;
        }
    }
    let reference_months = reference_days as f64 / 30.0;
    leads.sort_by(f64::total_cmp);
    let median = match leads.len() {
        0 => None,
        n if n % 2 == 1 => Some(leads[n / 2]),
        n => Some((leads[n / 2 - 1] + leads[n / 2]) / 2.0),
    };
    let per = |count: usize, unit: f64| {
        if reference_months > 0.0 {
            count as f64 / reference_months * unit
        } else {
            0.0
        }
    };
    Scoreboard {
        references: levels.len(),
        stockouts,
        recall_at_14d: if stockouts > 0 {
            leads.iter().filter(|l| **l >= 14.0).count() as f64 / stockouts as f64
        } else {
            0.0
        },
        median_lead_time_days: median,
        false_alerts_per_20_reference_months: per(false_alerts, 20.0),
        alerts_per_reference_month: per(alerts, 1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    #[test]
    fn a_warning_held_until_the_stock_out_counts_with_its_lead() {
        let cip = Cip13::parse("3400949497294").unwrap();
        let mut days: Vec<(NaiveDate, Level)> = (1..=30).map(|x| (d(x), Level::Normal)).collect();
        for item in days.iter_mut().skip(4).take(20) {
            item.1 = Level::Tension; // 5 to 24 Nov
        }
        let levels = BTreeMap::from([(cip, days)]);
        let truth = BTreeMap::from([(cip, d(24))]);
        let s = score(&levels, &truth);
        assert_eq!(
            (s.stockouts, s.recall_at_14d, s.median_lead_time_days),
            (1, 1.0, Some(19.0))
        );
        assert_eq!(s.false_alerts_per_20_reference_months, 0.0);
        // One escalation and one return to normal in one reference-month.
        assert_eq!(s.alerts_per_reference_month, 2.0);
    }

    #[test]
    fn an_escalation_without_stock_out_is_a_false_alert() {
        let cip = Cip13::parse("3400949497294").unwrap();
        let days: Vec<(NaiveDate, Level)> = (1..=30)
            .map(|x| {
                (
                    d(x),
                    if x == 10 {
                        Level::Critique
                    } else {
                        Level::Normal
                    },
                )
            })
            .collect();
        let s = score(&BTreeMap::from([(cip, days)]), &BTreeMap::new());
        assert_eq!(
            (s.stockouts, s.recall_at_14d, s.median_lead_time_days),
            (0, 0.0, None)
        );
        assert_eq!(s.false_alerts_per_20_reference_months, 20.0);
    }
}
