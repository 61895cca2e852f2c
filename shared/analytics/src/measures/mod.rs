//! ANSM's measures and their impact: a subject's figures day by day from the daily risk
//! snapshots (`history.rs`), and for each measure the figures before its start and since
//! (`impact.rs`), shown by `medistock status`, in the alerts of the subject and in the weekly
//! synthesis. The records themselves are the domain's ([`medistock_domain::measure`]).

pub mod history;
pub mod impact;

pub use history::{DayFigures, HistoryError, SubjectHistory, impact_days, read_history};
pub use impact::{BEFORE_DAYS, Impact, MAX_SINCE_DAYS, Window, impact, impact_line, windows};

use std::collections::HashSet;

use chrono::NaiveDate;

use crate::risk::config::RiskConfig;
use medistock_domain::measure::Measure;
use medistock_domain::store::ObjectStore;

/// Each measure's impact up to `as_of` (in the order of `measures`), from the daily snapshots
/// of its windows and `today`'s figures (by CIP13) when the caller has them before its own
/// snapshot is written (the risk run).
pub async fn impacts<O: ObjectStore>(
    objects: &O,
    lake_bucket: &str,
    measures: &[Measure],
    config: &RiskConfig,
    as_of: NaiveDate,
    today: &[(String, DayFigures)],
) -> Result<Vec<Impact>, HistoryError> {
    let members = |subject: &str| crate::risk::subject_members(subject, config);
    let cips: HashSet<String> = measures.iter().flat_map(|m| members(&m.subject)).collect();
    let mut days = impact_days(measures, as_of);
    if !today.is_empty() {
        days.remove(&as_of);
    }
    let mut history = read_history(objects, lake_bucket, Some(&cips), &days).await?;
    for (cip, figures) in today.iter().filter(|(c, _)| cips.contains(c)) {
        history.entry(cip.clone()).or_default().push(*figures);
    }
    Ok(measures
        .iter()
        .map(|m| {
            impact(
                m,
                &history::subject_days(&members(&m.subject), &history),
                as_of,
            )
        })
        .collect())
}
