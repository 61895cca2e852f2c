//! The weekly synthesis: what ANSM compiled by hand, computed from the RISK items (the levels
//! held and their figures), the daily risk snapshots (the weeks before), the ledger (files of
//! the week) and the positions. Pure: same inputs, same synthesis.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;

use super::week::Week;
use crate::measures::{Impact, SubjectHistory};
use crate::registry::Registry;
use crate::risk::alert::Alternative;
use crate::risk::config::RiskConfig;
use crate::risk::{Assessment, GroupAssessment, Thresholds};
use medistock_domain::DeclarantType;
use medistock_domain::Level;
use medistock_domain::lifecycle::AlertState;
use medistock_domain::measure::Measure;
use medistock_domain::position::Position;
use medistock_domain::store::{FileStatus, LedgerEntry, RiskItem};

/// Weeks shown in the heat map and the charts, the report's week included.
pub const WEEKS_SHOWN: usize = 8;

/// One reference's level and chain stock on one day, from a risk snapshot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnapshotPoint {
    /// Date of the computation.
    pub as_of: NaiveDate,
    /// Level computed.
    pub level: Level,
    /// Chain stock.
    pub chain_stock: f64,
}

/// Everything the synthesis is made of.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    /// The RISK items held (references and groups).
    pub risk: Vec<RiskItem>,
    /// Daily snapshots of the weeks shown, by CIP13, oldest first.
    pub snapshots: HashMap<String, Vec<SnapshotPoint>>,
    /// Ledger entries of the files received during the week.
    pub files: Vec<LedgerEntry>,
    /// Latest positions.
    pub positions: Vec<Position>,
    /// ANSM's measures.
    pub measures: Vec<Measure>,
    /// Acknowledgements and silences.
    pub alert_states: Vec<AlertState>,
    /// The daily figures of the measures' references, from the start of their window before.
    pub measure_history: SubjectHistory,
}

/// A reference in the synthesis.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceRow {
    /// Its figures at the last computation.
    pub assessment: Assessment,
    /// Name (from the monitored references; empty when not listed).
    pub denomination: String,
    /// Group of substitutable presentations.
    pub group: Option<String>,
    /// Médicament d'intérêt thérapeutique majeur.
    pub mitm: bool,
    /// Its thresholds.
    pub thresholds: Thresholds,
    /// Level at the end of the week before (from the snapshots), if computed then.
    pub last_week: Option<Level>,
    /// Other references of its group.
    pub alternatives: Vec<Alternative>,
    /// Chain stock day by day over the weeks shown.
    pub history: Vec<(NaiveDate, f64)>,
    /// Starts of ANSM's measures on the reference or its group: a marker on its chart.
    pub measures: Vec<(NaiveDate, String)>,
}

/// A measure in force during the week, with its impact.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureRow {
    /// The measure.
    pub measure: Measure,
    /// Its subject's name (a reference's denomination, `groupe <id>`).
    pub label: String,
    /// Figures before and since.
    pub impact: Impact,
}

/// A subject in TENSION or worse, with what ANSM said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// Reference or `GROUPE#<id>`.
    pub subject: String,
    /// Its name.
    pub label: String,
    /// Level.
    pub level: Level,
    /// In tension since.
    pub since: NaiveDate,
    /// Who acknowledged it at this level, in this episode.
    pub acknowledged_by: Option<String>,
    /// The silence in force at the end of the week: until, by, why.
    pub silence: Option<(NaiveDate, String, String)>,
}

impl ReferenceRow {
    /// Level held.
    pub fn level(&self) -> Level {
        self.assessment.level
    }
}

/// A manufacturer named by ANSM for references that no manufacturer declares: their stock
/// upstream is unknown (their level is held below TENSION on the wholesalers' stock alone
/// while that manufacturer has declared nothing at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitedManufacturer {
    /// Id.
    pub id: String,
    /// Company name.
    pub name: String,
    /// The references awaited (CIP13), in order.
    pub references: Vec<String>,
}

