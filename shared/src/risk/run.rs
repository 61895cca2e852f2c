//! The risk run: every reference in scope assessed at `as_of` from the positions held and the
//! normalized history, compared with the stored level; a RISK item written per reference
//! (conditional on its version), an outbox record per announced transition (deterministic
//! key: a rerun or a concurrent run never alerts twice), and a Parquet snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;

use chrono::{DateTime, Days, NaiveDate, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use polars::prelude::*;
use serde::Serialize;

use super::alert::{AlertTopics, Alternative, is_announced, notification};
use super::assess::{Assessment, ReferenceInput, assess};
use super::config::RiskConfig;
use super::demand::{LOOKBACK_DAYS, demand_series};
use super::level::Level;
use crate::declaration::cells::epoch_days;
use crate::domain::{Cip13, DeclarantType};
use crate::store::{
    AlertRecord, AlertStatus, Notifier, ObjectStore, RiskItem, StateStore, StoreError,
};

/// RISK items and alert records written at once.
const WRITE_CONCURRENCY: usize = 16;

/// Failures of a run (infrastructure or computation; never of the data).
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    /// A storage backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A polars computation failed.
    #[error("calcul du risque : {0}")]
    Polars(#[from] PolarsError),
}

/// Which references to compute.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every reference with a position or in the monitored list.
    #[default]
    All,
    /// These references only.
    References(Vec<Cip13>),
}

/// Where the run reads and writes.
#[derive(Debug, Clone)]
pub struct RiskRun<'a> {
    /// The lake bucket (history in, snapshot out).
    pub lake_bucket: &'a str,
    /// Alert topics.
    pub topics: &'a AlertTopics,
    /// Declarant types and monitored references.
    pub config: &'a RiskConfig,
}

/// One level change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// The reference.
    pub cip13: String,
    /// Level before.
    pub from: Level,
    /// Level after.
    pub to: Level,
    /// Whether an alert record was written for it.
    pub announced: bool,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// Date computed.
    pub as_of: NaiveDate,
    /// Nothing written.
    pub dry_run: bool,
    /// References assessed.
    pub references: usize,
    /// References per level.
    pub levels: BTreeMap<Level, usize>,
    /// Level changes.
    pub transitions: Vec<Transition>,
    /// Alert records created by this run.
    pub alerts_created: usize,
    /// The snapshot written.
    pub snapshot_key: Option<String>,
}

