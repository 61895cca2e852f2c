//! `medistock alerts`: the subjects in tension and what ANSM said about them. An
//! acknowledgement ("vu, nous nous en occupons") stops the recall of a CRITIQUE or RUPTURE in
//! the daily digest; a silence mutes a subject's messages until a date (an escalation to
//! RUPTURE still goes out). Locally in the data directory's state; on AWS with `--table`.
//! The semantics: docs/alertes-et-mesures.md.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{Days, NaiveDate, Utc};
use clap::{Args, Subcommand};
use medistock_aws::AwsBackend;
use medistock_domain::lifecycle::AlertState;
use medistock_domain::measure::parse_subject;
use medistock_domain::store::{AlertStateStore, RiskItem, RiskStore};
use medistock_domain::{Level, paris_today};
use medistock_local::LocalBackend;
use serde_json::json;

/// Longest silence, in days: a silence is a decision for a known period, not a way to stop
/// watching a subject.
pub const MAX_SILENCE_DAYS: u64 = 365;

#[derive(Args)]
pub struct AlertsArgs {
    /// Table d'état DynamoDB du déploiement (sortie StateTableName) : agit sur AWS au lieu
    /// du dossier de données local.
    #[arg(long, global = true)]
    table: Option<String>,

    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Liste les sujets en TENSION ou pire : niveau, depuis quand, prise en compte, silence.
    List {
        /// Sortie JSON : un tableau de {"subject", "level", "since", "acknowledged_by",
        /// "silenced_until"}.
        #[arg(long)]
        json: bool,
    },
    /// Prend en compte un sujet à son niveau actuel : il n'est plus rappelé dans le point
    /// quotidien, sauf s'il s'aggrave ou s'il sort de tension puis y revient.
    Ack {
        /// La référence (CIP13 ou CIP7) ou le groupe (GROUPE#<identifiant>).
        subject: String,
        /// Qui.
        #[arg(long, value_name = "NOM")]
        by: String,
        /// Ce qui est fait.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Met un sujet en silence jusqu'à une date incluse : ses messages sont enregistrés sans
    /// être envoyés, sauf un passage en RUPTURE ; à la fin, un message dit s'il est toujours
    /// en tension.
    Silence {
        /// La référence (CIP13 ou CIP7) ou le groupe (GROUPE#<identifiant>) ; le silence d'un
        /// groupe couvre ses présentations.
        subject: String,
        /// Dernier jour de silence (AAAA-MM-JJ), un an au plus.
        #[arg(long, value_name = "DATE")]
        until: NaiveDate,
        /// Qui.
        #[arg(long, value_name = "NOM")]
        by: String,
        /// Pourquoi (une mesure en cours, une situation connue).
        #[arg(long)]
        note: String,
    },
    /// Lève le silence d'un sujet : ses prochains messages sont envoyés.
    Unsilence {
        /// La référence (CIP13 ou CIP7) ou le groupe (GROUPE#<identifiant>).
        subject: String,
    },
}

pub async fn run(data_dir: &Path, args: &AlertsArgs) -> anyhow::Result<ExitCode> {
    match &args.table {
        Some(table) => act(&AwsBackend::load(table).await.state, &args.action).await,
        None => act(&LocalBackend::open(data_dir)?.state, &args.action).await,
    }
}

/// One open subject as `alerts list` shows it.
pub fn open_subject(
    item: &RiskItem,
    state: Option<&AlertState>,
    today: NaiveDate,
) -> serde_json::Value {
    let since = item.open_since.unwrap_or(item.as_of);
    let acknowledged_by = state
        .filter(|s| s.acknowledged(item.level, Some(since)))
        .and_then(|s| s.acknowledgement.as_ref())
        .map(|a| a.by.clone());
    let silenced_until = state
        .and_then(|s| s.silence_on(today))
        .map(|s| s.until.to_string());
    json!({
        "subject": item.subject,
        "level": item.level.as_str(),
        "since": since.to_string(),
        "acknowledged_by": acknowledged_by,
        "silenced_until": silenced_until,
    })
}

/// Reads a subject's state, changes it with `change`, writes it conditionally on the version
/// read; retried when another analyst wrote in between.
async fn update(
    state: &impl AlertStateStore,
    subject: &str,
    change: impl Fn(&AlertState) -> anyhow::Result<AlertState>,
) -> anyhow::Result<AlertState> {
    for _ in 0..5 {
        let held = state.alert_state(subject).await?;
        let expected = held.as_ref().map(|h| h.version);
        let base = match held {
            Some(h) => h,
            None => AlertState::new(subject)?,
        };
        let next = change(&base)?;
        if state.put_alert_state(&next, expected).await? {
            return Ok(next);
        }
    }
    bail!("{subject} modifié en même temps par un autre poste : recommencez")
}

async fn act(
    state: &(impl AlertStateStore + RiskStore),
    action: &Action,
) -> anyhow::Result<ExitCode> {
    let today = paris_today();
    match action {
        Action::List { json } => {
            let states = state.alert_states().await?;
            let mut open: Vec<RiskItem> = state
                .risk_items()
                .await?
                .into_iter()
                .filter(|i| i.level >= Level::Tension)
                .collect();
            open.sort_by(|a, b| b.level.cmp(&a.level).then(a.subject.cmp(&b.subject)));
            let rows: Vec<serde_json::Value> = open
                .iter()
                .map(|i| open_subject(i, states.iter().find(|s| s.subject == i.subject), today))
                .collect();
            if *json {
                println!("{}", serde_json::Value::Array(rows));
                return Ok(ExitCode::SUCCESS);
            }
            if rows.is_empty() {
                println!("Aucun sujet en TENSION ou pire.");
            }
            println!(
                "{:<18} {:<10} {:<12} {:<24} silence jusqu'au",
                "sujet", "niveau", "depuis", "pris en compte par"
            );
            for r in &rows {
                let text = |k: &str| r[k].as_str().unwrap_or("—").to_owned();
                let date = |k: &str| {
                    r[k].as_str()
                        .and_then(|d| d.parse::<NaiveDate>().ok())
                        .map_or_else(|| "—".to_owned(), medistock_domain::french::date)
                };
                println!(
                    "{:<18} {:<10} {:<12} {:<24} {}",
                    text("subject"),
                    text("level"),
                    date("since"),
                    text("acknowledged_by"),
                    date("silenced_until")
                );
            }
        }
        Action::Ack { subject, by, note } => {
            let subject = parse_subject(subject)?;
            let item = state
                .risk_items()
                .await?
                .into_iter()
                .find(|i| i.subject == subject)
                .with_context(|| {
                    format!("{subject} : aucun calcul du risque pour ce sujet (medistock risk)")
                })?;
            if item.level < Level::Tension {
                bail!(
                    "{subject} est {} : rien à prendre en compte (TENSION ou pire seulement)",
                    item.level.as_str()
                );
            }
            let since = item.open_since.unwrap_or(item.as_of);
            update(state, &subject, |s| {
                Ok(s.acknowledge(by, note, Utc::now(), item.level, Some(since))?)
            })
            .await?;
            println!(
                "{subject} pris en compte au niveau {} par {by} (épisode ouvert le {})",
                item.level.as_str(),
                medistock_domain::french::date(since)
            );
        }
        Action::Silence {
            subject,
            until,
            by,
            note,
        } => {
            let subject = parse_subject(subject)?;
            if *until < today {
                bail!(
                    "fin du silence ({}) passée : choisissez une date à partir d'aujourd'hui",
                    medistock_domain::french::date(*until)
                );
            }
            let latest = today
                .checked_add_days(Days::new(MAX_SILENCE_DAYS))
                .unwrap_or(today);
            if *until > latest {
                bail!(
                    "un silence dure {MAX_SILENCE_DAYS} jours au plus (jusqu'au {})",
                    medistock_domain::french::date(latest)
                );
            }
            if note.trim().is_empty() {
                bail!("--note : dites pourquoi ce sujet est mis en silence");
            }
            update(state, &subject, |s| {
                Ok(s.silenced(*until, by, note, Utc::now())?)
            })
            .await?;
            println!(
                "{subject} en silence jusqu'au {} inclus (sauf passage en RUPTURE)",
                medistock_domain::french::date(*until)
            );
        }
        Action::Unsilence { subject } => {
            let subject = parse_subject(subject)?;
            update(state, &subject, |s| Ok(s.unsilenced())).await?;
            println!("{subject} : silence levé, ses prochains messages sont envoyés");
        }
    }
    Ok(ExitCode::SUCCESS)
}
