//! A calibration of the probability of a stock-out, learnt from a replayed history.
//!
//! The model's probability ([`super::probability`]) comes from its own assumptions (the spread
//! of demand, a chance of arrival for each announced supply); replayed against what happened it
//! can be far off, e.g. saying 98 % where one reference-day in two saw a stock-out
//! (`docs/risk-model.md`). A calibration map turns the model's figure into the share of
//! stock-outs that followed such figures in a replayed history: [`ObservedProbabilities`]
//! counts, by hundredth of the model's probability, the reference-days and the stock-outs that
//! followed (`medistock backtest` writes them in its JSON), and [`CalibrationMap::learn`]
//! fits a non-decreasing map to them (isotonic regression by pooling adjacent violators, blocks
//! of fewer than [`MIN_BLOCK`] reference-days merged with a neighbour). Applied to an assessment,
//! the map keeps the model's figures beside the calibrated ones.
//!
//! A map is only as good as the history it was learnt from: learnt on one simulator it says
//! little of another (measured in `docs/risk-model.md`); a deployment learns it from its own
//! replayed archives and known stock-outs (`medistock calibration learn`). A map belongs to the
//! model it was learnt with: it records the model's signature (version and options), and one
//! learnt with another is refused where it would be applied.

use serde::{Deserialize, Serialize};

use super::Assessment;
use super::config::ModelOptions;
use super::probability::StockoutProbability;
use crate::catalogue::store::{FolderObject, read_folder_object};
use medistock_domain::store::{ObjectStore, StoreError};

/// Where a deployment's map is kept in the lake, beside the catalogue (the functions that read
/// the catalogue may read it).
pub const CALIBRATION_FILE: &str = medistock_domain::lake::CALIBRATION;
/// Bins of the model's probability counted: one per hundredth.
pub const BINS: usize = 100;
/// Fewest reference-days behind one step of a map.
pub const MIN_BLOCK: u64 = 100;
/// Fewest reference-days of a horizon to learn from.
pub const MIN_LEARNT_DAYS: u64 = 1_000;
/// Fewest reference-days followed by a stock-out, per horizon, to learn from (one stock-out
/// period gives up to 14 or 30 of them: the days before it).
pub const MIN_LEARNT_STOCKOUTS: u64 = 20;
/// Most reference-days one bin may count (a national replay of a year holds about 6 million).
pub const MAX_BIN_DAYS: u64 = 1_000_000_000_000;
/// Longest description of what a map was learnt from, in characters.
pub const MAX_LABEL_CHARS: usize = 200;
/// Largest map read from the lake (a map holds at most two horizons of [`BINS`] steps: a few
/// kilobytes).
pub const MAX_CALIBRATION_BYTES: u64 = 1_000_000;

/// Why a map cannot be learnt, read or written.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// Too few reference-days or stock-outs to learn from.
    #[error(
        "trop peu d'observations pour apprendre la calibration sous {horizon} jours : \
         {days} jours-références dont {stockouts} suivis d'une rupture, il en faut au moins \
         {MIN_LEARNT_DAYS} dont {MIN_LEARNT_STOCKOUTS}"
    )]
    TooFew {
        /// The horizon, in days.
        horizon: i64,
        /// Reference-days counted.
        days: u64,
        /// Those followed by a stock-out.
        stockouts: u64,
    },
    /// Counted observations that cannot be (a bin out of range, more stock-outs than days…).
    #[error("observations incohérentes sous {horizon} jours, classe {bin} : {reason}")]
    Observations {
        /// The horizon, in days.
        horizon: i64,
        /// The bin.
        bin: usize,
        /// What is wrong, in French.
        reason: &'static str,
    },
    /// A stored map that breaks its rules.
    #[error("calibration invalide : {0}")]
    Invalid(String),
    /// The stored map is larger than any map.
    #[error("{CALIBRATION_FILE} : {0} octets, au-delà de {MAX_CALIBRATION_BYTES}")]
    TooLarge(u64),
    /// The stored map does not decode, or a map does not encode.
    #[error("{CALIBRATION_FILE} : JSON invalide")]
    Stored(#[source] serde_json::Error),
    /// Replays of another model than the others, or of a model not named.
    #[error(
        "rejeux de modèles différents : « {first} » puis « {other} » (une calibration \
         s'apprend sur des rejeux d'un même modèle)"
    )]
    Models {
        /// The model of the replays added first.
        first: String,
        /// The model of this one.
        other: String,
    },
    /// A replay that does not say which model gave its figures.
    #[error(
        "rejeu sans le modèle qui a donné ses probabilités (fait par une version antérieure \
         de Medistock ?) : rejouez-le avec la version actuelle"
    )]
    UnknownModel,
    /// A map learnt with another model than the one it would calibrate.
    #[error(
        "calibration apprise avec le modèle « {learnt} », le calcul utilise « {running} » \
         (version du modèle, puis options --without) : rejouez avec les mêmes options \
         (--without, ModelWithout du déploiement) ou apprenez-la de nouveau sur des rejeux de \
         ce modèle"
    )]
    OtherModel {
        /// The model the map was learnt with.
        learnt: String,
        /// The model that would use it.
        running: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One bin of observations: reference-days whose model probability fell in
/// `[bin / 100, (bin + 1) / 100)` (1.0 in the last), and the stock-outs that followed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedBin {
    /// The bin, 0 to 99.
    pub bin: usize,
    /// Reference-days.
    pub assessments: u64,
    /// Sum of their model probabilities.
    pub predicted_sum: f64,
    /// Those followed by a stock-out within the horizon.
    pub stockouts: u64,
}

