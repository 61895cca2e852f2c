//! A measure's impact: the subject's figures over the days before its start and since, side by
//! side, and for an import or a release of safety stock the units that arrived. An observation,
//! not a causal estimate: the figures say what changed, the analyst judges why.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::history::DayFigures;
use medistock_domain::Level;
use medistock_domain::french::{date, number};
use medistock_domain::measure::Measure;

/// Days before a measure's start compared with the days since.
pub const BEFORE_DAYS: u64 = 28;
/// Days since the start shown at most (the latest ones).
pub const MAX_SINCE_DAYS: u64 = 180;

/// The figures of one window of days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Days with a computation in the window.
    pub days_observed: usize,
    /// Mean estimated demand, units per day.
    pub demand: Option<f64>,
    /// Demand trend: mean of the window's last 7 days computed over its first 7 (8 days at
    /// least).
    pub demand_trend: Option<f64>,
    /// Chain stock on the first day computed.
    pub chain_stock_first: Option<f64>,
    /// Chain stock on the last day computed.
    pub chain_stock_last: Option<f64>,
    /// Days of cover on the last day computed.
    pub coverage_days_last: Option<f64>,
    /// Days to the projected stock-out on the last day computed.
    pub days_to_stockout_last: Option<i64>,
}

/// A level held from a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LevelStep {
    /// First day at this level.
    pub date: NaiveDate,
    /// The level.
    pub level: Level,
}

/// A measure's figures before and since.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    /// The measure's id.
    pub measure: String,
    /// The days before its start.
    pub before: Window,
    /// The days since its start (to its end, or to the computation date).
    pub since: Window,
    /// Change of the mean demand, in percent of the mean before.
    pub demand_change_pct: Option<f64>,
    /// The level path from the first day before to the last day since (changes only).
    pub levels: Vec<LevelStep>,
    /// For an import or a release of stock: units that arrived in the chain since the start,
    /// estimated as the day-to-day rises of the chain stock plus the demand of those days
    /// (declared supplies are not tracked lot by lot).
    pub arrived_estimate: Option<f64>,
}

fn window(days: &[DayFigures], from: NaiveDate, to: NaiveDate) -> Window {
    let inside: Vec<&DayFigures> = days
        .iter()
        .filter(|d| d.date >= from && d.date <= to)
        .collect();
    let demands: Vec<f64> = inside.iter().filter_map(|d| d.demand).collect();
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let demand_trend = (demands.len() >= 8)
        .then(|| {
            let first = mean(&demands[..7])?;
            let last = mean(&demands[demands.len() - 7..])?;
            (first > 0.0).then(|| last / first)
        })
        .flatten();
    Window {
        from,
        to,
        days_observed: inside.len(),
        demand: mean(&demands),
        demand_trend,
        chain_stock_first: inside.first().map(|d| d.chain_stock),
        chain_stock_last: inside.last().map(|d| d.chain_stock),
        coverage_days_last: inside.last().and_then(|d| d.coverage_days),
        days_to_stockout_last: inside.last().and_then(|d| d.days_to_stockout),
    }
}

/// A measure's two windows up to `as_of`: the days before its start, and the days since (to
/// its end or `as_of`, the latest [`MAX_SINCE_DAYS`] of them).
pub fn windows(
    measure: &Measure,
    as_of: NaiveDate,
) -> ((NaiveDate, NaiveDate), (NaiveDate, NaiveDate)) {
    let before_from = measure
        .start
        .checked_sub_days(Days::new(BEFORE_DAYS))
        .unwrap_or(measure.start);
    let before_to = measure.start.pred_opt().unwrap_or(measure.start);
    let since_to = measure.end.map_or(as_of, |e| e.min(as_of));
    let since_from = measure.start.max(
        since_to
            .checked_sub_days(Days::new(MAX_SINCE_DAYS - 1))
            .unwrap_or(measure.start),
    );
    ((before_from, before_to), (since_from, since_to))
}

/// The impact of `measure` on its subject's `days` (oldest first), up to `as_of`.
pub fn impact(measure: &Measure, days: &[DayFigures], as_of: NaiveDate) -> Impact {
    let ((before_from, before_to), (since_from, since_to)) = windows(measure, as_of);
    let before = window(days, before_from, before_to);
    let since = window(days, since_from, since_to);
    let demand_change_pct = match (before.demand, since.demand) {
        (Some(b), Some(s)) if b > 0.0 => Some((s - b) / b * 100.0),
        _ => None,
    };
    let mut levels: Vec<LevelStep> = Vec::new();
    for d in days
        .iter()
        .filter(|d| d.date >= before_from && d.date <= since_to)
    {
        if levels.last().is_none_or(|l| l.level != d.level) {
            levels.push(LevelStep {
                date: d.date,
                level: d.level,
            });
        }
    }
    let arrived_estimate = measure.kind.brings_stock().then(|| {
        days.windows(2)
            .filter(|w| w[1].date >= since_from && w[1].date <= since_to)
            .filter(|w| (w[1].date - w[0].date).num_days() == 1)
            .map(|w| (w[1].chain_stock - w[0].chain_stock + w[1].demand.unwrap_or(0.0)).max(0.0))
            .sum::<f64>()
    });
    Impact {
        measure: measure.id.clone(),
        before,
        since,
        demand_change_pct,
        levels,
        arrived_estimate,
    }
}

fn figure(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "?".to_owned(), |v| number(v, decimals))
}

