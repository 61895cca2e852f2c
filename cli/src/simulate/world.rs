//! The world of a simulation, drawn once from the seed: molecules and their presentations,
//! manufacturers, wholesalers and their depots, pharmacies, the disruptions and epidemics to
//! come, and how each declarant declares.

use chrono::{Days, NaiveDate};
use medistock_domain::Cip13;
use serde::Serialize;

use super::ChainSpec;
use super::rng::Rng;

/// Days simulated before the first declared day, so that every stock and forecast starts the
/// declared period in its steady state.
pub const WARMUP: i64 = 56;
/// Most depots a wholesaler has.
pub const MAX_DEPOTS_PER_WHOLESALER: usize = 5;
/// Days recorded before the first declared day (the periods of the first declarations).
pub const RECORDED_BEFORE: i64 = 10;

/// Therapeutic class of a molecule: how seasonal its demand is and whether epidemics hit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Anti-infectives, respiratory, paediatric fever: strong winter, epidemics.
    Respiratory,
    /// Acute care: mild winter.
    Acute,
    /// Chronic treatments: flat.
    Chronic,
}

/// An epidemic: patient demand of a molecule ramps up to `peak` times its level, stays there,
/// and ramps down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Epidemic {
    /// Simulation day it starts.
    pub start: i64,
    /// Days of the ramp up (and of the ramp down).
    pub ramp: i64,
    /// Days at the peak.
    pub plateau: i64,
    /// Demand multiplier at the peak.
    pub peak: f64,
}

impl Epidemic {
    /// Demand multiplier on simulation day `i`.
    pub fn factor(&self, i: i64) -> f64 {
        let x = i - self.start;
        let ramp = self.ramp.max(1);
        let extra = self.peak - 1.0;
        if x < 0 {
            1.0
        } else if x < ramp {
            1.0 + extra * x as f64 / ramp as f64
        } else if x < ramp + self.plateau {
            self.peak
        } else if x < 2 * ramp + self.plateau {
            self.peak - extra * (x - ramp - self.plateau) as f64 / ramp as f64
        } else {
            1.0
        }
    }
}

/// What goes wrong at the manufacturer of a reference (simulation days).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Disruption {
    /// Nothing.
    None,
    /// No batch is released from `start` to `end` (site shut, active ingredient missing).
    ProductionStop {
        /// First day without production.
        start: i64,
        /// First day production can release again.
        end: i64,
    },
    /// The first batch planned from `from` is released `delay` days late.
    Slip {
        /// From which planned date.
        from: i64,
        /// Days late.
        delay: i64,
    },
    /// The `batches` batches planned from `from` yield only `ratio` of what was announced.
    SmallBatch {
        /// From which planned date.
        from: i64,
        /// Share of the announced quantity actually released.
        ratio: f64,
        /// How many batches.
        batches: u32,
    },
    /// The first batch planned from `from` is held in quarantine `days` days, then released
    /// or destroyed.
    QualityHold {
        /// From which planned date.
        from: i64,
        /// Days blocked.
        days: i64,
        /// Destroyed at the end of the hold instead of released.
        destroy: bool,
    },
}

impl Disruption {
    /// Short label (documentation, summaries).
    pub fn label(&self) -> &'static str {
        match self {
            Disruption::None => "aucune",
            Disruption::ProductionStop { .. } => "arret_production",
            Disruption::Slip { .. } => "lot_en_retard",
            Disruption::SmallBatch { .. } => "lot_reduit",
            Disruption::QualityHold { .. } => "blocage_qualite",
        }
    }
}

/// A molecule: its presentations are substitutable.
#[derive(Debug, Clone)]
pub struct Molecule {
    /// Therapeutic class.
    pub class: Class,
    /// Its presentations (indices into the references).
    pub refs: Vec<usize>,
    /// Group id (`G01`…) when it has several presentations.
    pub group: Option<String>,
    /// Médicament d'intérêt thérapeutique majeur.
    pub mitm: bool,
    /// Epidemic to come, if any.
    pub epidemic: Option<Epidemic>,
}

/// A presentation (CIP13) and how it is made and sold.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Its CIP13.
    pub cip: Cip13,
    /// Its name.
    pub denomination: String,
    /// Its molecule.
    pub molecule: usize,
    /// Its manufacturer.
    pub lab: usize,
    /// National patient demand, units per calendar day, before seasonality.
    pub base: f64,
    /// Winter amplitude of its demand.
    pub winter: f64,
    /// Days between two batches.
    pub cycle: i64,
    /// Days of demand the manufacturer keeps when the next batch comes (safety stock).
    pub safety_days: f64,
    /// Largest batch, as a multiple of a cycle of nominal demand.
    pub capacity: f64,
    /// What goes wrong.
    pub disruption: Disruption,
}

