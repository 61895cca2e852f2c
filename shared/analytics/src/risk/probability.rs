//! The probability of a stock-out within 14 and 30 days, from the spread of demand and the
//! uncertainty of announced supplies. Analytic, not simulated: cumulative demand over `t` days
//! is taken as normal, with the day-to-day spread of the observations and an uncertainty on
//! the level itself; each announced supply arrives on its date or not at all, independently,
//! with a reliability that drops when the chain shows supplies slipping or a production stop.
//! The chance of running out by `h` is the chance, over the arrival outcomes of the first
//! supplies, that demand exceeds what is available at the worst checkpoint (the eve of each
//! arrival, and `h`): a lower bound of the first-passage probability, close to it when the
//! checkpoints are few. Calibration: `docs/risk-model.md`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use medistock_domain::position::Supply;

/// Horizons, in days.
pub const HORIZONS: [i64; 2] = [14, 30];

/// Chance that an announced supply arrives on its date, when nothing says otherwise.
pub const RELIABILITY: f64 = 0.8;
/// The same, when one slipped or a production stop is suspected.
pub const DOUBTFUL_RELIABILITY: f64 = 0.2;
/// Supplies whose arrival is enumerated (2^4 outcomes); later ones count at their expected
/// quantity.
const ENUMERATED: usize = 4;
/// Relative uncertainty of the demand level itself (the estimate, the trend).
const LEVEL_UNCERTAINTY: f64 = 0.15;
/// Day-to-day relative spread assumed when fewer than 7 observations measure it.
const DEFAULT_SPREAD: f64 = 0.5;

/// The probability of a stock-out within each horizon.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StockoutProbability {
    /// Within 14 days.
    pub within_14_days: f64,
    /// Within 30 days.
    pub within_30_days: f64,
    /// When a calibration map ([`super::calibration`]) gave the two figures above: the model's
    /// own (14 days, 30 days), kept to be shown beside them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_calibration: Option<[f64; 2]>,
}

impl StockoutProbability {
    /// The model's own figures (14 days, 30 days): those kept beside a calibration, or these.
    pub fn model(&self) -> [f64; 2] {
        self.before_calibration
            .unwrap_or([self.within_14_days, self.within_30_days])
    }

    /// In French, as alerts and `status` show it: « 12 % sous 14 jours, 40 % sous 30 jours »,
    /// and when calibrated, what the model alone said.
    pub fn describe(&self) -> String {
        let percent = |p: f64| format!("{:.0} %", p * 100.0);
        let mut text = format!(
            "{} sous 14 jours, {} sous 30 jours",
            percent(self.within_14_days),
            percent(self.within_30_days)
        );
        if let Some([p14, p30]) = self.before_calibration {
            text.push_str(&format!(
                " (calibrée sur l'historique rejoué ; le modèle seul : {}, {})",
                percent(p14),
                percent(p30)
            ));
        }
        text
    }
}

