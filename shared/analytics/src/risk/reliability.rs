//! What a manufacturer's announced supplies became, learnt from its own declarations: each
//! date it announced is a promise, kept when the batch showed in its stock by its first
//! declaration a week or more after that date; a promise pushed back (announced again for later once
//! due) may still come soon after. The record is shown with the assessment (announced is not
//! received: it says how often it was); its shares, drawn towards the model's defaults while a
//! manufacturer has few promises behind it, can stand for the chance that an announced supply
//! arrives in the probability of a stock-out ([`super::probability`], `+reliability`: off by
//! default, as it did not make the probability better calibrated, docs/risk-model.md).

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::demand::{LOOKBACK_DAYS, StockHistory};
use super::probability::{DOUBTFUL_RELIABILITY, RELIABILITY};

/// Promises a manufacturer's record counts for as much as the default: with 5 promises behind
/// it, its own share and the default weigh the same.
pub const PRIOR_PROMISES: f64 = 5.0;
/// Days after the date announced by which a batch that shows keeps the promise (judged at the
/// first declaration on or after them).
pub const KEPT_WITHIN_DAYS: u64 = 7;
/// Days after a date missed within which a pushed-back batch counts as come soon (judged the
/// same way).
pub const PUSHED_WITHIN_DAYS: u64 = 14;
/// A judging declaration later than a week after the days above judges nothing: a
/// manufacturer that skipped weeks cannot tell whether the batch came in time.
const JUDGED_WITHIN_DAYS: u64 = 7;
/// A manufacturer's promises over the look-back, and what came of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SupplyRecord {
    /// Dates announced that a declaration [`KEPT_WITHIN_DAYS`] after them has reached:
    /// promises that can be judged.
    pub promised: u32,
    /// Among them, those whose batch showed by that declaration.
    pub kept: u32,
    /// Dates announced, then pushed back (a declaration on or after them announced a later
    /// one), that a declaration [`PUSHED_WITHIN_DAYS`] after them has reached.
    pub pushed: u32,
    /// Among them, those whose batch showed within those days.
    pub pushed_came: u32,
}

impl SupplyRecord {
    /// The promises of one reference's look-back, as of `as_of` (only declarations made by
    /// then count). The history must be one manufacturer's: the caller checks.
    pub fn of(history: &StockHistory, as_of: NaiveDate) -> Self {
        // The first declaration on or after `days` after `due`, if one was made by `as_of` and
        // within [`JUDGED_WITHIN_DAYS`] more: the one that judges the promise.
        let judging = |due: NaiveDate, days: u64| {
            let day = due.checked_add_days(Days::new(days))?;
            let latest = day
                .checked_add_days(Days::new(JUDGED_WITHIN_DAYS))?
                .min(as_of);
            history
                .manufacturers
                .iter()
                .map(|(d, _)| *d)
                .find(|d| *d >= day)
                .filter(|d| *d <= latest)
        };
        let mut record = Self::default();
        let mut judged: Vec<NaiveDate> = Vec::new();
        for (i, (announced_on, quantity, due)) in history.announced.iter().enumerate() {
            let Some(due) = *due else { continue };
            if *quantity <= 0.0 || due < *announced_on || judged.contains(&due) {
                continue;
            }
            // Manufacturers declare weekly: a batch a few days late is a promise kept.
            let Some(first_after) = judging(due, KEPT_WITHIN_DAYS) else {
                continue;
            };
            judged.push(due);
            record.promised += 1;
            if history.batch_between(*announced_on, first_after, *quantity) {
                record.kept += 1;
                continue;
            }
            let Some(soon) = judging(due, PUSHED_WITHIN_DAYS) else {
                continue;
            };
            if history.pushed_back(i, due, soon) {
                record.pushed += 1;
                if history.batch_between(*announced_on, soon, *quantity) {
                    record.pushed_came += 1;
                }
            }
        }
        record
    }

    /// This record and another's (one manufacturer's references together).
    pub fn add(&mut self, other: &Self) {
        self.promised = self.promised.saturating_add(other.promised);
        self.kept = self.kept.saturating_add(other.kept);
        self.pushed = self.pushed.saturating_add(other.pushed);
        self.pushed_came = self.pushed_came.saturating_add(other.pushed_came);
    }

