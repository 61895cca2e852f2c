//! An independent simulator of the French medicines supply chain, to test the risk model on
//! data it was not written from: patients and pharmacies, wholesalers' depots, manufacturers'
//! production, and the declaration files that manufacturers and wholesalers send.
//!
//! The physics is simulated day by day ([`physics`]); the declarations are what the declarants
//! would see of it, with their habits and failings ([`declare`]); the truth is what patients
//! meet: a reference's stock-out day is the first day on which pharmacies nationally dispense
//! less than 80 % of that day's patient demand for it. `docs/simulator.md` describes the
//! model and its parameters.
//!
//! Everything follows from [`ChainSpec::seed`]: the same spec gives the same bytes.

mod calendar;
mod declare;
mod physics;
mod rng;
mod world;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use chrono::{Days, NaiveDate};
use medistock_domain::{Cip13, DeclarantId, DeclarantType};
use serde::Serialize;

pub use physics::Ledger;

use physics::Record;
use rng::Rng;
use world::{Disruption, WARMUP};

/// Most references a simulation follows.
pub const MAX_REFERENCES: usize = 20_000;
/// Most declared days.
pub const MAX_DAYS: usize = 730;
/// Fewest declared days (four weeks: every manufacturer declares at least once).
pub const MIN_DAYS: usize = 28;
/// Fewest pharmacies (at least one per depot).
pub const MIN_PHARMACIES: usize = 30;
/// Most pharmacies.
pub const MAX_PHARMACIES: usize = 500;
/// Most wholesalers.
pub const MAX_WHOLESALERS: usize = 6;
/// Most manufacturers.
pub const MAX_MANUFACTURERS: usize = 500;
/// Most reference-days (references × declared days): bounds the memory of the records.
pub const MAX_REFERENCE_DAYS: usize = 600_000;
/// Most wholesaler lines (references × declared days × wholesalers × 5 depots): bounds the
/// size of the files (about 50 bytes a line).
pub const MAX_DEPOT_LINES: usize = 8_000_000;
/// Most pharmacy-days simulated (references × simulated days × pharmacies): bounds the time.
pub const MAX_PHARMACY_STEPS: usize = 200_000_000;

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainSpec {
    /// Seed of every draw.
    pub seed: u64,
    /// Presentations followed.
    pub references: usize,
    /// Declared days.
    pub days: usize,
    /// First declared day.
    pub start: NaiveDate,
    /// Pharmacies (each may stand for a cluster of pharmacies served by one depot).
    pub pharmacies: usize,
    /// Wholesalers (each with two to five depots).
    pub wholesalers: usize,
    /// Manufacturers; by default one per fifteen references (2 to 60). Never more than the
    /// references: each has at least one.
    pub manufacturers: Option<usize>,
}

impl Default for ChainSpec {
    fn default() -> Self {
        Self {
            seed: 1,
            references: 200,
            days: 270,
            start: NaiveDate::from_ymd_opt(2025, 10, 6).unwrap_or_default(),
            pharmacies: 120,
            wholesalers: 3,
            manufacturers: None,
        }
    }
}

/// Why a spec is refused (a French message, shown as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