/// The model's probabilities against what followed, by hundredth, for both horizons: what a map
/// is learnt from. Bins without reference-days are left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedProbabilities {
    /// The model that gave the probabilities ([`ModelOptions::signature`]): a map learns from
    /// one model's figures only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Within 14 days.
    pub within_14_days: Vec<ObservedBin>,
    /// Within 30 days.
    pub within_30_days: Vec<ObservedBin>,
}

impl ObservedProbabilities {
    /// Counts one reference-day of horizon `horizon` (0: 14 days, 1: 30 days) whose model
    /// probability was `p`, followed by a stock-out or not.
    pub fn record(&mut self, horizon: usize, p: f64, happened: bool) {
        let p = if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let bin = ((p * BINS as f64).floor() as usize).min(BINS - 1);
        let bins = self.horizon_mut(horizon);
        let at = match bins.binary_search_by_key(&bin, |b| b.bin) {
            Ok(at) => at,
            Err(at) => {
                bins.insert(
                    at,
                    ObservedBin {
                        bin,
                        ..ObservedBin::default()
                    },
                );
                at
            }
        };
        let cell = &mut bins[at];
        cell.assessments += 1;
        cell.predicted_sum += p;
        cell.stockouts += u64::from(happened);
    }

    /// Adds `other`'s counts (several replays learnt together), refusing counts no replay can
    /// give.
    pub fn add(&mut self, other: &ObservedProbabilities) -> Result<(), CalibrationError> {
        let Some(model) = &other.model else {
            return Err(CalibrationError::UnknownModel);
        };
        if model.chars().count() > MAX_LABEL_CHARS || model.chars().any(char::is_control) {
            return Err(CalibrationError::Invalid("modèle illisible".into()));
        }
        let empty = self.within_14_days.is_empty() && self.within_30_days.is_empty();
        match &self.model {
            Some(first) if first != model => {
                return Err(CalibrationError::Models {
                    first: first.clone(),
                    other: model.clone(),
                });
            }
            None if !empty => return Err(CalibrationError::UnknownModel),
            _ => {}
        }
        for horizon in 0..2 {
            for b in other.horizon(horizon) {
                check_bin(horizon, b)?;
            }
        }
        self.model = Some(model.clone());
        for horizon in 0..2 {
            for b in other.horizon(horizon) {
                let bins = self.horizon_mut(horizon);
                match bins.binary_search_by_key(&b.bin, |x| x.bin) {
                    Ok(at) => {
                        let cell = &mut bins[at];
                        cell.assessments = cell.assessments.saturating_add(b.assessments);
                        cell.predicted_sum += b.predicted_sum;
                        cell.stockouts = cell.stockouts.saturating_add(b.stockouts);
                    }
                    Err(at) => bins.insert(at, *b),
                }
            }
        }
        Ok(())
    }

    fn horizon(&self, horizon: usize) -> &[ObservedBin] {
        if horizon == 0 {
            &self.within_14_days
        } else {
            &self.within_30_days
        }
    }

