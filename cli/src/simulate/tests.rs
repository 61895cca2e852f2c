use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::{Datelike, Days, NaiveDate};
use medistock_analytics::catalogue::Catalogue;
use medistock_analytics::declaration::{Limits, Status, ValidationContext, validate};
use medistock_domain::DeclarantId;

use super::calendar::is_working_day;
use super::*;

/// The default run, simulated once for the tests that read it.
fn default_run() -> &'static ChainSet {
    static SET: OnceLock<ChainSet> = OnceLock::new();
    SET.get_or_init(|| simulate_chain(&ChainSpec::default()).expect("default spec"))
}

fn small(seed: u64) -> ChainSpec {
    ChainSpec {
        seed,
        references: 24,
        days: 70,
        pharmacies: 40,
        wholesalers: 4,
        manufacturers: Some(6),
        ..ChainSpec::default()
    }
}

#[test]
fn the_same_seed_gives_the_same_files() {
    let a = simulate_chain(&small(11)).unwrap();
    let b = simulate_chain(&small(11)).unwrap();
    assert_eq!(a.files, b.files);
    assert_eq!(a.truth, b.truth);
    assert_eq!(a.declarants_csv, b.declarants_csv);
    assert_eq!(a.references_csv, b.references_csv);
    assert_eq!(ruptures_csv(&a), ruptures_csv(&b));
}

#[test]
fn another_seed_gives_other_data() {
    let a = simulate_chain(&small(11)).unwrap();
    let b = simulate_chain(&small(12)).unwrap();
    assert_ne!(a.references_csv, b.references_csv);
    let contents = |s: &ChainSet| {
        s.files
            .iter()
            .map(|f| f.content.clone())
            .collect::<Vec<_>>()
    };
    assert_ne!(contents(&a), contents(&b));
    assert_ne!(a.truth, b.truth);
}

/// The catalogue names each reference's manufacturer: a registered exploitant, the one whose
/// files declare it.
#[test]
fn each_reference_names_the_manufacturer_that_declares_it() {
    let set = simulate_chain(&small(2)).unwrap();
    let catalogue = Catalogue::from_settings_csv(&set.references_csv).unwrap();
    let registry = medistock_analytics::registry::Registry::parse(&set.declarants_csv).unwrap();
    // Some manufacturers write CIP7 codes: those references are not found by their CIP13.
    let mut seen = 0;
    for (cip13, settings) in &catalogue.settings {
        let named = settings
            .exploitant
            .as_ref()
            .expect("every reference is named");
        let declarant = &registry.declarants[named];
        assert_eq!(declarant.kind, medistock_domain::DeclarantType::Exploitant);
        let declared_by: BTreeSet<&str> = set
            .files
            .iter()
            .filter(|f| f.content.contains(cip13.as_str()) && f.declarant.starts_with("LAB"))
            .map(|f| f.declarant.as_str())
            .collect();
        assert!(
            declared_by
                .iter()
                .all(|d| d.eq_ignore_ascii_case(named.as_str())),
            "{cip13}: {declared_by:?} vs {named}"
        );
        seen += usize::from(!declared_by.is_empty());
    }
    assert!(seen * 2 > catalogue.settings.len(), "{seen}");
}

#[test]
fn every_file_is_accepted_by_the_validator() {
    let limits = Limits::default();
    let mut dialects = BTreeSet::new();
    for seed in 1..=3 {
        let set = simulate_chain(&small(seed)).unwrap();
        let catalogue = Catalogue::from_settings_csv(&set.references_csv).unwrap();
        assert!(!set.files.is_empty());
        for file in &set.files {
            let declarant = DeclarantId::parse(&file.declarant).unwrap();
            let ctx = ValidationContext {
                declarant: Some(&declarant),
                today: file.arrival,
                limits: &limits,
                catalogue: Some(&catalogue),
            };
            let report = validate(file.content.as_bytes(), &file.name, &ctx)
                .unwrap()
                .report;
            assert_eq!(
                report.status,
                Status::Accepted,
                "{} : {:?} {:?}",
                file.name,
                report.file_errors,
                report.errors.first()
            );
            assert!(
                report.warnings.is_empty(),
                "{} : {:?}",
                file.name,
                report.warnings.first()
            );
            let lines = file.content.lines().count() - 1;
            assert_eq!(report.lines.accepted, lines, "{}", file.name);
            dialects.insert(file.content.lines().next().unwrap_or("").to_owned());
        }
    }
    // Several spellings of the header were exercised.
    assert!(dialects.len() >= 3, "{dialects:?}");
}

