//! The model's scoreboard: replaying the days, how early and how reliably it warned.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use medistock_analytics::risk::calibration::ObservedProbabilities;
use medistock_analytics::risk::config::ModelOptions;
use medistock_analytics::risk::probability::StockoutProbability;
use medistock_analytics::risk::{Assessment, QualityFlag};
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
    /// Share of stock-outs warned 30 days ahead.
    pub recall_at_30d: f64,
    /// Median days between the warning and the stock-out, over warned stock-outs.
    pub median_lead_time_days: Option<f64>,
    /// Escalations to TENSION or worse with no stock-out within 60 days, per 20 reference-months.
    pub false_alerts_per_20_reference_months: f64,
    /// Share of escalations to TENSION or worse followed by a stock-out within 60 days
    /// (`None` without escalation).
    pub escalation_precision: Option<f64>,
    /// References at TENSION or worse on the first day replayed: a go-live flood shows here.
    pub escalations_on_day_1: usize,
    /// Announced transitions per reference-month.
    pub alerts_per_reference_month: f64,
    /// Share of the reference-days replayed at TENSION or worse: what ANSM is asked to watch.
    /// A model that held its alerts longer would show fewer false alerts and more of these.
    #[serde(default)]
    pub tension_day_share: f64,
    /// Reliability of the probability of a stock-out within 14 days: per tenth of predicted
    /// probability, the assessments and the share followed by a stock-out within 14 days.
    #[serde(default)]
    pub calibration_14d: Vec<CalibrationRow>,
    /// The same within 30 days.
    #[serde(default)]
    pub calibration_30d: Vec<CalibrationRow>,
    /// Reference-days whose probability was withheld (the manufacturers' stock unknown),
    /// within 14 and 30 days: how many, and the share followed by a stock-out. They are not
    /// in the tables above.
    #[serde(default)]
    pub calibration_withheld: Vec<WithheldRow>,
    /// The Brier score of the probability, within 14 and 30 days: of the model's figures and of
    /// those shown (calibrated, when a map was used), over the reference-days of the tables.
    #[serde(default)]
    pub brier: Vec<BrierRow>,
    /// The model's own probabilities (before any calibration map) against what followed, by
    /// hundredth: what `medistock calibration learn` learns a map from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_probabilities: Option<ObservedProbabilities>,
    /// What the replay's ingest made of the files: a file rejected whole, or lines refused,
    /// leave their declarations out of every figure above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<FileCounts>,
}

/// The files a replay ingested, by verdict, and the lines refused in those applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FileCounts {
    /// Applied (accepted, with or without refused lines).
    pub applied: usize,
    /// Rejected whole.
    pub rejected: usize,
    /// The same bytes as a file already applied.
    pub duplicates: usize,
    /// Ignored as the ingest ignores them (a temporary upload's name, a hidden file).
    #[serde(default)]
    pub ignored: usize,
    /// Lines refused in the files applied.
    pub lines_rejected: usize,
}

/// The reference-days of one horizon that carried no probability.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct WithheldRow {
    /// Horizon, days.
    pub horizon_days: u64,
    /// Reference-days without a probability.
    pub assessments: u64,
    /// Share followed by a true stock-out within the horizon.
    pub observed: f64,
}

/// One bin of a reliability table.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CalibrationRow {
    /// Lower bound of the predicted probabilities (included).
    pub from: f64,
    /// Upper bound (excluded, 1.0 included in the last bin).
    pub to: f64,
    /// Reference-days assessed in the bin.
    pub assessments: u64,
    /// Mean predicted probability in the bin.
    pub mean_predicted: f64,
    /// Share followed by a true stock-out within the horizon.
    pub observed: f64,
}

/// The Brier score of a horizon: the mean squared gap between the probability and what
/// happened (1 followed by a stock-out, 0 not); 0 is perfect.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct BrierRow {
    /// 14 or 30.
    pub horizon_days: u64,
    /// Reference-days scored (those of the reliability table).
    pub assessments: u64,
    /// Those followed by a stock-out within the horizon: climatology's rate (every day given
    /// it) scores `rate × (1 − rate)`.
    pub stockouts: u64,
    /// Of the model's figures.
    pub model: f64,
    /// Of the figures shown: the model's, or the calibrated ones when a map was used.
    pub shown: f64,
}

impl BrierRow {
    /// What climatology scores over the same days.
    pub fn climatology(&self) -> f64 {
        let rate = self.stockouts as f64 / self.assessments.max(1) as f64;
        rate * (1.0 - rate)
    }
}