    fn horizon_mut(&mut self, horizon: usize) -> &mut Vec<ObservedBin> {
        if horizon == 0 {
            &mut self.within_14_days
        } else {
            &mut self.within_30_days
        }
    }
}

fn check_bin(horizon: usize, b: &ObservedBin) -> Result<(), CalibrationError> {
    let fail = |reason| {
        Err(CalibrationError::Observations {
            horizon: super::probability::HORIZONS[horizon],
            bin: b.bin,
            reason,
        })
    };
    if b.bin >= BINS {
        return fail("classe au-delà de 99");
    }
    let (from, to) = (b.bin as f64 / BINS as f64, (b.bin + 1) as f64 / BINS as f64);
    let n = b.assessments as f64;
    if b.assessments > MAX_BIN_DAYS {
        fail("plus de jours-références qu'aucun rejeu n'en compte")
    } else if b.stockouts > b.assessments {
        fail("plus de ruptures que de jours-références")
    } else if !b.predicted_sum.is_finite()
        || b.predicted_sum < from * n - 1e-6 * n.max(1.0)
        || b.predicted_sum > to * n + 1e-6 * n.max(1.0)
    {
        fail("somme des probabilités hors de la classe")
    } else {
        Ok(())
    }
}

/// One step of a map: the model's mean probability over a block of reference-days, and the
/// share of them followed by a stock-out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Knot {
    /// The model's mean probability over the block.
    pub predicted: f64,
    /// The share followed by a stock-out: what the map gives there.
    pub observed: f64,
    /// Reference-days in the block.
    pub assessments: u64,
}

/// A non-decreasing map from the model's probability to the share of stock-outs that followed
/// it in a replayed history, one per horizon, linear between its knots and flat beyond.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationMap {
    /// What it was learnt from, as the operator described it (shown by `medistock calibration
    /// show`).
    pub learnt_from: String,
    /// The model whose figures it maps ([`ModelOptions::signature`]); empty in a map of a
    /// version that did not record it, which is refused.
    #[serde(default)]
    pub model: String,
    /// Within 14 days.
    pub within_14_days: Vec<Knot>,
    /// Within 30 days.
    pub within_30_days: Vec<Knot>,
}

impl CalibrationMap {
    /// Learns a map from `observed`, described by `learnt_from` (cut to
    /// [`MAX_LABEL_CHARS`]).
    pub fn learn(
        observed: &ObservedProbabilities,
        learnt_from: &str,
    ) -> Result<CalibrationMap, CalibrationError> {
        // Sorted by bin, each bin once, each checked: whatever order the counts came in.
        let mut sorted = ObservedProbabilities::default();
        sorted.add(observed)?;
        let learn = |horizon: usize| {
            let bins = sorted.horizon(horizon);
            for b in bins {
                check_bin(horizon, b)?;
            }
            let days: u64 = bins.iter().map(|b| b.assessments).sum();
            let stockouts: u64 = bins.iter().map(|b| b.stockouts).sum();
            if days < MIN_LEARNT_DAYS || stockouts < MIN_LEARNT_STOCKOUTS {
                return Err(CalibrationError::TooFew {
                    horizon: super::probability::HORIZONS[horizon],
                    days,
                    stockouts,
                });
            }
            Ok(isotonic(bins))
        };
        let model = sorted.model.clone().ok_or(CalibrationError::UnknownModel)?;
        Ok(CalibrationMap {
            model,
            learnt_from: learnt_from
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(MAX_LABEL_CHARS)
                .collect(),
            within_14_days: learn(0)?,
            within_30_days: learn(1)?,
        })
    }

    /// Whether this map was learnt with the model `options` make: a map of another model (other
    /// options, another [`super::config::MODEL_VERSION`]) would map figures it never saw.
    pub fn fits(&self, options: &ModelOptions) -> Result<(), CalibrationError> {
        let running = options.signature();
        if self.model == running {
            Ok(())
        } else {
            Err(CalibrationError::OtherModel {
                learnt: self.model.clone(),
                running,
            })
        }
    }

    /// The calibrated probability for the model's `p`: the model's figures kept beside
    /// (`before_calibration`). A stock-out within 14 days is one within 30 days: the 30-day
    /// figure is never below the 14-day one.
    pub fn calibrate(&self, p: StockoutProbability) -> StockoutProbability {
        let model = p.model();
        let within_14_days = apply(&self.within_14_days, model[0]);
        StockoutProbability {
            within_14_days,
            within_30_days: apply(&self.within_30_days, model[1]).max(within_14_days),
            before_calibration: Some(model),
        }
    }