#[test]
fn the_truth_is_the_first_day_patients_get_less_than_80_percent() {
    let set = default_run();
    for (reference, truth) in set.references.iter().zip(&set.truth) {
        assert_eq!(reference.cip13, truth.cip13);
        assert!(
            truth.ledger.balanced(),
            "{}: {:?}",
            truth.cip13,
            truth.ledger
        );
        assert_eq!(truth.demand.len(), set.spec.days);
        assert!(
            truth
                .demand
                .iter()
                .zip(&truth.dispensed)
                .all(|(d, s)| s <= d)
        );
        // The periods cover every stock-out day, start and end on one, in order, apart.
        let index = |day: NaiveDate| (day - set.spec.start).num_days() as usize;
        let out_day = |t: usize| is_stockout_day(truth.demand[t], truth.dispensed[t]);
        for (start, end) in &truth.periods {
            assert!(out_day(index(*start)) && out_day(index(*end)) && start <= end);
        }
        assert!(truth.periods.windows(2).all(|w| w[0].1 < w[1].0));
        // Two periods are apart because a day with demand was served in between.
        for w in truth.periods.windows(2) {
            assert!(
                (index(w[0].1) + 1..index(w[1].0)).any(|t| truth.demand[t] > 0 && !out_day(t)),
                "{}: {:?}",
                truth.cip13,
                w
            );
        }
        for t in (0..truth.demand.len()).filter(|t| out_day(*t)) {
            assert!(
                truth
                    .periods
                    .iter()
                    .any(|(a, b)| index(*a) <= t && t <= index(*b)),
                "{}: day {t}",
                truth.cip13
            );
        }
        assert_eq!(truth.stockout, truth.periods.first().map(|p| p.0));
        let Some(day) = truth.stockout else {
            assert!(
                truth
                    .demand
                    .iter()
                    .zip(&truth.dispensed)
                    .all(|(d, s)| 5 * s >= 4 * d),
                "{}",
                truth.cip13
            );
            continue;
        };
        let t = (day - set.spec.start).num_days() as usize;
        let (d, s) = (truth.demand[t], truth.dispensed[t]);
        assert!(d > 0 && (s as f64) < 0.8 * d as f64, "{}", truth.cip13);
        for before in 0..t {
            let (d, s) = (truth.demand[before], truth.dispensed[before]);
            assert!(d == 0 || s as f64 >= 0.8 * d as f64, "{}", truth.cip13);
        }
    }
}

#[test]
fn stock_outs_come_from_the_chain_not_from_noise() {
    let set = default_run();
    let summary = summary(set);
    // A default run has stock-outs, and references that never run out.
    assert!(summary.stockouts >= 10, "{summary:?}");
    assert!(summary.stockouts < summary.references / 2, "{summary:?}");
    // Every stock-out has a cause in the chain: a disruption once started, an epidemic,
    // patients redirected from a substitute, a winter peak; hardly ever none.
    let unexplained = (0..set.references.len())
        .filter(|r| stockout_cause(set, *r) == Some("autre"))
        .count();
    assert!(
        unexplained * 50 <= set.references.len(),
        "{unexplained} unexplained stock-outs: {summary:?}"
    );
    // Most stock-outs follow a disruption of the reference itself.
    let disrupted = (0..set.references.len())
        .filter(|r| {
            stockout_cause(set, *r).is_some_and(|c| {
                matches!(
                    c,
                    "arret_production" | "lot_en_retard" | "lot_reduit" | "blocage_qualite"
                )
            })
        })
        .count();
    assert!(disrupted * 2 >= summary.stockouts, "{summary:?}");
}