/// Predicted probabilities of a stock-out against what happened, reference-day by
/// reference-day, binned by tenth (counts only: a national replay assesses millions).
#[derive(Debug, Clone)]
pub struct Calibration {
    truth: StockoutPeriods,
    /// Last day the truth covers: later outcomes are unknown and not counted.
    until: NaiveDate,
    /// Per horizon (14, 30), per bin: (count, sum of predictions, stock-outs).
    bins: [[(u64, f64, u64); 10]; 2],
    /// Per horizon: reference-days whose probability was withheld, and their stock-outs.
    withheld: [(u64, u64); 2],
    /// The model's own probabilities, by hundredth (what a calibration map is learnt from).
    raw: ObservedProbabilities,
    /// Per horizon: squared gaps summed, of the model's figures and of those shown.
    squared_gaps: [[f64; 2]; 2],
}

impl Calibration {
    /// Against `truth`'s periods of stock-out days, known until `until`.
    pub fn new(truth: StockoutPeriods, until: NaiveDate) -> Self {
        Self {
            truth,
            until,
            bins: [[(0, 0.0, 0); 10]; 2],
            withheld: [(0, 0); 2],
            raw: ObservedProbabilities::default(),
            squared_gaps: [[0.0; 2]; 2],
        }
    }

    /// One assessment of `cip13` on `day` with its probabilities within 14 and 30 days: it
    /// came true when a period of stock-out starts after `day` and within the horizon. A
    /// reference out of stock that day (within a period), or whose horizon ends after the
    /// truth does, is not counted. The table bins the probabilities shown (calibrated, when a
    /// map was used); the model's own are counted apart ([`Self::raw`]).
    pub fn record(&mut self, cip13: Cip13, day: NaiveDate, p: &StockoutProbability) {
        self.count(cip13, day, Some(p));
    }

    /// One assessment whose probability was withheld: counted apart, with its outcome, so
    /// that the table cannot look better for the days it leaves out without saying so.
    pub fn record_withheld(&mut self, cip13: Cip13, day: NaiveDate) {
        self.count(cip13, day, None);
    }

    fn count(&mut self, cip13: Cip13, day: NaiveDate, predicted: Option<&StockoutProbability>) {
        let periods = self.truth.get(&cip13).map_or(&[][..], Vec::as_slice);
        if out_of_stock(periods, day) {
            return;
        }
        for (h, horizon) in [14u64, 30].into_iter().enumerate() {
            let Some(end) = day.checked_add_days(chrono::Days::new(horizon)) else {
                continue;
            };
            if end > self.until {
                continue;
            }
            let happened = periods
                .iter()
                .any(|(start, _)| day < *start && *start <= end);
            let Some(predicted) = predicted else {
                self.withheld[h].0 += 1;
                self.withheld[h].1 += u64::from(happened);
                continue;
            };
            let shown = [predicted.within_14_days, predicted.within_30_days];
            let model = predicted.model();
            self.raw.record(h, model[h], happened);
            let outcome = f64::from(u8::from(happened));
            self.squared_gaps[h][0] += (model[h] - outcome).powi(2);
            self.squared_gaps[h][1] += (shown[h] - outcome).powi(2);
            let p = shown[h];
            let bin = ((p * 10.0).floor() as usize).min(9);
            let cell = &mut self.bins[h][bin];
            cell.0 += 1;
            cell.1 += p;
            cell.2 += u64::from(happened);
        }
    }

    /// The model's own probabilities against what followed, by hundredth.
    pub fn raw(&self) -> &ObservedProbabilities {
        &self.raw
    }

    /// The same, with the signature of the model `options` make, as a replay's JSON gives
    /// them to a calibration.
    pub fn observed(&self, options: &ModelOptions) -> ObservedProbabilities {
        ObservedProbabilities {
            model: Some(options.signature()),
            ..self.raw.clone()
        }
    }

    /// The Brier scores of both horizons (those with reference-days).
    pub fn brier_rows(&self) -> Vec<BrierRow> {
        [14u64, 30]
            .into_iter()
            .enumerate()
            .filter_map(|(h, horizon_days)| {
                let (n, hits) = self.bins[h]
                    .iter()
                    .fold((0, 0), |(n, hits), cell| (n + cell.0, hits + cell.2));
                (n > 0).then(|| BrierRow {
                    horizon_days,
                    assessments: n,
                    stockouts: hits,
                    model: self.squared_gaps[h][0] / n as f64,
                    shown: self.squared_gaps[h][1] / n as f64,
                })
            })
            .collect()
    }