/// The day-to-day relative spread (coefficient of variation) of demand observations, within
/// [0.05, 1.5]; [`DEFAULT_SPREAD`] when fewer than 7.
pub fn spread(observations: &[(NaiveDate, f64)]) -> f64 {
    if observations.len() < 7 {
        return DEFAULT_SPREAD;
    }
    let n = observations.len() as f64;
    let mean = observations.iter().map(|(_, v)| v).sum::<f64>() / n;
    if mean <= 0.0 {
        return DEFAULT_SPREAD;
    }
    let var = observations
        .iter()
        .map(|(_, v)| (v - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    (var.sqrt() / mean).clamp(0.05, 1.5)
}

/// The standard normal distribution function (Abramowitz and Stegun 7.1.26, error < 1.5e-7).
fn phi(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// The probability that demand over `t` days exceeds `available`.
fn exceeds(daily: f64, spread: f64, t: f64, available: f64) -> f64 {
    if t <= 0.0 {
        return if available < 0.0 { 1.0 } else { 0.0 };
    }
    let mean = daily * t;
    let sd = ((spread * daily).powi(2) * t + (LEVEL_UNCERTAINTY * mean).powi(2)).sqrt();
    if sd <= 0.0 {
        return if mean > available { 1.0 } else { 0.0 };
    }
    phi((mean - available) / sd)
}

/// The probability of running out within `horizon` days of `as_of`, with `stock` now, demand
/// `daily` (trend included) of relative spread `spread`, and `supplies` arriving each with
/// probability `reliability`. Days are counted as the projection counts them: day 0 is
/// `as_of`, a supply dated day `k` arrives before that day's demand, and running out on day
/// `k` means `k + 1` days of demand exceeded what had arrived by then.
pub fn within(
    stock: f64,
    daily: f64,
    spread: f64,
    as_of: NaiveDate,
    supplies: &[Supply],
    reliability: f64,
    horizon: i64,
) -> f64 {
    if daily <= 0.0 {
        return 0.0;
    }
    // Supplies grouped by day (a reference can have one line per depot): at most `horizon`
    // days, the largest enumerated.
    let mut by_day: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    for s in supplies {
        let k = (s.date - as_of).num_days();
        if (1..=horizon).contains(&k) {
            *by_day.entry(k).or_default() += s.quantity as f64;
        }
    }
    let mut days: Vec<(i64, f64)> = by_day.into_iter().collect();
    days.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (enumerated, rest) = days.split_at(days.len().min(ENUMERATED));
    let mut checkpoints: Vec<i64> = days.iter().map(|(k, _)| k - 1).collect();
    checkpoints.push(horizon);
    checkpoints.sort_unstable();
    checkpoints.dedup();
    let mut total = 0.0;
    for outcome in 0u32..(1 << enumerated.len()) {
        let mut weight = 1.0;
        let mut arrived: Vec<(i64, f64)> =
            rest.iter().map(|(k, q)| (*k, q * reliability)).collect();
        for (i, (k, q)) in enumerated.iter().enumerate() {
            if outcome & (1 << i) != 0 {
                weight *= reliability;
                arrived.push((*k, *q));
            } else {
                weight *= 1.0 - reliability;
            }
        }
        arrived.sort_unstable_by_key(|(k, _)| *k);
        // The worst checkpoint: the eve of each arrival, and the horizon; running totals.
        let (mut worst, mut received, mut next) = (0.0_f64, 0.0, 0);
        for k in &checkpoints {
            while next < arrived.len() && arrived[next].0 <= *k {
                received += arrived[next].1;
                next += 1;
            }
            worst = worst.max(exceeds(daily, spread, (*k + 1) as f64, stock + received));
        }
        total += weight * worst;
    }
    total.clamp(0.0, 1.0)
}

/// Both horizons at once.
pub fn stockout_probability(
    stock: f64,
    daily: f64,
    spread: f64,
    as_of: NaiveDate,
    supplies: &[Supply],
    reliability: f64,
) -> StockoutProbability {
    let p = |h| within(stock, daily, spread, as_of, supplies, reliability, h);
    StockoutProbability {
        within_14_days: p(HORIZONS[0]),
        within_30_days: p(HORIZONS[1]),
        before_calibration: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    #[test]
    fn a_probability_says_in_french_whether_it_was_calibrated() {
        let mut p = StockoutProbability {
            within_14_days: 0.124,
            within_30_days: 0.996,
            before_calibration: None,
        };
        assert_eq!(p.describe(), "12 % sous 14 jours, 100 % sous 30 jours");
        p.before_calibration = Some([0.5, 0.981]);
        assert_eq!(
            p.describe(),
            "12 % sous 14 jours, 100 % sous 30 jours (calibrée sur l'historique rejoué ; \
             le modèle seul : 50 %, 98 %)"
        );
    }

    #[test]
    fn the_normal_distribution_function_is_accurate() {
        for (x, expected) in [
            (0.0, 0.5),
            (1.0, 0.841_344_7),
            (-1.96, 0.024_997_9),
            (3.0, 0.998_650_1),
        ] {
            assert!((phi(x) - expected).abs() < 1e-6, "{x}");
        }
    }

    #[test]
    fn the_probability_follows_the_cover_and_the_supplies() {
        // 100 a day, spread 0.3.
        let p = |stock: f64, supplies: &[Supply], r: f64, h: i64| {
            within(stock, 100.0, 0.3, d(1), supplies, r, h)
        };
        // 10 days of stock: a stock-out within 14 days is near certain, within 30 too.
        assert!(p(1000.0, &[], 0.8, 14) > 0.95);
        // 60 days: near impossible within 14 days, unlikely within 30.
        assert!(p(6000.0, &[], 0.8, 14) < 0.01);
        assert!(p(6000.0, &[], 0.8, 30) < 0.05);
        // 20 days of stock run out within 30 days.
        assert!(p(2000.0, &[], 0.8, 30) > 0.9);
        // A batch of 5 000 due on day 10 with 12 days of stock: the stock-out depends on it.
        let batch = [Supply {
            date: d(11),
            quantity: 5000,
        }];
        let reliable = p(1200.0, &batch, 0.8, 30);
        let doubtful = p(1200.0, &batch, 0.2, 30);
        assert!(reliable < doubtful, "{reliable} {doubtful}");
        assert!((0.15..0.35).contains(&reliable), "{reliable}");
        assert!(doubtful > 0.75, "{doubtful}");
        // Monotone in the horizon.
        assert!(p(2500.0, &batch, 0.8, 14) <= p(2500.0, &batch, 0.8, 30));
        // No demand: no stock-out.
        assert_eq!(within(0.0, 0.0, 0.3, d(1), &[], 0.8, 14), 0.0);
    }

    #[test]
    fn supplies_are_grouped_by_day_and_the_largest_enumerated() {
        let p = |stock: f64, supplies: &[Supply], r: f64| {
            within(stock, 100.0, 0.3, d(1), supplies, r, 30)
        };
        let supply = |day: u32, quantity: i64| Supply {
            date: d(day),
            quantity,
        };
        // One batch of 3 000 on day 10, or the same batch as two depots' lines of that day:
        // the same probability (two lines are not two independent arrivals).
        let one = p(1200.0, &[supply(11, 3000)], 0.6);
        let split = p(1200.0, &[supply(11, 1000), supply(11, 2000)], 0.6);
        assert!((one - split).abs() < 1e-12, "{one} {split}");
        // Six supplies: the four largest are enumerated, the others counted at their expected
        // quantity. A small supply added beyond the four changes the result a little, in the
        // right direction, and never past what counting it as certain would give.
        let four = [
            supply(6, 800),
            supply(11, 900),
            supply(16, 1000),
            supply(21, 1100),
        ];
        let base = p(800.0, &four, 0.6);
        let mut five = four.to_vec();
        five.push(supply(26, 100));
        let more = p(800.0, &five, 0.6);
        let certain = p(800.0, &five, 1.0);
        assert!(more <= base && more >= certain, "{base} {more} {certain}");
        assert!(base - more < 0.05, "{base} {more}");
        // 14.5 days of stock: running out within 14 days is about even. A certain batch dated
        // the horizon's last day arrives before that day's demand: what remains is the risk of
        // running out the day before, that of a 13-day horizon.
        let none = within(1450.0, 100.0, 0.3, d(1), &[], 1.0, 14);
        let last = within(1450.0, 100.0, 0.3, d(1), &[supply(15, 5000)], 1.0, 14);
        let eve = within(1450.0, 100.0, 0.3, d(1), &[], 1.0, 13);
        assert!((0.2..0.8).contains(&none), "{none}");
        assert!(
            last < none && (last - eve).abs() < 1e-9,
            "{last} {none} {eve}"
        );
    }

    #[test]
    fn the_spread_is_measured_then_bounded() {
        let flat: Vec<(NaiveDate, f64)> = (1..=10).map(|i| (d(i), 100.0)).collect();
        assert_eq!(spread(&flat), 0.05);
        assert_eq!(spread(&flat[..3]), DEFAULT_SPREAD);
        let wild: Vec<(NaiveDate, f64)> = (1..=10)
            .map(|i| (d(i), if i % 2 == 0 { 0.0 } else { 1000.0 }))
            .collect();
        assert!((1.0..1.1).contains(&spread(&wild)), "{}", spread(&wild));
    }
}
