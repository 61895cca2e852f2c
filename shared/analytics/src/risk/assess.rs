//! One reference's assessment: chain stock, demand, coverage, projection, level.

use std::borrow::Cow;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::demand::{DemandEstimate, StockHistory, estimate_demand};
use super::level::{Episode, Thresholds, episode_level, level_after};
use super::reliability::SupplyRecord;
use medistock_domain::Level;
use medistock_domain::position::{Position, Supply};
use medistock_domain::{Cip13, DeclarantType};

/// A position older than this many days is flagged stale.
pub const STALE_AFTER_DAYS: i64 = 14;
/// Days projected ahead.
pub const HORIZON_DAYS: u32 = 120;

/// What lowers the confidence in an assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum QualityFlag {
    /// A declarant's position is older than the staleness bound.
    StalePosition {
        /// Who.
        declarant: String,
        /// Date of its position.
        as_of: NaiveDate,
    },
    /// No demand could be measured: coverage is not computable.
    NoDemand,
    /// No manufacturer or wholesaler declares this reference.
    NoPosition,
    /// A manufacturer declared this reference, but none has for 14 days (or none has declared
    /// it yet while manufacturers are starting, pending or the one named is silent): its
    /// stock is unknown, not the declared stock run down to zero. The level is assessed on
    /// what is known and does not escalate on the gap itself (RUPTURE, and CRITIQUE for a
    /// reference no manufacturer has declared yet, still show); the probability is withheld.
    MissingManufacturers,
    /// A manufacturer's announced supply was due and is announced again for later, with no
    /// stock received in between: announced supplies are not counted (the level is the
    /// projection without them).
    SupplySlipped {
        /// The day it was due.
        due: NaiveDate,
    },
    /// The manufacturers' stock has only fallen for six weeks, with no batch received: a
    /// production stop is suspected, and announced supplies are not counted.
    ProductionStopSuspected {
        /// First day of the fall seen.
        since: NaiveDate,
    },
    /// No supply is announced: the next batch is expected at the rhythm of the batches the
    /// manufacturers' stock showed, and counted.
    InferredBatch {
        /// When.
        date: NaiveDate,
        /// Units: the last batch's, as its rise of the stock between two declarations showed
        /// it (net of that interval's outflow).
        quantity: i64,
    },
    /// Wholesalers serving this share of the wholesalers' outflow hold less than `days` days
    /// (the CRITIQUE threshold) of their own outflow, while the chain is not in tension: a
    /// shortage local to the distribution. The level is at least VIGILANCE.
    LocalShortage {
        /// Share of the wholesalers' outflow, in percent.
        share_pct: u32,
        /// The days of cover under which a wholesaler counts as short.
        #[serde(default)]
        days: u32,
        /// Those wholesalers.
        declarants: Vec<String>,
    },
    /// Days the wholesalers ran dry (less than a day of stock) were left out of the demand:
    /// their outflow then is what they served, not what was asked.
    CensoredDemand {
        /// Days left out.
        days: usize,
    },
}

/// Everything known about one reference.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceInput {
    /// The reference.
    pub cip13: Cip13,
    /// Each declarant's latest position with its type.
    pub positions: Vec<(Position, DeclarantType)>,
    /// Daily demand observations (see [`super::demand_series`]).
    pub demand_series: Vec<(NaiveDate, f64)>,
    /// The stocks and announcements declared day by day over the look-back.
    pub history: StockHistory,
    /// The signals used.
    pub options: super::config::ModelOptions,
    /// Thresholds for this reference.
    pub thresholds: Thresholds,
    /// Legal safety stock of manufacturers, in months of sales (R5124-49-4: 2 for MITM, up to
    /// 4 for those on ANSM's list, 1 week otherwise).
    pub safety_stock_months: f64,
    /// Level held before this computation, for the hysteresis.
    pub previous_level: Option<Level>,
    /// When that level is TENSION or worse: the first day of its alert episode (`open_since`
    /// of the RISK item), which bounds how long the episode holds ([`episode_level`]).
    pub episode_since: Option<NaiveDate>,
    /// Whether manufacturers declare in this deployment: then a reference none of them has
    /// declared recently has an unknown manufacturer stock.
    pub manufacturers_expected: bool,
    /// Whether the manufacturers' declarations are only starting (go-live, the first days of
    /// a replay: less than [`STALE_AFTER_DAYS`] of them in the look-back): a reference none of
    /// them has declared yet may simply not have been declared yet, and its manufacturer stock
    /// is unknown rather than nil.
    pub manufacturers_starting: bool,
    /// Whether a manufacturer registered in the deployment has declared no reference yet, in
    /// the first six weeks of the wholesalers' history: a reference none of them declares may
    /// be one of its, with a stock nobody has told.
    pub manufacturers_pending: bool,
    /// The manufacturer ANSM names for this reference (`exploitant` of its monitoring
    /// settings), when it is expected to declare (enabled, with a cadence) and has declared
    /// nothing at all: while no manufacturer declares the reference, its stock is unknown, not
    /// zero, however late that manufacturer joins.
    pub holder: Option<medistock_domain::DeclarantId>,
    /// The promises of the reference's manufacturer, when one alone declares it, over every
    /// reference it alone declares ([`SupplyRecord`]): how often its announced supplies came.
    /// Shown with the assessment; the probability takes it with `learnt_reliability` only.
    pub supply_record: SupplyRecord,
}

/// The assessment of one reference at one date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The reference.
    pub cip13: Cip13,
    /// Date of the assessment.
    pub as_of: NaiveDate,
    /// Level after hysteresis.
    pub level: Level,
    /// Chain stock projected to `as_of` (manufacturers + wholesalers, held units excluded).
    pub chain_stock: f64,
    /// Units held (quarantine), not counted in the chain stock.
    pub held_stock: i64,
    /// Stock declared by manufacturers and by wholesalers.
    pub stock_by_type: StockByType,
    /// Per type of declarant: the stock declared with its dates, and the stock estimated at
    /// `as_of` (what the chain stock sums): the declared figures and the estimate are shown
    /// apart, so that their parts add up.
    #[serde(default)]
    pub stock_detail: StockDetail,
    /// The stock-out date if none of the announced supplies arrives (announced is not
    /// received), when there are announced supplies; `None` otherwise or beyond the horizon.
    #[serde(default)]
    pub stockout_without_supplies: Option<NaiveDate>,
    /// The first announced supply the level depends on (date, units): the earliest one
    /// counted after its declarant's position date.
    #[serde(default)]
    pub first_announced_supply: Option<Supply>,
    /// The probability of a stock-out within 14 and 30 days (see [`super::probability`]);
    /// `None` when demand is unknown, or withheld when the manufacturers' stock is
    /// ([`QualityFlag::MissingManufacturers`]).
    #[serde(default)]
    pub probability: Option<super::probability::StockoutProbability>,
    /// Smoothed demand, units per day.
    pub demand: Option<f64>,
    /// Demand trend (1.0 stable).
    pub trend: f64,
    /// Chain stock over demand, in days.
    pub coverage_days: Option<f64>,
    /// First day the projected chain stock runs out, within the horizon.
    pub stockout_date: Option<NaiveDate>,
    /// Days from `as_of` to that date.
    pub days_to_stockout: Option<i64>,
    /// Expected supplies after `as_of`, by date.
    pub supplies: Vec<Supply>,
    /// Manufacturers whose stock is below their legal safety stock.
    pub below_safety_stock: Vec<String>,
    /// What lowers the confidence.
    pub flags: Vec<QualityFlag>,
    /// The promises of the reference's manufacturer ([`SupplyRecord`]; empty: none judged,
    /// or several manufacturers).
    #[serde(default)]
    pub supply_record: SupplyRecord,
    /// Whether the probability took the chances of arrival from that record
    /// (`learnt_reliability`) rather than the model's defaults.
    #[serde(default)]
    pub supply_record_used: bool,
    /// When an open alert episode holds the level at TENSION ([`episode_level`]): the level
    /// the day's figures give (VIGILANCE). `None` when the level is the figures' own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figures_level: Option<Level>,
}