#[test]
fn declarants_join_late_miss_files_and_send_late() {
    let set = default_run();
    let start = set.spec.start;
    let first: BTreeMap<&str, NaiveDate> = set.files.iter().fold(BTreeMap::new(), |mut m, f| {
        let e = m.entry(f.declarant.as_str()).or_insert(f.stock_date);
        *e = (*e).min(f.stock_date);
        m
    });
    // Joining late: a declarant whose first file is weeks into the period.
    assert!(
        first.values().any(|d| (*d - start).num_days() >= 7),
        "{first:?}"
    );
    assert!(set.declarants.iter().any(|d| d.join > start));
    // Files missing: a wholesaler's working day without its file, after it joined.
    let sent: BTreeSet<(&str, NaiveDate)> = set
        .files
        .iter()
        .map(|f| (f.declarant.as_str(), f.stock_date))
        .collect();
    let mut gaps = 0;
    for d in set.declarants.iter().filter(|d| !d.sites.is_empty()) {
        let mut day = d.join;
        while day <= set.spec.end() {
            if is_working_day(day) && !sent.contains(&(d.id.as_str(), day)) {
                gaps += 1;
            }
            day = day + Days::new(1);
        }
    }
    assert!(gaps > 0);
    assert_eq!(
        gaps,
        set.missing
            .iter()
            .filter(|m| m.declarant.starts_with("GR"))
            .count()
    );
    // Files arriving late, and none before its stock day.
    assert!(set.files.iter().any(|f| f.arrival > f.stock_date));
    assert!(set.files.iter().all(|f| f.arrival >= f.stock_date));
    assert!(
        set.files
            .iter()
            .all(|f| (f.arrival - f.stock_date).num_days() <= 10)
    );
    // Manufacturers declare weekly, wholesalers on working days only.
    assert!(set.files.iter().all(|f| is_working_day(f.stock_date)));
    let lab_days: BTreeSet<_> = set
        .files
        .iter()
        .filter(|f| f.declarant == "LAB-1")
        .map(|f| f.stock_date.iso_week())
        .collect();
    let lab_files = set.files.iter().filter(|f| f.declarant == "LAB-1").count();
    assert_eq!(lab_days.len(), lab_files, "one file a week at most");
}

#[test]
fn manufacturers_announce_batches_that_slip() {
    let set = default_run();
    // For a reference whose batch slips, the announced date moves later from week to week.
    let slipping: BTreeSet<String> = set
        .references
        .iter()
        .filter(|r| matches!(r.disruption, "arret_production" | "lot_en_retard"))
        .map(|r| r.cip13.to_string())
        .collect();
    let mut moved = 0;
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for f in set.files.iter().filter(|f| f.declarant.starts_with("LAB")) {
        for line in f.content.lines().skip(1) {
            let cells: Vec<&str> = line.trim_end_matches('\r').split(';').collect();
            let cip = Cip13::parse(cells[0]).unwrap().to_string();
            if !slipping.contains(&cip) || cells[7].is_empty() {
                continue;
            }
            let date = medistock_analytics::declaration::cells::parse_date(cells[7]).unwrap();
            if let Some(previous) = last.insert(cip, date.to_string())
                && previous < date.to_string()
            {
                moved += 1;
            }
        }
    }
    assert!(moved > 0);
}

