//! The risk run: every reference in scope assessed at `as_of` from the positions held and the
//! daily totals of the look-back window, compared with the stored level; a RISK item written per reference
//! (conditional on its version), an outbox record per announced transition (deterministic
//! key: a rerun or a concurrent run never alerts twice), and a Parquet snapshot.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Cursor;
use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use polars::prelude::*;
use serde::Serialize;

use super::alert::{AlertTopics, is_announced};
use super::assess::{Assessment, ReferenceInput, STALE_AFTER_DAYS, assess};
use super::config::RiskConfig;
use super::demand::{DailyFile, DemandSeries, LOOKBACK_DAYS, Observations, StockHistory};
use super::group::{GroupAssessment, assess_groups};
use super::history_cache::{CachedFile, HistoryCache};
use super::lifecycle::{self, Recall};
use super::outbox::{OutboxExtras, RunChanges, outbox_records};
use super::reliability::SupplyRecord;
use crate::positions::daily::{FileDay, daily_rows, read_daily_parquet, resolve_day, site_lines};
use medistock_domain::Level;
use medistock_domain::lifecycle::{AlertPolicy, AlertState};
use medistock_domain::measure::Measure;
use medistock_domain::store::{
    AccountStore, AlertOutbox, AlertStateStore, FileLedger, GROUP_SUBJECT_PREFIX, MeasureStore,
    ObjectStore, PositionStore, RiskItem, RiskStore, StoreError,
};
use medistock_domain::{Cip13, DeclarantId, DeclarantType, lake};

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

impl From<crate::measures::HistoryError> for RiskError {
    fn from(e: crate::measures::HistoryError) -> Self {
        match e {
            crate::measures::HistoryError::Store(s) => RiskError::Store(s),
            crate::measures::HistoryError::Polars(p) => RiskError::Polars(p),
        }
    }
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
    /// The inbox bucket, where reminders to silent declarants go (`receipts/<id>/`); `None`:
    /// no reminder written.
    pub inbox_bucket: Option<&'a str>,
    /// Recall period of unacknowledged subjects.
    pub policy: AlertPolicy,
    /// Alert topics.
    pub topics: &'a AlertTopics,
    /// Declarant types and monitored references.
    pub config: &'a RiskConfig,
    /// Daily totals decoded by the previous runs of this process (a replay); `None`: read
    /// the look-back afresh.
    pub history_cache: Option<&'a HistoryCache>,
}

/// One level change of a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// The reference.
    pub cip13: String,
    /// Level before.
    pub from: Level,
    /// Level after.
    pub to: Level,
    /// Whether it is announced (in its own or its group's message).
    pub announced: bool,
}

/// One level change of a group of substitutable presentations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupTransition {
    /// The group id.
    pub group: String,
    /// Level before.
    pub from: Level,
    /// Level after.
    pub to: Level,
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
    /// Groups per level (groups are assessed on full runs only).
    pub group_levels: BTreeMap<Level, usize>,
    /// Level changes of groups.
    pub group_transitions: Vec<GroupTransition>,
    /// Alert records created by this run (messages, groups' and digest included).
    pub alerts_created: usize,
    /// The snapshot written.
    pub snapshot_key: Option<String>,
    /// Subjects recalled in the digest (CRITIQUE or RUPTURE, nobody acknowledged).
    pub recalls: Vec<String>,
    /// Declarants silent past their cadence (full runs only).
    pub silent_declarants: Vec<String>,
    /// Reminders written in silent declarants' receipts folders by this run.
    pub reminders_written: usize,
    /// Measures in force on the subjects assessed.
    pub measures_in_force: usize,
}

/// A run's summary and everything it assessed.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskOutcome {
    /// What the run did.
    pub summary: RunSummary,
    /// One assessment per reference in scope.
    pub assessments: Vec<Assessment>,
    /// One assessment per group (empty on a partial scope).
    pub groups: Vec<GroupAssessment>,
}

/// Runs the risk computation. Groups are assessed when the scope is [`Scope::All`]: a partial
/// scope does not see every member of a group.
pub async fn run_risk<
    O: ObjectStore,
    S: PositionStore
        + RiskStore
        + AlertOutbox
        + AlertStateStore
        + MeasureStore
        + FileLedger
        + AccountStore,
