//! What `demo` and `backtest` share: replaying one day (its files dropped and ingested, then
//! the risk run) on the local backend, and printing the scoreboard.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};
use futures::{StreamExt, TryStreamExt};
use medistock_analytics::declaration::Limits;
use medistock_analytics::ingest::{IngestOutcome, IngestSettings, ingest_version};
use medistock_analytics::risk::Thresholds;
use medistock_analytics::risk::alert::AlertTopics;
use medistock_analytics::risk::config::RiskConfig;
use medistock_analytics::risk::{HistoryCache, RiskOutcome, RiskRun, RunSummary, Scope, run_risk};
use medistock_cli::demo::{
    Calibration, EscalationReasons, FileCounts, Scoreboard, escalation_reason, is_escalation,
};
use medistock_domain::Cip13;
use medistock_domain::Level;
use medistock_domain::lifecycle::AlertPolicy;
use medistock_domain::store::ObjectStore;
use medistock_local::{INBOX_BUCKET, LAKE_BUCKET, LocalBackend};

/// Each reference's level, day by day.
pub type Levels = BTreeMap<Cip13, Vec<(NaiveDate, Level)>>;

/// What a replay keeps of each day's assessments.
pub struct Recorded<'r> {
    /// Each reference's level, day by day.
    pub levels: &'r mut Levels,
    /// The probabilities of stock-out, against what followed.
    pub calibration: Option<&'r mut Calibration>,
    /// What each escalation to TENSION or worse was made on.
    pub reasons: Option<&'r mut EscalationReasons>,
}

/// A file dropped during the replay.
pub struct DayFile<'a> {
    /// Declarant (inbox folder).
    pub declarant: &'a str,
    /// File name.
    pub name: &'a str,
    /// Content.
    pub bytes: &'a [u8],
}

/// Replays days on a local backend.
pub struct Replay<'a> {
    backend: &'a LocalBackend,
    config: &'a RiskConfig,
    topics: AlertTopics,
    settings: IngestSettings,
    /// The look-back's daily totals, decoded once for all the days replayed.
    history: HistoryCache,
    /// What the ingest made of the files so far.
    files: std::sync::Mutex<FileCounts>,
}

impl<'a> Replay<'a> {
    /// A replay on `backend` with the declarant types and references of `config`.
    pub fn new(backend: &'a LocalBackend, config: &'a RiskConfig) -> Self {
        Self {
            backend,
            config,
            topics: AlertTopics {
                critical: "critique".into(),
                info: "information".into(),
            },
            settings: IngestSettings {
                lake_bucket: LAKE_BUCKET.into(),
                limits: Limits::default(),
                lease: chrono::Duration::minutes(5),
                catalogue: None,
            },
            history: HistoryCache::new(),
            files: std::sync::Mutex::new(FileCounts::default()),
        }
    }