/// A declarant with no file this week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilentDeclarant {
    /// Id.
    pub id: String,
    /// Company name.
    pub name: String,
    /// Role.
    pub kind: DeclarantType,
    /// Date of its latest position, if any.
    pub last_position: Option<NaiveDate>,
}

/// Files of the week.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileCounts {
    /// Received.
    pub received: usize,
    /// Applied.
    pub applied: usize,
    /// Rejected as a whole.
    pub rejected: usize,
    /// Still being processed.
    pub processing: usize,
    /// Lines accepted, in applied files.
    pub lines_accepted: u64,
    /// Lines rejected, in applied files.
    pub lines_rejected: u64,
}

/// Weekly levels of one reference, oldest week first (`None`: not computed that week).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeatRow {
    /// CIP13.
    pub cip13: String,
    /// Name.
    pub denomination: String,
    /// The worst level of each week.
    pub weeks: Vec<Option<Level>>,
}

/// The weekly synthesis.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthesis {
    /// The week.
    pub week: Week,
    /// Date of the latest risk computation used.
    pub as_of: Option<NaiveDate>,
    /// References per level now.
    pub counts: BTreeMap<Level, usize>,
    /// References per level at the end of the week before.
    pub counts_last_week: BTreeMap<Level, usize>,
    /// Every reference, worst first (then soonest stock-out, then CIP13).
    pub references: Vec<ReferenceRow>,
    /// Groups, worst first.
    pub groups: Vec<GroupAssessment>,
    /// Declarants who sent no file this week.
    pub silent: Vec<SilentDeclarant>,
    /// Manufacturers named for references none declares (`exploitant` of the settings).
    pub awaited: Vec<AwaitedManufacturer>,
    /// Files of the week.
    pub files: FileCounts,
    /// Files rejected this week.
    pub rejected_files: Vec<LedgerEntry>,
    /// The weeks of the heat map, oldest first.
    pub heat_weeks: Vec<Week>,
    /// References in VIGILANCE or worse now or in one of the weeks shown, worst now first.
    pub heat_map: Vec<HeatRow>,
    /// Measures in force during the week (or ended in it), newest first.
    pub measures: Vec<MeasureRow>,
    /// Subjects in TENSION or worse, worst first, with their acknowledgement and silence.
    pub alerts: Vec<AlertRow>,
    /// The thresholds of a reference whose settings set none (the legend's).
    pub default_thresholds: crate::risk::Thresholds,
}

impl Synthesis {
    /// References in VIGILANCE or worse.
    pub fn watched(&self) -> impl Iterator<Item = &ReferenceRow> {
        self.references
            .iter()
            .filter(|r| r.level() >= Level::Vigilance)
    }
}

/// Why the synthesis cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum SynthesisError {
    /// A RISK item's figures cannot be read.
    #[error("figures illisibles pour {subject} : {message}")]
    Figures {
        /// Reference or group.
        subject: String,
        /// Parser message.
        message: String,
    },
}

