//! Medistock core: everything the Lambda functions and the `medistock` command share.
//!
//! - [`domain`]: values that cannot be built invalid (CIP13, declarant id).
//! - [`declaration`]: the declaration format, parsing CSV/XLSX, validation, receipts.
//! - [`catalogue`]: the reference catalogue from the public BDPM files.
//! - [`positions`]: per-reference figures aggregated from validated lines, and their Parquet form.

pub mod catalogue;
pub mod csv_cell;
pub mod declaration;
pub mod demo;
pub mod domain;
pub mod env;
pub mod ingest;
pub mod positions;
pub mod registry;
pub mod report;
pub mod risk;
pub mod sftp;
pub mod store;

#[cfg(test)]
mod build_profile_tests {
    /// Declared quantities are summed over millions of lines: a release build of any Medistock
    /// crate must check overflows instead of wrapping silently.
    #[test]
    fn every_medistock_crate_keeps_overflow_checks_in_release() {
        let manifest = include_str!("../../Cargo.toml");
        for krate in [
            "medistock-core",
            "medistock-cli",
            "ingest",
            "risk",
            "notify",
            "report",
            "sftp-auth",
        ] {
            let section = format!("[profile.release.package.{krate}]\noverflow-checks = true");
            assert!(manifest.contains(&section), "missing: {section}");
        }
        assert!(!manifest.contains("overflow-checks = false"));
    }
}
