//! The lake's layout, spelled once: where the ingest function archives a file, where the
//! normalized history and the risk snapshots are partitioned by date, where the weekly report
//! and the catalogue live, and the columns of the history that Athena's Glue table
//! declares (`infra/template.yaml`, held to [`HISTORY_COLUMNS`] by the template's tests).

use chrono::{DateTime, NaiveDate, Utc};

/// Originals, as dropped: `raw/<declarant>/<yyyy>/<mm>/<dd>/<sha256>.<ext>`.
pub const RAW: &str = "raw/";
/// Rejected files: `quarantine/<declarant>/…`.
pub const QUARANTINE: &str = "quarantine/";
/// Normalized lines: `normalized/as_of=<date>/declarant=<id>/<sha256>.parquet`.
pub const NORMALIZED: &str = "normalized/";
/// Daily totals, one row per (reference, date) of a file, summed over its sites:
/// `daily/as_of=<date>/declarant=<id>/<sha256>.parquet`. What the risk run reads.
pub const DAILY: &str = "daily/";
/// Daily risk snapshots: `risk/as_of=<date>/risk.parquet`.
pub const RISK: &str = "risk/";
/// Weekly syntheses: `reports/<week>/synthese.{html,csv}`.
pub const REPORTS: &str = "reports/";
/// The reference catalogue (BDPM and monitoring settings), as JSON.
pub const CATALOGUE: &str = "catalogue/catalogue.json";
/// The calibration of the probability of a stock-out learnt from a replayed history, as JSON,
/// beside the catalogue (read by the same functions).
pub const CALIBRATION: &str = "catalogue/calibration.json";

/// Where a file received `at` is archived.
pub fn raw_key(declarant: &str, at: DateTime<Utc>, sha256: &str, ext: &str) -> String {
    format!("{RAW}{declarant}/{}/{sha256}.{ext}", at.format("%Y/%m/%d"))
}

/// Where a rejected file is kept.
pub fn quarantine_key(declarant: &str, sha256: &str, ext: &str) -> String {
    format!("{QUARANTINE}{declarant}/{sha256}.{ext}")
}

/// Where a file refused unread (too large) is kept: it has no hash of its bytes, so the time
/// and the drop it came as (its inbox key and version) name it: two drops in one second keep
/// two copies.
pub fn oversize_quarantine_key(
    declarant: &str,
    at: DateTime<Utc>,
    key: &str,
    version: Option<&str>,
    ext: &str,
) -> String {
    let drop = crate::digest::sha256_hex(format!("{key}\0{}", version.unwrap_or("")).as_bytes());
    format!(
        "{QUARANTINE}{declarant}/trop-volumineux-{}-{}.{ext}",
        at.format("%Y%m%dT%H%M%S"),
        &drop[..16]
    )
}

/// Where a file's normalized lines are written, under the date its figures describe.
pub fn normalized_key(as_of: NaiveDate, declarant: &str, sha256: &str) -> String {
    format!("{NORMALIZED}as_of={as_of}/declarant={declarant}/{sha256}.parquet")
}

/// Where a file's daily totals are written, beside its normalized lines.
pub fn daily_key(as_of: NaiveDate, declarant: &str, sha256: &str) -> String {
    format!("{DAILY}as_of={as_of}/declarant={declarant}/{sha256}.parquet")
}

/// The prefix of one day's partition under `prefix` (`normalized/`, `daily/`): listing it
/// lists that day only.
pub fn partition_prefix(prefix: &str, as_of: NaiveDate) -> String {
    format!("{prefix}as_of={as_of}/")
}

/// The declarant and the file hash of a partitioned key
/// (`<prefix>as_of=<date>/declarant=<id>/<sha256>.parquet`).
pub fn partition_file<'k>(prefix: &str, key: &'k str) -> Option<(&'k str, &'k str)> {
    let rest = key.strip_prefix(prefix)?.strip_prefix("as_of=")?;
    let (_, rest) = rest.split_once('/')?;
    let (declarant, file) = rest.strip_prefix("declarant=")?.split_once('/')?;
    let sha256 = file.strip_suffix(".parquet")?;
    (!declarant.is_empty() && !sha256.is_empty() && !sha256.contains('/'))
        .then_some((declarant, sha256))
}