/// Builds the synthesis of `week`.
pub fn synthesise(
    week: Week,
    input: &ReportInput,
    config: &RiskConfig,
    registry: &Registry,
) -> Result<Synthesis, SynthesisError> {
    let mut assessments = Vec::new();
    let mut groups = Vec::new();
    for item in &input.risk {
        let figures = |message: serde_json::Error| SynthesisError::Figures {
            subject: item.subject.clone(),
            message: message.to_string(),
        };
        if item.group().is_some() {
            groups.push(serde_json::from_str::<GroupAssessment>(&item.figures).map_err(figures)?);
        } else {
            let mut a: Assessment = serde_json::from_str(&item.figures).map_err(figures)?;
            a.level = item.level;
            assessments.push(a);
        }
    }
    let all: Vec<&Assessment> = assessments.iter().collect();
    let alternatives = crate::risk::Alternatives::new(&all, config);
    let week_before_ends = week.start().pred_opt().unwrap_or(week.start());
    let level_at = |cip: &str, date: NaiveDate| {
        input
            .snapshots
            .get(cip)
            .and_then(|points| points.iter().rev().find(|p| p.as_of <= date))
            .map(|p| p.level)
    };
    let week_measures: Vec<&Measure> = input
        .measures
        .iter()
        .filter(|m| m.start <= week.end() && m.end.is_none_or(|e| e >= week.start()))
        .collect();
    let mut references: Vec<ReferenceRow> = assessments
        .iter()
        .map(|a| {
            let settings = config.settings(&a.cip13);
            let group_subject = settings
                .group
                .as_deref()
                .map(medistock_domain::store::RiskItem::group_subject);
            let measures = week_measures
                .iter()
                .filter(|m| {
                    m.subject == a.cip13.as_str() || Some(&m.subject) == group_subject.as_ref()
                })
                .map(|m| (m.start, m.kind.label().to_owned()))
                .collect();
            ReferenceRow {
                measures,
                alternatives: alternatives.of(a),
                last_week: level_at(a.cip13.as_str(), week_before_ends),
                history: input
                    .snapshots
                    .get(a.cip13.as_str())
                    .map(|points| points.iter().map(|p| (p.as_of, p.chain_stock)).collect())
                    .unwrap_or_default(),
                assessment: a.clone(),
                denomination: settings.denomination,
                group: settings.group,
                mitm: settings.mitm,
                thresholds: settings.thresholds,
            }
        })
        .collect();
    references.sort_by(|a, b| {
        b.level()
            .cmp(&a.level())
            .then(
                a.assessment
                    .days_to_stockout
                    .unwrap_or(i64::MAX)
                    .cmp(&b.assessment.days_to_stockout.unwrap_or(i64::MAX)),
            )
            .then(a.assessment.cip13.cmp(&b.assessment.cip13))
    });
    groups.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(
                a.days_to_stockout
                    .unwrap_or(i64::MAX)
                    .cmp(&b.days_to_stockout.unwrap_or(i64::MAX)),
            )
            .then(a.group.cmp(&b.group))
    });

    let mut counts = BTreeMap::new();
    let mut counts_last_week = BTreeMap::new();
    for r in &references {
        *counts.entry(r.level()).or_insert(0) += 1;
        if let Some(level) = r.last_week {
            *counts_last_week.entry(level).or_insert(0) += 1;
        }
    }

    let mut heat_weeks = vec![week];
    while heat_weeks.len() < WEEKS_SHOWN {
        let before = heat_weeks[heat_weeks.len() - 1].previous();
        heat_weeks.push(before);
    }
    heat_weeks.reverse();
    let heat_map = references
        .iter()
        .filter_map(|r| {
            let cip = r.assessment.cip13.as_str();
            let weeks: Vec<Option<Level>> = heat_weeks
                .iter()
                .map(|w| {
                    input.snapshots.get(cip).and_then(|points| {
                        points
                            .iter()
                            .filter(|p| p.as_of >= w.start() && p.as_of <= w.end())
                            .map(|p| p.level)
                            .max()
                    })
                })
                .collect();
            let ever = r.level() >= Level::Vigilance
                || weeks.iter().flatten().any(|l| *l >= Level::Vigilance);
            ever.then(|| HeatRow {
                cip13: cip.to_owned(),
                denomination: r.denomination.clone(),
                weeks,
            })
        })
        .collect();

    let mut files = FileCounts::default();
    let mut rejected_files = Vec::new();
    let mut declared: BTreeSet<&str> = BTreeSet::new();
    for f in &input.files {
        files.received += 1;
        declared.insert(f.declarant.as_str());
        match f.status {
            FileStatus::Applied => {
                files.applied += 1;
                files.lines_accepted += f.lines[1];
                files.lines_rejected += f.lines[2];
            }
            FileStatus::Rejected => {
                files.rejected += 1;
                rejected_files.push(f.clone());
            }
            FileStatus::Processing => files.processing += 1,
        }
    }
    let mut last_position: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    for p in &input.positions {
        let latest = last_position.entry(p.declarant.as_str()).or_insert(p.as_of);
        *latest = (*latest).max(p.as_of);
    }
    let silent = registry
        .declarants
        .values()
        .filter(|d| d.kind != DeclarantType::Autre && !declared.contains(d.id.as_str()))
        .map(|d| SilentDeclarant {
            id: d.id.to_string(),
            name: d.name.clone(),
            kind: d.kind,
            last_position: last_position.get(d.id.as_str()).copied(),
        })
        .collect();

    let awaited = awaited_manufacturers(input, config, registry);

    let label = |subject: &str| config.label(subject);
    let as_of = references.iter().map(|r| r.assessment.as_of).max();
    let day = as_of.unwrap_or(week.end());
    let mut measures: Vec<MeasureRow> = week_measures
        .iter()
        .map(|m| {
            let members = crate::risk::subject_members(&m.subject, config);
            let days = crate::measures::history::subject_days(&members, &input.measure_history);
            MeasureRow {
                measure: (*m).clone(),
                label: label(&m.subject),
                impact: crate::measures::impact(m, &days, day),
            }
        })
        .collect();
    measures
        .sort_by(|a, b| (b.measure.start, &b.measure.id).cmp(&(a.measure.start, &a.measure.id)));
    let mut alerts: Vec<AlertRow> = input
        .risk
        .iter()
        .filter(|i| i.level >= Level::Tension)
        .map(|i| {
            let state = input.alert_states.iter().find(|s| s.subject == i.subject);
            let since = i.open_since.unwrap_or(i.as_of);
            AlertRow {
                subject: i.subject.clone(),
                label: label(&i.subject),
                level: i.level,
                since,
                acknowledged_by: state
                    .filter(|s| s.acknowledged(i.level, Some(since)))
                    .and_then(|s| s.acknowledgement.as_ref())
                    .map(|a| a.by.clone()),
                silence: state
                    .and_then(|s| s.silence_on(day))
                    .map(|s| (s.until, s.by.clone(), s.note.clone())),
            }
        })
        .collect();
    alerts.sort_by(|a, b| b.level.cmp(&a.level).then(a.subject.cmp(&b.subject)));

    Ok(Synthesis {
        measures,
        alerts,
        week,
        as_of,
        counts,
        counts_last_week,
        references,
        groups,
        silent,
        awaited,
        files,
        rejected_files,
        heat_weeks,
        heat_map,
        default_thresholds: *config.defaults(),
    })
}