/// Runs the risk computation.
pub async fn run_risk<O: ObjectStore, S: StateStore>(
    objects: &O,
    state: &S,
    run: &RiskRun<'_>,
    scope: &Scope,
    as_of: NaiveDate,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<(RunSummary, Vec<Assessment>), RiskError> {
    let positions = state.all_positions().await?;
    let previous: BTreeMap<String, RiskItem> = state
        .risk_items()
        .await?
        .into_iter()
        .map(|item| (item.cip13.clone(), item))
        .collect();
    let history = load_history(objects, run.lake_bucket, as_of).await?;
    let config = run.config.clone();
    let scope = scope.clone();
    let previous_levels: BTreeMap<String, Level> =
        previous.iter().map(|(k, v)| (k.clone(), v.level)).collect();
    let assessments = tokio::task::spawn_blocking(move || -> Result<Vec<Assessment>, RiskError> {
        let series = match history {
            Some(frame) => demand_series(&frame, &config.kinds)?,
            None => BTreeMap::new(),
        };
        let mut by_reference: BTreeMap<Cip13, Vec<(crate::positions::Position, DeclarantType)>> =
            BTreeMap::new();
        for p in positions {
            let kind = config
                .kinds
                .get(p.declarant.as_str())
                .copied()
                .unwrap_or(DeclarantType::Autre);
            by_reference.entry(p.cip13).or_default().push((p, kind));
        }
        let references: BTreeSet<Cip13> = match &scope {
            Scope::All => by_reference
                .keys()
                .chain(config.references.keys())
                .copied()
                .collect(),
            Scope::References(list) => list.iter().copied().collect(),
        };
        Ok(references
            .into_iter()
            .map(|cip13| {
                let settings = config.settings(&cip13);
                let input = ReferenceInput {
                    cip13,
                    positions: by_reference.remove(&cip13).unwrap_or_default(),
                    demand_series: series.get(&cip13).cloned().unwrap_or_default(),
                    thresholds: settings.thresholds,
                    safety_stock_months: settings.safety_stock_months,
                    previous_level: previous_levels.get(cip13.as_str()).copied(),
                };
                assess(&input, as_of)
            })
            .collect())
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;

    let mut summary = RunSummary {
        as_of,
        dry_run,
        references: assessments.len(),
        levels: BTreeMap::new(),
        transitions: Vec::new(),
        alerts_created: 0,
        snapshot_key: None,
    };
    for a in &assessments {
        *summary.levels.entry(a.level).or_default() += 1;
        let from = previous
            .get(a.cip13.as_str())
            .map_or(Level::Normal, |h| h.level);
        if from != a.level {
            summary.transitions.push(Transition {
                cip13: a.cip13.to_string(),
                from,
                to: a.level,
                announced: is_announced(from, a.level),
            });
        }
    }
    if !dry_run {
        // One conditional write per reference, many in flight: 20,000 sequential DynamoDB
        // round trips would take minutes. A loop builds the futures (a closure here defeats the
        // compiler's proof that they are Send).
        let groups = groups_of(&assessments, run.config);
        let mut writes = Vec::with_capacity(assessments.len());
        for a in &assessments {
            writes.push(record_reference(
                state,
                run,
                a,
                previous.get(a.cip13.as_str()),
                &groups,
                as_of,
                now,
            ));
        }
        let created: Vec<bool> = stream::iter(writes)
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_collect()
            .await?;
        summary.alerts_created = created.into_iter().filter(|c| *c).count();
    }
    if !dry_run && !assessments.is_empty() {
        let key = format!("risk/as_of={as_of}/risk.parquet");
        let bytes = snapshot_parquet(&assessments)?;
        objects
            .put(
                run.lake_bucket,
                &key,
                bytes,
                "application/vnd.apache.parquet",
                &BTreeMap::new(),
            )
            .await?;
        summary.snapshot_key = Some(key);
    }
    Ok((summary, assessments))
}

/// Writes the RISK item of one reference and, for an announced transition, its alert record;
/// true when the record was created by this call.
async fn record_reference<S: StateStore>(
    state: &S,
    run: &RiskRun<'_>,
    a: &Assessment,
    held: Option<&RiskItem>,
    groups: &BTreeMap<String, Vec<&Assessment>>,
    as_of: NaiveDate,
    now: DateTime<Utc>,
) -> Result<bool, RiskError> {
    let from = held.map_or(Level::Normal, |h| h.level);
    let item = RiskItem {
        cip13: a.cip13.to_string(),
        level: a.level,
        as_of,
        computed_at: now,
        version: held.map_or(1, |h| h.version + 1),
        figures: serde_json::to_string(a).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    };
    // Another run got there first: it wrote the same transition under the same key.
    if !state.put_risk(&item, held.map(|h| h.version)).await? || !is_announced(from, a.level) {
        return Ok(false);
    }
    let settings = run.config.settings(&a.cip13);
    let alternatives = alternatives_of(a, groups, run.config);
    let record = AlertRecord {
        key: format!("{}#{as_of}#{}-{}", a.cip13, from.as_str(), a.level.as_str()),
        cip13: a.cip13.to_string(),
        notification: notification(a, from, &settings, &alternatives, run.topics),
        status: AlertStatus::Pending,
        message_id: None,
        created_at: now,
    };
    Ok(state.put_alert_once(&record).await?)
}

/// The assessments of each group of substitutable references, by group.
fn groups_of<'a>(
    all: &'a [Assessment],
    config: &RiskConfig,
) -> BTreeMap<String, Vec<&'a Assessment>> {
    let mut groups: BTreeMap<String, Vec<&Assessment>> = BTreeMap::new();
    for a in all {
        if let Some(group) = config
            .references
            .get(&a.cip13)
            .and_then(|s| s.group.clone())
        {
            groups.entry(group).or_default().push(a);
        }
    }
    groups
}

/// Other monitored references of the same group, with their level and coverage.
fn alternatives_of(
    a: &Assessment,
    groups: &BTreeMap<String, Vec<&Assessment>>,
    config: &RiskConfig,
) -> Vec<Alternative> {
    let Some(members) = config
        .references
        .get(&a.cip13)
        .and_then(|s| s.group.as_ref())
        .and_then(|g| groups.get(g))
    else {
        return Vec::new();
    };
    members
        .iter()
        .filter(|b| b.cip13 != a.cip13)
        .map(|b| Alternative {
            cip13: b.cip13.to_string(),
            denomination: config
                .references
                .get(&b.cip13)
                .map(|s| s.denomination.clone())
                .unwrap_or_default(),
            level: b.level,
            coverage_days: b.coverage_days,
        })
        .collect()
}

/// The normalized history visible on `as_of` (partitions of the look-back window), with the
/// columns the demand needs.
async fn load_history<O: ObjectStore>(
    objects: &O,
    lake: &str,
    as_of: NaiveDate,
) -> Result<Option<DataFrame>, RiskError> {
    let from = as_of
        .checked_sub_days(Days::new(LOOKBACK_DAYS as u64))
        .unwrap_or(as_of);
    let mut frames = Vec::new();
    for key in objects.list(lake, "normalized/").await? {
        let partition = key
            .strip_prefix("normalized/as_of=")
            .and_then(|rest| rest.split('/').next())
            .and_then(|d| d.parse::<NaiveDate>().ok());
        if !partition.is_some_and(|d| d >= from && d <= as_of) {
            continue;
        }
        if let Some(object) = objects.get(lake, &key).await? {
            frames.push(object.bytes);
        }
    }
    if frames.is_empty() {
        return Ok(None);
    }
    let limit = epoch_days(as_of);
    tokio::task::spawn_blocking(move || -> Result<Option<DataFrame>, RiskError> {
        let mut all: Option<DataFrame> = None;
        for bytes in frames {
            let frame = ParquetReader::new(Cursor::new(bytes))
                .finish()?
                .lazy()
                .select([
                    col("cip13"),
                    col("date_stock"),
                    col("declarant"),
                    col("daily_outflow"),
                ])
                .filter(col("date_stock").cast(DataType::Int32).lt_eq(lit(limit)))
                .collect()?;
            match all.as_mut() {
                Some(acc) => {
                    acc.vstack_mut(&frame)?;
                }
                None => all = Some(frame),
            }
        }
        Ok(all)
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

fn snapshot_parquet(assessments: &[Assessment]) -> Result<Vec<u8>, RiskError> {
    let n = assessments.len();
    let text = |name: &str, f: &dyn Fn(&Assessment) -> String| {
        StringChunked::from_iter_values(name.into(), assessments.iter().map(f)).into_column()
    };
    let float = |name: &str, f: &dyn Fn(&Assessment) -> Option<f64>| {
        Float64Chunked::from_iter_options(name.into(), assessments.iter().map(f)).into_column()
    };
    let int = |name: &str, f: &dyn Fn(&Assessment) -> Option<i64>| {
        Int64Chunked::from_iter_options(name.into(), assessments.iter().map(f)).into_column()
    };
    let mut frame = DataFrame::new(
        n,
        vec![
            text("cip13", &|a| a.cip13.to_string()),
            text("as_of", &|a| a.as_of.to_string()),
            text("level", &|a| a.level.as_str().to_owned()),
            float("chain_stock", &|a| Some(a.chain_stock)),
            int("stock_exploitants", &|a| Some(a.stock_by_type.exploitants)),
            int("stock_grossistes", &|a| Some(a.stock_by_type.grossistes)),
            int("held_stock", &|a| Some(a.held_stock)),
            float("demand", &|a| a.demand),
            float("trend", &|a| Some(a.trend)),
            float("coverage_days", &|a| a.coverage_days),
            text("stockout_date", &|a| {
                a.stockout_date.map(|d| d.to_string()).unwrap_or_default()
            }),
            int("days_to_stockout", &|a| a.days_to_stockout),
            int("quality_flags", &|a| Some(a.flags.len() as i64)),
        ],
    )?;
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).finish(&mut frame)?;
    Ok(out)
}

/// What publishing the outbox did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PublishSummary {
    /// Published and marked sent.
    pub sent: usize,
    /// Left pending after a failed publish (retried next time).
    pub failed: usize,
}

/// Publishes every pending alert and marks it sent; a failed publish leaves it pending.
pub async fn publish_pending<S: StateStore, N: Notifier>(
    state: &S,
    notifier: &N,
) -> Result<PublishSummary, RiskError> {
    let mut summary = PublishSummary::default();
    for alert in state.pending_alerts().await? {
        match notifier.publish(&alert.notification).await {
            Ok(message_id) => {
                state.mark_alert_sent(&alert.key, &message_id).await?;
                summary.sent += 1;
            }
            Err(e) => {
                tracing::warn!(key = alert.key, error = %e, "publication échouée : l'alerte reste en attente");
                summary.failed += 1;
            }
        }
    }
    Ok(summary)
}