impl ChainSpec {
    /// Checks every bound; the simulation of a checked spec is bounded in memory and time.
    pub fn check(&self) -> Result<(), SpecError> {
        let within = |name: &str, value: usize, lo: usize, hi: usize| {
            if (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err(SpecError(format!(
                    "{name} : {value} hors des bornes ({lo} à {hi})"
                )))
            }
        };
        within("références", self.references, 1, MAX_REFERENCES)?;
        within("jours", self.days, MIN_DAYS, MAX_DAYS)?;
        within(
            "pharmacies",
            self.pharmacies,
            MIN_PHARMACIES,
            MAX_PHARMACIES,
        )?;
        within("grossistes", self.wholesalers, 1, MAX_WHOLESALERS)?;
        if let Some(m) = self.manufacturers {
            within("laboratoires", m, 1, MAX_MANUFACTURERS)?;
        }
        let reference_days = self.references * self.days;
        if reference_days > MAX_REFERENCE_DAYS {
            return Err(SpecError(format!(
                "références × jours = {reference_days} : au plus {MAX_REFERENCE_DAYS}"
            )));
        }
        let lines = reference_days * self.wholesalers * world::MAX_DEPOTS_PER_WHOLESALER;
        if lines > MAX_DEPOT_LINES {
            return Err(SpecError(format!(
                "références × jours × grossistes × 5 dépôts = {lines} lignes possibles : au plus \
                 {MAX_DEPOT_LINES}"
            )));
        }
        let steps = self.references * (self.days + WARMUP as usize) * self.pharmacies;
        if steps > MAX_PHARMACY_STEPS {
            return Err(SpecError(format!(
                "références × jours simulés × pharmacies = {steps} : au plus {MAX_PHARMACY_STEPS}"
            )));
        }
        let first = self.start.checked_sub_days(Days::new(WARMUP as u64));
        let last = self
            .start
            .checked_add_days(Days::new(self.days as u64 + 400));
        let in_range = |d: Option<NaiveDate>| {
            d.is_some_and(|d| (2000..=2100).contains(&chrono::Datelike::year(&d)))
        };
        if !in_range(first) || !in_range(last) {
            return Err(SpecError(format!(
                "date de début {} : la période simulée doit tenir entre 2000 et 2100",
                self.start
            )));
        }
        Ok(())
    }

    /// Last declared day.
    pub fn end(&self) -> NaiveDate {
        self.start
            .checked_add_days(Days::new(self.days.saturating_sub(1) as u64))
            .unwrap_or(self.start)
    }
}

/// A declarant of the simulation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeclarantInfo {
    /// Id, as in `config/declarants.csv` (`LAB-1`, `GR-1`); its inbox folder is its canonical
    /// lower-case form.
    pub id: String,
    /// Name.
    pub name: String,
    /// Manufacturer or wholesaler.
    pub kind: DeclarantType,
    /// First day it may declare.
    pub join: NaiveDate,
    /// Its sites (depots), for a wholesaler.
    pub sites: Vec<String>,
}

/// A reference of the simulation and what happens to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferenceInfo {
    /// Its CIP13.
    pub cip13: Cip13,
    /// Its name.
    pub denomination: String,
    /// Its group of substitutable presentations, if it has substitutes.
    pub group: Option<String>,
    /// Médicament d'intérêt thérapeutique majeur.
    pub mitm: bool,
    /// Its manufacturer.
    pub manufacturer: String,
    /// National patient demand, units a day, before seasonality and epidemics.
    pub base_demand: f64,
    /// Winter seasonality: demand is 1 + this in mid-January, 1 − this in mid-July.
    pub winter_amplitude: f64,
    /// What goes wrong at the manufacturer (`aucune`, `arret_production`, `lot_en_retard`,
    /// `lot_reduit`, `blocage_qualite`).
    pub disruption: &'static str,
    /// When it starts (the stop's first day, or the first batch planned from that day).
    pub disruption_from: Option<NaiveDate>,
    /// First day of an epidemic on its molecule.
    pub epidemic_from: Option<NaiveDate>,
}

/// A declaration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainFile {
    /// Its declarant's id.
    pub declarant: String,
    /// The day of its stock figures.
    pub stock_date: NaiveDate,
    /// The day it arrives (the stock day, or later for a late file).
    pub arrival: NaiveDate,
    /// Its name as sent.
    pub name: String,
    /// Its bytes (UTF-8 CSV).
    pub content: String,
}

/// A file due but never sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingFile {
    /// Its declarant's id.
    pub declarant: String,
    /// The day it should have described.
    pub date: NaiveDate,
}

/// What patients met for one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceTruth {
    /// Its CIP13.
    pub cip13: Cip13,
    /// The first declared day on which pharmacies nationally dispensed less than 80 % of
    /// that day's patient demand, if any.
    pub stockout: Option<NaiveDate>,
    /// Every period of stock-out days (first and last day): a run of stock-out days that
    /// days without demand do not interrupt and a day served at 80 % or more ends. The first
    /// starts on [`ReferenceTruth::stockout`].
    pub periods: Vec<(NaiveDate, NaiveDate)>,
    /// National patient demand of each declared day (returning and redirected patients
    /// included).
    pub demand: Vec<u64>,
    /// Units dispensed on each declared day.
    pub dispensed: Vec<u64>,
    /// Units in and out of the chain over the whole simulation.
    pub ledger: Ledger,
}