/// How a declarant writes its files.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// Header spelling (0 canonical, 1 spaces and accents, 2 accepted aliases).
    pub header: u8,
    /// `JJ/MM/AAAA` rather than `AAAA-MM-JJ`.
    pub french_dates: bool,
    /// Thousands separated by a space.
    pub thousands: bool,
    /// Windows line ends.
    pub crlf: bool,
    /// CIP7 rather than CIP13.
    pub cip7: bool,
    /// Wholesalers: `sorties` over the last 7 days rather than since the previous working day.
    pub rolling7: bool,
}

/// How reliably a declarant declares.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// First declared day it may send (period day).
    pub join: i64,
    /// Period days [from, to) it sends nothing (an IT change…).
    pub outage: Option<(i64, i64)>,
    /// Probability a file is never sent.
    pub miss: f64,
    /// Probability a file is sent late.
    pub late: f64,
    /// Most days late.
    pub max_delay: i64,
    /// File format.
    pub dialect: Dialect,
}

/// A manufacturer (laboratoire exploitant).
#[derive(Debug, Clone)]
pub struct Lab {
    /// Declarant id (`LAB-1`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Weekday of its weekly declaration (0 Monday … 4 Friday).
    pub weekday: u32,
    /// Days an overdue batch is announced ahead ("next week").
    pub slip_step: i64,
    /// Fills `appro_quantite` / `appro_date`.
    pub announces: bool,
    /// How it declares.
    pub behaviour: Behaviour,
}

/// A wholesaler (grossiste-répartiteur).
#[derive(Debug, Clone)]
pub struct Wholesaler {
    /// Declarant id (`GR-1`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Its depots (indices).
    pub depots: Vec<usize>,
    /// How it declares.
    pub behaviour: Behaviour,
}

/// A wholesaler's depot.
#[derive(Debug, Clone)]
pub struct Depot {
    /// Its site name (`D1`…).
    pub site: String,
    /// Weekdays it reviews its stock and orders from manufacturers (Monday first).
    pub review: [bool; 7],
    /// Mean days between two reviews.
    pub review_period: f64,
    /// Days between an order's shipment by the manufacturer and its receipt.
    pub lead: i64,
    /// Safety stock, days of demand.
    pub safety: f64,
    /// Its pharmacies (indices).
    pub pharmacies: Vec<usize>,
}

/// A pharmacy (or a cluster of pharmacies of one area, served by one depot).
#[derive(Debug, Clone)]
pub struct Pharmacy {
    /// Share of national demand.
    pub weight: f64,
    /// Order-up-to level, days of its demand.
    pub cover: f64,
    /// Reorder point, days of its demand.
    pub reorder: f64,
    /// Multiplier of both levels while it panics.
    pub panic: f64,
    /// Days it panics after an order was not filled.
    pub panic_days: i64,
}

/// Everything drawn from the seed before the first day.
#[derive(Debug, Clone)]
pub struct World {
    /// First declared day.
    pub start: NaiveDate,
    /// Declared days.
    pub days: i64,
    /// Presentations.
    pub refs: Vec<Reference>,
    /// Molecules.
    pub molecules: Vec<Molecule>,
    /// Manufacturers.
    pub labs: Vec<Lab>,
    /// Wholesalers.
    pub wholesalers: Vec<Wholesaler>,
    /// Depots of all wholesalers.
    pub depots: Vec<Depot>,
    /// Pharmacies.
    pub pharmacies: Vec<Pharmacy>,
}

/// Calendar date of simulation day `i` for a period starting on `start`.
fn date_of(start: NaiveDate, i: i64) -> NaiveDate {
    let offset = i - WARMUP;
    let moved = if offset >= 0 {
        start.checked_add_days(Days::new(offset as u64))
    } else {
        start.checked_sub_days(Days::new(offset.unsigned_abs()))
    };
    // The spec's bounds keep every simulated date valid.
    moved.unwrap_or(start)
}

impl World {
    /// Simulation days (warm-up included).
    pub fn total_days(&self) -> i64 {
        WARMUP + self.days
    }

    /// Calendar date of simulation day `i` (day `WARMUP` is the first declared day).
    pub fn date(&self, i: i64) -> NaiveDate {
        date_of(self.start, i)
    }
}

