//! The real BDPM snapshot kept beside the project (`../shared/data/bdpm`, never copied into the
//! repository). `.ci/run` sets `MEDISTOCK_BDPM_DIR`; under CI the test fails if the data is
//! missing rather than skipping.

use std::path::PathBuf;

use medistock_analytics::catalogue::load_bdpm;
use medistock_domain::Cip13;

fn bdpm_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MEDISTOCK_BDPM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/bdpm")
        });
    if dir.join("CIS_bdpm.txt").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "BDPM snapshot not found at {} under CI",
        dir.display()
    );
    eprintln!(
        "NOT RUN: BDPM snapshot not found at {} (set MEDISTOCK_BDPM_DIR)",
        dir.display()
    );
    None
}

#[test]
fn the_real_snapshot_loads_with_the_documented_counts() {
    let Some(dir) = bdpm_dir() else { return };
    let catalogue = load_bdpm(&dir).unwrap();
    let s = catalogue.summary();
    // Counts measured on the May 2026 snapshot (../shared/data/README.md).
    assert_eq!(s.cis, 15_848);
    assert_eq!(s.presentations, 20_903);
    assert_eq!(s.marketed_presentations, 17_239);
    assert_eq!(s.mitm_cis, 7_711);
    assert_eq!(s.generic_groups, 1_659);
    assert_eq!(s.shortage_statuses, 749, "766 lines, 17 of them duplicates");
    assert_eq!(s.rejected_lines, 0);

    // Encodings differ per file: accents must survive each of them.
    let anastrozole = Cip13::parse("3400949497294").unwrap();
    let spec = catalogue.specialty_of(&anastrozole).unwrap();
    assert_eq!(spec.cis, "60002283");
    assert!(spec.form.contains("comprimé"), "{}", spec.form);
    assert!(
        catalogue.presentations[&anastrozole]
            .label
            .contains("comprimé")
    );
    assert!(!spec.holder.starts_with(' '), "holder names are trimmed");
    assert!(
        catalogue
            .specialties
            .values()
            .any(|s| s.mitm && s.atc.is_some())
    );
    assert!(
        catalogue
            .presentations
            .values()
            .any(|p| p.shortage.as_ref().is_some_and(|s| s.code == 1))
    );
}

#[test]
fn every_name_and_dosage_of_the_bdpm_reaches_an_sms_without_a_lost_symbol() {
    use medistock_analytics::risk::alert::sms_ascii;
    let Some(dir) = bdpm_dir() else { return };
    let catalogue = load_bdpm(&dir).unwrap();
    let mut texts: Vec<&str> = Vec::new();
    for s in catalogue.specialties.values() {
        texts.push(&s.name);
        texts.extend(s.substances.iter().map(|x| x.dosage.as_str()));
        texts.extend(s.substances.iter().map(|x| x.name.as_str()));
    }
    texts.extend(catalogue.presentations.values().map(|p| p.label.as_str()));
    let mut micro = 0;
    for text in texts {
        let sms = sms_ascii(text);
        assert!(sms.is_ascii(), "{text:?} → {sms:?}");
        let marks = |t: &str| t.chars().filter(|c| matches!(c, '?' | '\u{bf}')).count();
        assert_eq!(
            sms.matches('?').count(),
            marks(text),
            "a symbol of {text:?} has no spelling: {sms:?}"
        );
        if text.contains(['\u{b5}', '\u{3bc}']) {
            micro += 1;
            assert!(
                sms.contains("mc") || sms.contains("micro"),
                "{text:?} → {sms:?}"
            );
        }
    }
    assert!(
        micro > 0,
        "the snapshot holds micro units: the check ran on them"
    );
}
