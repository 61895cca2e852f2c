//! Gathering the synthesis' inputs through the storage ports, and writing the report to the
//! lake: the same code for `medistock report` (local backend) and `functions/report` (AWS).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{NaiveDate, NaiveTime};
use polars::prelude::*;

use super::synthesis::{ReportInput, SnapshotPoint, Synthesis, SynthesisError, WEEKS_SHOWN};
use super::week::Week;
use super::{render_csv, render_html, synthesise};
use crate::registry::Registry;
use crate::risk::config::RiskConfig;
use medistock_domain::Level;
use medistock_domain::measure::Measure;
use medistock_domain::store::{
    AlertStateStore, FileLedger, MeasureStore, Notification, ObjectStore, PositionStore, RiskStore,
    StoreError,
};

/// Failures of a report (infrastructure or stored data).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A storage backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A risk snapshot cannot be read.
    #[error("instantané de risque illisible : {0}")]
    Polars(#[from] PolarsError),
    /// A RISK item cannot be read.
    #[error(transparent)]
    Synthesis(#[from] SynthesisError),
}

impl From<crate::measures::HistoryError> for ReportError {
    fn from(e: crate::measures::HistoryError) -> Self {
        match e {
            crate::measures::HistoryError::Store(s) => ReportError::Store(s),
            crate::measures::HistoryError::Polars(p) => ReportError::Polars(p),
        }
    }
}

/// Reads what the synthesis of `week` needs: RISK items, the week's files (received between
/// Monday 00:00 and Sunday 24:00 UTC), positions, and the daily risk snapshots of the weeks shown.
pub async fn load_input<
    O: ObjectStore,
    S: PositionStore + RiskStore + FileLedger + MeasureStore + AlertStateStore,
>(
    objects: &O,
    state: &S,
    lake: &str,
    week: Week,
    config: &RiskConfig,
) -> Result<ReportInput, ReportError> {
    let mut first = week;
    for _ in 1..WEEKS_SHOWN {
        first = first.previous();
    }
    let midnight = NaiveTime::MIN;
    let from = week.start().and_time(midnight).and_utc();
    let to = week
        .end()
        .succ_opt()
        .unwrap_or(week.end())
        .and_time(midnight)
        .and_utc();
    // Measures in force during the week, and their references' figures around their start.
    let measures: Vec<Measure> = state
        .measures()
        .await?
        .into_iter()
        .filter(|m| m.start <= week.end() && m.end.is_none_or(|e| e >= week.start()))
        .collect();
    let cips: HashSet<String> = measures
        .iter()
        .flat_map(|m| crate::risk::subject_members(&m.subject, config))
        .collect();
    // Each snapshot is read once: the weeks shown for every reference (charts, heat map),
    // the other days of the measures' windows for the measured references only (20,000
    // references on every day of a 28 + 180-day window would not fit a report's memory).
    let shown = first.start()..=week.end();
    let shown_days: BTreeSet<NaiveDate> = shown
        .start()
        .iter_days()
        .take_while(|d| shown.contains(d))
        .collect();
    let mut history = crate::measures::read_history(objects, lake, None, &shown_days).await?;
    let other_days: BTreeSet<NaiveDate> = crate::measures::impact_days(&measures, week.end())
        .difference(&shown_days)
        .copied()
        .collect();
    let before = crate::measures::read_history(objects, lake, Some(&cips), &other_days).await?;
    let snapshots: HashMap<String, Vec<SnapshotPoint>> = history
        .iter()
        .map(|(cip, days)| {
            let points = days
                .iter()
                .map(|d| SnapshotPoint {
                    as_of: d.date,
                    level: d.level,
                    chain_stock: d.chain_stock,
                })
                .collect();
            (cip.clone(), points)
        })
        .filter(|(_, points): &(String, Vec<SnapshotPoint>)| !points.is_empty())
        .collect();
    history.retain(|cip, _| cips.contains(cip));
    for (cip, days) in before {
        let merged = history.entry(cip).or_default();
        merged.extend(days);
        merged.sort_by_key(|d| d.date);
    }
    let measure_history = history;
    Ok(ReportInput {
        risk: state.risk_items().await?,
        snapshots,
        files: state.files_received(from, to).await?,
        positions: state.all_positions().await?,
        measures,
        alert_states: state.alert_states().await?,
        measure_history,
    })
}

/// What writing a report did.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOutcome {
    /// The synthesis.
    pub synthesis: Synthesis,
    /// Key of the HTML file in the lake.
    pub html_key: String,
    /// Key of the CSV file in the lake.
    pub csv_key: String,
    /// Size of the HTML file, bytes.
    pub html_bytes: usize,
}