/// Whether a day's dispensing is a stock-out day: less than 80 % of a positive demand.
pub fn is_stockout_day(demand: u64, dispensed: u64) -> bool {
    demand > 0 && u128::from(dispensed) * 5 < u128::from(demand) * 4
}

/// A simulated data set: the declarants, the references, the files and the truth.
#[derive(Debug, Clone)]
pub struct ChainSet {
    /// What was simulated.
    pub spec: ChainSpec,
    /// `config/declarants.csv`: `declarant;nom;type`.
    pub declarants_csv: String,
    /// `config/references.csv`: `cip13;denomination;groupe;mitm;exploitant`.
    pub references_csv: String,
    /// The declarants.
    pub declarants: Vec<DeclarantInfo>,
    /// The references.
    pub references: Vec<ReferenceInfo>,
    /// The files sent, by arrival day.
    pub files: Vec<ChainFile>,
    /// The files due but never sent.
    pub missing: Vec<MissingFile>,
    /// The truth, one per reference (in the references' order).
    pub truth: Vec<ReferenceTruth>,
}

/// Simulates the chain of `spec`; a spec outside the bounds is refused.
pub fn simulate_chain(spec: &ChainSpec) -> Result<ChainSet, SpecError> {
    spec.check()?;
    let world = world::build(spec);
    let mut records: Vec<Record> = vec![Record::default(); world.refs.len()];
    for (m, molecule) in world.molecules.iter().enumerate() {
        let mut rng = Rng::stream(spec.seed, 1, m as u64);
        let simulated = physics::simulate_molecule(&world, m, &mut rng);
        for (r, record) in molecule.refs.iter().zip(simulated) {
            records[*r] = record;
        }
    }
    let declarations = declare::declare(&world, &records, spec.seed);

    let date = |i: i64| world.date(i);
    let mut declarants = Vec::new();
    for lab in &world.labs {
        declarants.push(DeclarantInfo {
            id: lab.id.clone(),
            name: lab.name.clone(),
            kind: DeclarantType::Exploitant,
            join: date(WARMUP + lab.behaviour.join),
            sites: Vec::new(),
        });
    }
    for w in &world.wholesalers {
        declarants.push(DeclarantInfo {
            id: w.id.clone(),
            name: w.name.clone(),
            kind: DeclarantType::Grossiste,
            join: date(WARMUP + w.behaviour.join),
            sites: w
                .depots
                .iter()
                .map(|d| world.depots[*d].site.clone())
                .collect(),
        });
    }
    let mut declarants_csv = String::from("declarant;nom;type\n");
    for d in &declarants {
        declarants_csv.push_str(&format!("{};{};{}\n", d.id, d.name, d.kind.as_str()));
    }

    let references: Vec<ReferenceInfo> = world
        .refs
        .iter()
        .map(|r| {
            let molecule = &world.molecules[r.molecule];
            let from = match r.disruption {
                Disruption::None => None,
                Disruption::ProductionStop { start, .. } => Some(start),
                Disruption::Slip { from, .. }
                | Disruption::SmallBatch { from, .. }
                | Disruption::QualityHold { from, .. } => Some(from),
            };
            ReferenceInfo {
                cip13: r.cip,
                denomination: r.denomination.clone(),
                group: molecule.group.clone(),
                mitm: molecule.mitm,
                manufacturer: world.labs[r.lab].id.clone(),
                base_demand: r.base,
                winter_amplitude: r.winter,
                disruption: r.disruption.label(),
                disruption_from: from.map(date),
                epidemic_from: molecule.epidemic.map(|e| date(e.start)),
            }
        })
        .collect();
    // ANSM knows which manufacturer markets each reference (the exploitant, often the BDPM's
    // titulaire): the monitoring settings name its account.
    let mut references_csv = String::from("cip13;denomination;groupe;mitm;exploitant\n");
    for r in &references {
        references_csv.push_str(&format!(
            "{};{};{};{};{}\n",
            r.cip13,
            r.denomination,
            r.group.as_deref().unwrap_or(""),
            if r.mitm { "oui" } else { "non" },
            r.manufacturer
        ));
    }

    let truth = world
        .refs
        .iter()
        .zip(&records)
        .map(|(r, record)| {
            let mut demand = Vec::with_capacity(world.days as usize);
            let mut dispensed = Vec::with_capacity(world.days as usize);
            for t in 0..world.days {
                let k = record.at(WARMUP + t);
                demand.push(k.and_then(|k| record.demand.get(k)).copied().unwrap_or(0));
                dispensed.push(
                    k.and_then(|k| record.dispensed.get(k))
                        .copied()
                        .unwrap_or(0),
                );
            }
            let periods: Vec<(NaiveDate, NaiveDate)> = stockout_periods(&demand, &dispensed)
                .into_iter()
                .map(|(a, b)| (date(WARMUP + a as i64), date(WARMUP + b as i64)))
                .collect();
            ReferenceTruth {
                cip13: r.cip,
                stockout: periods.first().map(|(start, _)| *start),
                periods,
                demand,
                dispensed,
                ledger: record.ledger,
            }
        })
        .collect();

    Ok(ChainSet {
        spec: spec.clone(),
        declarants_csv,
        references_csv,
        declarants,
        references,
        files: declarations.files,
        missing: declarations.missing,
        truth,
    })
}

