//! The simulation: each reference's true demand, wholesalers serving it and ordering from the
//! manufacturer, the manufacturer producing batches; declarations written every Monday from
//! the simulated stocks, as declarants would.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{Datelike, Days, NaiveDate, Weekday};

use medistock_domain::Cip13;

/// What happens to a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// Demand steady, supply regular.
    Stable,
    /// Demand rises and falls over the winter.
    WinterPeak,
    /// Demand jumps ×2.5 for three weeks.
    Epidemic,
    /// The manufacturer stops producing.
    ProductionStop,
    /// A batch arrives four weeks after the date announced.
    LateSupply,
    /// A wholesaler stops declaring the reference.
    MissingDeclarations,
}

impl Scenario {
    const ALL: [Scenario; 6] = [
        Scenario::Stable,
        Scenario::WinterPeak,
        Scenario::Epidemic,
        Scenario::ProductionStop,
        Scenario::LateSupply,
        Scenario::MissingDeclarations,
    ];

    /// French label for summaries.
    pub fn label(self) -> &'static str {
        match self {
            Scenario::Stable => "stable",
            Scenario::WinterPeak => "pic hivernal",
            Scenario::Epidemic => "épidémie",
            Scenario::ProductionStop => "arrêt de production",
            Scenario::LateSupply => "approvisionnement en retard",
            Scenario::MissingDeclarations => "déclarations manquantes",
        }
    }
}

/// Size and seed of the data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSpec {
    /// Random seed.
    pub seed: u64,
    /// Number of references (rounded up to groups of three).
    pub references: usize,
    /// Simulated days.
    pub days: u32,
    /// First simulated day.
    pub start: NaiveDate,
}

/// One declaration file, dropped on `day` by `declarant`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoFile {
    /// Day it is dropped.
    pub day: NaiveDate,
    /// Declarant id.
    pub declarant: String,
    /// File name.
    pub name: String,
    /// CSV text.
    pub content: String,
}

/// The generated data set.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSet {
    /// `config/declarants.csv`.
    pub declarants_csv: String,
    /// `config/references.csv`.
    pub references_csv: String,
    /// Scenario of each reference.
    pub scenarios: BTreeMap<Cip13, Scenario>,
    /// Files by day.
    pub files: Vec<DemoFile>,
    /// True stock-out day of each reference that runs out (wholesalers empty, demand unmet).
    pub truth: BTreeMap<Cip13, NaiveDate>,
}

const MOLECULES: [&str; 10] = [
    "AMOXICILLINE 500 mg, gélule",
    "PARACETAMOL 1000 mg, comprimé",
    "AMOXICILLINE/ACIDE CLAVULANIQUE 1 g/125 mg, poudre",
    "PREDNISOLONE 20 mg, comprimé orodispersible",
    "SALBUTAMOL 100 µg/dose, suspension pour inhalation",
    "AZITHROMYCINE 250 mg, comprimé",
    "CEFPODOXIME 100 mg, comprimé",
    "IBUPROFENE 400 mg, comprimé",
    "DEXAMETHASONE 4 mg, comprimé",
    "OSELTAMIVIR 75 mg, gélule",
];
const PACKS: [&str; 3] = ["boîte de 12", "boîte de 24", "flacon"];
const WHOLESALERS: [(&str, f64); 3] = [("gr-ocp", 0.5), ("gr-cerp", 0.3), ("gr-alliance", 0.2)];
const LABS: [&str; 3] = ["lab-sanofi", "lab-biogaran", "lab-viatris"];

/// Xorshift: small, seeded, enough for a demo.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn cip(i: usize) -> Cip13 {
    // A CIP7 becomes 34009 + CIP7 + its computed check digit.
    Cip13::parse(&format!("{:07}", 5_500_000 + i * 7))
        .unwrap_or_else(|_| unreachable!("a CIP7 always converts"))
}

/// Lines of one declaration file, by (day, declarant).
type Lines = BTreeMap<(NaiveDate, String), Vec<String>>;

