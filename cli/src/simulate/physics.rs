//! The daily physics of the chain, one molecule at a time (presentations of different
//! molecules share nothing: no stock, no patient, no production line).
//!
//! Each day, in this order:
//! 1. the manufacturer releases its due batch (into blocked stock during a quality hold) and
//!    the held lots whose hold ends (or destroys them);
//! 2. depots receive the manufacturer's shipments whose lead time has elapsed;
//! 3. on delivery days (Monday to Saturday) each depot serves its pharmacies' pending orders
//!    from what it holds, in proportion to the orders when short; the unfilled part is lost
//!    and the pharmacy panics (raises its levels) for a while;
//! 4. patients come to pharmacies (seasonal, noisy, epidemic); a pharmacy dispenses what it
//!    holds; of the patients turned away some come back the next day, some get a
//!    substitutable presentation of the same molecule the next day, the others are lost;
//! 5. open pharmacies order up to their level when their stock falls to their reorder point;
//! 6. on their review days depots order up to their level from the manufacturer;
//! 7. on working days the manufacturer ships the pending orders from its free stock, in
//!    proportion to the orders when short; the unfilled part is lost;
//! 8. end-of-day stocks are recorded.

use super::calendar::{demand_factor, is_trading_day, is_working_day, winter_factor};
use super::rng::Rng;
use super::world::{Disruption, RECORDED_BEFORE, WARMUP, World};

/// Share of turned-away patients who come back the next day for the same presentation.
pub const RETRY_SHARE: f64 = 0.3;
/// Share of turned-away patients given a substitutable presentation the next day.
pub const SUBSTITUTION_SHARE: f64 = 0.4;
/// Log-scale of a pharmacy's daily demand noise (on top of the Poisson count).
const PHARMACY_NOISE: f64 = 0.25;
/// Log-scale of the national daily demand shock of a presentation.
const NATIONAL_NOISE: f64 = 0.08;

/// Units in and out of the chain for one presentation, over the whole simulation: the
/// chain loses nothing, so `initial + produced = dispensed + destroyed + final`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Ledger {
    /// Units in the chain on the first simulated day.
    pub initial: u64,
    /// Units released by production (blocked or not).
    pub produced: u64,
    /// Units destroyed after a quality hold.
    pub destroyed: u64,
    /// Units dispensed to patients.
    pub dispensed: u64,
    /// Units in the chain at the end (pharmacies, depots, in transit, manufacturer).
    pub final_stock: u64,
}

impl Ledger {
    /// Whether every unit is accounted for.
    pub fn balanced(&self) -> bool {
        self.initial.saturating_add(self.produced)
            == self
                .dispensed
                .saturating_add(self.destroyed)
                .saturating_add(self.final_stock)
    }
}

/// What happened to one presentation, day by day from `first` (a simulation day).
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// Simulation day of index 0.
    pub first: i64,
    /// Depots of the world.
    pub depots: usize,
    /// End-of-day stock of each depot, `[day * depots + depot]`.
    pub depot_stock: Vec<u64>,
    /// Units each depot shipped to pharmacies that day.
    pub depot_shipped: Vec<u64>,
    /// End-of-day free stock of the manufacturer.
    pub lab_stock: Vec<u64>,
    /// End-of-day blocked stock of the manufacturer.
    pub lab_blocked: Vec<u64>,
    /// Units the manufacturer shipped to depots that day.
    pub lab_shipped: Vec<u64>,
    /// The next batch as the manufacturer sees it: planned quantity, planned (simulation) day.
    pub next_batch: Vec<(u64, i64)>,
    /// National patient demand that day (returning and redirected patients included).
    pub demand: Vec<u64>,
    /// Units dispensed to patients that day.
    pub dispensed: Vec<u64>,
    /// The unit balance.
    pub ledger: Ledger,
}

impl Record {
    /// Index of simulation day `i`, if recorded.
    pub fn at(&self, i: i64) -> Option<usize> {
        let k = i - self.first;
        (k >= 0 && (k as usize) < self.lab_stock.len()).then_some(k as usize)
    }