/// One type of declarant's stock: declared (with the dates of the positions) and estimated at
/// the computation date.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TypeStock {
    /// Sum of the declared stocks.
    pub declared: i64,
    /// The oldest position's date.
    pub oldest: Option<NaiveDate>,
    /// The newest position's date.
    pub newest: Option<NaiveDate>,
    /// The declared stocks carried to the computation date (outflow since taken off, supplies
    /// announced for the days in between added).
    pub estimated: f64,
}

/// Declared and estimated stock per declarant type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StockDetail {
    /// Laboratoires exploitants.
    pub exploitants: TypeStock,
    /// Grossistes-répartiteurs.
    pub grossistes: TypeStock,
}

/// Stock declared per declarant type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StockByType {
    /// Laboratoires exploitants.
    pub exploitants: i64,
    /// Grossistes-répartiteurs.
    pub grossistes: i64,
}

/// Why an assessment carries no probability when it is withheld (alert, `status`).
pub const PROBABILITY_WITHHELD: &str = "non calculée, le stock des exploitants est inconnu";

impl Assessment {
    /// Whether the probability was withheld because the manufacturers' stock is unknown (it
    /// is also absent, and not withheld, when demand is unknown).
    pub fn probability_withheld(&self) -> bool {
        self.probability.is_none() && self.flags.contains(&QualityFlag::MissingManufacturers)
    }
}

/// Assesses one reference at `as_of`.
pub fn assess(input: &ReferenceInput, as_of: NaiveDate) -> Assessment {
    let chain: Vec<&(Position, DeclarantType)> = input
        .positions
        .iter()
        .filter(|(_, kind)| *kind != DeclarantType::Autre)
        .collect();
    let mut flags = Vec::new();
    if chain.is_empty() {
        flags.push(QualityFlag::NoPosition);
    }
    for (p, _) in &chain {
        if (as_of - p.as_of).num_days() > STALE_AFTER_DAYS {
            flags.push(QualityFlag::StalePosition {
                declarant: p.declarant.to_string(),
                as_of: p.as_of,
            });
        }
    }
    // Declared quantities come from outside: their sums saturate, never wrap or panic.
    let stock_of = |kind: DeclarantType| {
        chain
            .iter()
            .filter(|(_, k)| *k == kind)
            .fold(0i64, |sum, (p, _)| sum.saturating_add(p.stock))
    };
    let stock_by_type = StockByType {
        exploitants: stock_of(DeclarantType::Exploitant),
        grossistes: stock_of(DeclarantType::Grossiste),
    };
    let held_stock = chain
        .iter()
        .fold(0i64, |sum, (p, _)| sum.saturating_add(p.stock_bloque));
    let options = input.options;
    let (observed, censored) = if options.censored_demand {
        uncensored(&input.demand_series, &input.history)
    } else {
        (Cow::Borrowed(input.demand_series.as_slice()), 0)
    };
    if censored > 0 {
        flags.push(QualityFlag::CensoredDemand { days: censored });
    }
    let demand = estimate_demand(&observed, as_of).or_else(|| current_outflow(&chain));
    let daily = demand.map(|d| d.daily).filter(|d| *d > 0.0);
    if daily.is_none() {
        flags.push(QualityFlag::NoDemand);
    }
    let trend = demand.map_or(1.0, |d| d.trend);
    // Each position is brought to `as_of` on its own: its declared outflow since its date taken
    // off, the supplies it announced for the days in between added (assumed received: the next
    // declaration will say otherwise). Projecting the summed stock from the oldest position's
    // date would take a fresh position's consumption off a second time.
    let chain_stock: f64 = chain.iter().map(|(p, _)| stock_at(p, as_of)).sum();
    let type_stock = |kind: DeclarantType| {
        let of_kind = || {
            chain
                .iter()
                .filter(move |(_, k)| *k == kind)
                .map(|(p, _)| p)
        };
        TypeStock {
            declared: of_kind().fold(0i64, |sum, p| sum.saturating_add(p.stock)),
            oldest: of_kind().map(|p| p.as_of).min(),
            newest: of_kind().map(|p| p.as_of).max(),
            estimated: of_kind().map(|p| stock_at(p, as_of)).sum(),
        }
    };
    let stock_detail = StockDetail {
        exploitants: type_stock(DeclarantType::Exploitant),
        grossistes: type_stock(DeclarantType::Grossiste),
    };
    // Announced is not received: the same projection without any announced supply.
    let first_announced_supply = chain
        .iter()
        .flat_map(|(p, _)| p.supplies.iter().filter(move |s| s.date > p.as_of))
        .min_by_key(|s| s.date)
        .cloned();
    let mut supplies: Vec<Supply> = chain
        .iter()
        .flat_map(|(p, _)| p.supplies.iter().cloned())
        .filter(|s| s.date > as_of)
        .collect();
    // Missing is not zero: a manufacturer that announces nothing still produces. Its next batch
    // is expected at the rhythm its stock showed, unless its production looks stopped.
    // The history sums the manufacturers that declared each day: its rises and falls are one
    // manufacturer's only when one declares the reference (the marketing authorisation
    // holder, as a rule).
    let single_manufacturer = chain
        .iter()
        .filter(|(_, k)| *k == DeclarantType::Exploitant)
        .count()
        == 1;
    let history = |enabled: bool| enabled && single_manufacturer;
    let stopped = production_stop(&input.history).filter(|_| history(options.production_stop));
    let pushes = if options.slip_twice { 2 } else { 1 };
    let slipped =
        slipped_supply(&input.history, pushes).filter(|_| history(options.slipped_supplies));
    if history(options.inferred_batches)
        && never_announces(&input.history)
        && first_announced_supply.is_none()
        && stopped.is_none()
        && slipped.is_none()
        && let Some(batch) = expected_batch(&input.history, as_of, daily.unwrap_or(0.0) * trend)
    {
        flags.push(QualityFlag::InferredBatch {
            date: batch.date,
            quantity: batch.quantity,
        });
        supplies.push(batch);
    }
    supplies.sort_by_key(|s| s.date);
    let projected = daily.and_then(|d| project(chain_stock, d * trend, as_of, &supplies));
    // The chain's stock at the computation date as if no announced supply had arrived.
    let bare: f64 = chain
        .iter()
        .map(|(p, _)| stock_without_supplies(p, as_of))
        .sum();
    let stockout_without_supplies = first_announced_supply
        .as_ref()
        .and_then(|_| daily.and_then(|d| project(bare, d * trend, as_of, &[])));
    // Supplies announced by a chain that shows them slipping, or that has stopped producing,
    // are not counted on: the level is the projection without them.
    let doubt = match (slipped, stopped) {
        (Some(due), _) => Some(QualityFlag::SupplySlipped { due }),
        (None, Some(since)) => Some(QualityFlag::ProductionStopSuspected { since }),
        (None, None) => None,
    };
    let doubtful = doubt.is_some();
    let stockout_date = match doubt {
        // Delayed rather than dropped: a supply already overdue by `n` days is expected `n`
        // days after its date or today, whichever is later.
        Some(QualityFlag::SupplySlipped { due })
            if options.delayed_supplies && first_announced_supply.is_some() =>
        {
            flags.push(QualityFlag::SupplySlipped { due });
            let overdue = Days::new(u64::try_from((as_of - due).num_days().max(0)).unwrap_or(0));
            let delayed: Vec<Supply> = chain
                .iter()
                .flat_map(|(p, _)| p.supplies.iter().filter(move |s| s.date > p.as_of))
                .map(|s| Supply {
                    date: s
                        .date
                        .max(as_of)
                        .checked_add_days(overdue)
                        .unwrap_or(s.date),
                    quantity: s.quantity,
                })
                .collect();
            daily.and_then(|d| project(bare, d * trend, as_of, &delayed))
        }
        Some(flag) if first_announced_supply.is_some() => {
            flags.push(flag);
            stockout_without_supplies
        }
        _ => projected,
    };
    let days_to_stockout = stockout_date.map(|d| (d - as_of).num_days());
    let coverage_days = daily.map(|d| chain_stock.max(0.0) / d);

    let below_safety_stock: Vec<String> = chain
        .iter()
        .filter(|(p, kind)| {
            *kind == DeclarantType::Exploitant
                && p.daily_outflow.is_some_and(|o| {
                    o > 0.0 && (p.stock as f64) < o * input.safety_stock_months * 30.0
                })
        })
        .map(|(p, _)| p.declarant.to_string())
        .collect();
    let level = level_after(
        input.previous_level,
        &input.thresholds,
        days_to_stockout.map(|d| d as f64),
        coverage_days,
        !below_safety_stock.is_empty(),
    );
    // Coverage per wholesaler: a chain that looks fine can hide depots already empty.
    let local = local_shortage(&chain, as_of, input.thresholds.critique_days)
        .filter(|_| options.local_shortage);
    let level = match local {
        Some(flag) if level < Level::Tension => {
            flags.push(flag);
            level.max(Level::Vigilance)
        }
        _ => level,
    };
    // Missing is not zero: without a recent manufacturer declaration, the chain stock counted
    // is a lower bound, and a TENSION or CRITIQUE read from it may be the gap, not the stock.
    let manufacturers: Vec<&Position> = chain
        .iter()
        .filter(|(_, kind)| *kind == DeclarantType::Exploitant)
        .map(|(p, _)| p)
        .collect();
    let manufacturers_known = manufacturers
        .iter()
        .any(|p| (as_of - p.as_of).num_days() <= STALE_AFTER_DAYS);
    // Expected: a manufacturer has declared this reference before and has stopped, or the
    // manufacturers are only starting to declare.
    let expected =
        input.manufacturers_expected && (!manufacturers.is_empty() || input.manufacturers_starting);
    // A reference no manufacturer declares while a registered manufacturer has not declared
    // anything yet: its upstream stock may simply not have been told; the wholesalers' stock
    // alone (two to four weeks as a rule) says TENSION by itself. Only their running dry
    // (CRITIQUE, RUPTURE) escalates. Once every registered manufacturer declares, a reference
    // none of them declares is assessed on what is declared.
    let undeclared = options.undeclared_manufacturers
        && input.manufacturers_expected
        && (input.manufacturers_pending || input.holder.is_some())
        && manufacturers.is_empty()
        && !expected;
    let level = if (expected || undeclared) && !manufacturers_known {
        flags.push(QualityFlag::MissingManufacturers);
        let shown = if undeclared {
            Level::Critique
        } else {
            Level::Rupture
        };
        if level >= shown {
            level
        } else {
            level.min(
                input
                    .previous_level
                    .unwrap_or(Level::Normal)
                    .max(Level::Vigilance),
            )
        }
    } else {
        level
    };
    let (level, figures_level) = episode_level(
        options.episode_hold.then_some(Episode {
            previous: input.previous_level,
            since: input.episode_since,
            as_of,
        }),
        &input.thresholds,
        days_to_stockout.map(|d| d as f64),
        level,
    );
    // Missing is not zero for the probability either: computed from a lower bound of the
    // chain's stock, it would announce a stock-out the figures cannot tell. It is withheld.
    let start = if doubtful { bare } else { chain_stock };
    let probability = daily
        .filter(|_| !flags.contains(&QualityFlag::MissingManufacturers))
        .map(|d| {
            super::probability::stockout_probability(
                start,
                d * trend,
                super::probability::spread(&observed),
                as_of,
                &supplies,
                chance_of_arrival(input, doubtful),
            )
        });
    Assessment {
        cip13: input.cip13,
        as_of,
        level,
        chain_stock,
        held_stock,
        stock_by_type,
        stock_detail,
        stockout_without_supplies,
        first_announced_supply,
        probability,
        demand: daily,
        trend,
        coverage_days,
        stockout_date,
        days_to_stockout,
        supplies,
        below_safety_stock,
        flags,
        supply_record: input.supply_record,
        supply_record_used: input.options.learnt_reliability,
        figures_level,
    }
}

