//! A national data set, to measure Medistock at the scale of France: up to 20,000 references,
//! wholesalers declaring every day for each of their depots, manufacturers every week. The
//! physics is deliberately plain (each depot serves its share of a reference's demand and
//! reorders from the manufacturer below ten days of cover; manufacturers release a batch per
//! cycle; a few references lose their production for four months): the point is volume with
//! realistic figures and a few real stock-outs, not a second model of the chain (that is
//! [`crate::simulate`]).
//!
//! Files are written one at a time, as they are produced: memory stays at the chain's state
//! (references × depots), whatever the number of days.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate};
use medistock_domain::Cip13;

/// The size of a data set. Bounds: [`NationalSpec::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct NationalSpec {
    /// References (presentations).
    pub references: usize,
    /// Wholesalers (`gr-1`…), each declaring every day.
    pub wholesalers: usize,
    /// Depots per wholesaler: one line per reference and depot in each daily file.
    pub depots: usize,
    /// Manufacturers (`lab-1`…), each declaring its references every week; 0 for none.
    pub manufacturers: usize,
    /// Days declared.
    pub days: usize,
    /// First day.
    pub start: NaiveDate,
    /// Seed of the draw.
    pub seed: u64,
    /// Share of references whose production stops (per thousand).
    pub stops_per_thousand: u32,
}

impl Default for NationalSpec {
    fn default() -> Self {
        Self {
            references: 17_000,
            wholesalers: 7,
            depots: 1,
            manufacturers: 20,
            days: 365,
            start: NaiveDate::from_ymd_opt(2025, 11, 24).unwrap_or_default(),
            seed: 1,
            stops_per_thousand: 20,
        }
    }
}

/// Bounds of a data set.
pub const MAX_REFERENCES: usize = 20_000;
/// Wholesalers at most.
pub const MAX_WHOLESALERS: usize = 50;
/// Depots per wholesaler at most (France has about 180 depots in all).
pub const MAX_DEPOTS: usize = 200;
/// Manufacturers at most.
pub const MAX_MANUFACTURERS: usize = 500;
/// Days at most.
pub const MAX_DAYS: usize = 730;

/// A data set that cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum NationalError {
    /// A size out of bounds.
    #[error("{what} : {value} hors des bornes ({min} à {max})")]
    OutOfBounds {
        /// Which size.
        what: &'static str,
        /// Its value.
        value: usize,
        /// Smallest.
        min: usize,
        /// Largest.
        max: usize,
    },
    /// The folder exists and is not empty.
    #[error("{0} existe et n'est pas vide")]
    NotEmpty(PathBuf),
    /// Writing failed.
    #[error("{path} : {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl NationalSpec {
    /// Checks every size against its bound.
    pub fn check(&self) -> Result<(), NationalError> {
        let bound = |what, value, min, max| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(NationalError::OutOfBounds {
                    what,
                    value,
                    min,
                    max,
                })
            }
        };
        bound("références", self.references, 1, MAX_REFERENCES)?;
        bound("grossistes", self.wholesalers, 0, MAX_WHOLESALERS)?;
        bound("dépôts par grossiste", self.depots, 1, MAX_DEPOTS)?;
        bound("laboratoires", self.manufacturers, 0, MAX_MANUFACTURERS)?;
        bound("jours", self.days, 1, MAX_DAYS)?;
        bound(
            "arrêts de production pour mille",
            self.stops_per_thousand as usize,
            0,
            1000,
        )
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct NationalSummary {
    /// Declaration files.
    pub files: usize,
    /// Lines in them.
    pub lines: u64,
    /// Bytes in them.
    pub bytes: u64,
    /// References whose chain ran dry (in `ruptures.csv`).
    pub stockouts: usize,
}

/// xorshift64*: small, fast, reproducible.
struct Draw(u64);