/// One French line for a message: the measure, then each figure before → since.
pub fn impact_line(measure: &Measure, impact: &Impact) -> String {
    let mut line = format!(
        "{} ({}, du {}{}, par {}) : ",
        measure.id,
        measure.kind.label(),
        date(measure.start),
        measure
            .end
            .map_or_else(String::new, |e| format!(" au {}", date(e))),
        measure.by
    );
    if impact.before.days_observed == 0 && impact.since.days_observed == 0 {
        line.push_str("pas encore de calcul du risque sur ces dates");
        return line;
    }
    let (b, s) = (&impact.before, &impact.since);
    line.push_str(&format!(
        "demande {} → {} unités/jour{}",
        figure(b.demand, 1),
        figure(s.demand, 1),
        impact
            .demand_change_pct
            .map_or_else(String::new, |p| format!(
                " ({}{} %)",
                if p >= 0.0 { "+" } else { "" },
                number(p, 0)
            ))
    ));
    line.push_str(&format!(
        " ; stock de la chaîne {} → {}",
        figure(b.chain_stock_last, 0),
        figure(s.chain_stock_last, 0)
    ));
    line.push_str(&format!(
        " ; couverture {} → {} jours",
        figure(b.coverage_days_last, 1),
        figure(s.coverage_days_last, 1)
    ));
    let days = |d: Option<i64>| d.map_or_else(|| "—".to_owned(), |d| format!("{d} j"));
    line.push_str(&format!(
        " ; rupture prévue dans {} → {}",
        days(b.days_to_stockout_last),
        days(s.days_to_stockout_last)
    ));
    if !impact.levels.is_empty() {
        let path: Vec<String> = impact
            .levels
            .iter()
            .map(|l| format!("{} ({})", l.level.as_str(), l.date.format("%d/%m")))
            .collect();
        line.push_str(&format!(" ; niveaux : {}", path.join(" → ")));
    }
    if let Some(a) = impact.arrived_estimate {
        line.push_str(&format!(" ; arrivé (estimation) : {} unités", number(a, 0)));
    }
    if s.days_observed == 0 {
        line.push_str(" ; pas encore de calcul depuis le début de la mesure");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use medistock_domain::measure::MeasureKind;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn series(from: &str, n: u64, f: impl Fn(u64) -> (f64, f64, Level)) -> Vec<DayFigures> {
        (0..n)
            .map(|i| {
                let (stock, demand, level) = f(i);
                DayFigures {
                    date: day(from) + Days::new(i),
                    level,
                    chain_stock: stock,
                    demand: Some(demand),
                    coverage_days: Some(stock / demand),
                    days_to_stockout: Some((stock / demand) as i64),
                }
            })
            .collect()
    }

    fn measure(kind: MeasureKind, start: &str) -> Measure {
        Measure::new(
            "MES-1".into(),
            "3000001",
            kind,
            day(start),
            None,
            "n",
            "Jeanne",
            Utc::now(),
        )
        .unwrap()
    }

    #[test]
    fn a_quota_shows_demand_before_and_since_and_the_level_path() {
        // 28 days at 100/day falling stock, then a quota: 70/day, stock steadier.
        let days = series("2026-10-01", 42, |i| {
            if i < 28 {
                (
                    5000.0 - 100.0 * i as f64,
                    100.0,
                    if i < 20 {
                        Level::Vigilance
                    } else {
                        Level::Tension
                    },
                )
            } else {
                (2200.0 - 70.0 * (i - 28) as f64, 70.0, Level::Tension)
            }
        });
        let m = measure(MeasureKind::Contingentement, "2026-10-29");
        let i = impact(&m, &days, day("2026-11-11"));
        assert_eq!(i.before.days_observed, 28);
        assert_eq!(i.since.days_observed, 14);
        assert_eq!(i.before.demand, Some(100.0));
        assert_eq!(i.since.demand, Some(70.0));
        assert_eq!(i.demand_change_pct.map(|p| p.round()), Some(-30.0));
        assert_eq!(i.since.chain_stock_last, Some(2200.0 - 70.0 * 13.0));
        assert_eq!(
            i.levels,
            vec![
                LevelStep {
                    date: day("2026-10-01"),
                    level: Level::Vigilance
                },
                LevelStep {
                    date: day("2026-10-21"),
                    level: Level::Tension
                },
            ]
        );
        assert_eq!(i.arrived_estimate, None, "a quota brings no stock");
        let line = impact_line(&m, &i);
        assert!(line.starts_with("MES-1 (contingentement, du 29/10/2026, par Jeanne) : demande 100,0 → 70,0 unités/jour (-30 %)"), "{line}");
        assert!(
            line.contains("niveaux : VIGILANCE (01/10) → TENSION (21/10)"),
            "{line}"
        );
    }

    #[test]
    fn an_import_counts_what_arrived_and_an_empty_history_says_so() {
        // Demand 50/day; 1 000 units arrive on the third day since the start.
        let days = series("2026-11-01", 10, |i| {
            let stock = 1000.0 - 50.0 * i as f64 + if i >= 7 { 1000.0 } else { 0.0 };
            (stock, 50.0, Level::Tension)
        });
        let m = measure(MeasureKind::Importation, "2026-11-05");
        let i = impact(&m, &days, day("2026-11-10"));
        assert_eq!(i.arrived_estimate, Some(1000.0));
        let empty = impact(&m, &[], day("2026-11-10"));
        assert_eq!(empty.since.days_observed, 0);
        assert!(impact_line(&m, &empty).ends_with("pas encore de calcul du risque sur ces dates"));
    }

    #[test]
    fn an_ended_measure_is_measured_to_its_end() {
        let days = series("2026-11-01", 30, |_| (1000.0, 10.0, Level::Normal));
        let mut m = measure(MeasureKind::Communication, "2026-11-10");
        m.end = Some(day("2026-11-15"));
        let i = impact(&m, &days, day("2026-11-30"));
        assert_eq!(
            (i.since.from, i.since.to, i.since.days_observed),
            (day("2026-11-10"), day("2026-11-15"), 6)
        );
    }
}