/// International non-proprietary names, with the dose and form of their presentations.
const MOLECULES: &[(&str, &str, &str, Class)] = &[
    ("AMOXICILLINE", "500 mg", "gélule", Class::Respiratory),
    (
        "AMOXICILLINE/ACIDE CLAVULANIQUE",
        "1 g/125 mg",
        "comprimé",
        Class::Respiratory,
    ),
    ("PARACÉTAMOL", "1 g", "comprimé", Class::Respiratory),
    ("IBUPROFÈNE", "200 mg", "comprimé", Class::Acute),
    ("AZITHROMYCINE", "250 mg", "comprimé", Class::Respiratory),
    ("CEFPODOXIME", "100 mg", "comprimé", Class::Respiratory),
    (
        "SALBUTAMOL",
        "100 µg/dose",
        "suspension pour inhalation",
        Class::Respiratory,
    ),
    (
        "PREDNISOLONE",
        "20 mg",
        "comprimé orodispersible",
        Class::Respiratory,
    ),
    ("OSELTAMIVIR", "75 mg", "gélule", Class::Respiratory),
    ("DEXTROMÉTHORPHANE", "15 mg", "sirop", Class::Respiratory),
    ("LÉVOTHYROXINE", "75 µg", "comprimé", Class::Chronic),
    ("METFORMINE", "850 mg", "comprimé", Class::Chronic),
    ("AMLODIPINE", "5 mg", "gélule", Class::Chronic),
    ("ATORVASTATINE", "20 mg", "comprimé", Class::Chronic),
    ("RAMIPRIL", "5 mg", "comprimé", Class::Chronic),
    ("BISOPROLOL", "2,5 mg", "comprimé", Class::Chronic),
    ("FUROSÉMIDE", "40 mg", "comprimé", Class::Chronic),
    ("APIXABAN", "5 mg", "comprimé", Class::Chronic),
    ("ANASTROZOLE", "1 mg", "comprimé", Class::Chronic),
    ("TAMOXIFÈNE", "20 mg", "comprimé", Class::Chronic),
    ("LÉVÉTIRACÉTAM", "500 mg", "comprimé", Class::Chronic),
    ("VALPROATE DE SODIUM", "500 mg", "comprimé", Class::Chronic),
    ("QUÉTIAPINE", "100 mg", "comprimé", Class::Chronic),
    ("SERTRALINE", "50 mg", "gélule", Class::Chronic),
    (
        "INSULINE GLARGINE",
        "100 UI/ml",
        "solution injectable",
        Class::Chronic,
    ),
    (
        "ÉNOXAPARINE",
        "4000 UI",
        "solution injectable",
        Class::Acute,
    ),
    ("OMÉPRAZOLE", "20 mg", "gélule", Class::Acute),
    ("TRAMADOL", "50 mg", "gélule", Class::Acute),
    ("MORPHINE", "10 mg", "gélule", Class::Acute),
    ("CIPROFLOXACINE", "500 mg", "comprimé", Class::Acute),
    ("MÉTRONIDAZOLE", "500 mg", "comprimé", Class::Acute),
    ("HYDROCORTISONE", "10 mg", "comprimé", Class::Chronic),
    (
        "CARBIDOPA/LÉVODOPA",
        "25 mg/100 mg",
        "comprimé",
        Class::Chronic,
    ),
    ("MÉTHOTREXATE", "2,5 mg", "comprimé", Class::Chronic),
    ("CLOPIDOGREL", "75 mg", "comprimé", Class::Chronic),
    ("PANTOPRAZOLE", "40 mg", "comprimé", Class::Acute),
];

/// Box sizes of the presentations of a molecule.
const BOXES: &[u32] = &[14, 28, 30, 90, 12, 20, 56, 100];

/// Picks a declarant's join day, reliability and format.
fn behaviour(rng: &mut Rng, days: i64, wholesaler: bool, always_first: bool) -> Behaviour {
    let join = if always_first || rng.chance(0.7) {
        0
    } else {
        rng.int(7, (days / 3).clamp(7, 70))
    };
    let outage = if rng.chance(0.3) && days >= 60 {
        let from = rng.int(join + 14, days - 14);
        Some((from, from + rng.int(5, 18)))
    } else {
        None
    };
    let (miss, late, max_delay) = if wholesaler {
        (rng.uniform(0.01, 0.04), rng.uniform(0.02, 0.06), 4)
    } else {
        (rng.uniform(0.03, 0.08), rng.uniform(0.06, 0.15), 9)
    };
    Behaviour {
        join,
        outage,
        miss,
        late,
        max_delay,
        dialect: Dialect {
            header: rng.index(3) as u8,
            french_dates: rng.chance(0.4),
            thousands: rng.chance(0.3),
            crlf: rng.chance(0.3),
            cip7: rng.chance(0.1),
            rolling7: rng.chance(0.5),
        },
    }
}