    /// The reference-days without a probability, per horizon (those with any).
    pub fn withheld_rows(&self) -> Vec<WithheldRow> {
        [14u64, 30]
            .into_iter()
            .zip(self.withheld)
            .filter(|(_, (n, _))| *n > 0)
            .map(|(horizon_days, (n, hits))| WithheldRow {
                horizon_days,
                assessments: n,
                observed: hits as f64 / n as f64,
            })
            .collect()
    }

    /// The reliability table of a horizon (0: 14 days, 1: 30 days), bins with assessments.
    pub fn rows(&self, horizon: usize) -> Vec<CalibrationRow> {
        self.bins[horizon.min(1)]
            .iter()
            .enumerate()
            .filter(|(_, (n, _, _))| *n > 0)
            .map(|(i, (n, sum, hits))| CalibrationRow {
                from: i as f64 / 10.0,
                to: (i + 1) as f64 / 10.0,
                assessments: *n,
                mean_predicted: sum / *n as f64,
                observed: *hits as f64 / *n as f64,
            })
            .collect()
    }
}

/// Why one reference scored as it did: a row of `medistock backtest --details`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferenceScore {
    /// The reference.
    pub cip13: Cip13,
    /// Its true stock-out in the period, if any.
    pub stockout: Option<NaiveDate>,
    /// The start of the warning held until the stock-out (TENSION or worse), if any.
    pub first_warning: Option<NaiveDate>,
    /// Days between that warning and the stock-out.
    pub lead_days: Option<i64>,
    /// Each change of level with its day, the first day included.
    pub level_path: Vec<(NaiveDate, Level)>,
    /// Days of escalations to TENSION or worse with no stock-out within 60 days.
    pub false_escalations: Vec<NaiveDate>,
    /// Escalations to TENSION or worse, false ones included.
    pub escalations: usize,
    /// Announced transitions.
    pub announced: usize,
    /// Days replayed.
    pub days: usize,
    /// Days at TENSION or worse.
    pub tension_days: usize,
}

/// Days after an escalation within which a stock-out makes it a true alert.
const TRUE_ALERT_WINDOW_DAYS: i64 = 60;

/// Each reference's periods of stock-out days (first and last day), in date order. A truth
/// that knows only the first stock-out day of each reference holds one single-day period.
pub type StockoutPeriods = BTreeMap<Cip13, Vec<(NaiveDate, NaiveDate)>>;

/// Whether going from `previous` to `level` is an escalation the scoreboard counts: up, to
/// TENSION or worse (TENSION to CRITIQUE is one). The first day of a replay is measured from
/// NORMAL.
pub fn is_escalation(previous: Level, level: Level) -> bool {
    level > previous && level >= Level::Tension
}

/// Scores one reference's daily levels against its periods of stock-out days: the first that
/// starts within the days replayed is the stock-out that recall and lead measure (one already
/// running on the first day was not there to be foreseen, one after the last day is not in the
/// replay); an escalation is true when a period starts within the 60 days that follow it (a
/// reference running out again is no false alert), and one made while the reference is out of
/// stock, its first day included, counts neither way.
pub fn score_reference(
    cip13: Cip13,
    days: &[(NaiveDate, Level)],
    periods: &[(NaiveDate, NaiveDate)],
) -> ReferenceScore {
    let in_period = days
        .first()
        .zip(days.last())
        .and_then(|((first, _), (last, _))| {
            periods
                .iter()
                .map(|(start, _)| *start)
                .filter(|start| start >= first && start <= last)
                .min()
        });
    // The warning: the start of the last unbroken run of TENSION-or-worse days up to s, out of
    // any earlier period (a RUPTURE while out of stock before is no warning of this one).
    let first_warning = in_period.and_then(|s| {
        let mut warned_since = None;
        for (d, level) in days.iter().filter(|(d, _)| *d <= s) {
            if *level >= Level::Tension && (*d == s || !out_of_stock(periods, *d)) {
                warned_since.get_or_insert(*d);
            } else {
                warned_since = None;
            }
        }
        warned_since
    });
    let mut level_path = Vec::new();
    let mut false_escalations = Vec::new();
    let (mut escalations, mut announced) = (0, 0);
    let mut previous = Level::Normal;
    for (i, (d, level)) in days.iter().enumerate() {
        if i == 0 || *level != previous {
            level_path.push((*d, *level));
        }
        if medistock_analytics::risk::alert::is_announced(previous, *level) {
            announced += 1;
        }
        // An escalation while the reference is out of stock (from the first day of a period
        // to its last) is neither true nor false: it foresees nothing, and it is no false
        // alarm. The others are true when a period starts within the 60 days that follow.
        if is_escalation(previous, *level) && !out_of_stock(periods, *d) {
            escalations += 1;
            let true_alert = periods
                .iter()
                .any(|(start, _)| start > d && (*start - *d).num_days() <= TRUE_ALERT_WINDOW_DAYS);
            if !true_alert {
                false_escalations.push(*d);
            }
        }
        previous = *level;
    }
    ReferenceScore {
        cip13,
        stockout: in_period,
        first_warning,
        lead_days: in_period
            .zip(first_warning)
            .map(|(s, w)| (s - w).num_days()),
        level_path,
        false_escalations,
        escalations,
        announced,
        days: days.len(),
        tension_days: days.iter().filter(|(_, l)| *l >= Level::Tension).count(),
    }
}