    /// A map as stored (JSON), checked: what the risk run and the replays' `--calibration`
    /// read.
    pub fn from_json(bytes: &[u8]) -> Result<CalibrationMap, CalibrationError> {
        let map: CalibrationMap =
            serde_json::from_slice(bytes).map_err(CalibrationError::Stored)?;
        map.check()?;
        Ok(map)
    }

    /// A map of one step, `share` whatever the model says (the default model's), for tests.
    #[cfg(test)]
    pub(crate) fn flat(share: f64) -> CalibrationMap {
        let step = vec![Knot {
            predicted: 0.5,
            observed: share,
            assessments: 1_000,
        }];
        CalibrationMap {
            model: ModelOptions::default().signature(),
            learnt_from: "archives".into(),
            within_14_days: step.clone(),
            within_30_days: step,
        }
    }

    /// Checks a map read from a store: at least one and at most [`BINS`] knots a horizon, the
    /// model's probabilities increasing, the shares non-decreasing, all within [0, 1].
    pub fn check(&self) -> Result<(), CalibrationError> {
        if self.model.is_empty() {
            return Err(CalibrationError::Invalid(
                "modèle non indiqué (calibration apprise par une version antérieure)".into(),
            ));
        }
        if self.model.chars().count() > MAX_LABEL_CHARS || self.model.chars().any(char::is_control)
        {
            return Err(CalibrationError::Invalid("modèle illisible".into()));
        }
        if self.learnt_from.chars().count() > MAX_LABEL_CHARS {
            return Err(CalibrationError::Invalid(format!(
                "description de plus de {MAX_LABEL_CHARS} caractères"
            )));
        }
        if self.learnt_from.chars().any(char::is_control) {
            return Err(CalibrationError::Invalid(
                "caractère de contrôle dans la description".into(),
            ));
        }
        for (horizon, knots) in [(14, &self.within_14_days), (30, &self.within_30_days)] {
            let invalid = |what: &str| {
                Err(CalibrationError::Invalid(format!(
                    "sous {horizon} jours : {what}"
                )))
            };
            if knots.is_empty() || knots.len() > BINS {
                return invalid("de 1 à 100 paliers attendus");
            }
            let in_unit = |x: f64| (0.0..=1.0).contains(&x);
            if knots
                .iter()
                .any(|k| !in_unit(k.predicted) || !in_unit(k.observed))
            {
                return invalid("probabilité hors de [0, 1]");
            }
            if knots
                .windows(2)
                .any(|w| w[1].predicted <= w[0].predicted || w[1].observed < w[0].observed)
            {
                return invalid("paliers non croissants");
            }
        }
        Ok(())
    }
}

/// `assessment` with its probability of a stock-out calibrated by `map`, when there is one. A
/// reference at RUPTURE keeps the model's figure: a map learns from days before a stock-out,
/// never from days within one.
pub fn calibrated(map: Option<&CalibrationMap>, mut assessment: Assessment) -> Assessment {
    if assessment.level == medistock_domain::Level::Rupture {
        return assessment;
    }
    if let (Some(map), Some(p)) = (map, assessment.probability) {
        assessment.probability = Some(map.calibrate(p));
    }
    assessment
}

/// The map's value at `p`: linear between knots, flat beyond the first and the last.
fn apply(knots: &[Knot], p: f64) -> f64 {
    let (Some(first), Some(last)) = (knots.first(), knots.last()) else {
        return p;
    };
    if !p.is_finite() || p <= first.predicted {
        return first.observed;
    }
    if p >= last.predicted {
        return last.observed;
    }
    let after = knots.partition_point(|k| k.predicted <= p);
    let (a, b) = (knots[after - 1], knots[after]);
    let t = (p - a.predicted) / (b.predicted - a.predicted);
    (a.observed + t * (b.observed - a.observed)).clamp(0.0, 1.0)
}

/// A block of pooled bins.
#[derive(Clone, Copy)]
struct Block {
    days: u64,
    predicted_sum: f64,
    stockouts: u64,
}

impl Block {
    fn share(&self) -> f64 {
        self.stockouts as f64 / self.days as f64
    }