/// The chance that an announced supply arrives, for the probability of a stock-out: the
/// model's defaults, or (`learnt_reliability`) the manufacturer's own record.
fn chance_of_arrival(input: &ReferenceInput, doubtful: bool) -> f64 {
    let record = if input.options.learnt_reliability {
        input.supply_record
    } else {
        SupplyRecord::default()
    };
    if doubtful {
        record.after_push()
    } else {
        record.on_time()
    }
}

/// Without history: today's declared outflow, wholesalers' when any declares it.
fn current_outflow(chain: &[&(Position, DeclarantType)]) -> Option<DemandEstimate> {
    let sum_of = |kind: DeclarantType| {
        let values: Vec<f64> = chain
            .iter()
            .filter(|(_, k)| *k == kind)
            .filter_map(|(p, _)| p.daily_outflow)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>())
    };
    sum_of(DeclarantType::Grossiste)
        .or_else(|| sum_of(DeclarantType::Exploitant))
        .map(|daily| DemandEstimate {
            daily,
            trend: 1.0,
            observations: 0,
        })
}

/// A position's stock carried from its date to `as_of`: declared outflow taken off, supplies
/// due in between added, never below zero.
fn stock_at(p: &Position, as_of: NaiveDate) -> f64 {
    let age = (as_of - p.as_of).num_days().max(0) as f64;
    let received: f64 = p
        .supplies
        .iter()
        .filter(|s| s.date > p.as_of && s.date <= as_of)
        .map(|s| s.quantity as f64)
        .sum();
    (p.stock as f64 + received - p.daily_outflow.unwrap_or(0.0) * age).max(0.0)
}

/// Share of the wholesalers' outflow whose own stock covers less than `days` days, from which
/// a local shortage is flagged.
pub const LOCAL_SHORTAGE_SHARE: f64 = 0.3;

/// Wholesalers holding less than `days` of their own outflow, when they serve at least
/// [`LOCAL_SHORTAGE_SHARE`] of the wholesalers' outflow.
fn local_shortage(
    chain: &[&(Position, DeclarantType)],
    as_of: NaiveDate,
    days: f64,
) -> Option<QualityFlag> {
    let wholesalers: Vec<(&Position, f64)> = chain
        .iter()
        .filter(|(p, k)| {
            *k == DeclarantType::Grossiste && (as_of - p.as_of).num_days() <= STALE_AFTER_DAYS
        })
        .filter_map(|(p, _)| p.daily_outflow.filter(|o| *o > 0.0).map(|o| (p, o)))
        .collect();
    let total: f64 = wholesalers.iter().map(|(_, o)| o).sum();
    if wholesalers.len() < 2 || total <= 0.0 {
        return None;
    }
    let short: Vec<&(&Position, f64)> = wholesalers
        .iter()
        .filter(|(p, o)| stock_at(p, as_of) < o * days)
        .collect();
    let share = short.iter().map(|(_, o)| o).sum::<f64>() / total;
    (share >= LOCAL_SHORTAGE_SHARE && short.len() < wholesalers.len()).then(|| {
        QualityFlag::LocalShortage {
            share_pct: (share * 100.0).round() as u32,
            days: days.round().clamp(0.0, 365.0) as u32,
            declarants: short.iter().map(|(p, _)| p.declarant.to_string()).collect(),
        }
    })
}

/// Days of the history the manufacturers' stock must have only fallen for a production stop
/// to be suspected.
pub const STOP_DAYS: i64 = 42;