/// Scores every reference, by reference.
pub fn score_references(
    levels: &BTreeMap<Cip13, Vec<(NaiveDate, Level)>>,
    truth: &StockoutPeriods,
) -> Vec<ReferenceScore> {
    levels
        .iter()
        .map(|(cip, days)| {
            score_reference(*cip, days, truth.get(cip).map_or(&[][..], Vec::as_slice))
        })
        .collect()
}

/// Scores daily levels against the first stock-out day of each reference.
pub fn score(
    levels: &BTreeMap<Cip13, Vec<(NaiveDate, Level)>>,
    truth: &BTreeMap<Cip13, NaiveDate>,
) -> Scoreboard {
    scoreboard(&score_references(levels, &single_days(truth)))
}

/// For the reliability table, a truth that knows only each reference's first stock-out day:
/// what follows that day is unknown (the reference may still be out of stock), so its days are
/// not counted, as those within a period are not: each reference's first period runs on.
pub fn unknown_after_first(truth: &StockoutPeriods) -> StockoutPeriods {
    truth
        .iter()
        .filter_map(|(cip, periods)| Some((*cip, vec![(periods.first()?.0, NaiveDate::MAX)])))
        .collect()
}

/// Whether `day` is within one of the periods (its first and last day included).
fn out_of_stock(periods: &[(NaiveDate, NaiveDate)], day: NaiveDate) -> bool {
    periods
        .iter()
        .any(|(start, end)| *start <= day && day <= *end)
}

/// First stock-out days as single-day periods.
pub fn single_days(truth: &BTreeMap<Cip13, NaiveDate>) -> StockoutPeriods {
    truth
        .iter()
        .map(|(cip, d)| (*cip, vec![(*d, *d)]))
        .collect()
}

/// The scoreboard of per-reference scores.
pub fn scoreboard(scores: &[ReferenceScore]) -> Scoreboard {
    let stockouts = scores.iter().filter(|s| s.stockout.is_some()).count();
    let mut leads: Vec<f64> = scores
        .iter()
        .filter_map(|s| s.lead_days.map(|l| l as f64))
        .collect();
    leads.sort_by(f64::total_cmp);
    let median = match leads.len() {
        0 => None,
        n if n % 2 == 1 => Some(leads[n / 2]),
        n => Some((leads[n / 2 - 1] + leads[n / 2]) / 2.0),
    };
    let reference_months = scores.iter().map(|s| s.days).sum::<usize>() as f64 / 30.0;
    let per = |count: usize, unit: f64| {
        if reference_months > 0.0 {
            count as f64 / reference_months * unit
        } else {
            0.0
        }
    };
    let recall = |days: f64| {
        if stockouts > 0 {
            leads.iter().filter(|l| **l >= days).count() as f64 / stockouts as f64
        } else {
            0.0
        }
    };
    let escalations: usize = scores.iter().map(|s| s.escalations).sum();
    let false_alerts: usize = scores.iter().map(|s| s.false_escalations.len()).sum();
    Scoreboard {
        references: scores.len(),
        stockouts,
        recall_at_14d: recall(14.0),
        recall_at_30d: recall(30.0),
        median_lead_time_days: median,
        false_alerts_per_20_reference_months: per(false_alerts, 20.0),
        escalation_precision: (escalations > 0)
            .then(|| (escalations - false_alerts) as f64 / escalations as f64),
        escalations_on_day_1: scores
            .iter()
            .filter(|s| {
                s.level_path
                    .first()
                    .is_some_and(|(_, l)| *l >= Level::Tension)
            })
            .count(),
        alerts_per_reference_month: per(scores.iter().map(|s| s.announced).sum(), 1.0),
        tension_day_share: {
            let days: usize = scores.iter().map(|s| s.days).sum();
            if days > 0 {
                scores.iter().map(|s| s.tension_days).sum::<usize>() as f64 / days as f64
            } else {
                0.0
            }
        },
        calibration_14d: Vec::new(),
        calibration_30d: Vec::new(),
        calibration_withheld: Vec::new(),
        brier: Vec::new(),
        raw_probabilities: None,
        files: None,
    }
}