    /// Sum of `series` over simulation days `from..=to` (days not recorded count 0).
    pub fn sum(&self, series: &[u64], from: i64, to: i64) -> u64 {
        (from..=to)
            .filter_map(|i| self.at(i))
            .filter_map(|k| series.get(k))
            .sum()
    }

    /// Sum of one depot's shipments over simulation days `from..=to`.
    pub fn depot_sum(&self, depot: usize, from: i64, to: i64) -> u64 {
        (from..=to)
            .filter_map(|i| self.at(i))
            .filter_map(|k| self.depot_shipped.get(k * self.depots + depot))
            .sum()
    }
}

/// The next batch of a manufacturer: as planned (and announced), and as it will really be.
#[derive(Debug, Clone, Copy)]
struct Batch {
    planned: i64,
    qty: u64,
    actual: i64,
    actual_qty: u64,
    hold: Option<(i64, bool)>,
}

/// The state of one presentation.
struct State {
    pharm_stock: Vec<u64>,
    pharm_forecast: Vec<f64>,
    pharm_panic_until: Vec<i64>,
    pharm_order: Vec<u64>,
    /// Patients carried into today (returning or redirected), by pharmacy.
    carry: Vec<u64>,
    /// Patients carried into tomorrow.
    next_carry: Vec<u64>,
    depot_stock: Vec<u64>,
    depot_forecast: Vec<f64>,
    depot_transit: Vec<Vec<(i64, u64)>>,
    depot_asked: Vec<u64>,
    lab_free: u64,
    lab_blocked: Vec<(i64, u64, bool)>,
    lab_pending: Vec<u64>,
    lab_forecast: f64,
    batch: Batch,
    slip_used: bool,
    small_left: u32,
    hold_used: bool,
    record: Record,
}