/// Where the risk snapshot of `as_of` is written.
pub fn risk_snapshot_key(as_of: NaiveDate) -> String {
    format!("{RISK}as_of={as_of}/risk.parquet")
}

/// The keys of a week's synthesis: HTML, CSV.
pub fn report_keys(week: &impl std::fmt::Display) -> (String, String) {
    (
        format!("{REPORTS}{week}/synthese.html"),
        format!("{REPORTS}{week}/synthese.csv"),
    )
}

/// The `as_of=<date>` partition of a key under `prefix` (`normalized/`, `risk/`).
pub fn partition_date(prefix: &str, key: &str) -> Option<NaiveDate> {
    key.strip_prefix(prefix)?
        .strip_prefix("as_of=")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

/// The columns of the normalized history with their Glue (Hive) types, in order; `declarant`
/// and `as_of` are the partition keys.
pub const HISTORY_COLUMNS: [(&str, &str); 13] = [
    ("line", "int"),
    ("cip13", "string"),
    ("date_stock", "date"),
    ("stock", "bigint"),
    ("sorties", "bigint"),
    ("periode_jours", "bigint"),
    ("daily_outflow", "double"),
    ("stock_bloque", "bigint"),
    ("appro_quantite", "bigint"),
    ("appro_date", "date"),
    ("site", "string"),
    ("commentaire", "string"),
    ("source_sha256", "string"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_read_back_from_the_keys_written() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert_eq!(
            partition_date(NORMALIZED, &normalized_key(day, "gr-a", "abc")),
            Some(day)
        );
        assert_eq!(partition_date(RISK, &risk_snapshot_key(day)), Some(day));
        assert_eq!(
            partition_date(RISK, &normalized_key(day, "gr-a", "abc")),
            None
        );
        assert_eq!(partition_date(NORMALIZED, "normalized/as_of=hier/x"), None);
    }

    #[test]
    fn a_day_is_listed_by_its_prefix_and_its_files_read_back() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let key = daily_key(day, "gr-a", "abc");
        assert!(key.starts_with(&partition_prefix(DAILY, day)));
        assert!(!key.starts_with(&partition_prefix(DAILY, day.succ_opt().unwrap())));
        assert_eq!(partition_date(DAILY, &key), Some(day));
        assert_eq!(partition_file(DAILY, &key), Some(("gr-a", "abc")));
        assert_eq!(
            partition_file(NORMALIZED, &normalized_key(day, "lab-1", "f00")),
            Some(("lab-1", "f00"))
        );
        assert_eq!(
            partition_file(DAILY, &normalized_key(day, "gr-a", "abc")),
            None
        );
        assert_eq!(
            partition_file(DAILY, "daily/as_of=2026-11-20/gr-a/abc.parquet"),
            None
        );
        assert_eq!(
            partition_file(DAILY, "daily/as_of=2026-11-20/declarant=/abc.parquet"),
            None
        );
    }

    #[test]
    fn archive_keys_follow_the_layout() {
        let at = "2026-11-23T08:31:13Z".parse().unwrap();
        assert_eq!(
            raw_key("gr-a", at, "abc", "csv"),
            "raw/gr-a/2026/11/23/abc.csv"
        );
        let oversized = |key: &str, version: Option<&str>| {
            oversize_quarantine_key("gr-a", at, key, version, "xlsx")
        };
        let first = oversized("inbox/gr-a/s48.xlsx", Some("v1"));
        assert!(
            first.starts_with("quarantine/gr-a/trop-volumineux-20261123T083113-")
                && first.ends_with(".xlsx"),
            "{first}"
        );
        // Two drops in the same second: another version, another name, another copy.
        for other in [
            oversized("inbox/gr-a/s48.xlsx", Some("v2")),
            oversized("inbox/gr-a/s48.xlsx", None),
            oversized("inbox/gr-a/s49.xlsx", Some("v1")),
        ] {
            assert_ne!(first, other);
        }
        assert_eq!(first, oversized("inbox/gr-a/s48.xlsx", Some("v1")));
    }
}