#[test]
fn a_spec_too_large_is_refused() {
    let too_large = [
        ChainSpec {
            references: MAX_REFERENCES + 1,
            ..ChainSpec::default()
        },
        ChainSpec {
            days: MAX_DAYS + 1,
            ..ChainSpec::default()
        },
        ChainSpec {
            references: 0,
            ..ChainSpec::default()
        },
        ChainSpec {
            references: 10_000,
            days: 365,
            ..ChainSpec::default()
        },
        ChainSpec {
            references: MAX_REFERENCES,
            days: MIN_DAYS,
            pharmacies: MAX_PHARMACIES,
            ..ChainSpec::default()
        },
        ChainSpec {
            pharmacies: usize::MAX,
            ..ChainSpec::default()
        },
        ChainSpec {
            wholesalers: 0,
            ..ChainSpec::default()
        },
        ChainSpec {
            manufacturers: Some(MAX_MANUFACTURERS + 1),
            ..ChainSpec::default()
        },
        ChainSpec {
            start: NaiveDate::from_ymd_opt(2100, 6, 1).unwrap(),
            ..ChainSpec::default()
        },
    ];
    for spec in too_large {
        assert!(simulate_chain(&spec).is_err(), "{spec:?}");
    }
    // The largest reference count runs with fewer days and pharmacies.
    let widest = ChainSpec {
        references: MAX_REFERENCES,
        days: MIN_DAYS,
        pharmacies: 50,
        wholesalers: 1,
        ..ChainSpec::default()
    };
    assert_eq!(widest.check(), Ok(()));
}

#[test]
fn the_folder_is_what_the_replay_reads() {
    let set = simulate_chain(&small(5)).unwrap();
    let dir = std::env::temp_dir().join(format!("medistock-simulate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_folder(&set, &dir).unwrap();
    let declarants = std::fs::read_to_string(dir.join("config/declarants.csv")).unwrap();
    let registry = medistock_analytics::registry::Registry::parse(&declarants).unwrap();
    assert_eq!(registry.declarants.len(), set.declarants.len());
    let references = std::fs::read_to_string(dir.join("config/references.csv")).unwrap();
    assert!(Catalogue::from_settings_csv(&references).is_ok());
    assert_eq!(references.lines().count(), set.references.len() + 1);
    let ruptures = std::fs::read_to_string(dir.join("ruptures.csv")).unwrap();
    assert!(ruptures.starts_with("cip13;date_rupture;date_fin\n"));
    let periods: usize = set.truth.iter().map(|t| t.periods.len()).sum();
    assert_eq!(ruptures.lines().count(), periods + 1);
    let mut written = 0;
    for entry in std::fs::read_dir(dir.join("inbox")).unwrap() {
        let entry = entry.unwrap();
        let folder = entry.file_name().to_string_lossy().into_owned();
        assert_eq!(DeclarantId::parse(&folder).unwrap().as_str(), folder);
        for file in std::fs::read_dir(entry.path()).unwrap() {
            let name = file.unwrap().file_name().to_string_lossy().into_owned();
            let (day, _) = name.split_once("__").unwrap();
            assert!(NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok(), "{name}");
            written += 1;
        }
    }
    assert_eq!(written, set.files.len());
    // A folder already used is refused.
    assert!(write_folder(&set, &dir).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
    // Dates in ruptures.csv are JJ/MM/AAAA.
    if let Some(line) = ruptures.lines().nth(1) {
        let cells: Vec<&str> = line.split(';').collect();
        let start = NaiveDate::parse_from_str(cells[1], "%d/%m/%Y").unwrap();
        let end = NaiveDate::parse_from_str(cells[2], "%d/%m/%Y").unwrap();
        assert!(start.year() >= 2025 && end >= start, "{line}");
    }
}

#[test]
fn periods_of_stock_out_run_over_closed_days_and_end_on_a_served_day() {
    let demand = [10, 10, 0, 10, 10, 10, 0, 10, 10];
    let dispensed = [10, 5, 0, 5, 8, 2, 0, 1, 7];
    // Day 4 is served at exactly 80 %: it ends the first period.
    assert_eq!(stockout_periods(&demand, &dispensed), [(1, 3), (5, 8)]);
    assert!(stockout_periods(&[0, 0], &[0, 0]).is_empty());
}
