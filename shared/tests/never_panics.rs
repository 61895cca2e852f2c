//! Whatever the bytes, the validator returns a verdict: no panic, no internal error, and counts
//! that add up. Arbitrary bytes, and valid files mutated byte by byte.

use chrono::NaiveDate;
use medistock_core::declaration::{Limits, Status, ValidationContext, validate};
use proptest::prelude::*;

const VALID: &str = "cip13;date_stock;stock;sorties;periode_jours;appro_quantite;appro_date;site\n\
                     3400949497294;2026-11-20;1 200;350;7;500;2026-12-01;Lyon\n\
                     4949770;20/11/2026;80,0;12;7;;;Lille\n\
                     3400936963504;2026-11-19;0;0;14;;;\"Dépôt; Nord\"\n";

fn check(bytes: &[u8]) {
    let limits = Limits::default();
    let ctx = ValidationContext {
        declarant: None,
        today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        limits: &limits,
        catalogue: None,
    };
    let v = validate(bytes, "f.csv", &ctx).expect("a verdict, never an internal error");
    let r = &v.report;
    assert_eq!(r.lines.accepted + r.lines.rejected, r.lines.total);
    assert_eq!(r.status == Status::Rejected, !r.file_errors.is_empty());
    assert_eq!(v.lines.is_some(), r.status != Status::Rejected);
    if let Some(lines) = &v.lines {
        assert!(lines.height() <= r.lines.accepted);
    }
    for e in &r.errors {
        assert!(e.code.is_error() && !e.message.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_get_a_verdict(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_text_with_a_valid_header_gets_a_verdict(body in "[0-9;,\\t\"\\r\\n /.\\-a-zé]{0,400}") {
        check(format!("cip13;date_stock;stock\n{body}").as_bytes());
    }

    #[test]
    fn mutated_valid_files_get_a_verdict(
        edits in proptest::collection::vec((0usize..VALID.len(), any::<u8>()), 1..8),
        cut in 0usize..=VALID.len(),
    ) {
        let mut bytes = VALID.as_bytes().to_vec();
        for (at, byte) in edits {
            bytes[at] = byte;
        }
        bytes.truncate(cut.max(1));
        check(&bytes);
    }

    #[test]
    fn arbitrary_bytes_behind_a_zip_header_get_a_verdict(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let mut data = b"PK\x03\x04".to_vec();
        data.extend(bytes);
        check(&data);
    }
}

#[test]
fn the_unmutated_file_is_accepted() {
    let limits = Limits::default();
    let ctx = ValidationContext {
        declarant: None,
        today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        limits: &limits,
        catalogue: None,
    };
    let v = validate(VALID.as_bytes(), "f.csv", &ctx).unwrap();
    assert_eq!(v.report.status, Status::Accepted, "{:#?}", v.report);
}