>(
    objects: &O,
    state: &S,
    run: &RiskRun<'_>,
    scope: &Scope,
    as_of: NaiveDate,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<RiskOutcome, RiskError> {
    let mut clock = PhaseClock::new(as_of);
    let positions = state.all_positions().await?;
    clock.done("positions");
    let full = *scope == Scope::All;
    let mut positions_by_declarant: HashMap<String, Vec<String>> = HashMap::new();
    // Each declarant's latest declared date, beyond the ledger's horizon.
    let mut latest_position: HashMap<String, NaiveDate> = HashMap::new();
    if full {
        for p in &positions {
            positions_by_declarant
                .entry(p.declarant.to_string())
                .or_default()
                .push(p.cip13.to_string());
            let latest = latest_position
                .entry(p.declarant.to_string())
                .or_insert(p.as_of);
            *latest = (*latest).max(p.as_of);
        }
    }
    let alert_states: HashMap<String, AlertState> = state
        .alert_states()
        .await?
        .into_iter()
        .map(|s| (s.subject.clone(), s))
        .collect();
    let measures: Vec<Measure> = state
        .measures()
        .await?
        .into_iter()
        .filter(|m| m.in_force(as_of))
        .collect();
    let previous: BTreeMap<String, RiskItem> = state
        .risk_items()
        .await?
        .into_iter()
        .map(|item| (item.subject.clone(), item))
        .collect();
    let (series, mut histories, first_days) = load_demand(
        objects,
        run.lake_bucket,
        as_of,
        &run.config.kinds,
        run.history_cache,
    )
    .await?;
    clock.done("historique");
    let config = run.config.clone();
    let scope = scope.clone();
    // Each subject's level held, with the first day of its alert episode when at TENSION or
    // worse.
    let previous_levels: BTreeMap<String, (Level, Option<NaiveDate>)> = previous
        .iter()
        .map(|(k, v)| (k.clone(), (v.level, lifecycle::held_episode(v))))
        .collect();
    let (assessments, groups) = tokio::task::spawn_blocking(
        move || -> Result<(Vec<Assessment>, Vec<GroupAssessment>), RiskError> {
            let mut by_reference: BTreeMap<
                Cip13,
                Vec<(medistock_domain::position::Position, DeclarantType)>,
            > = BTreeMap::new();
            // A registered manufacturer without any position has not declared yet — in the
            // first weeks of the history only: after them, one that has still declared nothing
            // is silent, not late (a dormant account, files always refused), and a reference no
            // manufacturer declares is assessed on what is declared.
            // Heard by `as_of` (a run for a past date does not hear later declarations).
            let heard: BTreeSet<&str> = positions
                .iter()
                .filter(|p| p.as_of <= as_of)
                .map(|p| p.declarant.as_str())
                .collect();
            let history_young = first_days
                .wholesalers
                .is_some_and(|first| (as_of - first).num_days() < PENDING_FOR_DAYS);
            // The manufacturers expected to declare that have declared nothing yet: the
            // references ANSM names them for are theirs to tell. Once one declares, a reference
            // of its that it leaves out is assessed on what is declared (and listed in the
            // synthesis): leaving a reference out must not hold it below TENSION.
            let silent_manufacturers: BTreeSet<String> = config
                .expected_manufacturers
                .iter()
                .filter(|id| !heard.contains(id.as_str()))
                .cloned()
                .collect();
            // Only a manufacturer expected to declare is waited for: an account disabled, or
            // of cadence `aucune`, holds no reference below TENSION.
            let manufacturers_pending = history_young && !silent_manufacturers.is_empty();
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
            let manufacturers_expected = config
                .kinds
                .values()
                .any(|k| *k == DeclarantType::Exploitant);
            // Manufacturers only starting to declare: their first declaration in the look-back
            // is recent, or none has declared while the history itself is starting (go-live,
            // the first days of a replay).
            let recent = |first: Option<NaiveDate>| {
                first.is_some_and(|d| (as_of - d).num_days() < STALE_AFTER_DAYS)
            };
            let manufacturers_starting = manufacturers_expected
                && match first_days.manufacturers {
                    Some(_) => recent(first_days.manufacturers),
                    None => first_days.wholesalers.is_none() || recent(first_days.wholesalers),
                };
            // Each manufacturer's promises, over the references it alone declares (with two,
            // the history sums both and tells neither's batches).
            let makers: HashMap<Cip13, DeclarantId> = by_reference
                .iter()
                .filter_map(|(cip13, positions)| {
                    Some((*cip13, sole_manufacturer(positions)?.clone()))
                })
                .collect();
            let mut records: HashMap<&DeclarantId, SupplyRecord> = HashMap::new();
            for (cip13, maker) in &makers {
                if let Some(history) = histories.get(cip13) {
                    records
                        .entry(maker)
                        .or_default()
                        .add(&SupplyRecord::of(history, as_of));
                }
            }
            let inputs: Vec<ReferenceInput> = references
                .into_iter()
                .map(|cip13| {
                    let settings = config.settings(&cip13);
                    // The reference's manufacturer, when ANSM names it and it is expected to
                    // declare but has declared nothing yet.
                    let holder = settings
                        .exploitant
                        .clone()
                        .filter(|id| silent_manufacturers.contains(id.as_str()));
                    let supply_record = makers
                        .get(&cip13)
                        .and_then(|maker| records.get(maker))
                        .copied()
                        .unwrap_or_default();
                    // Its level held, with the first day of its alert episode.
                    let held = previous_levels.get(cip13.as_str());
                    ReferenceInput {
                        cip13,
                        positions: by_reference.remove(&cip13).unwrap_or_default(),
                        demand_series: series.get(&cip13).cloned().unwrap_or_default(),
                        history: histories.remove(&cip13).unwrap_or_default(),
                        options: config.model,
                        thresholds: settings.thresholds,
                        safety_stock_months: settings.safety_stock_months,
                        previous_level: held.map(|(level, _)| *level),
                        episode_since: held.and_then(|(_, since)| *since),
                        manufacturers_expected,
                        manufacturers_starting,
                        manufacturers_pending,
                        holder,
                        supply_record,
                    }
                })
                .collect();
            let calibration = config.calibration_in_use();
            let assessments = inputs
                .iter()
                .map(|i| super::calibration::calibrated(calibration, assess(i, as_of)))
                .collect();
            let groups = match scope {
                Scope::All => {
                    let held: BTreeMap<String, (Level, Option<NaiveDate>)> = previous_levels
                        .iter()
                        .filter_map(|(subject, held)| {
                            subject
                                .strip_prefix(GROUP_SUBJECT_PREFIX)
                                .map(|g| (g.to_owned(), *held))
                        })
                        .collect();
                    assess_groups(&inputs, &config, &held, as_of)
                }
                Scope::References(_) => Vec::new(),
            };
            Ok((assessments, groups))
        },
    )
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    clock.done("évaluation");

    // A recomputation of a day earlier than a subject's stored level (an analyst's look at the
    // past) never overwrites that newer level, nor announces a transition from it: the
    // subject's item, episode and messages are left as they are; the day's snapshot has it.
    let newer = |subject: &str| previous.get(subject).is_some_and(|h| h.as_of > as_of);
    let level_held = |subject: &str| previous.get(subject).map_or(Level::Normal, |h| h.level);
    let changes = RunChanges {
        references: assessments
            .iter()
            .filter(|a| !newer(a.cip13.as_str()))
            .map(|a| (a, level_held(a.cip13.as_str())))
            .collect(),
        groups: groups
            .iter()
            .filter(|g| !newer(&RiskItem::group_subject(&g.group)))
            .map(|g| (g, level_held(&RiskItem::group_subject(&g.group))))
            .collect(),
    };
    let mut summary = RunSummary {
        as_of,
        dry_run,
        references: assessments.len(),
        levels: BTreeMap::new(),
        transitions: Vec::new(),
        group_levels: BTreeMap::new(),
        group_transitions: Vec::new(),
        alerts_created: 0,
        snapshot_key: None,
        recalls: Vec::new(),
        silent_declarants: Vec::new(),
        reminders_written: 0,
        measures_in_force: 0,
    };
    // The lifecycle: episodes, recalls, ends of silences, measures in force, silent declarants.
    let label = |subject: &str| run.config.label(subject);
    // Those whose level this run stores (not those a newer level was stored for).
    let subjects: Vec<(String, Level)> = changes
        .references
        .iter()
        .map(|(a, _)| (a.cip13.to_string(), a.level))
        .chain(
            changes
                .groups
                .iter()
                .map(|(g, _)| (RiskItem::group_subject(&g.group), g.level)),
        )
        .collect();
    let mut episodes: HashMap<String, (Option<NaiveDate>, Option<NaiveDate>)> = HashMap::new();
    let mut extras = OutboxExtras::default();
    let mut silence_ends = Vec::new();
    for (subject, level) in &subjects {
        let held = previous.get(subject);
        let opened = lifecycle::open_since(held, *level, as_of);
        let states = alert_states.get(subject);
        // A silence covers the subject or, for a reference, its group: no recall while it runs.
        let group_state = Cip13::parse(subject)
            .ok()
            .and_then(|c| run.config.settings(&c).group)
            .and_then(|g| alert_states.get(&RiskItem::group_subject(&g)));
        let silenced = states
            .into_iter()
            .chain(group_state)
            .any(|s| s.silence_on(as_of).is_some());
        let due =
            !silenced && lifecycle::recall_due(held, *level, opened, states, &run.policy, as_of);
        let recalled_on = if due {
            extras.recalls.push(Recall {
                subject: subject.clone(),
                label: label(subject),
                level: *level,
                open_since: opened.unwrap_or(as_of),
            });
            Some(as_of)
        } else {
            held.and_then(|h| h.recalled_on)
        };
        episodes.insert(subject.clone(), (opened, recalled_on));
        if let Some(s) = states
            && let Some(record) =
                lifecycle::silence_end(s, held, *level, &label(subject), as_of, run.topics, now)
        {
            silence_ends.push(record);
        }
    }
    summary.recalls = extras.recalls.iter().map(|r| r.subject.clone()).collect();
    if !measures.is_empty() {
        // Best effort: the figures of a measure never stop the alerts.
        match measure_lines(objects, run, &measures, &assessments, as_of).await {
            Ok(lines) => {
                summary.measures_in_force = lines.values().map(Vec::len).sum();
                extras.measures = lines;
            }
            Err(e) => tracing::error!(
                error = %e,
                "effet des mesures non calculé : les messages partent sans « mesures en cours »"
            ),
        }
    }
    if full {
        let accounts = state.accounts().await?;
        let horizon = as_of
            .checked_sub_days(Days::new(lifecycle::SILENCE_HORIZON_DAYS))
            .unwrap_or(as_of);
        let files = state
            .files_received(
                horizon.and_time(chrono::NaiveTime::MIN).and_utc(),
                // Files received up to this instant included.
                now + chrono::Duration::seconds(1),
            )
            .await?;
        let levels: HashMap<String, Level> = assessments
            .iter()
            .map(|a| (a.cip13.to_string(), a.level))
            .collect();
        extras.silent = lifecycle::silent_declarants(
            &accounts,
            &files,
            &positions_by_declarant,
            &latest_position,
            &levels,
            as_of,
        );
        summary.silent_declarants = extras.silent.iter().map(|d| d.id.clone()).collect();
    }
    for a in &assessments {
        *summary.levels.entry(a.level).or_default() += 1;
    }
    for g in &groups {
        *summary.group_levels.entry(g.level).or_default() += 1;
    }
    for (a, from) in &changes.references {
        if *from != a.level {
            summary.transitions.push(Transition {
                cip13: a.cip13.to_string(),
                from: *from,
                to: a.level,
                announced: is_announced(*from, a.level),
            });
        }
    }
    for (g, from) in &changes.groups {
        if *from != g.level {
            summary.group_transitions.push(GroupTransition {
                group: g.group.clone(),
                from: *from,
                to: g.level,
            });
        }
    }
    if !dry_run {
        // The outbox first, then the levels: a crash in between leaves the transitions to be
        // seen again by the next run, whose records carry the same keys. Many writes in flight:
        // 20,000 sequential DynamoDB round trips would take minutes. Loops build the futures
        // (a closure here defeats the compiler's proof that they are Send).
        let mut records = outbox_records(&changes, run.config, run.topics, as_of, now, &extras);
        records.extend(silence_ends);
        let mut puts = Vec::with_capacity(records.len());
        for record in &records {
            puts.push(state.put_alert_once(record));
        }
        let created: Vec<bool> = stream::iter(puts)
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_collect()
            .await?;
        summary.alerts_created = created.into_iter().filter(|c| *c).count();
        clock.done("alertes");

        let episode = |subject: &str| episodes.get(subject).copied().unwrap_or_default();
        let mut items = Vec::with_capacity(assessments.len() + groups.len());
        for (a, _) in &changes.references {
            let subject = a.cip13.to_string();
            let episode = episode(&subject);
            items.push(risk_item(
                subject, a.level, a, &previous, as_of, now, episode,
            )?);
        }
        for (g, _) in &changes.groups {
            let subject = RiskItem::group_subject(&g.group);
            let episode = episode(&subject);
            items.push(risk_item(
                subject, g.level, g, &previous, as_of, now, episode,
            )?);
        }
        // A lost conditional write means another run stored these levels first.
        state.put_risks(&items).await?;
        clock.done("niveaux");
        // Reminders last, best effort: the levels and the alerts never wait on them (a failed
        // one is written by the next run: its key names the lapse).
        if let Some(inbox) = run.inbox_bucket {
            match write_reminders(objects, inbox, &extras.silent, as_of).await {
                Ok(n) => summary.reminders_written = n,
                Err(e) => {
                    tracing::error!(error = %e, "rappels aux déclarants silencieux non déposés")
                }
            }
        }
    }
    if !dry_run && !assessments.is_empty() {
        let key = lake::risk_snapshot_key(as_of);
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
        clock.done("instantané");
    }
    Ok(RiskOutcome {
        summary,
        assessments,
        groups,
    })
}

/// The time each phase of a run took, logged at `debug` (`MEDISTOCK_LOG=debug`): where a run
/// at national scale spends its time.
struct PhaseClock {
    as_of: NaiveDate,
    last: std::time::Instant,
}

impl PhaseClock {
    fn new(as_of: NaiveDate) -> Self {
        Self {
            as_of,
            last: std::time::Instant::now(),
        }
    }

    fn done(&mut self, phase: &'static str) {
        let now = std::time::Instant::now();
        tracing::debug!(
            as_of = %self.as_of,
            phase,
            ms = (now - self.last).as_millis() as u64,
            "phase du calcul de risque terminée"
        );
        self.last = now;
    }
}

/// The one manufacturer among a reference's declarants, if exactly one has ever declared it
/// (positions are kept), in one file for all its stock (at most one site): the history's
/// manufacturers' stock is then that manufacturer's, declaration after declaration. Files
/// per site, sent on different days, would make the sum of the day's files rise and fall
/// with no batch. The positions are read without their sites: their count tells.
fn sole_manufacturer(
    positions: &[(medistock_domain::position::Position, DeclarantType)],
) -> Option<&DeclarantId> {
    let mut makers = positions
        .iter()
        .filter(|(_, kind)| *kind == DeclarantType::Exploitant)
        .map(|(p, _)| p);
    match (makers.next(), makers.next()) {
        (Some(maker), None) if maker.sites <= 1 => Some(&maker.declarant),
        _ => None,
    }
}

/// The RISK item to store for a subject, with the version it expects to replace, and its
/// episode (`open_since`, `recalled_on`).
fn risk_item(
    subject: String,
    level: Level,
    figures: &impl Serialize,
    previous: &BTreeMap<String, RiskItem>,
    as_of: NaiveDate,
    now: DateTime<Utc>,
    (open_since, recalled_on): (Option<NaiveDate>, Option<NaiveDate>),
) -> Result<(RiskItem, Option<u64>), RiskError> {
    let held = previous.get(&subject);
    let item = RiskItem {
        open_since,
        recalled_on: recalled_on.filter(|_| open_since.is_some()),
        level,
        as_of,
        computed_at: now,
        version: held.map_or(1, |h| h.version + 1),
        figures: serde_json::to_string(figures).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        subject,
    };
    Ok((item, held.map(|h| h.version)))
}

/// Writes, once per lapse, a reminder in each silent declarant's receipts folder
/// (`receipts/<id>/rappel-<lapse>.txt`, readable through SFTP); returns how many were new.
async fn write_reminders<O: ObjectStore>(
    objects: &O,
    inbox: &str,
    silent: &[lifecycle::SilentDeclarant],
    as_of: NaiveDate,
) -> Result<usize, RiskError> {
    let mut written = 0;
    for d in silent {
        let key = d.reminder_key();
        if objects.head(inbox, &key, None).await?.is_some() {
            continue;
        }
        objects
            .put(
                inbox,
                &key,
                lifecycle::reminder_text(d, as_of).into_bytes(),
                "text/plain; charset=utf-8",
                &BTreeMap::new(),
            )
            .await?;
        tracing::info!(
            declarant = d.id,
            key,
            "rappel déposé pour un déclarant silencieux"
        );
        written += 1;
    }
    Ok(written)
}

/// The lines "mesures en cours" of each subject with a measure in force: the measure and its
/// figures before and since, from the daily snapshots and this run's assessments.
async fn measure_lines<O: ObjectStore>(
    objects: &O,
    run: &RiskRun<'_>,
    measures: &[Measure],
    assessments: &[Assessment],
    as_of: NaiveDate,
) -> Result<HashMap<String, Vec<String>>, RiskError> {
    // Today's figures come from this run: its snapshot is written after the alerts.
    let today: Vec<(String, crate::measures::DayFigures)> = assessments
        .iter()
        .map(|a| {
            (
                a.cip13.to_string(),
                crate::measures::DayFigures {
                    date: as_of,
                    level: a.level,
                    chain_stock: a.chain_stock,
                    demand: a.demand,
                    coverage_days: a.coverage_days,
                    days_to_stockout: a.days_to_stockout,
                },
            )
        })
        .collect();
    let impacts = crate::measures::impacts(
        objects,
        run.lake_bucket,
        measures,
        run.config,
        as_of,
        &today,
    )
    .await?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (m, impact) in measures.iter().zip(&impacts) {
        out.entry(m.subject.clone())
            .or_default()
            .push(crate::measures::impact_line(m, impact));
    }
    Ok(out)
}

/// The references a subject stands for: a reference itself, or a group's members (from the
/// catalogue's settings).
pub fn subject_members(subject: &str, config: &RiskConfig) -> Vec<String> {
    match subject.strip_prefix(GROUP_SUBJECT_PREFIX) {
        Some(group) => {
            let mut members: Vec<String> = config
                .references
                .iter()
                .filter(|(_, s)| s.group.as_deref() == Some(group))
                .map(|(c, _)| c.to_string())
                .collect();
            members.sort();
            members
        }
        None => vec![subject.to_owned()],
    }
}

/// Objects read at once while loading the history.
const READ_CONCURRENCY: usize = 16;

/// The demand observations visible on `as_of`: the daily totals of the look-back window's
/// partitions only (one listing per day), read declarant by declarant so that memory follows
/// references and days, not files or depots. A file whose daily totals are missing (history
/// written before they existed) is summed from its normalized lines instead. With a
/// [`HistoryCache`], the files decoded by an earlier run are taken from it, and it keeps this
/// look-back's (memory then follows the files of the look-back).
async fn load_demand<O: ObjectStore>(
    objects: &O,
    lake: &str,
    as_of: NaiveDate,
    kinds: &HashMap<String, DeclarantType>,
    cache: Option<&HistoryCache>,
) -> Result<(Observations, BTreeMap<Cip13, StockHistory>, FirstDays), RiskError> {
    let from = as_of
        .checked_sub_days(Days::new(LOOKBACK_DAYS as u64))
        .unwrap_or(as_of);
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= as_of).collect();
    let prefixes: Vec<String> = days
        .iter()
        .flat_map(|day| {
            [
                lake::partition_prefix(lake::DAILY, *day),
                lake::partition_prefix(lake::NORMALIZED, *day),
            ]
        })
        .collect();
    let mut listings = Vec::with_capacity(prefixes.len());
    for prefix in &prefixes {
        listings.push(objects.list(lake, prefix));
    }
    let listed: Vec<Vec<String>> = stream::iter(listings)
        .buffered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let measures_demand = |declarant: &str| {
        matches!(
            kinds.get(declarant),
            Some(DeclarantType::Grossiste | DeclarantType::Exploitant)
        )
    };
    // Per declarant: (key, whether it holds daily totals).
    let mut by_declarant: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for pair in listed.chunks(2) {
        let [daily, lines] = pair else { continue };
        let summed: HashSet<(&str, &str)> = daily
            .iter()
            .filter_map(|k| lake::partition_file(lake::DAILY, k))
            .collect();
        for key in daily {
            if let Some((declarant, _)) = lake::partition_file(lake::DAILY, key)
                && measures_demand(declarant)
            {
                by_declarant
                    .entry(declarant.to_owned())
                    .or_default()
                    .push((key.clone(), true));
            }
        }
        for key in lines {
            if let Some(file) = lake::partition_file(lake::NORMALIZED, key)
                && measures_demand(file.0)
                && !summed.contains(&file)
            {
                by_declarant
                    .entry(file.0.to_owned())
                    .or_default()
                    .push((key.clone(), false));
            }
        }
    }
    let mut series = DemandSeries::new(from..=as_of);
    let mut read_keys: HashSet<String> = HashSet::new();
    for (declarant, keys) in by_declarant {
        let Some(kind) = kinds.get(&declarant).copied() else {
            continue;
        };
        let mut held: Vec<Option<CachedFile>> = Vec::with_capacity(keys.len());
        let mut reads = Vec::new();
        for (key, daily) in &keys {
            if cache.is_some() {
                read_keys.insert(key.clone());
            }
            let cached = cache.and_then(|c| c.get(key));
            if cached.is_none() {
                reads.push(async move {
                    let object = objects.get(lake, key).await?;
                    Ok::<_, StoreError>(object.map(|o| (key.clone(), o.bytes, *daily)))
                });
            }
            held.push(cached);
        }
        let blobs: Vec<Option<(String, Vec<u8>, bool)>> = stream::iter(reads)
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut decoded = tokio::task::spawn_blocking(
            move || -> Result<HashMap<String, CachedFile>, RiskError> {
                let mut decoded = HashMap::with_capacity(blobs.len());
                for (key, bytes, daily) in blobs.into_iter().flatten() {
                    let prefix = if daily { lake::DAILY } else { lake::NORMALIZED };
                    let Some((_, sha256)) = lake::partition_file(prefix, &key) else {
                        continue;
                    };
                    let sha256 = sha256.to_owned();
                    let (rows, received) = if daily {
                        read_daily_parquet(bytes)?
                    } else {
                        let lines = ParquetReader::new(Cursor::new(bytes)).finish()?;
                        (daily_rows(&lines)?, None)
                    };
                    let file = Arc::new(DailyFile { sha256, rows });
                    decoded.insert(key, CachedFile { file, received });
                }
                Ok(decoded)
            },
        )
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        let mut loaded = Vec::with_capacity(keys.len());
        for ((key, daily), cached) in keys.into_iter().zip(held) {
            let entry = match cached {
                Some(entry) => entry,
                None => {
                    // Read and decoded by this run (absent if the object vanished meanwhile).
                    let Some(entry) = decoded.remove(&key) else {
                        continue;
                    };
                    if let Some(cache) = cache {
                        cache.insert(key.clone(), entry.clone());
                    }
                    entry
                }
            };
            let prefix = if daily { lake::DAILY } else { lake::NORMALIZED };
            loaded.push(Loaded {
                lines_key: match lake::partition_date(prefix, &key) {
                    Some(day) if daily => lake::normalized_key(day, &declarant, &entry.file.sha256),
                    _ => key,
                },
                received: entry.received,
                file: entry.file,
            });
        }
        let files: Vec<&DailyFile> = loaded.iter().map(|l| &*l.file).collect();
        let shared = series.add_declarant(kind, &files);
        if !shared.is_empty() {
            for (cip13, date, outflow) in resolve_shared(objects, lake, &loaded, shared).await? {
                series.add_resolved(kind, cip13, date, outflow);
            }
        }
    }
    if let Some(cache) = cache {
        cache.retain(&read_keys.iter().map(String::as_str).collect());
    }
    let first_days = FirstDays {
        wholesalers: series.first_day(DeclarantType::Grossiste),
        manufacturers: series.first_day(DeclarantType::Exploitant),
    };
    let (series, histories) = series.finish_with_history();
    Ok((series, histories, first_days))
}