/// Generates the data set.
pub fn generate(spec: &DemoSpec) -> DemoSet {
    let mut rng = Rng(spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let groups = spec.references.div_ceil(3);
    let mut references_csv = String::from("cip13;denomination;groupe;mitm\n");
    let mut lines: Lines = BTreeMap::new();
    let mut scenarios = BTreeMap::new();
    let mut truth = BTreeMap::new();
    for g in 0..groups {
        for (p, pack) in PACKS.iter().enumerate() {
            let i = g * 3 + p;
            let cip13 = cip(i);
            let scenario = Scenario::ALL[(g + p) % Scenario::ALL.len()];
            let name = format!("{} ({pack})", MOLECULES[g % MOLECULES.len()]);
            let mitm = g % 2 == 0;
            let _ = writeln!(
                references_csv,
                "{cip13};{name};G{g:03};{}",
                if mitm { "oui" } else { "non" }
            );
            let base = 40.0 + rng.unit() * 400.0;
            let lab = LABS[i % LABS.len()];
            if let Some(day) = simulate(spec, &mut rng, cip13, scenario, base, lab, &mut lines) {
                truth.insert(cip13, day);
            }
            scenarios.insert(cip13, scenario);
        }
    }
    // Everyone declares weekly in this generator (the wholesalers' file carries each day).
    let mut declarants_csv = String::from("declarant;nom;type;cadence\n");
    for lab in LABS {
        let _ = writeln!(
            declarants_csv,
            "{lab};Laboratoire {};exploitant;hebdomadaire",
            &lab[4..]
        );
    }
    for (gr, _) in WHOLESALERS {
        let _ = writeln!(
            declarants_csv,
            "{gr};Grossiste-répartiteur {};grossiste;hebdomadaire",
            &gr[3..]
        );
    }
    let files = lines
        .into_iter()
        .map(|((day, declarant), rows)| {
            let header = if declarant.starts_with("lab-") {
                "cip13;date_stock;stock;sorties;periode_jours;appro_quantite;appro_date\n"
            } else {
                "cip13;date_stock;stock;sorties;periode_jours;site\n"
            };
            DemoFile {
                name: format!("stocks_{}.csv", day.format("%Y-%m-%d")),
                day,
                declarant,
                content: format!("{header}{}", rows.join("")),
            }
        })
        .collect();
    DemoSet {
        declarants_csv,
        references_csv,
        scenarios,
        files,
        truth,
    }
}

/// Simulates one reference day by day; returns its true stock-out day, if any.
fn simulate(
    spec: &DemoSpec,
    rng: &mut Rng,
    cip13: Cip13,
    scenario: Scenario,
    base: f64,
    lab: &str,
    lines: &mut Lines,
) -> Option<NaiveDate> {
    const BATCH_EVERY: u32 = 45;
    const TARGET_DAYS: f64 = 21.0;
    const BATCH_DAYS: f64 = 45.0;
    const LATE_BY: u32 = 35;
    // Lean manufacturers: 20 days of stock, batches that match the usual demand. An epidemic
    // or a late batch can then empty the chain, as it does in real winters.
    let mut lab_stock = base * 20.0;
    let mut stocks: Vec<f64> = WHOLESALERS
        .iter()
        .map(|(_, share)| base * share * TARGET_DAYS)
        .collect();
    let mut served_week = [0.0; 3];
    let mut shipped_week = 0.0;
    let mut stockout = None;
    for t in 0..spec.days {
        let Some(day) = spec.start.checked_add_days(Days::new(u64::from(t))) else {
            break;
        };
        let factor = match scenario {
            Scenario::WinterPeak => 1.0 + 0.9 * (-((f64::from(t) - 95.0) / 18.0).powi(2)).exp(),
            Scenario::Epidemic if (70..100).contains(&t) => 2.5,
            _ => 1.0,
        };
        let demand = base * factor * (0.9 + 0.2 * rng.unit());
        let mut unmet = 0.0;
        for (g, (_, share)) in WHOLESALERS.iter().enumerate() {
            let wanted = demand * share;
            let served = wanted.min(stocks[g]);
            stocks[g] -= served;
            served_week[g] += served;
            unmet += wanted - served;
        }
        if stockout.is_none() && unmet > 0.01 * demand && stocks.iter().sum::<f64>() < 1.0 {
            stockout = Some(day);
        }
        // Wholesalers reorder to three weeks of their usual demand.
        for (g, (_, share)) in WHOLESALERS.iter().enumerate() {
            let order = (base * share * TARGET_DAYS - stocks[g]).max(0.0);
            let shipped = order.min(lab_stock);
            lab_stock -= shipped;
            stocks[g] += shipped;
            shipped_week += shipped;
        }
        // Batches every 45 days; a late batch arrives 35 days after it was announced.
        let announced = |t: u32| t % BATCH_EVERY == 10;
        let produces = match scenario {
            Scenario::ProductionStop => announced(t) && t < 50,
            Scenario::LateSupply => (announced(t) && t != 55) || t == 55 + LATE_BY,
            _ => announced(t),
        };
        if produces {
            lab_stock += base * BATCH_DAYS;
        }
        if day.weekday() == Weekday::Mon && t >= 7 {
            let next_batch = (t + 1..t + BATCH_EVERY + 1)
                .find(|n| announced(*n))
                .filter(|n| !(scenario == Scenario::ProductionStop && *n >= 50));
            let appro = next_batch
                .and_then(|n| spec.start.checked_add_days(Days::new(u64::from(n))))
                .map_or(";".to_owned(), |d| format!("{:.0};{d}", base * BATCH_DAYS));
            lines
                .entry((day, lab.to_owned()))
                .or_default()
                .push(format!(
                    "{cip13};{day};{:.0};{:.0};7;{appro}\n",
                    lab_stock, shipped_week
                ));
            for (g, (gr, _)) in WHOLESALERS.iter().enumerate() {
                if scenario == Scenario::MissingDeclarations && g == 1 && t >= 80 {
                    continue;
                }
                let rows = lines.entry((day, (*gr).to_owned())).or_default();
                for (depot, part) in [("Nord", 0.6), ("Sud", 0.4)] {
                    rows.push(format!(
                        "{cip13};{day};{:.0};{:.0};7;Dépôt {depot}\n",
                        stocks[g] * part,
                        served_week[g] * part
                    ));
                }
            }
            served_week = [0.0; 3];
            shipped_week = 0.0;
        }
    }
    stockout
}