    fn pool(self, other: Block) -> Block {
        Block {
            days: self.days + other.days,
            predicted_sum: self.predicted_sum + other.predicted_sum,
            stockouts: self.stockouts + other.stockouts,
        }
    }
}

/// Isotonic regression of the shares on the model's probability, weighted by reference-days
/// (pool adjacent violators), then blocks of fewer than [`MIN_BLOCK`] days pooled with their
/// smaller neighbour (pooling two adjacent blocks of a non-decreasing sequence keeps it so).
fn isotonic(bins: &[ObservedBin]) -> Vec<Knot> {
    let mut blocks: Vec<Block> = Vec::with_capacity(bins.len());
    for b in bins.iter().filter(|b| b.assessments > 0) {
        blocks.push(Block {
            days: b.assessments,
            predicted_sum: b.predicted_sum,
            stockouts: b.stockouts,
        });
        while blocks.len() >= 2 {
            let (x, y) = (blocks[blocks.len() - 2], blocks[blocks.len() - 1]);
            // x's share above y's, compared without division.
            if u128::from(x.stockouts) * u128::from(y.days)
                > u128::from(y.stockouts) * u128::from(x.days)
            {
                blocks.pop();
                if let Some(last) = blocks.last_mut() {
                    *last = x.pool(y);
                }
            } else {
                break;
            }
        }
    }
    while blocks.len() > 1 {
        let Some((at, _)) = blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| b.days < MIN_BLOCK)
            .min_by_key(|(_, b)| b.days)
        else {
            break;
        };
        let with = if at == 0 {
            1
        } else if at + 1 == blocks.len() || blocks[at - 1].days <= blocks[at + 1].days {
            at - 1
        } else {
            at + 1
        };
        let (low, high) = (at.min(with), at.max(with));
        blocks[low] = blocks[low].pool(blocks[high]);
        blocks.remove(high);
    }
    // Two blocks of one mean (equal probabilities rounded alike) make one step, pooled in
    // whole counts so that its share is exact.
    let mean = |b: &Block| (b.predicted_sum / b.days as f64).clamp(0.0, 1.0);
    let mut steps: Vec<Block> = Vec::with_capacity(blocks.len());
    for b in blocks {
        match steps.last_mut() {
            Some(last) if mean(&b) <= mean(last) => *last = last.pool(b),
            _ => steps.push(b),
        }
    }
    steps
        .iter()
        .map(|b| Knot {
            predicted: mean(b),
            observed: b.share(),
            assessments: b.days,
        })
        .collect()
}

/// Reads the map kept in `bucket`, if one was learnt; checked before use.
pub async fn load_calibration_object<O: ObjectStore>(
    objects: &O,
    bucket: &str,
) -> Result<Option<CalibrationMap>, CalibrationError> {
    let bytes =
        match read_folder_object(objects, bucket, CALIBRATION_FILE, MAX_CALIBRATION_BYTES).await? {
            FolderObject::Absent => return Ok(None),
            FolderObject::TooLarge(size) => return Err(CalibrationError::TooLarge(size)),
            FolderObject::Bytes(bytes) => bytes,
        };
    CalibrationMap::from_json(&bytes).map(Some)
}