/// Draws the world of `spec` (already checked).
pub fn build(spec: &ChainSpec) -> World {
    let mut rng = Rng::stream(spec.seed, 0, 0);
    let days = spec.days as i64;
    let n_refs = spec.references;
    let n_labs = spec
        .manufacturers
        .unwrap_or((n_refs / 15).clamp(2, 60))
        .clamp(1, n_refs);

    // Molecules of one to four presentations; only those of several form a group.
    let mut molecules: Vec<Molecule> = Vec::new();
    let mut refs: Vec<Reference> = Vec::with_capacity(n_refs);
    let mut groups = 0usize;
    // Distinct CIP7s: 13 slots per reference, one drawn in each.
    let cip_base = 3_000_000 + rng.int(0, 600_000) as u32;
    while refs.len() < n_refs {
        let size = match rng.unit() {
            x if x < 0.5 => 1,
            x if x < 0.75 => 2,
            x if x < 0.9 => 3,
            _ => 4,
        }
        .min(n_refs - refs.len());
        let (inn, dose, form, class) = MOLECULES[rng.index(MOLECULES.len())];
        let m = molecules.len();
        let group = (size > 1).then(|| {
            groups += 1;
            format!("G{groups:02}")
        });
        let winter = match class {
            Class::Respiratory => rng.uniform(0.15, 0.45),
            Class::Acute => rng.uniform(0.03, 0.12),
            Class::Chronic => rng.uniform(0.0, 0.04),
        };
        let mitm = rng.chance(0.4);
        // National demand of the molecule, units a day: log-normal, median 400.
        let molecule_demand =
            (400.0 * rng.lognormal_factor(1.2) * (0.72f64).exp()).clamp(60.0, 20_000.0);
        let shares: Vec<f64> = (0..size).map(|_| rng.uniform(0.3, 1.0)).collect();
        let total: f64 = shares.iter().sum();
        let mut members = Vec::with_capacity(size);
        for (k, share) in shares.iter().enumerate() {
            let index = refs.len();
            let slot = rng.int(0, 12) as u32;
            let cip7 = cip_base + 13 * index as u32 + slot;
            // Seven digits always convert to a CIP13; the loop draws another one otherwise.
            let Ok(cip) = Cip13::parse(&format!("{cip7:07}")) else {
                continue;
            };
            let boxes = BOXES[(k + rng.index(BOXES.len())) % BOXES.len()];
            let lab = if index < n_labs {
                index
            } else {
                rng.index(n_labs)
            };
            let safety_days = if mitm {
                if rng.chance(0.25) { 120.0 } else { 60.0 }
            } else {
                rng.uniform(10.0, 30.0)
            };
            refs.push(Reference {
                cip,
                denomination: format!("{inn} {dose}, {form}, boîte de {boxes}"),
                molecule: m,
                lab,
                base: (molecule_demand * share / total).max(30.0),
                winter,
                cycle: rng.int(28, 56),
                safety_days,
                // Sized for the winter peak, with a margin.
                capacity: (1.0 + winter) * rng.uniform(1.15, 1.6),
                disruption: disruption(&mut rng, days),
            });
            members.push(index);
        }
        molecules.push(Molecule {
            class,
            refs: members,
            group,
            mitm,
            epidemic: None,
        });
    }

    // Epidemics: about one per three months of the period, on molecules of the respiratory
    // class, starting in autumn or winter when the period has some.
    let mut candidates: Vec<usize> = (0..molecules.len())
        .filter(|m| molecules[*m].class == Class::Respiratory)
        .collect();
    if candidates.is_empty() {
        candidates = (0..molecules.len()).collect();
    }
    let epidemics = (days / 90).max(1) as usize;
    for _ in 0..epidemics.min(candidates.len()) {
        let m = candidates.swap_remove(rng.index(candidates.len()));
        let mut start = WARMUP + rng.int(7, (days - 28).max(7));
        for _ in 0..20 {
            let month = chrono::Datelike::month(&date_of(spec.start, start));
            if matches!(month, 10..=12 | 1 | 2) {
                break;
            }
            start = WARMUP + rng.int(7, (days - 28).max(7));
        }
        molecules[m].epidemic = Some(Epidemic {
            start,
            ramp: rng.int(7, 14),
            plateau: rng.int(14, 42),
            peak: rng.uniform(2.0, 3.5),
        });
    }

    let labs: Vec<Lab> = (0..n_labs)
        .map(|k| Lab {
            id: format!("LAB-{}", k + 1),
            name: format!("Laboratoire exploitant {}", k + 1),
            weekday: rng.int(0, 4) as u32,
            slip_step: if rng.chance(0.7) { 7 } else { 14 },
            announces: rng.chance(0.85),
            behaviour: behaviour(&mut rng, days, false, k == 0),
        })
        .collect();

    // Wholesalers, their market shares and depots.
    let mut depots = Vec::new();
    let mut wholesalers = Vec::new();
    let mut shares = Vec::new();
    for k in 0..spec.wholesalers {
        let n_depots = if k == 0 { rng.int(3, 5) } else { rng.int(2, 4) } as usize;
        let mut ids = Vec::new();
        for d in 0..n_depots.min(MAX_DEPOTS_PER_WHOLESALER) {
            let reviews = rng.int(1, 3) as usize;
            let review_days: Vec<usize> = match reviews {
                1 => vec![rng.index(5)],
                2 if rng.chance(0.5) => vec![0, 3],
                2 => vec![1, 4],
                _ => vec![0, 2, 4],
            };
            let mut review = [false; 7];
            for day in &review_days {
                review[*day] = true;
            }
            ids.push(depots.len());
            depots.push(Depot {
                site: format!("D{}", d + 1),
                review,
                review_period: 7.0 / review_days.len() as f64,
                lead: rng.int(2, 5),
                safety: rng.uniform(10.0, 16.0),
                pharmacies: Vec::new(),
            });
        }
        shares.push(rng.uniform(0.5, 1.5) / (k + 1) as f64);
        wholesalers.push(Wholesaler {
            id: format!("GR-{}", k + 1),
            name: format!("Grossiste-répartiteur {}", k + 1),
            depots: ids,
            behaviour: behaviour(&mut rng, days, true, k == 0),
        });
    }

    // Pharmacies: sizes log-normal; the first ones open every depot, the others pick a
    // wholesaler by market share and one of its depots.
    let mut pharmacies = Vec::with_capacity(spec.pharmacies);
    for p in 0..spec.pharmacies {
        let depot = if p < depots.len() {
            p
        } else {
            let w = rng.weighted(&shares);
            let own = &wholesalers[w].depots;
            own[rng.index(own.len())]
        };
        depots[depot].pharmacies.push(p);
        pharmacies.push(Pharmacy {
            weight: rng.lognormal_factor(0.5),
            cover: rng.uniform(5.0, 12.0),
            reorder: rng.uniform(1.5, 3.5),
            panic: rng.uniform(1.3, 2.5),
            panic_days: rng.int(10, 21),
        });
    }
    let total: f64 = pharmacies.iter().map(|p| p.weight).sum();
    for p in &mut pharmacies {
        p.weight /= total;
    }

    let mut world = World {
        start: spec.start,
        days,
        refs,
        molecules,
        labs,
        wholesalers,
        depots,
        pharmacies,
    };
    ensure_a_late_joiner(&mut world, &mut rng);
    world
}