/// Builds the synthesis of `week` and writes `reports/<week>/synthese.html` and `.csv` to the
/// lake (a rerun replaces them).
pub async fn write_report<
    O: ObjectStore,
    S: PositionStore + RiskStore + FileLedger + MeasureStore + AlertStateStore,
>(
    objects: &O,
    state: &S,
    lake: &str,
    week: Week,
    config: &RiskConfig,
    registry: &Registry,
) -> Result<ReportOutcome, ReportError> {
    let input = load_input(objects, state, lake, week, config).await?;
    let synthesis = synthesise(week, &input, config, registry)?;
    let html = render_html(&synthesis);
    let csv = render_csv(&synthesis);
    let (html_key, csv_key) = medistock_domain::lake::report_keys(&week);
    let html_bytes = html.len();
    objects
        .put(
            lake,
            &html_key,
            html.into_bytes(),
            "text/html; charset=utf-8",
            &BTreeMap::new(),
        )
        .await?;
    objects
        .put(
            lake,
            &csv_key,
            csv.into_bytes(),
            "text/csv; charset=utf-8",
            &BTreeMap::new(),
        )
        .await?;
    Ok(ReportOutcome {
        synthesis,
        html_key,
        csv_key,
        html_bytes,
    })
}

/// The email announcing a report: headline figures and where to find it.
pub fn headline(outcome: &ReportOutcome, location: &str, topic: &str) -> Notification {
    let s = &outcome.synthesis;
    let count = |l: Level| s.counts.get(&l).copied().unwrap_or(0);
    let before = |l: Level| s.counts_last_week.get(&l).copied().unwrap_or(0);
    let mut body = format!(
        "Synthèse hebdomadaire Medistock — semaine {} (du {} au {})\n\n",
        s.week,
        medistock_domain::french::date(s.week.start()),
        medistock_domain::french::date(s.week.end())
    );
    for level in Level::ALL.iter().rev() {
        body.push_str(&format!(
            "  {:<10} {:>6} (semaine précédente : {})\n",
            level.as_str(),
            count(*level),
            before(*level)
        ));
    }
    let urgent: Vec<String> = s
        .references
        .iter()
        .filter(|r| r.level() >= Level::Critique)
        .take(10)
        .map(|r| {
            format!(
                "  - {} {} : {}, rupture prévue {}",
                r.assessment.cip13,
                r.denomination,
                r.level().as_str(),
                r.assessment
                    .stockout_date
                    .map_or_else(|| "—".to_owned(), medistock_domain::french::date)
            )
        })
        .collect();
    if !urgent.is_empty() {
        body.push_str("\nLes plus urgentes :\n");
        body.push_str(&urgent.join("\n"));
        body.push('\n');
    }
    body.push_str(&format!(
        "\nFichiers reçus : {} ({} intégrés, {} rejetés) ; déclarants sans déclaration : {}.\n\nRapport complet : {location}/{}\nTableau CSV : {location}/{}\n",
        s.files.received,
        s.files.applied,
        s.files.rejected,
        s.silent.len(),
        outcome.html_key,
        outcome.csv_key
    ));
    Notification {
        topic: topic.to_owned(),
        subject: format!(
            "[Medistock] Synthèse {} : {} en rupture ou critique, {} en tension",
            s.week,
            count(Level::Rupture) + count(Level::Critique),
            count(Level::Tension)
        ),
        body,
        sms: None,
        email: true,
        attributes: BTreeMap::from([
            ("severity".to_owned(), "info".to_owned()),
            ("level".to_owned(), "RAPPORT".to_owned()),
        ]),
    }
}