/// Why each escalation to TENSION or worse was made, per reference in date order: the day and
/// [`escalation_reason`].
pub type EscalationReasons = BTreeMap<Cip13, Vec<(NaiveDate, String)>>;

/// What an assessment escalated on, for a person reading a replay: its level, the days to the
/// projected stock-out (or the chain's days of cover under a day), then the signals it carried
/// (`appro_repousse`, `arret_soupconne`, `lot_deduit`, `rupture_locale`, `demande_censuree`,
/// `exploitants_inconnus`, `position_ancienne`), and what it lacked: `sans_exploitant` (no
/// manufacturer's stock declared), `sans_appro_annonce` (no supply announced).
pub fn escalation_reason(a: &Assessment) -> String {
    let mut out = a.level.as_str().to_owned();
    match (a.days_to_stockout, a.coverage_days) {
        (_, Some(c)) if c < 1.0 => out.push_str(" couverture < 1 j"),
        (Some(days), _) => out.push_str(&format!(" {days} j")),
        _ => {}
    }
    let mut codes: Vec<&str> = Vec::new();
    for flag in &a.flags {
        let code = match flag {
            QualityFlag::SupplySlipped { .. } => "appro_repousse",
            QualityFlag::ProductionStopSuspected { .. } => "arret_soupconne",
            QualityFlag::InferredBatch { .. } => "lot_deduit",
            QualityFlag::LocalShortage { .. } => "rupture_locale",
            QualityFlag::CensoredDemand { .. } => "demande_censuree",
            QualityFlag::MissingManufacturers => "exploitants_inconnus",
            QualityFlag::StalePosition { .. } => "position_ancienne",
            QualityFlag::NoDemand | QualityFlag::NoPosition => continue,
        };
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    if a.stock_detail.exploitants.newest.is_none() {
        codes.push("sans_exploitant");
    }
    if a.supplies.is_empty() && a.first_announced_supply.is_none() {
        codes.push("sans_appro_annonce");
    }
    if !codes.is_empty() {
        out.push(' ');
        out.push_str(&codes.join("+"));
    }
    out
}

/// The per-reference scores as CSV (`;`, French dates), one row per reference, for a person to
/// see why: the true stock-out, the warning and its lead, the path of levels, the false
/// escalations with their dates, and what each escalation was made on (`reasons`, separated
/// by ` | `).
pub fn details_csv(scores: &[ReferenceScore], reasons: &EscalationReasons) -> String {
    use medistock_domain::french::date;
    let mut out = String::from(
        "cip13;date_rupture;debut_alerte;avance_jours;parcours_niveaux;fausses_alertes;raisons_escalades\n",
    );
    for s in scores {
        let why: Vec<String> = reasons
            .get(&s.cip13)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|(d, reason)| format!("{} {reason}", date(*d)))
            .collect();
        let path: Vec<String> = s
            .level_path
            .iter()
            .map(|(d, l)| format!("{} {}", date(*d), l.as_str()))
            .collect();
        let false_escalations: Vec<String> = s.false_escalations.iter().map(|d| date(*d)).collect();
        out.push_str(&format!(
            "{};{};{};{};{};{};{}\n",
            s.cip13,
            s.stockout.map(date).unwrap_or_default(),
            s.first_warning.map(date).unwrap_or_default(),
            s.lead_days.map(|l| l.to_string()).unwrap_or_default(),
            path.join(" > "),
            false_escalations.join(" "),
            why.join(" | "),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    fn assessment(level: Level, days: Option<i64>, coverage: f64) -> Assessment {
        Assessment {
            cip13: Cip13::parse("3400949497294").unwrap(),
            as_of: d(20),
            level,
            chain_stock: coverage * 100.0,
            held_stock: 0,
            stock_by_type: Default::default(),
            stock_detail: Default::default(),
            stockout_without_supplies: None,
            first_announced_supply: None,
            probability: None,
            demand: Some(100.0),
            trend: 1.0,
            coverage_days: Some(coverage),
            stockout_date: None,
            days_to_stockout: days,
            supplies: Vec::new(),
            below_safety_stock: Vec::new(),
            flags: Vec::new(),
            supply_record: Default::default(),
            supply_record_used: false,
            figures_level: None,
        }
    }

    #[test]
    fn an_escalation_says_its_days_its_signals_and_what_it_lacked() {
        let mut a = assessment(Level::Tension, Some(22), 22.5);
        assert_eq!(
            escalation_reason(&a),
            "TENSION 22 j sans_exploitant+sans_appro_annonce"
        );
        a.stock_detail.exploitants.newest = Some(d(18));
        a.first_announced_supply = Some(medistock_domain::position::Supply {
            date: d(30),
            quantity: 500,
        });
        a.flags = vec![
            QualityFlag::SupplySlipped { due: d(15) },
            QualityFlag::SupplySlipped { due: d(16) },
            QualityFlag::NoDemand,
            QualityFlag::CensoredDemand { days: 3 },
        ];
        assert_eq!(
            escalation_reason(&a),
            "TENSION 22 j appro_repousse+demande_censuree",
            "each code once, in the order of the flags; no demand says nothing"
        );
        // An inferred batch is a supply counted: not « sans_appro_annonce ».
        let mut inferred = assessment(Level::Critique, Some(5), 5.0);
        inferred.stock_detail.exploitants.newest = Some(d(18));
        inferred.supplies = vec![medistock_domain::position::Supply {
            date: d(29),
            quantity: 900,
        }];
        inferred.flags = vec![QualityFlag::InferredBatch {
            date: d(29),
            quantity: 900,
        }];
        assert_eq!(escalation_reason(&inferred), "CRITIQUE 5 j lot_deduit");
        // Under a day of cover: the cover, not the days to the stock-out.
        let mut dry = assessment(Level::Rupture, Some(0), 0.4);
        dry.stock_detail.exploitants.newest = Some(d(18));
        dry.first_announced_supply = inferred.supplies.first().cloned();
        assert_eq!(escalation_reason(&dry), "RUPTURE couverture < 1 j");
        assert!(is_escalation(Level::Tension, Level::Critique));
        assert!(is_escalation(Level::Normal, Level::Tension));
        assert!(!is_escalation(Level::Critique, Level::Tension));
        assert!(!is_escalation(Level::Normal, Level::Vigilance));
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
        assert_eq!(s.recall_at_30d, 0.0, "19 days is not 30");
        assert_eq!(s.escalation_precision, Some(1.0));
        assert_eq!(s.escalations_on_day_1, 0);
        let reasons = BTreeMap::from([(cip, vec![(d(5), "TENSION 19 j appro_repousse".into())])]);
        let details = details_csv(&score_references(&levels, &single_days(&truth)), &reasons);
        assert_eq!(
            details.lines().nth(1),
            Some(
                "3400949497294;24/11/2026;05/11/2026;19;01/11/2026 NORMAL > 05/11/2026 TENSION > 25/11/2026 NORMAL;;05/11/2026 TENSION 19 j appro_repousse"
            )
        );
        assert_eq!(s.false_alerts_per_20_reference_months, 0.0);
        // One escalation and one return to normal in one reference-month.
        assert_eq!(s.alerts_per_reference_month, 2.0);
        assert_eq!(s.tension_day_share, 20.0 / 30.0, "20 days of 30 at TENSION");
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
        let levels = BTreeMap::from([(cip, days)]);
        let s = score(&levels, &BTreeMap::new());
        assert_eq!(
            (s.stockouts, s.recall_at_14d, s.median_lead_time_days),
            (0, 0.0, None)
        );
        assert_eq!(s.false_alerts_per_20_reference_months, 20.0);
        assert_eq!(s.escalation_precision, Some(0.0));
        let details = details_csv(
            &score_references(&levels, &StockoutPeriods::new()),
            &EscalationReasons::new(),
        );
        assert!(
            details.lines().nth(1).unwrap().ends_with(";10/11/2026;"),
            "{details}"
        );
    }

    /// An escalation while the reference is out of stock again, or within 60 days of a later
    /// period, is no false alert; one with no period ahead is. Recall counts the first period.
    #[test]
    fn later_periods_of_stock_out_make_escalations_true() {
        let cip = Cip13::parse("3400949497294").unwrap();
        let day = |n: u64| d(1).checked_add_days(chrono::Days::new(n)).unwrap();
        // TENSION on days 5–9 (stock-out on day 9), then on days 100–104 and 200–204.
        let days: Vec<(NaiveDate, Level)> = (0..260)
            .map(|n| {
                let warned =
                    (5..10).contains(&n) || (100..105).contains(&n) || (200..205).contains(&n);
                (
                    day(n),
                    if warned {
                        Level::Tension
                    } else {
                        Level::Normal
                    },
                )
            })
            .collect();
        let levels = BTreeMap::from([(cip, days)]);
        let first_only = score_references(&levels, &single_days(&BTreeMap::from([(cip, day(9))])));
        assert_eq!(first_only[0].false_escalations, [day(100), day(200)]);
        // A second period from day 90 to day 120: the escalation of day 100 is inside it,
        // neither true nor false; so is one on the day a period starts (it foresees nothing).
        let periods = StockoutPeriods::from([(cip, vec![(day(9), day(12)), (day(90), day(120))])]);
        let scored = score_references(&levels, &periods);
        assert_eq!(scored[0].false_escalations, [day(200)]);
        assert_eq!(
            scored[0].escalations, 2,
            "the one during the period is not counted"
        );
        let on_start =
            StockoutPeriods::from([(cip, vec![(day(9), day(12)), (day(100), day(120))])]);
        let scored = score_references(&levels, &on_start);
        assert_eq!(
            (scored[0].escalations, scored[0].false_escalations.len()),
            (2, 1)
        );
        assert_eq!(scored[0].stockout, Some(day(9)));
        assert_eq!(scored[0].lead_days, Some(4));
        // A period starting 60 days after an escalation makes it true, 61 days does not.
        for start in [260u64, 261] {
            let p =
                StockoutPeriods::from([(cip, vec![(day(9), day(9)), (day(start), day(start))])]);
            let s = score_references(&levels, &p);
            let expected: Vec<NaiveDate> = if start - 200 <= 60 {
                vec![day(100)]
            } else {
                vec![day(100), day(200)]
            };
            assert_eq!(s[0].false_escalations, expected, "period from day {start}");
        }
    }

    /// A period already running, or over, before the first day replayed was not there to be
    /// foreseen: the stock-out measured is the first one that starts in the replay.
    #[test]
    fn the_stock_out_measured_is_the_first_in_the_replay() {
        let cip = Cip13::parse("3400949497294").unwrap();
        let days: Vec<(NaiveDate, Level)> = (10..=30)
            .map(|x| {
                (
                    d(x),
                    if x >= 15 {
                        Level::Tension
                    } else {
                        Level::Normal
                    },
                )
            })
            .collect();
        let levels = BTreeMap::from([(cip, days)]);
        let periods = StockoutPeriods::from([(cip, vec![(d(1), d(3)), (d(25), d(27))])]);
        let scored = score_references(&levels, &periods);
        assert_eq!(scored[0].stockout, Some(d(25)));
        assert_eq!(scored[0].lead_days, Some(10));
        assert_eq!(scoreboard(&scored).stockouts, 1);
        // One running on the first day: the next one is measured.
        let running = StockoutPeriods::from([(cip, vec![(d(5), d(12)), (d(25), d(27))])]);
        assert_eq!(score_references(&levels, &running)[0].stockout, Some(d(25)));
        // None in the replay (before its first day, after its last): none to measure.
        let december = d(30).succ_opt().unwrap();
        let outside = StockoutPeriods::from([(cip, vec![(d(1), d(3)), (december, december)])]);
        assert_eq!(score_references(&levels, &outside)[0].stockout, None);
        // A RUPTURE while out of stock at the start is no warning of the next stock-out: the
        // warning starts after that period ends.
        let held: Vec<(NaiveDate, Level)> = (10..=30).map(|x| (d(x), Level::Rupture)).collect();
        let levels = BTreeMap::from([(cip, held)]);
        let scored = score_references(&levels, &running);
        assert_eq!(scored[0].first_warning, Some(d(13)));
        assert_eq!(scored[0].lead_days, Some(12));
    }

    /// The reliability table counts a day as a hit when a period starts within the horizon
    /// after it, skips the days within a period, and days whose horizon the truth does not cover.
    #[test]
    fn calibration_counts_every_period_and_skips_days_out_of_stock() {
        let cip = Cip13::parse("3400949497294").unwrap();
        let day = |n: u64| d(1).checked_add_days(chrono::Days::new(n)).unwrap();
        let periods = StockoutPeriods::from([(cip, vec![(day(0), day(4)), (day(40), day(45))])]);
        let mut calibration = Calibration::new(periods, day(100));
        calibration.record(cip, day(2), &P95); // out of stock: skipped
        calibration.record(cip, day(20), &P95); // 14 d: no; 30 d: the second period
        calibration.record(cip, day(30), &P95); // both horizons: the second period
        calibration.record(cip, day(80), &P95); // 30 d ends after the truth: 14 d only
        let [r14, r30] = [calibration.rows(0), calibration.rows(1)];
        assert_eq!((r14.len(), r30.len()), (1, 1));
        assert_eq!((r14[0].assessments, r14[0].observed), (3, 1.0 / 3.0));
        assert_eq!((r30[0].assessments, r30[0].observed), (2, 1.0));
        // A truth of first days only: the days after it are unknown, not counted.
        let first = single_days(&BTreeMap::from([(cip, day(40))]));
        let mut calibration = Calibration::new(unknown_after_first(&first), day(100));
        calibration.record(cip, day(30), &P95);
        calibration.record(cip, day(60), &P95);
        assert_eq!(calibration.rows(0)[0].assessments, 1);
        assert_eq!(calibration.rows(1)[0].observed, 1.0);
    }

    const P95: StockoutProbability = StockoutProbability {
        within_14_days: 0.95,
        within_30_days: 0.95,
        before_calibration: None,
    };

    /// The table bins what was shown; what a map is learnt from is the model's own figure.
    #[test]
    fn a_calibrated_probability_is_tabled_as_shown_and_learnt_from_as_the_model_said() {
        let cip = Cip13::parse("3400949497294").unwrap();
        let day = |n: u64| d(1).checked_add_days(chrono::Days::new(n)).unwrap();
        let periods = StockoutPeriods::from([(cip, vec![(day(40), day(45))])]);
        let mut calibration = Calibration::new(periods, day(100));
        let calibrated = StockoutProbability {
            within_14_days: 0.31,
            within_30_days: 0.52,
            before_calibration: Some([0.98, 0.995]),
        };
        calibration.record(cip, day(30), &calibrated); // both horizons: a stock-out follows
        calibration.record(cip, day(50), &P95); // nothing follows
        assert_eq!(
            calibration
                .rows(0)
                .iter()
                .map(|r| (r.from, r.assessments))
                .collect::<Vec<_>>(),
            [(0.3, 1), (0.9, 1)]
        );
        let raw = calibration.raw();
        assert_eq!(
            raw.within_14_days
                .iter()
                .map(|b| (b.bin, b.assessments, b.stockouts))
                .collect::<Vec<_>>(),
            [(95, 1, 0), (98, 1, 1)]
        );
        assert_eq!(
            raw.within_30_days
                .iter()
                .map(|b| (b.bin, b.assessments, b.stockouts))
                .collect::<Vec<_>>(),
            [(95, 1, 0), (99, 1, 1)]
        );
        // Brier: the model's 98 % and 95 %, shown 31 % and 95 %, against 1 and 0.
        let brier = calibration.brier_rows();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert_eq!(brier.len(), 2);
        assert_eq!(
            (
                brier[0].horizon_days,
                brier[0].assessments,
                brier[0].stockouts
            ),
            (14, 2, 1)
        );
        assert!(close(
            brier[0].model,
            (0.02f64.powi(2) + 0.95f64.powi(2)) / 2.0
        ));
        assert!(close(
            brier[0].shown,
            (0.69f64.powi(2) + 0.95f64.powi(2)) / 2.0
        ));
        assert!(close(brier[0].climatology(), 0.25));
        assert!(close(
            brier[1].model,
            (0.005f64.powi(2) + 0.95f64.powi(2)) / 2.0
        ));
        assert!(close(
            brier[1].shown,
            (0.48f64.powi(2) + 0.95f64.powi(2)) / 2.0
        ));
    }

    #[test]
    fn days_without_a_probability_are_counted_apart_with_their_outcome() {
        let cip = Cip13::parse("3400949497294").unwrap();
        let day = |n: u64| d(1).checked_add_days(chrono::Days::new(n)).unwrap();
        let periods = StockoutPeriods::from([(cip, vec![(day(40), day(45))])]);
        let mut calibration = Calibration::new(periods, day(100));
        calibration.record(cip, day(20), &P95);
        calibration.record_withheld(cip, day(30)); // both horizons: a stock-out follows
        calibration.record_withheld(cip, day(42)); // out of stock: skipped
        calibration.record_withheld(cip, day(50)); // nothing follows
        assert_eq!(calibration.rows(0)[0].assessments, 1, "not in the table");
        assert_eq!(calibration.rows(1)[0].assessments, 1);
        assert_eq!(
            calibration.withheld_rows(),
            [
                WithheldRow {
                    horizon_days: 14,
                    assessments: 2,
                    observed: 0.5
                },
                WithheldRow {
                    horizon_days: 30,
                    assessments: 2,
                    observed: 0.5
                },
            ]
        );
    }

    #[test]
    fn a_reference_already_in_tension_on_the_first_day_is_counted() {
        let cip = Cip13::parse("3400949497294").unwrap();
        let days: Vec<(NaiveDate, Level)> = (1..=3).map(|x| (d(x), Level::Tension)).collect();
        let s = score(&BTreeMap::from([(cip, days)]), &BTreeMap::new());
        assert_eq!(s.escalations_on_day_1, 1);
    }
}