/// Writes `map` to `bucket` under [`CALIBRATION_FILE`].
pub async fn save_calibration_object<O: ObjectStore>(
    objects: &O,
    bucket: &str,
    map: &CalibrationMap,
) -> Result<(), CalibrationError> {
    map.check()?;
    let json = serde_json::to_vec_pretty(map).map_err(CalibrationError::Stored)?;
    objects
        .put(
            bucket,
            CALIBRATION_FILE,
            json,
            "application/json",
            &Default::default(),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(bin: usize, assessments: u64, stockouts: u64) -> ObservedBin {
        ObservedBin {
            bin,
            assessments,
            predicted_sum: (bin as f64 + 0.5) / 100.0 * assessments as f64,
            stockouts,
        }
    }

    fn observed(bins: Vec<ObservedBin>) -> ObservedProbabilities {
        ObservedProbabilities {
            model: Some(ModelOptions::default().signature()),
            within_14_days: bins.clone(),
            within_30_days: bins,
        }
    }

    #[test]
    fn a_model_too_sure_of_itself_is_brought_down_to_what_happened() {
        // The model says 5 % (2 000 days, 40 stock-outs: 2 %), 55 % (500 days, 50: 10 %),
        // 98 % (1 000 days, 500: 50 %).
        let map = CalibrationMap::learn(
            &observed(vec![
                bin(5, 2_000, 40),
                bin(55, 500, 50),
                bin(98, 1_000, 500),
            ]),
            "test",
        )
        .unwrap();
        let p = |x: f64| {
            map.calibrate(StockoutProbability {
                within_14_days: x,
                within_30_days: x,
                before_calibration: None,
            })
        };
        assert!((p(0.055).within_14_days - 0.02).abs() < 1e-9);
        assert!((p(0.985).within_14_days - 0.5).abs() < 1e-9);
        assert!((p(1.0).within_30_days - 0.5).abs() < 1e-9, "flat beyond");
        assert!((p(0.0).within_14_days - 0.02).abs() < 1e-9, "flat before");
        // Halfway between 55.5 % and 98.5 %: halfway between 10 % and 50 %.
        assert!((p(0.77).within_14_days - 0.30).abs() < 1e-9);
        assert_eq!(p(0.77).before_calibration, Some([0.77, 0.77]));
        // Calibrating again starts from the model's figures, not from the calibrated ones.
        assert_eq!(map.calibrate(p(0.77)), p(0.77));
    }

    fn steps(knots: &[Knot]) -> Vec<(f64, f64, u64)> {
        knots
            .iter()
            .map(|k| {
                let round = |x: f64| (x * 1e6).round() / 1e6;
                (round(k.predicted), round(k.observed), k.assessments)
            })
            .collect()
    }

    #[test]
    fn shares_that_go_down_are_pooled_until_the_map_never_decreases() {
        // 30 %, then 10 %: pooled to 20 %, which the next 20 % does not break; the last,
        // 5 %, pools back through both (a cascade), to (300 + 100 + 200 + 50) / 4 000.
        let map = CalibrationMap::learn(
            &observed(vec![
                bin(10, 1_000, 300),
                bin(20, 1_000, 100),
                bin(30, 1_000, 200),
                bin(90, 1_000, 50),
            ]),
            "test",
        )
        .unwrap();
        map.check().unwrap();
        assert_eq!(steps(&map.within_14_days), [(0.38, 0.1625, 4_000)]);
        // Without the last: two steps, the first pooled.
        let map = CalibrationMap::learn(
            &observed(vec![
                bin(10, 1_000, 300),
                bin(20, 1_000, 100),
                bin(30, 1_000, 200),
            ]),
            "test",
        )
        .unwrap();
        assert_eq!(
            steps(&map.within_30_days),
            [(0.155, 0.2, 2_000), (0.305, 0.2, 1_000)]
        );
    }

    #[test]
    fn a_step_of_too_few_days_is_pooled_with_its_smaller_neighbour() {
        let map = CalibrationMap::learn(
            &observed(vec![
                bin(5, 50, 0),      // first: pooled with the next
                bin(10, 2_000, 20), //
                bin(50, 500, 50),   //
                bin(60, 60, 10),    // middle: pooled with the smaller neighbour (500 days)
                bin(80, 3_000, 900),
                bin(99, 40, 40), // last: pooled with the one before
            ]),
            "test",
        )
        .unwrap();
        assert_eq!(
            steps(&map.within_14_days),
            [
                (0.10378, 0.009756, 2_050),
                (0.515714, 0.107143, 560),
                (0.8075, 0.309211, 3_040),
            ]
        );
        // Equal probabilities in two bins' blocks make one step: every bin at 0.5 exactly.
        let at = |bin: usize, days: u64, hits: u64| ObservedBin {
            bin,
            assessments: days,
            predicted_sum: 0.5 * days as f64,
            stockouts: hits,
        };
        let map = CalibrationMap::learn(&observed(vec![at(50, 600, 60), at(50, 600, 60)]), "t");
        assert_eq!(steps(&map.unwrap().within_14_days), [(0.5, 0.1, 1_200)]);
    }

    #[test]
    fn counts_in_any_order_teach_the_same_map() {
        let sorted = observed(vec![
            bin(10, 1_000, 10),
            bin(50, 600, 60),
            bin(90, 600, 300),
        ]);
        let shuffled = observed(vec![
            bin(90, 300, 150),
            bin(10, 1_000, 10),
            bin(50, 600, 60),
            bin(90, 300, 150),
        ]);
        assert_eq!(
            CalibrationMap::learn(&shuffled, "t").unwrap(),
            CalibrationMap::learn(&sorted, "t").unwrap()
        );
    }

    #[test]
    fn too_few_days_or_stockouts_are_refused_in_french() {
        let few_days = CalibrationMap::learn(&observed(vec![bin(50, 999, 500)]), "t");
        assert!(matches!(
            few_days,
            Err(CalibrationError::TooFew { days: 999, .. })
        ));
        let few_stockouts = CalibrationMap::learn(&observed(vec![bin(50, 10_000, 19)]), "t");
        let text = few_stockouts.unwrap_err().to_string();
        assert!(
            text.contains("10000 jours-références dont 19 suivis d'une rupture"),
            "{text}"
        );
        // At the bounds, learnt.
        CalibrationMap::learn(&observed(vec![bin(50, 1_000, 20)]), "t").unwrap();
    }

    #[test]
    fn impossible_counts_are_refused() {
        let refused = |b: ObservedBin| {
            matches!(
                CalibrationMap::learn(&observed(vec![b]), "t"),
                Err(CalibrationError::Observations { .. })
            )
        };
        assert!(!refused(bin(50, 2_000, 100)), "a possible count");
        assert!(refused(bin(50, 2_000, 2_001)), "more stock-outs than days");
        let mut outside = bin(50, 2_000, 100);
        outside.predicted_sum = 1_800.0; // 0.9 on average in the bin of 0.50
        assert!(refused(outside));
        assert!(refused(ObservedBin {
            bin: usize::MAX,
            ..bin(99, 2_000, 100)
        }));
        assert!(refused(ObservedBin {
            bin: 100,
            ..bin(99, 2_000, 100)
        }));
        let mut huge = bin(0, MAX_BIN_DAYS + 1, 100);
        huge.predicted_sum = 0.0;
        assert!(refused(huge));
        // Two bins at the largest count each: learnt without overflow.
        let mut a = bin(0, MAX_BIN_DAYS, MAX_BIN_DAYS / 2);
        a.predicted_sum = 0.0;
        let b = bin(99, MAX_BIN_DAYS, MAX_BIN_DAYS);
        CalibrationMap::learn(&observed(vec![a, b]), "t").unwrap();
    }

    #[test]
    fn observations_add_up_bin_by_bin() {
        let mut a = ObservedProbabilities {
            model: Some("v1".into()),
            ..ObservedProbabilities::default()
        };
        a.record(0, 0.955, true);
        a.record(0, 0.951, false);
        a.record(1, 1.0, true);
        a.record(1, f64::NAN, false);
        let mut sum = ObservedProbabilities::default();
        sum.add(&a).unwrap();
        sum.add(&a).unwrap();
        assert_eq!(sum.within_14_days.len(), 1);
        let b = sum.within_14_days[0];
        assert_eq!((b.bin, b.assessments, b.stockouts), (95, 4, 2));
        assert_eq!(
            sum.within_30_days
                .iter()
                .map(|b| (b.bin, b.assessments, b.stockouts))
                .collect::<Vec<_>>(),
            [(0, 2, 0), (99, 2, 2)]
        );
    }

    #[test]
    fn a_map_learns_from_one_model_and_calibrates_that_model_only() {
        let defaults = ModelOptions::default();
        let without_episode = ModelOptions::without("episode").unwrap();
        let of = |options: &ModelOptions| ObservedProbabilities {
            model: Some(options.signature()),
            ..observed(vec![bin(5, 2_000, 40)])
        };
        // Replays of two models are not added up, whichever comes first, and nothing is
        // added by the refusal.
        let mut sum = of(&defaults);
        let before = sum.clone();
        assert!(matches!(
            sum.add(&of(&without_episode)),
            Err(CalibrationError::Models { first, other })
                if first == "v1" && other == "v1,episode"
        ));
        assert_eq!(sum, before);
        // A replay that does not say its model is not learnt from.
        let unnamed = ObservedProbabilities {
            model: None,
            ..of(&defaults)
        };
        assert!(matches!(
            CalibrationMap::learn(&unnamed, "t"),
            Err(CalibrationError::UnknownModel)
        ));
        assert!(matches!(
            sum.add(&unnamed),
            Err(CalibrationError::UnknownModel)
        ));
        // A bad bin of the second horizon refuses the whole replay: nothing of the first is
        // added either.
        let mut bad = of(&defaults);
        bad.within_30_days[0].stockouts = 3_000;
        assert!(matches!(
            sum.add(&bad),
            Err(CalibrationError::Observations { horizon: 30, .. })
        ));
        assert_eq!(sum, before);
        // A model's name no replay writes.
        let garbled = ObservedProbabilities {
            model: Some("v1\u{7}".into()),
            ..of(&defaults)
        };
        assert!(matches!(
            sum.add(&garbled),
            Err(CalibrationError::Invalid(_))
        ));
        assert_eq!(sum, before);
        let map = CalibrationMap::learn(&of(&without_episode), "t").unwrap();
        assert_eq!(map.model, "v1,episode");
        map.fits(&without_episode).unwrap();
        assert!(matches!(
            map.fits(&defaults),
            Err(CalibrationError::OtherModel { learnt, running })
                if learnt == "v1,episode" && running == "v1"
        ));
        // A map stored without its model (a version that did not record it) is refused.
        let mut older = map.clone();
        older.model.clear();
        assert!(older.check().is_err());
        let decoded: CalibrationMap = serde_json::from_str(
            r#"{"learnt_from": "t", "within_14_days": [], "within_30_days": []}"#,
        )
        .unwrap();
        assert_eq!(decoded.model, "");
        older.model = "v1\n".into();
        assert!(older.check().is_err(), "a control character");
    }

    #[test]
    fn a_stored_map_that_breaks_its_rules_is_refused() {
        let good = CalibrationMap::learn(
            &observed(vec![bin(5, 2_000, 40), bin(98, 1_000, 500)]),
            "test",
        )
        .unwrap();
        good.check().unwrap();
        let mut down = good.clone();
        down.within_30_days[1].observed = 0.01;
        assert!(down.check().is_err());
        let mut none = good.clone();
        none.within_14_days.clear();
        assert!(none.check().is_err());
        let mut outside = good.clone();
        outside.within_14_days[0].observed = 1.5;
        assert!(outside.check().is_err());
        let mut long = good.clone();
        long.learnt_from = "é".repeat(MAX_LABEL_CHARS + 1);
        assert!(long.check().is_err());
        long.learnt_from = "é".repeat(MAX_LABEL_CHARS);
        long.check().unwrap();
        long.learnt_from = "archives\n2025".into();
        assert!(long.check().is_err(), "a control character");
        let learnt = CalibrationMap::learn(
            &observed(vec![bin(5, 2_000, 40)]),
            &format!("archives\n{}", "é".repeat(300)),
        )
        .unwrap();
        assert_eq!(learnt.learnt_from.chars().count(), MAX_LABEL_CHARS);
        assert!(learnt.learnt_from.starts_with("archives é"));
        let mut many = good;
        many.within_14_days = (0..=BINS)
            .map(|i| Knot {
                predicted: i as f64 / 1_000.0,
                observed: 0.0,
                assessments: MIN_BLOCK,
            })
            .collect();
        assert!(many.check().is_err());
        many.within_14_days.pop();
        many.check().unwrap();
    }

    #[tokio::test]
    async fn a_map_is_read_back_from_the_lake_and_a_bad_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let objects = medistock_local::LocalObjects::new(dir.path());
        assert_eq!(
            load_calibration_object(&objects, "lake").await.unwrap(),
            None
        );
        let map = CalibrationMap::learn(
            &observed(vec![bin(5, 2_000, 40), bin(98, 1_000, 500)]),
            "simulateur, graines 1 à 5",
        )
        .unwrap();
        save_calibration_object(&objects, "lake", &map)
            .await
            .unwrap();
        assert_eq!(
            load_calibration_object(&objects, "lake").await.unwrap(),
            Some(map.clone())
        );
        let mut down = map;
        down.within_14_days[1].observed = 0.0;
        objects
            .put(
                "lake",
                CALIBRATION_FILE,
                serde_json::to_vec(&down).unwrap(),
                "application/json",
                &Default::default(),
            )
            .await
            .unwrap();
        assert!(matches!(
            load_calibration_object(&objects, "lake").await,
            Err(CalibrationError::Invalid(_))
        ));
    }
}
