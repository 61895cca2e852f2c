//! Any bytes, as a CSV or XLSX declaration: the validator must return a verdict whose counts
//! add up, and never panic.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use medistock_analytics::declaration::{Limits, Status, ValidationContext, validate};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Some(today) = NaiveDate::from_ymd_opt(2026, 11, 23) else { return };
    let ctx = ValidationContext { declarant: None, today, limits: &limits, catalogue: None };
    let v = validate(data, "fuzz.csv", &ctx).expect("a verdict, never an internal error");
    let r = &v.report;
    assert_eq!(r.lines.accepted + r.lines.rejected, r.lines.total);
    assert_eq!(r.status == Status::Rejected, v.lines.is_none());
});