impl Draw {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [lo, hi].
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// The CIP13 of the `i`-th generated reference (a CIP7 becomes 34009 + CIP7 + its key).
pub fn reference(i: usize) -> Cip13 {
    let cip7 = format!("{:07}", 3_000_000 + i);
    Cip13::parse(&cip7).unwrap_or_else(|_| unreachable!("a CIP7 of seven digits always converts"))
}

struct Reference {
    cip13: Cip13,
    /// National demand, units per day.
    demand: f64,
    manufacturer: usize,
    /// Manufacturer's stock.
    stock: f64,
    /// Days between batches, and the next batch's day.
    cycle: u64,
    next_batch: u64,
    /// Production stopped on these days (no batch released).
    stop: Option<(u64, u64)>,
    /// The first day the wholesalers served less than half the demand.
    stockout: Option<u64>,
}

/// Wholesalers' shares of the market: the largest first, then decreasing.
fn shares(wholesalers: usize) -> Vec<f64> {
    let raw: Vec<f64> = (0..wholesalers)
        .map(|w| 1.0 / (1.0 + w as f64 * 0.5))
        .collect();
    let total: f64 = raw.iter().sum();
    raw.into_iter().map(|s| s / total).collect()
}

const HEADER: &str =
    "cip13;date_stock;stock;sorties;periode_jours;stock_bloque;appro_quantite;appro_date;site\n";

/// Writes the data set into `dir` (absent or empty): `inbox/<declarant>/<day>__stocks.csv`,
/// `config/declarants.csv`, `config/references.csv` and `ruptures.csv`, the layout that
/// `medistock backtest` replays. `progress` is called after each day.
pub fn write_national(
    spec: &NationalSpec,
    dir: &Path,
    mut progress: impl FnMut(usize),
) -> Result<NationalSummary, NationalError> {
    spec.check()?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NationalError::Io { path, source }
    };
    if dir.exists() && std::fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
        return Err(NationalError::NotEmpty(dir.to_path_buf()));
    }
    let mut draw = Draw::new(spec.seed);
    let mut references: Vec<Reference> = (0..spec.references)
        .map(|i| {
            // Demand spans three orders of magnitude, as real references do.
            let demand = (2.0 + draw.unit() * 5.5).exp().min(5_000.0);
            let cycle = draw.between(28, 56);
            let stop = (draw.between(0, 999) < u64::from(spec.stops_per_thousand)).then(|| {
                let from = draw.between(20, (spec.days as u64).max(21));
                (from, from + 120)
            });
            Reference {
                cip13: reference(i),
                demand,
                manufacturer: if spec.manufacturers == 0 {
                    0
                } else {
                    i % spec.manufacturers
                },
                stock: demand * draw.between(60, 120) as f64,
                cycle,
                next_batch: draw.between(1, cycle),
                stop,
                stockout: None,
            }
        })
        .collect();
    let shares = shares(spec.wholesalers);
    // Depot stocks, [reference][wholesaler × depot]: twenty days of their share, ±25 %.
    let sites = spec.wholesalers * spec.depots;
    let mut depots: Vec<f64> = Vec::with_capacity(spec.references * sites);
    for r in &references {
        for market in &shares {
            let share = r.demand * market / spec.depots as f64;
            for _ in 0..spec.depots {
                depots.push(share * (15.0 + draw.unit() * 10.0));
            }
        }
    }

    let config = dir.join("config");
    std::fs::create_dir_all(&config).map_err(io(&config))?;
    let mut registry = String::from("declarant;nom;type\n");
    for w in 1..=spec.wholesalers {
        let _ = writeln!(registry, "gr-{w};Grossiste-répartiteur {w};grossiste");
    }
    for m in 1..=spec.manufacturers {
        let _ = writeln!(registry, "lab-{m};Laboratoire {m};exploitant");
    }
    let path = config.join("declarants.csv");
    std::fs::write(&path, registry).map_err(io(&path))?;
    let mut monitored = String::from("cip13;denomination;mitm\n");
    for (i, r) in references.iter().enumerate() {
        let _ = writeln!(
            monitored,
            "{};PRODUIT {i} comprimé;{}",
            r.cip13,
            if i % 10 == 0 { "oui" } else { "non" }
        );
    }
    let path = config.join("references.csv");
    std::fs::write(&path, monitored).map_err(io(&path))?;

    let inbox = dir.join("inbox");
    let declarants: Vec<String> = (1..=spec.wholesalers)
        .map(|w| format!("gr-{w}"))
        .chain((1..=spec.manufacturers).map(|m| format!("lab-{m}")))
        .collect();
    for d in &declarants {
        let folder = inbox.join(d);
        std::fs::create_dir_all(&folder).map_err(io(&folder))?;
    }

    let mut summary = NationalSummary::default();
    // Each manufacturer's shipments to the wholesalers over its week.
    let mut shipped = vec![0.0_f64; spec.references];
    let mut file = String::new();
    for day in 0..spec.days as u64 {
        let Some(date) = spec.start.checked_add_days(Days::new(day)) else {
            break;
        };
        // Production: a batch per cycle, unless production is stopped.
        for r in references.iter_mut() {
            if day >= r.next_batch {
                let stopped = r.stop.is_some_and(|(from, to)| (from..to).contains(&day));
                if !stopped {
                    r.stock += r.demand * r.cycle as f64 * draw_factor(&mut draw, 0.9, 1.1);
                }
                r.next_batch = day + r.cycle;
            }
        }
        // Wholesalers: each depot serves its share and reorders below ten days of cover.
        for w in 0..spec.wholesalers {
            file.clear();
            file.push_str(HEADER);
            for (i, r) in references.iter_mut().enumerate() {
                let share = r.demand * shares[w] / spec.depots as f64;
                for d in 0..spec.depots {
                    let slot = &mut depots[i * sites + w * spec.depots + d];
                    let asked = share * draw_factor(&mut draw, 0.7, 1.3);
                    let served = asked.min(*slot);
                    *slot -= served;
                    if *slot < share * 10.0 {
                        let order = (share * 25.0 - *slot).min(r.stock).max(0.0);
                        r.stock -= order;
                        shipped[i] += order;
                        *slot += order;
                    }
                    let _ = writeln!(
                        file,
                        "{};{date};{};{};1;0;;;Dépôt {:03}",
                        r.cip13,
                        slot.round() as i64,
                        served.round() as i64,
                        d + 1
                    );
                }
            }
            write_file(&inbox, &format!("gr-{}", w + 1), date, &file, &mut summary)?;
        }
        // The truth: the first day the depots together served less than half the demand.
        for (i, r) in references.iter_mut().enumerate() {
            if r.stockout.is_none() && day >= 7 {
                let held: f64 = depots[i * sites..(i + 1) * sites].iter().sum();
                if held < r.demand * 0.5 && r.stock < r.demand {
                    r.stockout = Some(day);
                }
            }
        }
        // Manufacturers: every week, on a day of their own, with the next batch announced.
        for m in 0..spec.manufacturers {
            if (day + m as u64) % 7 != 6 {
                continue;
            }
            file.clear();
            file.push_str(HEADER);
            for (i, r) in references.iter().enumerate() {
                if r.manufacturer != m {
                    continue;
                }
                // A stopped line still announces its next batch: announced is not received.
                let announced = (r.demand * r.cycle as f64).round() as i64;
                let batch_day = spec
                    .start
                    .checked_add_days(Days::new(r.next_batch))
                    .unwrap_or(date);
                let _ = writeln!(
                    file,
                    "{};{date};{};{};7;0;{announced};{batch_day};",
                    r.cip13,
                    r.stock.round() as i64,
                    shipped[i].round() as i64,
                );
                shipped[i] = 0.0;
            }
            write_file(&inbox, &format!("lab-{}", m + 1), date, &file, &mut summary)?;
        }
        progress(day as usize + 1);
    }
    let mut truth = String::from("cip13;date_rupture\n");
    for r in &references {
        if let Some(date) = r
            .stockout
            .and_then(|day| spec.start.checked_add_days(Days::new(day)))
        {
            let _ = writeln!(truth, "{};{date}", r.cip13);
            summary.stockouts += 1;
        }
    }
    let path = dir.join("ruptures.csv");
    std::fs::write(&path, truth).map_err(io(&path))?;
    Ok(summary)
}