/// Splits `available` units among `asks` in proportion to them (largest remainders), never
/// giving anyone more than asked.
pub fn allocate(available: u64, asks: &[u64]) -> Vec<u64> {
    let total: u64 = asks.iter().sum();
    if total <= available {
        return asks.to_vec();
    }
    let mut out: Vec<u64> = Vec::with_capacity(asks.len());
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(asks.len());
    for (i, ask) in asks.iter().enumerate() {
        let exact = u128::from(available) * u128::from(*ask);
        out.push((exact / u128::from(total)) as u64);
        remainders.push((exact % u128::from(total), i));
    }
    let mut left = available.saturating_sub(out.iter().sum());
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (rem, i) in remainders {
        if left == 0 || rem == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

fn units(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        x.round().min(1e15) as u64
    } else {
        0
    }
}

/// Simulates the presentations of molecule `m`; returns their records in the molecule's order.
pub fn simulate_molecule(world: &World, m: usize, rng: &mut Rng) -> Vec<Record> {
    let molecule = &world.molecules[m];
    let n_pharm = world.pharmacies.len();
    let n_depots = world.depots.len();
    let total_days = world.total_days();
    let first = WARMUP - RECORDED_BEFORE;
    let recorded = (total_days - first).max(0) as usize;
    let depot_of: Vec<usize> = {
        let mut v = vec![0; n_pharm];
        for (d, depot) in world.depots.iter().enumerate() {
            for p in &depot.pharmacies {
                v[*p] = d;
            }
        }
        v
    };

    let mut states: Vec<State> = molecule
        .refs
        .iter()
        .map(|r| {
            let reference = &world.refs[*r];
            let base = reference.base;
            let pharm_base: Vec<f64> = world.pharmacies.iter().map(|p| base * p.weight).collect();
            let pharm_stock: Vec<u64> = world
                .pharmacies
                .iter()
                .zip(&pharm_base)
                .map(|(p, b)| units(b * (p.reorder + p.cover) / 2.0).max(1))
                .collect();
            let depot_base: Vec<f64> = world
                .depots
                .iter()
                .map(|d| d.pharmacies.iter().map(|p| pharm_base[*p]).sum())
                .collect();
            let depot_stock: Vec<u64> = world
                .depots
                .iter()
                .zip(&depot_base)
                .map(|(d, b)| units(b * (d.safety + d.review_period / 2.0 + d.lead as f64)))
                .collect();
            let phase = rng.int(1, reference.cycle);
            let lab_free = units(base * (reference.safety_days + phase as f64));
            let qty = units(base * reference.cycle as f64);
            let initial =
                pharm_stock.iter().sum::<u64>() + depot_stock.iter().sum::<u64>() + lab_free;
            State {
                pharm_stock,
                pharm_forecast: pharm_base,
                pharm_panic_until: vec![-1; n_pharm],
                pharm_order: vec![0; n_pharm],
                carry: vec![0; n_pharm],
                next_carry: vec![0; n_pharm],
                depot_stock,
                depot_forecast: depot_base,
                depot_transit: vec![Vec::new(); n_depots],
                depot_asked: vec![0; n_depots],
                lab_free,
                lab_blocked: Vec::new(),
                lab_pending: vec![0; n_depots],
                lab_forecast: base,
                batch: Batch {
                    planned: phase,
                    qty,
                    actual: phase,
                    actual_qty: qty,
                    hold: None,
                },
                slip_used: false,
                small_left: match reference.disruption {
                    Disruption::SmallBatch { batches, .. } => batches,
                    _ => 0,
                },
                hold_used: false,
                record: Record {
                    first,
                    depots: n_depots,
                    depot_stock: Vec::with_capacity(recorded * n_depots),
                    depot_shipped: Vec::with_capacity(recorded * n_depots),
                    lab_stock: Vec::with_capacity(recorded),
                    lab_blocked: Vec::with_capacity(recorded),
                    lab_shipped: Vec::with_capacity(recorded),
                    next_batch: Vec::with_capacity(recorded),
                    demand: Vec::with_capacity(recorded),
                    dispensed: Vec::with_capacity(recorded),
                    ledger: Ledger {
                        initial,
                        ..Ledger::default()
                    },
                },
            }
        })
        .collect();

    let bases: Vec<f64> = molecule.refs.iter().map(|r| world.refs[*r].base).collect();
    let mut shipped_today = vec![0u64; n_depots];
    let mut asks: Vec<u64> = Vec::with_capacity(n_pharm);
    for i in 0..total_days {
        let date = world.date(i);
        let trading = is_trading_day(date);
        let working = is_working_day(date);
        let weekday = chrono::Datelike::weekday(&date).num_days_from_monday() as usize;
        let day_factor = demand_factor(date);
        let epidemic = molecule.epidemic.map_or(1.0, |e| e.factor(i));

        // 1–3: supply.
        for (k, state) in states.iter_mut().enumerate() {
            let reference = &world.refs[molecule.refs[k]];
            let ledger = &mut state.record.ledger;
            state.lab_blocked.retain(|(release, qty, destroy)| {
                if *release > i {
                    return true;
                }
                if *destroy {
                    ledger.destroyed += qty;
                } else {
                    state.lab_free += qty;
                }
                false
            });
            if state.batch.actual <= i {
                let batch = state.batch;
                ledger.produced += batch.actual_qty;
                match batch.hold {
                    Some((days, destroy)) => {
                        state
                            .lab_blocked
                            .push((i + days, batch.actual_qty, destroy))
                    }
                    None => state.lab_free += batch.actual_qty,
                }
                state.batch = plan_batch(state, world, reference, i, rng);
            }
            for (d, transit) in state.depot_transit.iter_mut().enumerate() {
                transit.retain(|(arrival, qty)| {
                    if *arrival <= i {
                        state.depot_stock[d] += qty;
                        false
                    } else {
                        true
                    }
                });
            }
            shipped_today.iter_mut().for_each(|s| *s = 0);
            if trading {
                for (d, depot) in world.depots.iter().enumerate() {
                    asks.clear();
                    asks.extend(depot.pharmacies.iter().map(|p| state.pharm_order[*p]));
                    let served = allocate(state.depot_stock[d], &asks);
                    for ((p, ask), got) in depot.pharmacies.iter().zip(&asks).zip(&served) {
                        state.pharm_stock[*p] += got;
                        if got < ask {
                            state.pharm_panic_until[*p] = i + world.pharmacies[*p].panic_days;
                        }
                        state.pharm_order[*p] = 0;
                    }
                    let total: u64 = served.iter().sum();
                    state.depot_stock[d] -= total;
                    shipped_today[d] = total;
                }
            }
            if i >= first {
                state.record.depot_shipped.extend_from_slice(&shipped_today);
            }
        }

        // 4: patients.
        for k in 0..states.len() {
            let reference = &world.refs[molecule.refs[k]];
            let level = reference.base
                * winter_factor(date, reference.winter)
                * epidemic
                * day_factor
                * rng.lognormal_factor(NATIONAL_NOISE);
            let mut demand_total = 0u64;
            let mut served_total = 0u64;
            for p in 0..n_pharm {
                let carried = states[k].carry[p];
                if !trading {
                    // Returning patients wait for their pharmacy to open.
                    states[k].next_carry[p] += carried;
                }
                let lambda =
                    level * world.pharmacies[p].weight * rng.lognormal_factor(PHARMACY_NOISE);
                let demand = rng.poisson(lambda) + if trading { carried } else { 0 };
                let state = &mut states[k];
                let served = demand.min(state.pharm_stock[p]);
                state.pharm_stock[p] -= served;
                state.pharm_forecast[p] = 0.95 * state.pharm_forecast[p] + 0.05 * demand as f64;
                demand_total += demand;
                served_total += served;
                let lost = demand - served;
                if lost > 0 {
                    let retry = rng.round(lost as f64 * RETRY_SHARE);
                    state.next_carry[p] += retry;
                    if bases.len() > 1 {
                        let moved = rng.round(lost as f64 * SUBSTITUTION_SHARE);
                        if moved > 0 {
                            let mut weights = bases.clone();
                            weights[k] = 0.0;
                            let other = rng.weighted(&weights);
                            states[other].next_carry[p] += moved;
                        }
                    }
                }
            }
            let state = &mut states[k];
            state.record.ledger.dispensed += served_total;
            if i >= first {
                state.record.demand.push(demand_total);
                state.record.dispensed.push(served_total);
            }
        }

        // 5–8: orders, shipments, records.
        for (k, state) in states.iter_mut().enumerate() {
            let reference = &world.refs[molecule.refs[k]];
            std::mem::swap(&mut state.carry, &mut state.next_carry);
            state.next_carry.iter_mut().for_each(|c| *c = 0);
            state.depot_asked.iter_mut().for_each(|a| *a = 0);
            if trading {
                for (p, pharmacy) in world.pharmacies.iter().enumerate() {
                    let panic = if i < state.pharm_panic_until[p] {
                        pharmacy.panic
                    } else {
                        1.0
                    };
                    let f = state.pharm_forecast[p];
                    let reorder = (f * pharmacy.reorder * panic).max(1.0);
                    let up_to = (f * pharmacy.cover * panic).max(reorder + 1.0);
                    let position = (state.pharm_stock[p] + state.pharm_order[p]) as f64;
                    if position <= reorder {
                        let qty = units((up_to - position).ceil());
                        state.pharm_order[p] += qty;
                        state.depot_asked[depot_of[p]] += qty;
                    }
                }
            }
            let mut lab_asked = 0u64;
            for (d, depot) in world.depots.iter().enumerate() {
                state.depot_forecast[d] =
                    0.95 * state.depot_forecast[d] + 0.05 * state.depot_asked[d] as f64;
                if working && depot.review[weekday] {
                    let up_to = state.depot_forecast[d]
                        * (depot.review_period + depot.lead as f64 + depot.safety);
                    let transit: u64 = state.depot_transit[d].iter().map(|(_, q)| q).sum();
                    let position = (state.depot_stock[d] + transit + state.lab_pending[d]) as f64;
                    if position < up_to {
                        let qty = units((up_to - position).ceil());
                        state.lab_pending[d] += qty;
                        lab_asked += qty;
                    }
                }
            }
            // The manufacturer knows its product's seasonality: it follows the deseasonalized
            // level of its orders.
            let season = winter_factor(date, reference.winter).max(0.1);
            state.lab_forecast = 0.97 * state.lab_forecast + 0.03 * lab_asked as f64 / season;
            let mut lab_shipped = 0;
            if working {
                let shipped = allocate(state.lab_free, &state.lab_pending);
                for (d, qty) in shipped.iter().enumerate() {
                    if *qty > 0 {
                        state.depot_transit[d].push((i + world.depots[d].lead, *qty));
                    }
                    lab_shipped += qty;
                }
                state.lab_free -= lab_shipped;
                state.lab_pending.iter_mut().for_each(|q| *q = 0);
            }
            if i >= first {
                let record = &mut state.record;
                record.depot_stock.extend_from_slice(&state.depot_stock);
                record.lab_stock.push(state.lab_free);
                record
                    .lab_blocked
                    .push(state.lab_blocked.iter().map(|(_, q, _)| q).sum());
                record.lab_shipped.push(lab_shipped);
                record
                    .next_batch
                    .push((state.batch.qty, state.batch.planned));
            }
        }
    }

    states
        .into_iter()
        .map(|mut state| {
            let transit: u64 = state
                .depot_transit
                .iter()
                .flat_map(|t| t.iter().map(|(_, q)| q))
                .sum();
            let blocked: u64 = state.lab_blocked.iter().map(|(_, q, _)| q).sum();
            state.record.ledger.final_stock = state.pharm_stock.iter().sum::<u64>()
                + state.depot_stock.iter().sum::<u64>()
                + transit
                + state.lab_free
                + blocked;
            state.record
        })
        .collect()
}

/// Plans the batch after the one released on day `i`: due a cycle later, sized to cover the
/// next cycle and the safety stock (seasonality included) from the stock then expected, within
/// the line's capacity; then what will really happen to it (its disruption, the usual few days
/// of jitter).
fn plan_batch(
    state: &mut State,
    world: &World,
    reference: &super::world::Reference,
    i: i64,
    rng: &mut Rng,
) -> Batch {
    let cycle = reference.cycle;
    let level = state.lab_forecast.max(0.0);
    let need = |from: i64, to: i64| -> f64 {
        (from..=to)
            .map(|d| level * winter_factor(world.date(d), reference.winter))
            .sum()
    };
    let planned = i + cycle;
    let expected = (state.lab_free as f64 - need(i + 1, planned)).max(0.0);
    let nominal = reference.base * cycle as f64;
    let wanted = need(planned + 1, planned + cycle + reference.safety_days as i64) - expected;
    let qty = units(wanted.clamp(0.2 * nominal, reference.capacity * nominal));
    let mut actual = planned + rng.int(-2, 4);
    let mut actual_qty = units(qty as f64 * rng.uniform(0.94, 1.0));
    let mut hold = None;
    match reference.disruption {
        Disruption::None => {}
        Disruption::ProductionStop { start, end } => {
            if actual >= start && actual < end {
                actual = end + rng.int(0, 10);
            }
        }
        Disruption::Slip { from, delay } => {
            if !state.slip_used && planned >= from {
                state.slip_used = true;
                actual += delay;
            }
        }
        Disruption::SmallBatch { from, ratio, .. } => {
            if state.small_left > 0 && planned >= from {
                state.small_left -= 1;
                actual_qty = units(qty as f64 * ratio);
            }
        }
        Disruption::QualityHold {
            from,
            days,
            destroy,
        } => {
            if !state.hold_used && planned >= from {
                state.hold_used = true;
                hold = Some((days, destroy));
            }
        }
    }
    Batch {
        planned,
        qty,
        actual: actual.max(i + 1),
        actual_qty,
        hold,
    }
}

#[cfg(test)]
mod tests {
    use super::allocate;

    #[test]
    fn allocation_is_proportional_and_exact() {
        assert_eq!(allocate(100, &[10, 20]), vec![10, 20]);
        assert_eq!(allocate(10, &[10, 10]), vec![5, 5]);
        let out = allocate(7, &[3, 3, 3]);
        assert_eq!(out.iter().sum::<u64>(), 7);
        assert!(out.iter().all(|q| *q <= 3));
        assert_eq!(allocate(0, &[5, 5]), vec![0, 0]);
        assert_eq!(allocate(5, &[]), Vec::<u64>::new());
    }
}