/// A declarant that starts weeks into the period is the rule, not the exception: when the
/// draw gave none, the last manufacturer (or else the last wholesaler) joins late.
fn ensure_a_late_joiner(world: &mut World, rng: &mut Rng) {
    let any_late = world.labs.iter().any(|l| l.behaviour.join > 0)
        || world.wholesalers.iter().any(|w| w.behaviour.join > 0);
    if any_late || world.days < 28 {
        return;
    }
    let join = rng.int(7, (world.days / 3).clamp(7, 42));
    if world.labs.len() > 1 {
        if let Some(lab) = world.labs.last_mut() {
            lab.behaviour.join = join;
        }
    } else if world.wholesalers.len() > 1
        && let Some(w) = world.wholesalers.last_mut()
    {
        w.behaviour.join = join;
    }
}

/// Draws the disruption of one reference: about one in three has one, inside the declared
/// period (simulation days).
fn disruption(rng: &mut Rng, days: i64) -> Disruption {
    let from = |rng: &mut Rng| WARMUP + rng.int(14, (days - 30).max(14));
    match rng.unit() {
        x if x < 0.12 => {
            let start = from(rng);
            Disruption::ProductionStop {
                start,
                end: start + rng.int(45, 200),
            }
        }
        x if x < 0.22 => Disruption::Slip {
            from: from(rng),
            delay: rng.int(21, 70),
        },
        x if x < 0.30 => Disruption::SmallBatch {
            from: from(rng),
            ratio: rng.uniform(0.25, 0.6),
            batches: rng.int(1, 2) as u32,
        },
        x if x < 0.36 => Disruption::QualityHold {
            from: from(rng),
            days: rng.int(21, 75),
            destroy: rng.chance(0.35),
        },
        _ => Disruption::None,
    }
}