    /// What the record says, in French, for the alert and `medistock status` (`None` when no
    /// date could be judged). `used`: whether the probability took it (`+reliability`).
    pub fn describe(&self, used: bool) -> Option<String> {
        if self.promised == 0 {
            return None;
        }
        let mut text = format!(
            "dates d'approvisionnement annoncées par l'exploitant sur {} semaines, toutes \
             références qu'il déclare seul : {} sur {} tenues (lot reçu au plus tard à la \
             première déclaration une semaine après la date)",
            LOOKBACK_DAYS / 7,
            self.kept,
            self.promised,
        );
        if self.pushed > 0 {
            text.push_str(&format!(
                " ; après un report, {} sur {} reçus dans les {PUSHED_WITHIN_DAYS} jours \
                 suivant la date manquée",
                self.pushed_came, self.pushed
            ));
        }
        if !used {
            text.push_str(" (indicatif : la probabilité n'en tient pas compte)");
        }
        Some(text)
    }

    /// The chance that an announced supply arrives on its date: the share of promises kept,
    /// drawn towards [`RELIABILITY`] by [`PRIOR_PROMISES`].
    pub fn on_time(&self) -> f64 {
        shrunk(self.kept, self.promised, RELIABILITY)
    }

    /// The chance that a supply arrives once one was pushed back or a stop is suspected: the
    /// share of pushed-back promises whose batch came within [`PUSHED_WITHIN_DAYS`], drawn
    /// towards [`DOUBTFUL_RELIABILITY`] by [`PRIOR_PROMISES`].
    pub fn after_push(&self) -> f64 {
        shrunk(self.pushed_came, self.pushed, DOUBTFUL_RELIABILITY)
    }
}

