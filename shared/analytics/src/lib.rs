//! Medistock analytics: reading and validating declarations, the reference catalogue,
//! positions and their Parquet history, the risk model, the weekly synthesis, and the ingest
//! and risk pipelines that run them over the storage ports of `medistock-domain`. The heavy
//! crate (polars, calamine): linked by the command and by the ingest, risk and report
//! functions, never by `notify` or `sftp-auth`.
//!
//! - [`declaration`]: the declaration format, parsing CSV/XLSX, validation, receipts.
//! - [`catalogue`]: the reference catalogue from the public BDPM files.
//! - [`positions`]: a file's positions, and normalized lines as Parquet.
//! - [`ingest`]: one dropped file → archive, history, positions, receipt.
//! - [`risk`]: demand, projection, levels, groups, the alert outbox, the daily run.
//! - [`report`]: the weekly synthesis.

pub mod catalogue;
pub mod csv_cell;
pub mod declaration;
pub mod ingest;
mod last_seen;
pub mod measures;
pub mod positions;
pub mod registry;
pub mod report;
pub mod risk;

#[cfg(test)]
mod build_profile_tests {
    /// Declared quantities are summed over millions of lines: a release build of any Medistock
    /// crate must check overflows instead of wrapping silently.
    #[test]
    fn every_medistock_crate_keeps_overflow_checks_in_release() {
        let manifest = include_str!("../../../Cargo.toml");
        for krate in [
            "medistock-domain",
            "medistock-analytics",
            "medistock-aws",
            "medistock-local",
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