/// The demand observations without the days the wholesalers ran dry (stock below a day of
/// their outflow), and how many were left out: the OpenLMIS stock-out-adjusted consumption
/// (consumption over the days in stock). Kept whole when fewer than 7 days would remain.
fn uncensored<'a>(
    series: &'a [(NaiveDate, f64)],
    history: &StockHistory,
) -> (Cow<'a, [(NaiveDate, f64)]>, usize) {
    // The wholesalers' stock is kept day by day in date order: looked up by binary search,
    // and the series is copied only when a day is left out (a hot path at national scale).
    let stock = &history.wholesalers;
    let dry = |(d, outflow): &(NaiveDate, f64)| {
        stock
            .binary_search_by_key(d, |(day, _)| *day)
            .is_ok_and(|i| stock[i].1 <= 0.0 || stock[i].1 < *outflow)
    };
    let left_out = series.iter().filter(|o| dry(o)).count();
    if left_out == 0 || series.len() - left_out < 7 {
        return (Cow::Borrowed(series), 0);
    }
    let kept = series.iter().filter(|o| !dry(o)).copied().collect();
    (Cow::Owned(kept), left_out)
}

/// An announced supply that slipped: announced dates were due by a later declaration, which
/// announced a later one, at least `pushes` times, and the manufacturers' stock did not rise
/// by a quarter of the quantity announced between each announcement and that declaration.
/// Returns the day the last pushed date was due. A slip whose batch came later (the stock
/// rose by a quarter of the quantity announced after the declaration that pushed it) is
/// resolved and does not count.
fn slipped_supply(h: &StockHistory, pushes: usize) -> Option<NaiveDate> {
    let mut pushed_dates: Vec<NaiveDate> = Vec::new();
    for (i, (announced_on, quantity, due)) in h.announced.iter().enumerate() {
        let Some(due) = *due else { continue };
        let pushed = h.pushed_back(i, due, NaiveDate::MAX);
        // A batch that came at any time from the announcement (early, or late after the push)
        // is no slip. The quantity is the total announced: a quarter of it is a batch.
        if pushed
            && !h.batch_between(*announced_on, NaiveDate::MAX, *quantity)
            && !pushed_dates.contains(&due)
        {
            pushed_dates.push(due);
        }
    }
    (pushed_dates.len() >= pushes.max(1))
        .then(|| pushed_dates.iter().max().copied())
        .flatten()
}

/// Declarations over which a manufacturer must have announced nothing for its silence to be
/// a habit rather than news.
pub const SILENT_DECLARATIONS: usize = 4;

/// A manufacturer whose habit is to announce nothing: it declared the reference at least
/// [`SILENT_DECLARATIONS`] times over three weeks of the look-back, never with a supply. One
/// that used to announce and stops is not expected at its rhythm: the silence is the news.
fn never_announces(h: &StockHistory) -> bool {
    let spans_three_weeks = match (h.manufacturers.first(), h.manufacturers.last()) {
        (Some(first), Some(last)) => (last.0 - first.0).num_days() >= 21,
        _ => false,
    };
    h.announced.is_empty() && h.manufacturers.len() >= SILENT_DECLARATIONS && spans_three_weeks
}

/// Days between two batches assumed when only one was seen in the look-back.
pub const DEFAULT_BATCH_CYCLE_DAYS: i64 = 42;

/// The next batch a manufacturer that announces nothing is expected to release, from the
/// rhythm of the batches its stock shows in the look-back (a rise between two declarations of a
/// quarter of the stock and a week of demand at least): the last batch's size, one cycle (the median gap between batches, or
/// [`DEFAULT_BATCH_CYCLE_DAYS`]) after it. None when no batch was seen, or when the next one is
/// already overdue (a late batch is not assumed to come).
fn expected_batch(h: &StockHistory, as_of: NaiveDate, daily: f64) -> Option<Supply> {
    let batches: Vec<(NaiveDate, f64)> = h
        .manufacturers
        .windows(2)
        .filter(|w| w[1].1 - w[0].1 > (0.25 * w[0].1).max(7.0 * daily).max(1.0))
        .map(|w| (w[1].0, w[1].1 - w[0].1))
        .collect();
    let (last, quantity) = *batches.last()?;
    let mut gaps: Vec<i64> = batches
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).num_days())
        .collect();
    gaps.sort_unstable();
    let cycle = gaps
        .get(gaps.len() / 2)
        .copied()
        .unwrap_or(DEFAULT_BATCH_CYCLE_DAYS)
        .max(7);
    let next = last.checked_add_days(Days::new(u64::try_from(cycle).ok()?))?;
    (next > as_of && quantity >= 1.0).then(|| Supply {
        date: next,
        quantity: quantity.min(i64::MAX as f64 / 2.0) as i64,
    })
}

/// A suspected production stop: the manufacturers' stock, declared over at least
/// [`STOP_DAYS`], never rose and fell (or stayed empty). Returns its first day.
fn production_stop(h: &StockHistory) -> Option<NaiveDate> {
    let obs = &h.manufacturers;
    let (first, last) = (obs.first()?, obs.last()?);
    if obs.len() < 3 || (last.0 - first.0).num_days() < STOP_DAYS {
        return None;
    }
    let rose = obs.windows(2).any(|w| w[1].1 > w[0].1 * 1.02 + 1.0);
    let fell = last.1 < first.1 * 0.9 || first.1 <= 0.0;
    (!rose && fell).then_some(first.0)
}

/// A position's stock carried to `as_of` with no announced supply received.
fn stock_without_supplies(p: &Position, as_of: NaiveDate) -> f64 {
    let age = (as_of - p.as_of).num_days().max(0) as f64;
    (p.stock as f64 - p.daily_outflow.unwrap_or(0.0) * age).max(0.0)
}