fn draw_factor(draw: &mut Draw, lo: f64, hi: f64) -> f64 {
    lo + draw.unit() * (hi - lo)
}

fn write_file(
    inbox: &Path,
    declarant: &str,
    date: NaiveDate,
    text: &str,
    summary: &mut NationalSummary,
) -> Result<(), NationalError> {
    let path = inbox.join(declarant).join(format!("{date}__stocks.csv"));
    let mut out = std::fs::File::create(&path).map_err(|source| NationalError::Io {
        path: path.clone(),
        source,
    })?;
    out.write_all(text.as_bytes())
        .map_err(|source| NationalError::Io { path, source })?;
    summary.files += 1;
    summary.lines += text.lines().count().saturating_sub(1) as u64;
    summary.bytes += text.len() as u64;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use medistock_analytics::declaration::{Limits, ValidationContext, validate};
    use medistock_domain::DeclarantId;

    fn small() -> NationalSpec {
        NationalSpec {
            references: 40,
            wholesalers: 2,
            depots: 3,
            manufacturers: 2,
            days: 200,
            stops_per_thousand: 200,
            ..NationalSpec::default()
        }
    }

    #[test]
    fn every_file_is_a_valid_declaration_of_the_expected_size() {
        let dir = tempfile::tempdir().unwrap();
        let spec = NationalSpec {
            days: 14,
            ..small()
        };
        let summary = write_national(&spec, dir.path(), |_| {}).unwrap();
        // 14 days × 2 wholesalers, plus each manufacturer twice.
        assert_eq!(summary.files, 28 + 4);
        assert_eq!(summary.lines, 28 * 40 * 3 + 4 * 20);
        let limits = Limits::default();
        let far = NaiveDate::from_ymd_opt(2100, 1, 1).unwrap();
        for declarant in ["gr-1", "lab-2"] {
            let id = DeclarantId::parse(declarant).unwrap();
            let folder = dir.path().join("inbox").join(declarant);
            let mut files: Vec<_> = std::fs::read_dir(&folder).unwrap().flatten().collect();
            files.sort_by_key(|f| f.file_name());
            let first = files.first().unwrap();
            let ctx = ValidationContext {
                declarant: Some(&id),
                today: far,
                limits: &limits,
                catalogue: None,
            };
            let bytes = std::fs::read(first.path()).unwrap();
            let verdict = validate(&bytes, "f.csv", &ctx).unwrap();
            assert_eq!(
                verdict.report.lines.rejected, 0,
                "{declarant}: {:?}",
                verdict.report
            );
            assert!(verdict.report.lines.accepted > 0);
        }
        let registry = std::fs::read_to_string(dir.path().join("config/declarants.csv")).unwrap();
        assert_eq!(registry.lines().count(), 1 + 2 + 2);
    }

    #[test]
    fn stopped_production_runs_the_chain_dry_and_the_rest_holds() {
        let dir = tempfile::tempdir().unwrap();
        let spec = small();
        let summary = write_national(&spec, dir.path(), |_| {}).unwrap();
        let truth = std::fs::read_to_string(dir.path().join("ruptures.csv")).unwrap();
        assert_eq!(truth.lines().count(), 1 + summary.stockouts);
        // One in five references stops for 120 days: some run dry, never all of them.
        assert!(summary.stockouts > 0, "{summary:?}");
        assert!(summary.stockouts < 40 / 2, "{summary:?}");
        // The same seed gives the same files.
        let again = tempfile::tempdir().unwrap();
        assert_eq!(
            write_national(&spec, again.path(), |_| {}).unwrap(),
            summary
        );
        let a = std::fs::read(dir.path().join("inbox/gr-2/2025-12-01__stocks.csv")).unwrap();
        let b = std::fs::read(again.path().join("inbox/gr-2/2025-12-01__stocks.csv")).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn sizes_out_of_bounds_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        for spec in [
            NationalSpec {
                references: MAX_REFERENCES + 1,
                ..small()
            },
            NationalSpec {
                depots: 0,
                ..small()
            },
            NationalSpec {
                depots: MAX_DEPOTS + 1,
                ..small()
            },
            NationalSpec {
                days: MAX_DAYS + 1,
                ..small()
            },
        ] {
            assert!(matches!(
                write_national(&spec, &target, |_| {}),
                Err(NationalError::OutOfBounds { .. })
            ));
        }
        assert!(!target.exists());
        let at_the_bound = NationalSpec {
            references: MAX_REFERENCES,
            days: 1,
            wholesalers: 1,
            manufacturers: 0,
            ..small()
        };
        assert_eq!(
            write_national(&at_the_bound, &target, |_| {})
                .unwrap()
                .lines,
            (MAX_REFERENCES * 3) as u64
        );
        assert!(matches!(
            write_national(&at_the_bound, &target, |_| {}),
            Err(NationalError::NotEmpty(_))
        ));
    }
}