/// The periods of stock-out days of a series, as (first, last) day indices: a run of
/// stock-out days, not interrupted by days without demand, ended by a day served at 80 %.
pub fn stockout_periods(demand: &[u64], dispensed: &[u64]) -> Vec<(usize, usize)> {
    let mut periods: Vec<(usize, usize)> = Vec::new();
    let mut open = false;
    for (t, (d, s)) in demand.iter().zip(dispensed).enumerate() {
        if is_stockout_day(*d, *s) {
            match periods.last_mut() {
                Some((_, last)) if open => *last = t,
                _ => periods.push((t, t)),
            }
            open = true;
        } else if *d > 0 {
            open = false;
        }
    }
    periods
}

/// `ruptures.csv`: `cip13;date_rupture;date_fin` (`JJ/MM/AAAA`), one line per period of
/// stock-out days, by reference then date: the first line of a reference is its stock-out.
pub fn ruptures_csv(set: &ChainSet) -> String {
    let mut out = String::from("cip13;date_rupture;date_fin\n");
    for t in &set.truth {
        for (start, end) in &t.periods {
            out.push_str(&format!(
                "{};{};{}\n",
                t.cip13,
                start.format("%d/%m/%Y"),
                end.format("%d/%m/%Y")
            ));
        }
    }
    out
}

/// The inbox folder of a declarant: its canonical (lower-case) id, as on the SFTP server.
pub fn inbox_folder(declarant: &str) -> String {
    DeclarantId::parse(declarant)
        .map(|id| id.as_str().to_owned())
        .unwrap_or_else(|_| declarant.to_ascii_lowercase())
}

/// Writes the data set into `dir` (created; refused if it exists and is not empty):
/// `inbox/<declarant>/<arrival AAAA-MM-JJ>__<name>`, `config/declarants.csv`,
/// `config/references.csv` and `ruptures.csv`.
pub fn write_folder(set: &ChainSet, dir: &Path) -> std::io::Result<()> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} existe et n'est pas vide", dir.display()),
        ));
    }
    std::fs::create_dir_all(dir.join("config"))?;
    std::fs::write(dir.join("config/declarants.csv"), &set.declarants_csv)?;
    std::fs::write(dir.join("config/references.csv"), &set.references_csv)?;
    std::fs::write(dir.join("ruptures.csv"), ruptures_csv(set))?;
    for d in &set.declarants {
        std::fs::create_dir_all(dir.join("inbox").join(inbox_folder(&d.id)))?;
    }
    for f in &set.files {
        let path = dir
            .join("inbox")
            .join(inbox_folder(&f.declarant))
            .join(format!("{}__{}", f.arrival.format("%Y-%m-%d"), f.name));
        std::fs::write(path, &f.content)?;
    }
    Ok(())
}