/// `hits` of `n` drawn towards `prior` as if [`PRIOR_PROMISES`] observations had it, within
/// [0.05, 0.95]: no record makes an arrival certain or impossible.
fn shrunk(hits: u32, n: u32, prior: f64) -> f64 {
    let n = f64::from(n);
    ((f64::from(hits) + prior * PRIOR_PROMISES) / (n + PRIOR_PROMISES)).clamp(0.05, 0.95)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 10, 1)
            .unwrap()
            .checked_add_days(Days::new(u64::from(day)))
            .unwrap()
    }

    /// Weekly declarations of a stock, from day 0.
    fn weekly(stocks: &[f64]) -> Vec<(NaiveDate, f64)> {
        stocks
            .iter()
            .enumerate()
            .map(|(w, s)| (d(7 * w as u32), *s))
            .collect()
    }

    #[test]
    fn a_batch_that_shows_by_the_next_declaration_keeps_its_promise() {
        // 1,000 units announced for day 10; the declaration of day 14 shows them, that of day
        // 21 (the first a week after day 10) judges the promise.
        let history = StockHistory {
            manufacturers: weekly(&[500.0, 300.0, 1_100.0, 900.0]),
            announced: vec![(d(0), 1_000.0, Some(d(10))), (d(7), 1_000.0, Some(d(10)))],
            ..StockHistory::default()
        };
        let record = SupplyRecord::of(&history, d(21));
        assert_eq!(
            record,
            SupplyRecord {
                promised: 1,
                kept: 1,
                pushed: 0,
                pushed_came: 0
            }
        );
        // Not judged before a declaration a week after its date.
        assert_eq!(SupplyRecord::of(&history, d(20)), SupplyRecord::default());
    }

    #[test]
    fn a_pushed_back_promise_is_broken_and_its_batch_may_still_come_soon() {
        // Announced for day 10, announced again on day 14 for day 21: broken (the declaration
        // of day 21, a week after day 10, shows nothing). The batch shows on day 28, within 14
        // days of day 10 as the first declaration after them sees it, and keeps day 21's promise.
        let history = StockHistory {
            manufacturers: weekly(&[500.0, 300.0, 100.0, 50.0, 1_000.0, 900.0]),
            announced: vec![(d(0), 1_000.0, Some(d(10))), (d(14), 1_000.0, Some(d(21)))],
            ..StockHistory::default()
        };
        let record = SupplyRecord::of(&history, d(35));
        assert_eq!(
            (
                record.promised,
                record.kept,
                record.pushed,
                record.pushed_came
            ),
            (2, 1, 1, 1),
            "day 10 broken then come; day 21 kept: {record:?}"
        );
        // The same history without the batch: nothing came.
        let dry = StockHistory {
            manufacturers: weekly(&[500.0, 300.0, 100.0, 50.0, 0.0, 0.0]),
            ..history.clone()
        };
        let record = SupplyRecord::of(&dry, d(35));
        assert_eq!(
            (
                record.promised,
                record.kept,
                record.pushed,
                record.pushed_came
            ),
            (2, 0, 1, 0)
        );
        // A promise is judged once a declaration a week after it exists, a pushed-back one
        // once a declaration 14 days after it exists.
        let early = SupplyRecord::of(&dry, d(23));
        assert_eq!(
            (early.promised, early.pushed, early.pushed_came),
            (1, 0, 0),
            "{early:?}"
        );
    }

    #[test]
    fn a_short_record_leans_on_the_defaults_and_none_is_certain() {
        assert_eq!(SupplyRecord::default().on_time(), RELIABILITY);
        assert_eq!(SupplyRecord::default().after_push(), DOUBTFUL_RELIABILITY);
        let kept_all = SupplyRecord {
            promised: 5,
            kept: 5,
            ..SupplyRecord::default()
        };
        assert!((kept_all.on_time() - 0.9).abs() < 1e-9, "(5 + 4) / 10");
        let broke_many = SupplyRecord {
            promised: 1_000,
            kept: 0,
            pushed: 1_000,
            pushed_came: 1_000,
        };
        assert_eq!(broke_many.on_time(), 0.05);
        assert_eq!(broke_many.after_push(), 0.95);
        let mut total = kept_all;
        total.add(&broke_many);
        assert_eq!(
            (total.promised, total.kept, total.pushed),
            (1_005, 5, 1_000)
        );
        let full = SupplyRecord {
            promised: u32::MAX,
            ..SupplyRecord::default()
        };
        total.add(&full);
        assert_eq!(total.promised, u32::MAX, "counts saturate");
    }

    #[test]
    fn the_record_is_told_with_its_counts_and_whether_it_counted() {
        assert_eq!(SupplyRecord::default().describe(false), None);
        let record = SupplyRecord {
            promised: 9,
            kept: 7,
            pushed: 2,
            pushed_came: 1,
        };
        assert_eq!(
            record.describe(true).as_deref(),
            Some(
                "dates d'approvisionnement annoncées par l'exploitant sur 8 semaines, toutes \
                 références qu'il déclare seul : 7 sur 9 tenues (lot reçu au plus tard à la \
                 première déclaration une semaine après la date) ; après un report, 1 sur 2 \
                 reçus dans les 14 jours suivant la date manquée"
            )
        );
        let all_kept = SupplyRecord {
            promised: 3,
            kept: 3,
            ..SupplyRecord::default()
        };
        let text = all_kept.describe(false).unwrap();
        assert!(!text.contains("après un report"), "no « 0 sur 0 »: {text}");
        assert!(text.ends_with("(indicatif : la probabilité n'en tient pas compte)"));
    }

    #[test]
    fn a_promise_is_judged_by_a_declaration_a_week_after_its_date_not_much_later() {
        let history = |declared: &[u32]| StockHistory {
            manufacturers: declared.iter().map(|day| (d(*day), 100.0)).collect(),
            announced: vec![(d(0), 1_000.0, Some(d(10)))],
            ..StockHistory::default()
        };
        let judged = |declared: &[u32]| SupplyRecord::of(&history(declared), d(60)).promised;
        assert_eq!(judged(&[0, 16]), 0, "six days after its date: not yet");
        assert_eq!(judged(&[0, 17]), 1, "a week after");
        assert_eq!(judged(&[0, 24]), 1, "a week after the week");
        assert_eq!(judged(&[0, 25]), 0, "a declaration too late judges nothing");
        // A push-back declared after the days that judge it does not count.
        let late_push = StockHistory {
            manufacturers: [0, 7, 14, 21, 28, 35, 42]
                .iter()
                .map(|day| (d(*day), 100.0))
                .collect(),
            announced: vec![(d(0), 1_000.0, Some(d(10))), (d(35), 1_000.0, Some(d(49)))],
            ..StockHistory::default()
        };
        let record = SupplyRecord::of(&late_push, d(42));
        assert_eq!((record.promised, record.pushed), (1, 0), "{record:?}");
    }
}