/// Days from the wholesalers' first declaration during which a registered manufacturer that
/// has declared nothing yet is awaited (`manufacturers_pending`); within the look-back, so that
/// the first declaration seen is the history's first.
const PENDING_FOR_DAYS: i64 = 42;

/// The first day of the look-back each type of declarant declared.
struct FirstDays {
    wholesalers: Option<NaiveDate>,
    manufacturers: Option<NaiveDate>,
}

/// A file of the window: its daily rows, when it was received, and where its lines are.
struct Loaded {
    lines_key: String,
    received: Option<i64>,
    file: Arc<DailyFile>,
}

/// The (reference, date) pairs several files of one declarant describe, merged site by site
/// from those files' lines as the positions merge them. Rare (a line sent again, a file
/// corrected): only the files involved are read again.
async fn resolve_shared<O: ObjectStore>(
    objects: &O,
    lake: &str,
    loaded: &[Loaded],
    shared: Vec<(Cip13, NaiveDate)>,
) -> Result<Vec<(Cip13, NaiveDate, f64)>, RiskError> {
    let wanted: HashSet<(Cip13, NaiveDate)> = shared.iter().copied().collect();
    let mut days: HashMap<(Cip13, NaiveDate), Vec<FileDay>> = HashMap::new();
    for l in loaded {
        let involved = l
            .file
            .rows
            .iter()
            .any(|r| r.daily_outflow.is_some() && wanted.contains(&(r.cip13, r.date)));
        if !involved {
            continue;
        }
        // Files written before reception times were kept: their object's time stands for it.
        let received = match l.received {
            Some(ms) => ms,
            None => objects
                .head(lake, &l.lines_key, None)
                .await?
                .map_or(0, |h| h.last_modified.timestamp_millis()),
        };
        let order = (received, l.file.sha256.clone());
        let lines = match objects.get(lake, &l.lines_key).await? {
            Some(object) => {
                let bytes = object.bytes;
                let wanted = wanted.clone();
                tokio::task::spawn_blocking(move || -> Result<_, RiskError> {
                    let frame = ParquetReader::new(Cursor::new(bytes)).finish()?;
                    Ok(site_lines(&frame, &wanted)?)
                })
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?
            }
            // The lines are gone: the file's totals stand for its whole stock.
            None => l
                .file
                .rows
                .iter()
                .filter(|r| wanted.contains(&(r.cip13, r.date)))
                .map(|r| ((r.cip13, r.date), vec![(String::new(), r.daily_outflow)]))
                .collect(),
        };
        for (cell, lines) in lines {
            days.entry(cell).or_default().push(FileDay {
                order: order.clone(),
                lines,
            });
        }
    }
    Ok(days
        .into_iter()
        .filter_map(|((cip13, date), files)| Some((cip13, date, resolve_day(files)?)))
        .collect())
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
            // The level of the figures: below `level` on a day an alert episode holds it.
            text("figures_level", &|a| {
                a.figures_level.unwrap_or(a.level).as_str().to_owned()
            }),
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
            float("p_stockout_14d", &|a| {
                a.probability.map(|p| p.within_14_days)
            }),
            float("p_stockout_30d", &|a| {
                a.probability.map(|p| p.within_30_days)
            }),
            // A null probability is either withheld (the manufacturers' stock unknown) or
            // without meaning (no demand): this column tells which.
            BooleanChunked::from_iter_values(
                "p_stockout_withheld".into(),
                assessments.iter().map(Assessment::probability_withheld),
            )
            .into_column(),
            // Whether the two figures above are a calibration's (`docs/risk-model.md`), and the
            // model's own, equal to them without a calibration.
            BooleanChunked::from_iter_values(
                "p_stockout_calibrated".into(),
                assessments.iter().map(|a| {
                    a.probability
                        .is_some_and(|p| p.before_calibration.is_some())
                }),
            )
            .into_column(),
            float("p_stockout_model_14d", &|a| {
                a.probability.map(|p| p.model()[0])
            }),
            float("p_stockout_model_30d", &|a| {
                a.probability.map(|p| p.model()[1])
            }),
        ],
    )?;
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).finish(&mut frame)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use medistock_domain::position::Position;

    /// A position as the risk run reads it: its totals, the count of its sites, not their
    /// figures.
    fn position(declarant: &str, sites: &[&str]) -> Position {
        Position {
            cip13: Cip13::parse("3400949497294").unwrap(),
            declarant: DeclarantId::parse(declarant).unwrap(),
            as_of: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            stock: 100,
            stock_bloque: 0,
            daily_outflow: Some(10.0),
            sites: sites.len().max(1) as u32,
            supplies: Vec::new(),
            source_sha256: "x".into(),
            site_figures: Vec::new(),
        }
    }

    /// A manufacturer's record is learnt only where its stock history is its own: it alone
    /// declares the reference, in one file for all its stock.
    #[test]
    fn the_sole_manufacturer_declares_alone_and_whole() {
        let lab = |sites: &[&str]| (position("lab-a", sites), DeclarantType::Exploitant);
        let wholesaler = (position("gr-b", &["D1", "D2"]), DeclarantType::Grossiste);
        let sole = |positions: &[(Position, DeclarantType)]| {
            sole_manufacturer(positions).map(|id| id.as_str().to_owned())
        };
        assert_eq!(
            sole(&[lab(&[]), wholesaler.clone()]).as_deref(),
            Some("lab-a")
        );
        assert_eq!(
            sole(&[lab(&[""])]).as_deref(),
            Some("lab-a"),
            "one file, no site"
        );
        assert_eq!(
            sole(&[lab(&["Lyon"])]).as_deref(),
            Some("lab-a"),
            "one site"
        );
        assert_eq!(
            sole(&[lab(&["Lyon", "Lille"])]),
            None,
            "files per site: their sum rises and falls with no batch"
        );
        let other = (position("lab-c", &[]), DeclarantType::Exploitant);
        assert_eq!(sole(&[lab(&[]), other]), None, "two manufacturers");
        assert_eq!(sole(&[wholesaler]), None, "no manufacturer");
    }
}