/// Day by day from `as_of`: supplies arrive in the morning, demand is served during the day;
/// the stock-out is the first day the stock does not cover the day's demand.
fn project(stock: f64, daily: f64, as_of: NaiveDate, supplies: &[Supply]) -> Option<NaiveDate> {
    let mut stock = stock;
    let mut day = as_of;
    let end = as_of
        .checked_add_days(Days::new(u64::from(HORIZON_DAYS)))
        .unwrap_or(as_of);
    while day <= end {
        stock += supplies
            .iter()
            .filter(|s| s.date == day)
            .map(|s| s.quantity as f64)
            .sum::<f64>();
        if stock < daily {
            return Some(day);
        }
        stock -= daily;
        day = day.succ_opt()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use medistock_domain::DeclarantId;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    fn pos(
        declarant: &str,
        as_of: NaiveDate,
        stock: i64,
        outflow: Option<f64>,
        supplies: Vec<Supply>,
    ) -> Position {
        Position {
            cip13: Cip13::parse("3400949497294").unwrap(),
            declarant: DeclarantId::parse(declarant).unwrap(),
            as_of,
            stock,
            stock_bloque: 0,
            daily_outflow: outflow,
            sites: 1,
            supplies,
            source_sha256: "x".into(),
            site_figures: Vec::new(),
        }
    }

    fn input(positions: Vec<(Position, DeclarantType)>) -> ReferenceInput {
        ReferenceInput {
            cip13: Cip13::parse("3400949497294").unwrap(),
            positions,
            demand_series: Vec::new(),
            history: StockHistory::default(),
            options: Default::default(),
            thresholds: Thresholds::default(),
            safety_stock_months: 0.25,
            previous_level: None,
            episode_since: None,
            manufacturers_expected: false,
            manufacturers_starting: false,
            manufacturers_pending: false,
            holder: None,
            supply_record: Default::default(),
        }
    }

    #[test]
    fn a_calibration_changes_the_probability_shown_short_of_a_rupture_and_nothing_else() {
        let mut config = crate::risk::config::RiskConfig::default();
        config.calibration = Some(crate::risk::calibration::CalibrationMap::flat(0.07));
        let wholesaler = |stock| {
            input(vec![(
                pos("gr-b", d(23), stock, Some(50.0), vec![]),
                DeclarantType::Grossiste,
            )])
        };
        // 20 days: TENSION, a probability near certain within 30 days, shown as 7 %.
        let model = assess(&wholesaler(1000), d(23));
        let shown = config.calibrated(model.clone());
        let p = model.probability.unwrap();
        assert!(p.within_30_days > 0.9, "{p:?}");
        assert_eq!(
            shown.probability,
            Some(crate::risk::probability::StockoutProbability {
                within_14_days: 0.07,
                within_30_days: 0.07,
                before_calibration: Some([p.within_14_days, p.within_30_days]),
            })
        );
        assert_eq!(
            Assessment {
                probability: model.probability,
                ..shown
            },
            model,
            "only the probability changes"
        );
        // Empty: RUPTURE, the model's figure kept.
        let empty = assess(&wholesaler(0), d(23));
        assert_eq!(empty.level, Level::Rupture);
        assert!(empty.probability.is_some());
        assert_eq!(config.calibrated(empty.clone()), empty);
        // Set beside another model (here without the episode rule), the map is not applied.
        config.model = crate::risk::config::ModelOptions::without("episode").unwrap();
        assert_eq!(config.calibrated(model.clone()), model);
    }

    #[test]
    fn a_manufacturer_that_stopped_declaring_is_unknown_not_zero() {
        // 20 days of wholesaler stock, and a manufacturer last heard of three weeks ago: its
        // stock run down at its outflow reads 0, and the chain would read TENSION.
        let positions = |lab_day: u32, stock| {
            vec![
                (
                    pos("gr-b", d(23), stock, Some(50.0), vec![]),
                    DeclarantType::Grossiste,
                ),
                (
                    pos("lab-a", d(lab_day), 100, Some(50.0), vec![]),
                    DeclarantType::Exploitant,
                ),
            ]
        };
        let not_expected = assess(&input(positions(1, 1000)), d(23));
        assert_eq!(not_expected.level, Level::Tension);

        let mut stopped = input(positions(1, 1000));
        stopped.manufacturers_expected = true;
        let unknown = assess(&stopped, d(23));
        assert_eq!(
            unknown.level,
            Level::Vigilance,
            "the gap alone does not escalate"
        );
        assert!(unknown.flags.contains(&QualityFlag::MissingManufacturers));
        assert_eq!(
            unknown.days_to_stockout,
            Some(20),
            "the figures stay as known"
        );

        // A distribution already empty is a RUPTURE whatever the manufacturers hold.
        let mut empty = input(positions(1, 10));
        empty.manufacturers_expected = true;
        assert_eq!(assess(&empty, d(23)).level, Level::Rupture);

        // A level already held is kept, not lowered by the gap.
        stopped.previous_level = Some(Level::Critique);
        assert_eq!(assess(&stopped, d(23)).level, Level::Tension);

        // A manufacturer that declares (even 0) is known; one never heard of is not expected.
        let mut fresh = input(positions(20, 1000));
        fresh.manufacturers_expected = true;
        fresh.positions[1].0.stock = 0;
        let fresh = assess(&fresh, d(23));
        assert!(!fresh.flags.contains(&QualityFlag::MissingManufacturers));
        assert!(fresh.level >= Level::Tension);
        let mut never = input(positions(1, 1000));
        never.manufacturers_expected = true;
        never.positions.truncate(1);
        never.options.undeclared_manufacturers = false;
        assert_eq!(assess(&never, d(23)).level, Level::Tension);
        // Unless the manufacturers are only starting to declare: not yet is not never.
        never.manufacturers_starting = true;
        let starting = assess(&never, d(23));
        assert_eq!(starting.level, Level::Vigilance);
        assert!(starting.flags.contains(&QualityFlag::MissingManufacturers));
        never.positions[0].0.stock = 10;
        assert_eq!(
            assess(&never, d(23)).level,
            Level::Rupture,
            "an empty distribution still is"
        );
        // With `undeclared_manufacturers` (the default), a reference no manufacturer declares
        // is not escalated to TENSION on the wholesalers' stock alone; their running dry is.
        never.manufacturers_starting = false;
        never.options.undeclared_manufacturers = true;
        never.positions[0].0.stock = 1000;
        assert_eq!(
            assess(&never, d(23)).level,
            Level::Tension,
            "every registered manufacturer declares: assessed on what is declared"
        );
        // The reference's own manufacturer is named and registered: awaited, however long.
        never.holder = Some(medistock_domain::DeclarantId::parse("lab-c").unwrap());
        let awaited = assess(&never, d(23));
        assert_eq!(awaited.level, Level::Vigilance, "{awaited:?}");
        assert!(awaited.flags.contains(&QualityFlag::MissingManufacturers));
        assert_eq!(
            awaited.probability, None,
            "not computed from a lower bound of the stock"
        );
        assert!(awaited.probability_withheld());
        never.options.undeclared_manufacturers = false;
        let assessed = assess(&never, d(23));
        assert_eq!(assessed.level, Level::Tension, "rule turned off");
        assert!(assessed.probability.is_some());
        never.options.undeclared_manufacturers = true;
        never.holder = None;
        never.manufacturers_pending = true;
        let capped = assess(&never, d(23));
        assert_eq!(capped.level, Level::Vigilance, "{capped:?}");
        assert!(capped.flags.contains(&QualityFlag::MissingManufacturers));
        // A TENSION already held is kept (the gap does not lower it), and never raised by it.
        never.previous_level = Some(Level::Tension);
        assert_eq!(assess(&never, d(23)).level, Level::Tension);
        never.previous_level = Some(Level::Critique);
        assert_eq!(
            assess(&never, d(23)).level,
            Level::Tension,
            "the level read from the figures, not above"
        );
        never.previous_level = None;
        never.positions[0].0.stock = 300;
        let critique = assess(&never, d(23));
        assert_eq!(critique.level, Level::Critique, "6 days");
        // Its alert says why it carries no probability.
        let alert = super::super::alert::notification(
            &critique,
            Level::Normal,
            &super::super::config::ReferenceSettings {
                denomination: "X".into(),
                group: None,
                mitm: false,
                thresholds: Thresholds::default(),
                safety_stock_months: 2.0,
                exploitant: None,
            },
            &[],
            &super::super::alert::AlertTopics {
                critical: "c".into(),
                info: "i".into(),
            },
        );
        assert!(
            alert.body.contains(
                "Probabilité de rupture : non calculée, le stock des exploitants est inconnu"
            ),
            "{}",
            alert.body
        );
    }

    /// A manufacturer at 1 000 with a batch of 5 000 announced for the 30th, a wholesaler at
    /// 1 000, 100 a day: with the batch 70 days; without it, 20 days.
    fn announced(history: StockHistory) -> Assessment {
        assess(&announced_input(history), d(23))
    }

    /// The input of [`announced`].
    fn announced_input(history: StockHistory) -> ReferenceInput {
        let mut i = input(vec![
            (
                pos(
                    "lab-a",
                    d(23),
                    1000,
                    Some(100.0),
                    vec![Supply {
                        date: d(30),
                        quantity: 5000,
                    }],
                ),
                DeclarantType::Exploitant,
            ),
            (
                pos("gr-b", d(23), 1000, Some(100.0), vec![]),
                DeclarantType::Grossiste,
            ),
        ]);
        i.history = history;
        i
    }

    /// An assessment stored before the manufacturers' records (a RISK item's figures) still
    /// reads, with an empty record.
    #[test]
    fn an_assessment_stored_without_a_record_still_reads() {
        let a = assess(&input(Vec::new()), d(20));
        let mut json: serde_json::Value = serde_json::to_value(&a).unwrap();
        let object = json.as_object_mut().unwrap();
        assert!(object.remove("supply_record").is_some());
        assert!(object.remove("supply_record_used").is_some());
        let read: Assessment = serde_json::from_value(json).unwrap();
        assert_eq!(read, a);
        let partial: SupplyRecord = serde_json::from_str(r#"{"promised":3}"#).unwrap();
        assert_eq!(partial.promised, 3, "a record missing fields reads too");
    }

    /// The manufacturer's record stands for the chances of arrival only with
    /// `learnt_reliability`; otherwise the model's defaults.
    #[test]
    fn the_chance_of_arrival_is_learnt_only_when_asked() {
        let mut i = input(Vec::new());
        i.supply_record = SupplyRecord {
            promised: 20,
            kept: 2,
            pushed: 10,
            pushed_came: 9,
        };
        assert_eq!(
            chance_of_arrival(&i, false),
            super::super::probability::RELIABILITY
        );
        assert_eq!(
            chance_of_arrival(&i, true),
            super::super::probability::DOUBTFUL_RELIABILITY
        );
        i.options.learnt_reliability = true;
        assert_eq!(chance_of_arrival(&i, false), i.supply_record.on_time());
        assert_eq!(chance_of_arrival(&i, true), i.supply_record.after_push());
        assert!(chance_of_arrival(&i, false) < 0.3 && chance_of_arrival(&i, true) > 0.6);
    }

    /// With `slip_twice`, a date pushed back once is not doubted yet (a batch a few days late
    /// is announced again for the next week, and comes); pushed back a second time, it is. By
    /// default the first push is enough.
    #[test]
    fn a_supply_is_doubted_from_its_second_push_with_slip_twice() {
        let manufacturers = vec![(d(2), 3000.0), (d(9), 2300.0), (d(16), 1600.0)];
        let once = StockHistory {
            manufacturers: manufacturers.clone(),
            announced: vec![(d(2), 5000.0, Some(d(9))), (d(9), 5000.0, Some(d(30)))],
            ..StockHistory::default()
        };
        let twice = StockHistory {
            manufacturers,
            announced: vec![
                (d(2), 5000.0, Some(d(9))),
                (d(9), 5000.0, Some(d(16))),
                (d(16), 5000.0, Some(d(30))),
            ],
            ..StockHistory::default()
        };
        let second_push = |history: StockHistory| {
            let mut i = announced_input(history);
            i.options.slip_twice = true;
            assess(&i, d(23))
        };
        let a = second_push(once.clone());
        assert!(
            !a.flags
                .iter()
                .any(|f| matches!(f, QualityFlag::SupplySlipped { .. })),
            "{:?}",
            a.flags
        );
        assert_eq!(a.level, Level::Normal);
        let a = second_push(twice);
        assert!(
            a.flags.contains(&QualityFlag::SupplySlipped { due: d(16) }),
            "{:?}",
            a.flags
        );
        assert_eq!(a.level, Level::Tension);
        assert_eq!(announced(once).level, Level::Tension, "the default");
    }

    #[test]
    fn a_supply_that_slipped_or_a_stopped_production_is_not_counted_on() {
        let trusted = announced(StockHistory::default());
        assert_eq!(trusted.level, Level::Normal, "{trusted:?}");
        assert_eq!(trusted.days_to_stockout, Some(70));
        assert_eq!(
            trusted.stockout_without_supplies,
            Some(d(23) + Days::new(20))
        );
        // The batch was due on the 9th; the declaration of the 16th announces it for the 30th,
        // and the manufacturer's stock never rose.
        let slipped = StockHistory {
            manufacturers: vec![(d(2), 3000.0), (d(9), 2300.0), (d(16), 1600.0)],
            announced: vec![(d(2), 5000.0, Some(d(9))), (d(16), 5000.0, Some(d(30)))],
            ..StockHistory::default()
        };
        let a = announced(slipped.clone());
        assert!(
            a.flags.contains(&QualityFlag::SupplySlipped { due: d(9) }),
            "{:?}",
            a.flags
        );
        assert_eq!(a.level, Level::Tension);
        assert_eq!(a.days_to_stockout, Some(20));
        // Delayed rather than dropped: due on the 9th, 14 days overdue on the 23rd, the batch
        // of the 30th is expected on 14 December: 1 000 + 1 000 at 100 a day last 20 days.
        let mut delayed = announced_input(slipped.clone());
        delayed.options.delayed_supplies = true;
        let late = assess(&delayed, d(23));
        assert_eq!(
            late.days_to_stockout,
            Some(20),
            "the batch comes after the 20 days"
        );
        // Pushed, then received on the 20th: resolved.
        let resolved = StockHistory {
            manufacturers: vec![
                (d(2), 3000.0),
                (d(9), 2300.0),
                (d(16), 1600.0),
                (d(20), 6300.0),
            ],
            ..slipped.clone()
        };
        assert!(
            !announced(resolved)
                .flags
                .iter()
                .any(|f| matches!(f, QualityFlag::SupplySlipped { .. }))
        );
        // The same announcement, received on the 12th: a new batch, not a slip.
        let received = StockHistory {
            manufacturers: vec![(d(2), 3000.0), (d(9), 2300.0), (d(12), 6900.0)],
            ..slipped
        };
        assert_eq!(announced(received).level, Level::Normal);
        // Six weeks of a manufacturer's stock only falling: a stop is suspected.
        let falling = StockHistory {
            manufacturers: (0..7)
                .map(|w| {
                    (
                        d(1) - Days::new(42) + Days::new(7 * w),
                        5000.0 - 600.0 * w as f64,
                    )
                })
                .collect(),
            ..StockHistory::default()
        };
        let stop = announced(falling);
        assert!(
            stop.flags
                .iter()
                .any(|f| matches!(f, QualityFlag::ProductionStopSuspected { .. })),
            "{:?}",
            stop.flags
        );
        assert_eq!(stop.level, Level::Tension);
    }

    #[test]
    fn a_manufacturer_that_announces_nothing_is_expected_at_its_rhythm() {
        // Batches of 3 000 on the 1st of October and the 29th: a 28-day cycle, the next one
        // expected on 26 November. 1 000 + 1 000 at 100 a day: 20 days without it.
        let mut i = input(vec![
            (
                pos("lab-a", d(23), 1000, Some(100.0), vec![]),
                DeclarantType::Exploitant,
            ),
            (
                pos("gr-b", d(23), 1000, Some(100.0), vec![]),
                DeclarantType::Grossiste,
            ),
        ]);
        i.options.inferred_batches = true;
        let day = |m: u32, dd: u32| NaiveDate::from_ymd_opt(2026, m, dd).unwrap();
        i.history = StockHistory {
            manufacturers: vec![
                (day(9, 24), 500.0),
                (day(10, 1), 3500.0),
                (day(10, 22), 1400.0),
                (day(10, 29), 4400.0),
                (d(19), 1400.0),
            ],
            ..StockHistory::default()
        };
        let a = assess(&i, d(23));
        assert!(
            a.flags.contains(&QualityFlag::InferredBatch {
                date: d(26),
                quantity: 3000
            }),
            "{:?}",
            a.flags
        );
        assert_eq!(a.level, Level::Vigilance, "{a:?}");
        // Without the inference: 20 days, TENSION.
        i.options.inferred_batches = false;
        assert_eq!(assess(&i, d(23)).level, Level::Tension);
        // A manufacturer that used to announce and has stopped is not expected at its rhythm:
        // its silence is the news.
        i.options.inferred_batches = true;
        let mut used_to = i.clone();
        used_to
            .history
            .announced
            .push((day(10, 22), 3000.0, Some(day(10, 29))));
        assert_eq!(assess(&used_to, d(23)).level, Level::Tension);
        // Nor one declared too few times for its silence to be a habit (three declarations
        // over four weeks, the batch of the 29th among them).
        let mut new = i.clone();
        new.history.manufacturers.drain(..2);
        let inferred = |a: &Assessment| {
            a.flags
                .iter()
                .any(|f| matches!(f, QualityFlag::InferredBatch { .. }))
        };
        assert!(!inferred(&assess(&new, d(23))));
        new.history.manufacturers.insert(0, (day(10, 15), 2000.0));
        assert!(
            inferred(&assess(&new, d(23))),
            "four declarations are a habit"
        );
        // Overdue (the 26th has passed): not assumed to come.
        let late = assess(&i, d(27));
        assert!(
            !late
                .flags
                .iter()
                .any(|f| matches!(f, QualityFlag::InferredBatch { .. }))
        );
    }

    #[test]
    fn empty_depots_behind_a_full_chain_are_a_local_shortage() {
        // The manufacturer holds 100 days; gr-b (60 % of the outflow) holds 3 days, gr-c 40.
        let chain = vec![
            (
                pos("lab-a", d(23), 10_000, Some(100.0), vec![]),
                DeclarantType::Exploitant,
            ),
            (
                pos("gr-b", d(23), 180, Some(60.0), vec![]),
                DeclarantType::Grossiste,
            ),
            (
                pos("gr-c", d(23), 1600, Some(40.0), vec![]),
                DeclarantType::Grossiste,
            ),
        ];
        let a = assess(&input(chain.clone()), d(23));
        assert_eq!(a.level, Level::Vigilance);
        assert!(
            a.flags.contains(&QualityFlag::LocalShortage {
                share_pct: 60,
                days: 7,
                declarants: vec!["gr-b".into()]
            }),
            "{:?}",
            a.flags
        );
        // Every wholesaler short is the chain's shortage, not a local one.
        let mut all_short = chain;
        all_short[2].0.stock = 100;
        let a = assess(&input(all_short), d(23));
        assert!(
            !a.flags
                .iter()
                .any(|f| matches!(f, QualityFlag::LocalShortage { .. }))
        );
    }

    #[test]
    fn days_the_wholesalers_ran_dry_are_left_out_of_the_demand() {
        // 20 days at 100 a day, then 10 days empty where they served only 20.
        let series: Vec<(NaiveDate, f64)> = (1..=30)
            .map(|day| (d(day), if day <= 20 { 100.0 } else { 20.0 }))
            .collect();
        let history = StockHistory {
            wholesalers: (1..=30)
                .map(|day| (d(day), if day <= 20 { 2000.0 } else { 5.0 }))
                .collect(),
            ..StockHistory::default()
        };
        let (kept, left_out) = uncensored(&series, &history);
        assert_eq!((kept.len(), left_out), (20, 10));
        assert!(kept.iter().all(|(_, v)| *v == 100.0));
        let (all, none) = uncensored(&series, &StockHistory::default());
        assert_eq!((all.len(), none), (30, 0));
    }

    #[test]
    fn declared_and_estimated_stocks_are_kept_apart_and_add_up() {
        // The wholesaler declared 5 120 on the 20th at 100 a day: 4 820 on the 23rd; the
        // manufacturer 0 on the 18th with a batch of 5 000 announced for the 25th.
        let a = assess(
            &input(vec![
                (
                    pos("gr-b", d(20), 5120, Some(100.0), vec![]),
                    DeclarantType::Grossiste,
                ),
                (
                    pos(
                        "lab-a",
                        d(18),
                        0,
                        Some(0.0),
                        vec![Supply {
                            date: d(25),
                            quantity: 5000,
                        }],
                    ),
                    DeclarantType::Exploitant,
                ),
            ]),
            d(23),
        );
        let detail = a.stock_detail;
        assert_eq!(
            (detail.grossistes.declared, detail.grossistes.newest),
            (5120, Some(d(20)))
        );
        assert_eq!(detail.grossistes.estimated, 4820.0);
        assert_eq!(
            (detail.exploitants.declared, detail.exploitants.estimated),
            (0, 0.0)
        );
        assert_eq!(
            detail.grossistes.estimated + detail.exploitants.estimated,
            a.chain_stock,
            "the estimate's parts add up"
        );
        // With the batch: 9 820 units, 98 days. Without it: 4 820 units, 48 days.
        assert_eq!(a.days_to_stockout, Some(98));
        assert_eq!(
            a.stockout_without_supplies,
            d(23).checked_add_days(Days::new(48))
        );
        assert_eq!(a.first_announced_supply.map(|s| s.date), Some(d(25)));
    }

    #[test]
    fn coverage_and_stock_out_date_from_declared_outflow() {
        // 1000 at the manufacturer + 500 at the wholesaler, 50 units a day: 30 days.
        let a = assess(
            &input(vec![
                (
                    pos("lab-a", d(23), 1000, Some(60.0), vec![]),
                    DeclarantType::Exploitant,
                ),
                (
                    pos("gr-b", d(23), 500, Some(50.0), vec![]),
                    DeclarantType::Grossiste,
                ),
            ]),
            d(23),
        );
        assert_eq!(a.demand, Some(50.0), "wholesalers' outflow measures demand");
        assert_eq!(a.coverage_days, Some(30.0));
        // Days 0..29 are served (1500 - 30 × 50 = 0); day 30 is not.
        assert_eq!(a.days_to_stockout, Some(30));
        assert_eq!(a.stockout_date, NaiveDate::from_ymd_opt(2026, 12, 23));
        assert_eq!(
            a.level,
            Level::Vigilance,
            "30 days is not under the 30-day tension threshold"
        );
        assert_eq!(
            a.stock_by_type,
            StockByType {
                exploitants: 1000,
                grossistes: 500
            }
        );
    }

    #[test]
    fn an_open_alert_episode_ends_at_normal_not_at_vigilance() {
        // 50 units a day; the wholesaler's stock gives the days of cover.
        let with_stock = |stock: i64, previous: Option<Level>| {
            let mut i = input(vec![(
                pos("gr-b", d(23), stock, Some(50.0), vec![]),
                DeclarantType::Grossiste,
            )]);
            i.previous_level = previous;
            i
        };
        // 45 days: VIGILANCE from NORMAL or VIGILANCE, the figures' own level.
        for previous in [None, Some(Level::Normal), Some(Level::Vigilance)] {
            let a = assess(&with_stock(2250, previous), d(23));
            assert_eq!((a.level, a.figures_level), (Level::Vigilance, None));
        }
        // From TENSION or worse, the same figures keep the episode open at TENSION and say so.
        for previous in [Level::Tension, Level::Critique, Level::Rupture] {
            let a = assess(&with_stock(2250, Some(previous)), d(23));
            assert_eq!(
                (a.level, a.figures_level),
                (Level::Tension, Some(Level::Vigilance)),
                "from {previous:?}"
            );
            let note = crate::risk::alert::episode_note(&a).unwrap();
            assert!(
                note.contains("TENSION") && note.contains("VIGILANCE"),
                "{note}"
            );
        }
        // A CRITIQUE whose figures give TENSION steps down to TENSION: nothing is held.
        let a = assess(&with_stock(1000, Some(Level::Critique)), d(23));
        assert_eq!((a.level, a.figures_level), (Level::Tension, None));
        // The episode ends at NORMAL (beyond 60 days and the hysteresis margin: 66).
        let a = assess(&with_stock(3500, Some(Level::Tension)), d(23));
        assert_eq!((a.level, a.figures_level), (Level::Normal, None));
        assert_eq!(crate::risk::alert::episode_note(&a), None);
        // An episode 90 days old no longer holds VIGILANCE figures (89 days still does).
        let mut old = with_stock(2250, Some(Level::Tension));
        old.episode_since = d(23).checked_sub_days(chrono::Days::new(89));
        assert_eq!(assess(&old, d(23)).level, Level::Tension);
        old.episode_since = d(23).checked_sub_days(chrono::Days::new(90));
        let a = assess(&old, d(23));
        assert_eq!((a.level, a.figures_level), (Level::Vigilance, None));
        // A recomputation of a day before the episode opened does not end it.
        old.episode_since = Some(d(24));
        assert_eq!(assess(&old, d(23)).level, Level::Tension);
        // VIGILANCE from a manufacturer below its safety stock, with a stock-out far off, is
        // no reason to keep the alert open: 200 days of cover end it.
        let mut safety = input(vec![
            (
                pos("gr-b", d(23), 10_000, Some(50.0), vec![]),
                DeclarantType::Grossiste,
            ),
            (
                pos("lab-a", d(23), 10, Some(50.0), vec![]),
                DeclarantType::Exploitant,
            ),
        ]);
        assert_eq!(assess(&safety, d(23)).level, Level::Vigilance);
        safety.previous_level = Some(Level::Tension);
        let a = assess(&safety, d(23));
        assert_eq!((a.level, a.figures_level), (Level::Vigilance, None));
        // Turned off (`--without episode`), the figures decide alone.
        let mut off = with_stock(2250, Some(Level::Tension));
        off.options.episode_hold = false;
        let a = assess(&off, d(23));
        assert_eq!((a.level, a.figures_level), (Level::Vigilance, None));
        // Stored and read back with the level it holds.
        let held = assess(&with_stock(2250, Some(Level::Tension)), d(23));
        let json = serde_json::to_string(&held).unwrap();
        assert_eq!(serde_json::from_str::<Assessment>(&json).unwrap(), held);
    }

    #[test]
    fn zero_demand_is_not_computable_and_not_an_alert() {
        let a = assess(
            &input(vec![(
                pos("gr-b", d(23), 500, Some(0.0), vec![]),
                DeclarantType::Grossiste,
            )]),
            d(23),
        );
        assert_eq!(
            (a.demand, a.coverage_days, a.stockout_date),
            (None, None, None)
        );
        assert_eq!(a.level, Level::Normal);
        assert_eq!(a.flags, [QualityFlag::NoDemand]);
        assert_eq!(a.probability, None);
        assert!(!a.probability_withheld(), "absent, not withheld");
    }

    #[test]
    fn no_position_at_all_is_flagged() {
        let a = assess(&input(vec![]), d(23));
        assert_eq!(a.flags, [QualityFlag::NoPosition, QualityFlag::NoDemand]);
        assert_eq!(a.level, Level::Normal);
    }

    #[test]
    fn a_supply_arriving_the_day_of_the_stock_out_averts_it() {
        // 100 units, 20 a day: out on day 5 (28 Nov). 100 more arrive on 28 Nov: out on day 10.
        let without = assess(
            &input(vec![(
                pos("gr-b", d(23), 100, Some(20.0), vec![]),
                DeclarantType::Grossiste,
            )]),
            d(23),
        );
        assert_eq!(without.stockout_date, Some(d(28)));
        assert_eq!(without.level, Level::Critique);
        let supply = vec![Supply {
            date: d(28),
            quantity: 100,
        }];
        let with = assess(
            &input(vec![(
                pos("gr-b", d(23), 100, Some(20.0), supply),
                DeclarantType::Grossiste,
            )]),
            d(23),
        );
        assert_eq!(with.stockout_date, NaiveDate::from_ymd_opt(2026, 12, 3));
        assert_eq!(with.days_to_stockout, Some(10));
        assert_eq!(with.level, Level::Tension);
    }

    #[test]
    fn a_stale_position_is_projected_to_today_and_flagged() {
        // Declared 1000 on 3 Nov at 20 a day: 20 days consumed by 23 Nov, 600 left.
        let a = assess(
            &input(vec![(
                pos("gr-b", d(3), 1000, Some(20.0), vec![]),
                DeclarantType::Grossiste,
            )]),
            d(23),
        );
        assert_eq!(a.chain_stock, 600.0);
        assert_eq!(a.days_to_stockout, Some(30));
        assert_eq!(
            a.flags,
            [QualityFlag::StalePosition {
                declarant: "gr-b".into(),
                as_of: d(3)
            }]
        );
    }

    #[test]
    fn a_supply_due_between_the_position_and_today_is_counted() {
        // Declared 1000 on 3 Nov at 20 a day, with 500 due on 10 Nov: by 23 Nov, 1000 + 500 -
        // 20 days × 20 = 1100 left, 55 days. The supply is past, so not listed as expected.
        let supply = vec![Supply {
            date: d(10),
            quantity: 500,
        }];
        let a = assess(
            &input(vec![(
                pos("gr-b", d(3), 1000, Some(20.0), supply),
                DeclarantType::Grossiste,
            )]),
            d(23),
        );
        assert_eq!(a.chain_stock, 1100.0);
        assert_eq!(a.days_to_stockout, Some(55));
        assert!(a.supplies.is_empty());
    }

    #[test]
    fn less_than_a_day_of_stock_is_a_rupture() {
        let a = assess(
            &input(vec![(
                pos("gr-b", d(23), 10, Some(20.0), vec![]),
                DeclarantType::Grossiste,
            )]),
            d(23),
        );
        assert_eq!((a.level, a.days_to_stockout), (Level::Rupture, Some(0)));
    }

    #[test]
    fn a_manufacturer_below_its_safety_stock_raises_vigilance() {
        // MITM: 2 months of its 100 a day = 6000; it holds 5000. The chain covers 70 days.
        let mut i = input(vec![
            (
                pos("lab-a", d(23), 5000, Some(100.0), vec![]),
                DeclarantType::Exploitant,
            ),
            (
                pos("gr-b", d(23), 2000, Some(100.0), vec![]),
                DeclarantType::Grossiste,
            ),
        ]);
        i.safety_stock_months = 2.0;
        let a = assess(&i, d(23));
        assert_eq!(a.coverage_days, Some(70.0));
        assert_eq!(
            (a.level, a.below_safety_stock.as_slice()),
            (Level::Vigilance, ["lab-a".to_owned()].as_slice())
        );
    }

    #[test]
    fn history_and_trend_drive_the_projection() {
        let mut i = input(vec![(
            pos("gr-b", d(23), 3000, Some(100.0), vec![]),
            DeclarantType::Grossiste,
        )]);
        // Demand doubled this week: trend 1.6 (see demand tests), smoothed demand above 100.
        i.demand_series = vec![(d(2), 100.0), (d(9), 100.0), (d(16), 100.0), (d(23), 200.0)];
        let a = assess(&i, d(23));
        assert!((a.trend - 1.6).abs() < 1e-9);
        let daily = a.demand.unwrap();
        let expected_days = (3000.0 / (daily * 1.6)).ceil() as i64 - 1;
        assert_eq!(a.days_to_stockout, Some(expected_days));
        assert_eq!(
            a.level,
            Level::Tension,
            "the trend turns 3000 units into less than 30 days"
        );
    }

    #[test]
    fn quantities_at_the_edge_of_i64_saturate_instead_of_overflowing() {
        // Three wholesalers declaring absurd stocks: the sum saturates, the run goes on.
        let huge = i64::MAX / 2;
        let positions = (0..3)
            .map(|i| {
                let mut p = pos(&format!("gr-{i}"), d(20), huge, Some(10.0), vec![]);
                p.stock_bloque = huge;
                (p, DeclarantType::Grossiste)
            })
            .collect();
        let a = assess(&input(positions), d(23));
        assert_eq!(a.stock_by_type.grossistes, i64::MAX);
        assert_eq!(a.held_stock, i64::MAX);
        assert!(a.chain_stock.is_finite() && a.chain_stock > 0.0);
    }

    #[test]
    fn same_inputs_same_output() {
        let i = input(vec![(
            pos(
                "gr-b",
                d(20),
                777,
                Some(13.0),
                vec![Supply {
                    date: d(30),
                    quantity: 50,
                }],
            ),
            DeclarantType::Grossiste,
        )]);
        assert_eq!(assess(&i, d(23)), assess(&i, d(23)));
    }
}