/// The manufacturers ANSM names for references that no manufacturer has declared: the
/// reference's stock upstream is unknown (`docs/risk-model.md`, « Missing is not zero »).
fn awaited_manufacturers(
    input: &ReportInput,
    config: &RiskConfig,
    registry: &Registry,
) -> Vec<AwaitedManufacturer> {
    let manufacturers: BTreeMap<&str, &crate::registry::Declarant> = registry
        .declarants
        .values()
        .filter(|d| config.expected_manufacturers.contains(d.id.as_str()))
        .map(|d| (d.id.as_str(), d))
        .collect();
    let manufacturer = |id: &str| manufacturers.get(id).copied();
    // Declared by any manufacturer, as the risk run counts them (a manufacturer that sends
    // when it has something to say, a disabled account: their positions count).
    let declared: BTreeSet<&str> = input
        .positions
        .iter()
        .filter(|p| config.kinds.get(p.declarant.as_str()) == Some(&DeclarantType::Exploitant))
        .map(|p| p.cip13.as_str())
        .collect();
    let mut awaited: BTreeMap<&str, AwaitedManufacturer> = BTreeMap::new();
    for (cip13, settings) in &config.references {
        let Some(id) = &settings.exploitant else {
            continue;
        };
        let Some(d) = manufacturer(id.as_str()) else {
            continue;
        };
        if declared.contains(cip13.as_str()) {
            continue;
        }
        awaited
            .entry(d.id.as_str())
            .or_insert_with(|| AwaitedManufacturer {
                id: d.id.to_string(),
                name: d.name.clone(),
                references: Vec::new(),
            })
            .references
            .push(cip13.to_string());
    }
    awaited.into_values().collect()
}