    /// The files ingested so far, by verdict.
    pub fn files(&self) -> FileCounts {
        *self
            .files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops one file in the inbox and ingests it.
    async fn ingest(
        &self,
        file: &DayFile<'_>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<()> {
        let key = format!("inbox/{}/{}", file.declarant, file.name);
        let objects = &self.backend.objects;
        let version = objects
            .put(
                INBOX_BUCKET,
                &key,
                file.bytes.to_vec(),
                "text/csv",
                &Default::default(),
            )
            .await?;
        let outcome = ingest_version(
            objects,
            &self.backend.state,
            &self.settings,
            INBOX_BUCKET,
            &key,
            version.as_deref(),
            now,
        )
        .await?;
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match outcome {
            IngestOutcome::Applied { report, .. } => {
                files.applied += 1;
                files.lines_rejected += report.lines.rejected;
            }
            IngestOutcome::Rejected { .. } => files.rejected += 1,
            IngestOutcome::Duplicate { .. } => files.duplicates += 1,
            IngestOutcome::Ignored { reason } => {
                tracing::debug!(file = %file.name, %reason, "fichier ignoré au rejeu");
                files.ignored += 1;
            }
        }
        Ok(())
    }

    /// Drops and ingests the day's files at `time`, then, if `assess`, runs the risk for the day
    /// and records what `record` keeps of it.
    pub async fn day(
        &self,
        day: NaiveDate,
        time: NaiveTime,
        files: &[DayFile<'_>],
        assess: bool,
        record: Recorded<'_>,
    ) -> anyhow::Result<Option<RunSummary>> {
        let now = day.and_time(time).and_utc();
        let started = std::time::Instant::now();
        // Each declarant's files in their order (a correction follows the file it corrects);
        // declarants side by side: their files touch only their own positions, and one's
        // validation runs while another's positions are written.
        let mut by_declarant: BTreeMap<&str, Vec<&DayFile<'_>>> = BTreeMap::new();
        for file in files {
            by_declarant.entry(file.declarant).or_default().push(file);
        }
        let ingests = by_declarant.into_values().map(|files| async move {
            for file in files {
                self.ingest(file, now).await?;
            }
            Ok::<_, anyhow::Error>(())
        });
        // Two at a time: each validation holds its file and uses every core already.
        futures::stream::iter(ingests)
            .buffer_unordered(2)
            .try_collect::<Vec<()>>()
            .await?;
        tracing::debug!(
            day = %day,
            files = files.len(),
            ms = started.elapsed().as_millis() as u64,
            "fichiers du jour déposés et intégrés"
        );
        if !assess {
            return Ok(None);
        }
        let run = RiskRun {
            lake_bucket: LAKE_BUCKET,
            inbox_bucket: Some(INBOX_BUCKET),
            policy: AlertPolicy::default(),
            topics: &self.topics,
            config: self.config,
            history_cache: Some(&self.history),
        };
        let RiskOutcome {
            summary,
            assessments,
            ..
        } = run_risk(
            &self.backend.objects,
            &self.backend.state,
            &run,
            &Scope::All,
            day,
            false,
            now,
        )
        .await?;
        let Recorded {
            levels,
            mut calibration,
            mut reasons,
        } = record;
        for a in assessments {
            if let Some(c) = calibration.as_deref_mut() {
                match a.probability {
                    Some(p) => c.record(a.cip13, day, &p),
                    None if a.probability_withheld() => c.record_withheld(a.cip13, day),
                    None => {}
                }
            }
            let path = levels.entry(a.cip13).or_default();
            let before = path.last().map_or(Level::Normal, |(_, level)| *level);
            if let Some(reasons) = reasons.as_deref_mut()
                && is_escalation(before, a.level)
            {
                reasons
                    .entry(a.cip13)
                    .or_default()
                    .push((day, escalation_reason(&a)));
            }
            path.push((day, a.level));
        }
        Ok(Some(summary))
    }
}

/// The scoreboard in French.
pub fn print_scoreboard(board: &Scoreboard) {
    let french = |v: f64| format!("{v:.2}").replace('.', ",");
    if let Some(files) = board.files {
        println!(
            "  fichiers intégrés                        : {} (rejetés : {}, déjà reçus : {}, ignorés : {}) ; lignes refusées : {}",
            files.applied, files.rejected, files.duplicates, files.ignored, files.lines_rejected
        );
    }
    println!(
        "  ruptures réelles                         : {}",
        board.stockouts
    );
    println!(
        "  ruptures annoncées ≥ 14 jours avant      : {:.0} %",
        board.recall_at_14d * 100.0
    );
    println!(
        "  ruptures annoncées ≥ 30 jours avant      : {:.0} %",
        board.recall_at_30d * 100.0
    );
    match board.median_lead_time_days {
        Some(lead) => println!("  délai médian d'anticipation             : {lead:.0} jours"),
        None => println!("  délai médian d'anticipation             : —"),
    }
    println!(
        "  fausses alertes pour 20 références-mois  : {}",
        french(board.false_alerts_per_20_reference_months)
    );
    match board.escalation_precision {
        Some(p) => println!(
            "  escalades suivies d'une rupture (60 j)   : {:.0} %",
            p * 100.0
        ),
        None => println!("  escalades suivies d'une rupture (60 j)   : —"),
    }
    println!(
        "  références en tension dès le 1er jour    : {}",
        board.escalations_on_day_1
    );
    println!(
        "  alertes par référence-mois               : {}",
        french(board.alerts_per_reference_month)
    );
    println!(
        "  jours-références en TENSION ou plus      : {:.1} %",
        board.tension_day_share * 100.0
    );
    for (horizon, rows) in [(14, &board.calibration_14d), (30, &board.calibration_30d)] {
        if rows.is_empty() {
            continue;
        }
        println!(
            "  fiabilité de la probabilité de rupture sous {horizon} jours (prévue → observée) :"
        );
        if let Some(w) = board
            .calibration_withheld
            .iter()
            .find(|w| w.horizon_days == horizon)
        {
            println!(
                "    non calculée (stock des exploitants inconnu) : {:>8} références-jours, observée {:>3.0} %",
                w.assessments,
                w.observed * 100.0
            );
        }
        if let Some(b) = board.brier.iter().find(|b| b.horizon_days == horizon) {
            let calibrated = if b.shown == b.model {
                String::new()
            } else {
                format!(", calibrée {:.4}", b.shown)
            };
            println!(
                "    score de Brier (0 parfait) : modèle {:.4}{calibrated}, climatologie {:.4} (chaque jour à {:.1} %)",
                b.model,
                b.climatology(),
                b.stockouts as f64 / b.assessments as f64 * 100.0
            );
        }
        for r in rows {
            println!(
                "    {:>3.0}–{:<3.0} % : {:>8} références-jours, prévue {:>3.0} %, observée {:>3.0} %",
                r.from * 100.0,
                r.to * 100.0,
                r.assessments,
                r.mean_predicted * 100.0,
                r.observed * 100.0
            );
        }
    }
}

/// Lowest default TENSION threshold a replay may try: above the CRITIQUE one (7 days).
pub const TENSION_DAYS_MIN: u32 = 8;
/// Highest: the VIGILANCE one (60 days).
pub const TENSION_DAYS_MAX: u32 = 60;

/// The model's default thresholds with another TENSION threshold (`--seuil-tension`): what
/// a replay would have said had ANSM set it so for every reference without its own.
pub fn tension_days(text: &str) -> Result<Thresholds, String> {
    let days: u32 = text.trim().parse().map_err(|_| {
        format!(
            "« {} » : un nombre entier de jours est attendu",
            text.chars().take(20).collect::<String>()
        )
    })?;
    if !(TENSION_DAYS_MIN..=TENSION_DAYS_MAX).contains(&days) {
        return Err(format!(
            "{days} jours : le seuil de TENSION va de {TENSION_DAYS_MIN} jours (au-dessus de \
             celui de CRITIQUE, 7 jours) à {TENSION_DAYS_MAX} jours (celui de VIGILANCE)"
        ));
    }
    Ok(Thresholds {
        tension_days: f64::from(days),
        ..Thresholds::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tension_threshold_is_a_whole_number_of_days_between_critique_and_vigilance() {
        assert_eq!(tension_days("8").map(|t| t.tension_days), Ok(8.0));
        assert_eq!(tension_days(" 60 ").map(|t| t.tension_days), Ok(60.0));
        let t = tension_days("45").unwrap();
        assert_eq!(
            (t.vigilance_days, t.critique_days, t.hysteresis),
            (60.0, 7.0, 0.10),
            "the other thresholds keep their defaults"
        );
        for refused in ["7", "61", "0"] {
            let e = tension_days(refused).unwrap_err();
            assert!(
                e.starts_with(&format!(
                    "{refused} jours : le seuil de TENSION va de 8 jours"
                )),
                "{e}"
            );
        }
        for refused in ["-30", "30.5", "trente", ""] {
            let e = tension_days(refused).unwrap_err();
            assert!(
                e.contains("un nombre entier de jours est attendu"),
                "{refused}: {e}"
            );
        }
        // The bounds are the default CRITIQUE threshold and the default VIGILANCE one.
        let defaults = Thresholds::default();
        assert_eq!(f64::from(TENSION_DAYS_MIN), defaults.critique_days + 1.0);
        assert_eq!(f64::from(TENSION_DAYS_MAX), defaults.vigilance_days);
    }
}
