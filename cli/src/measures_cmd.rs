//! `medistock measures`: ANSM's measures on a reference or a group (quotas, restricted
//! dispensing, import, export ban, release of safety stock, communication), recorded so that
//! their impact is followed in `status`, in the alerts and in the weekly synthesis. Locally in
//! the data directory's state; on AWS with `--table`, in the state table.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand};
use medistock_aws::AwsBackend;
use medistock_domain::measure::{MAX_MEASURES, Measure, MeasureKind, parse_subject};
use medistock_domain::paris_today;
use medistock_domain::store::MeasureStore;
use medistock_local::LocalBackend;
use serde_json::json;

#[derive(Args)]
pub struct MeasuresArgs {
    /// Table d'état DynamoDB du déploiement (sortie StateTableName) : agit sur AWS au lieu
    /// du dossier de données local.
    #[arg(long, global = true)]
    table: Option<String>,

    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Enregistre une mesure et affiche son identifiant.
    Add {
        /// La référence (CIP13 ou CIP7) ou le groupe (GROUPE#<identifiant>) concerné.
        subject: String,
        /// contingentement, restriction-dispensation, importation, interdiction-export,
        /// liberation-stock-securite, communication ou autre.
        #[arg(long, value_parser = MeasureKind::parse)]
        kind: MeasureKind,
        /// Premier jour d'application (AAAA-MM-JJ).
        #[arg(long, value_name = "DATE")]
        start: NaiveDate,
        /// Dernier jour d'application, s'il est connu (sinon : medistock measures end).
        #[arg(long, value_name = "DATE")]
        end: Option<NaiveDate>,
        /// Ce qui a été décidé (2 000 caractères au plus).
        #[arg(long)]
        note: String,
        /// Qui l'enregistre (par défaut : l'utilisateur du système).
        #[arg(long, value_name = "NOM")]
        by: Option<String>,
        /// Sortie JSON : {"id": …}.
        #[arg(long)]
        json: bool,
    },
    /// Liste les mesures, les plus récentes d'abord.
    List {
        /// Seulement celles de ce sujet (CIP13, CIP7 ou GROUPE#<identifiant>).
        #[arg(long)]
        subject: Option<String>,
        /// Sortie JSON : un tableau de {"id", "subject", "kind", "start", "end", "note", "by"}.
        #[arg(long)]
        json: bool,
    },
    /// Met fin à une mesure à une date (son dernier jour d'application).
    End {
        /// Identifiant de la mesure (MES-…).
        id: String,
        /// Dernier jour d'application (AAAA-MM-JJ).
        #[arg(long, value_name = "DATE")]
        date: NaiveDate,
    },
}

pub async fn run(data_dir: &Path, args: &MeasuresArgs) -> anyhow::Result<ExitCode> {
    match &args.table {
        Some(table) => act(&AwsBackend::load(table).await.state, &args.action).await,
        None => act(&LocalBackend::open(data_dir)?.state, &args.action).await,
    }
}

/// Who records: `--by`, else the system user.
pub fn author(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .unwrap_or_else(|| "inconnu".to_owned())
}

/// A measure as JSON, in the documented shape.
pub fn measure_json(m: &Measure) -> serde_json::Value {
    json!({
        "id": m.id,
        "subject": m.subject,
        "kind": m.kind.as_str(),
        "start": m.start.to_string(),
        "end": m.end.map(|e| e.to_string()),
        "note": m.note,
        "by": m.by,
    })
}

async fn act(state: &impl MeasureStore, action: &Action) -> anyhow::Result<ExitCode> {
    match action {
        Action::Add {
            subject,
            kind,
            start,
            end,
            note,
            by,
            json,
        } => {
            let held = state.measures().await?;
            if held.len() >= MAX_MEASURES {
                bail!(
                    "{} mesures enregistrées : la limite est atteinte ; terminez ou archivez les anciennes",
                    held.len()
                );
            }
            let measure = Measure::new(
                Measure::new_id(paris_today()),
                subject,
                *kind,
                *start,
                *end,
                note,
                &author(by),
                Utc::now(),
            )?;
            if !state.put_measure(&measure, None).await? {
                bail!("identifiant {} déjà pris : recommencez", measure.id);
            }
            if *json {
                println!("{}", json!({ "id": measure.id }));
            } else {
                println!(
                    "{} : {} sur {} à partir du {}",
                    measure.id,
                    measure.kind.label(),
                    measure.subject,
                    medistock_domain::french::date(measure.start)
                );
            }
        }
        Action::List { subject, json } => {
            let subject = subject.as_deref().map(parse_subject).transpose()?;
            let mut measures: Vec<Measure> = state
                .measures()
                .await?
                .into_iter()
                .filter(|m| subject.as_ref().is_none_or(|s| &m.subject == s))
                .collect();
            measures.sort_by(|a, b| (b.start, &b.id).cmp(&(a.start, &a.id)));
            if *json {
                let list: Vec<_> = measures.iter().map(measure_json).collect();
                println!("{}", serde_json::Value::Array(list));
                return Ok(ExitCode::SUCCESS);
            }
            if measures.is_empty() {
                println!("Aucune mesure enregistrée.");
            }
            let today = paris_today();
            for m in &measures {
                println!(
                    "{:<22} {:<16} {:<26} du {}{}  {}  par {} : {}",
                    m.id,
                    m.subject,
                    m.kind.label(),
                    medistock_domain::french::date(m.start),
                    m.end.map_or_else(String::new, |e| format!(
                        " au {}",
                        medistock_domain::french::date(e)
                    )),
                    if m.in_force(today) {
                        "en cours"
                    } else {
                        "terminée ou à venir"
                    },
                    m.by,
                    m.note.replace('\n', " ")
                );
            }
        }
        Action::End { id, date } => {
            for _ in 0..5 {
                let measures = state.measures().await?;
                let held = measures
                    .iter()
                    .find(|m| &m.id == id)
                    .with_context(|| format!("mesure {id} inconnue (medistock measures list)"))?;
                let ended = held.ended(*date)?;
                if state.put_measure(&ended, Some(held.version)).await? {
                    println!("{id} : fin le {}", medistock_domain::french::date(*date));
                    return Ok(ExitCode::SUCCESS);
                }
            }
            bail!("{id} modifiée en même temps par un autre poste : recommencez");
        }
    }
    Ok(ExitCode::SUCCESS)
}