/// Figures of a data set, for the command's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Seed.
    pub seed: u64,
    /// First declared day.
    pub start: NaiveDate,
    /// Last declared day.
    pub end: NaiveDate,
    /// References.
    pub references: usize,
    /// Groups of substitutable presentations.
    pub groups: usize,
    /// MITM references.
    pub mitm: usize,
    /// Manufacturers.
    pub manufacturers: usize,
    /// Wholesalers.
    pub wholesalers: usize,
    /// Depots.
    pub depots: usize,
    /// Pharmacies.
    pub pharmacies: usize,
    /// Files written.
    pub files: usize,
    /// Declaration lines written.
    pub lines: usize,
    /// Files that arrived after their stock day.
    pub late_files: usize,
    /// Files due but never sent.
    pub missing_files: usize,
    /// Declarants that start after the first day.
    pub late_joiners: usize,
    /// References that run out.
    pub stockouts: usize,
    /// References by disruption.
    pub disruptions: BTreeMap<&'static str, usize>,
    /// References that run out, by cause ([`stockout_cause`]).
    pub stockouts_by_cause: BTreeMap<&'static str, usize>,
}

/// Why reference `r` of `set` ran out (`None` if it did not): its own disruption once started
/// (its label), an epidemic on its molecule (`epidemie`), patients redirected from a
/// substitutable presentation that ran out first (`report_substitution`), the winter peak of
/// a seasonal product (`pic_hivernal`), or `autre`.
pub fn stockout_cause(set: &ChainSet, r: usize) -> Option<&'static str> {
    let reference = set.references.get(r)?;
    let out = set.truth.get(r)?.stockout?;
    if reference.disruption_from.is_some_and(|from| from <= out) {
        return Some(reference.disruption);
    }
    if reference.epidemic_from.is_some_and(|from| from <= out) {
        return Some("epidemie");
    }
    let sibling_out_first = reference.group.is_some()
        && set
            .references
            .iter()
            .zip(&set.truth)
            .enumerate()
            .any(|(k, (other, truth))| {
                k != r
                    && other.group == reference.group
                    && truth.stockout.is_some_and(|day| day <= out)
            });
    if sibling_out_first {
        return Some("report_substitution");
    }
    let winter = matches!(chrono::Datelike::month(&out), 11 | 12 | 1..=3);
    if winter && reference.winter_amplitude >= 0.15 {
        return Some("pic_hivernal");
    }
    Some("autre")
}

/// The figures of `set`.
pub fn summary(set: &ChainSet) -> Summary {
    let mut disruptions = BTreeMap::new();
    let mut by_cause = BTreeMap::new();
    for (r, reference) in set.references.iter().enumerate() {
        *disruptions.entry(reference.disruption).or_insert(0) += 1;
        if let Some(cause) = stockout_cause(set, r) {
            *by_cause.entry(cause).or_insert(0) += 1;
        }
    }
    let groups: std::collections::BTreeSet<&str> = set
        .references
        .iter()
        .filter_map(|r| r.group.as_deref())
        .collect();
    Summary {
        seed: set.spec.seed,
        start: set.spec.start,
        end: set.spec.end(),
        references: set.references.len(),
        groups: groups.len(),
        mitm: set.references.iter().filter(|r| r.mitm).count(),
        manufacturers: set
            .declarants
            .iter()
            .filter(|d| d.kind == DeclarantType::Exploitant)
            .count(),
        wholesalers: set
            .declarants
            .iter()
            .filter(|d| d.kind == DeclarantType::Grossiste)
            .count(),
        depots: set.declarants.iter().map(|d| d.sites.len()).sum(),
        pharmacies: set.spec.pharmacies,
        files: set.files.len(),
        lines: set
            .files
            .iter()
            .map(|f| f.content.lines().count().saturating_sub(1))
            .sum(),
        late_files: set
            .files
            .iter()
            .filter(|f| f.arrival > f.stock_date)
            .count(),
        missing_files: set.missing.len(),
        late_joiners: set
            .declarants
            .iter()
            .filter(|d| d.join > set.spec.start)
            .count(),
        stockouts: set.truth.iter().filter(|t| t.stockout.is_some()).count(),
        disruptions,
        stockouts_by_cause: by_cause,
    }
}
