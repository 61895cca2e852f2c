//! `medistock risk`: the risk run on the local backend, then the pending alerts published to
//! the terminal and `alerts.jsonl`.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::Args;
use medistock_analytics::registry::Registry;
use medistock_analytics::risk::alert::AlertTopics;
use medistock_analytics::risk::config::{ModelOptions, RiskConfig};
use medistock_analytics::risk::{RiskOutcome, RiskRun, Scope, run_risk};
use medistock_domain::Level;
use medistock_domain::relay::{Delivery, publish_pending};
use medistock_domain::{Cip13, paris_today};
use medistock_local::{INBOX_BUCKET, LAKE_BUCKET, LocalBackend};
use serde_json::json;

/// Monitored references and their settings, beside the registry.
/// Monitored references of a replayed folder, in the catalogue's settings format.
pub const REFERENCES_FILE: &str = "config/references.csv";

#[derive(Args)]
pub struct RiskArgs {
    /// Date du calcul (AAAA-MM-JJ) ; par défaut aujourd'hui (heure de Paris).
    #[arg(long, value_name = "DATE")]
    as_of: Option<NaiveDate>,

    /// Limite le calcul à ces références (CIP13 ou CIP7).
    #[arg(long, value_parser = Cip13::parse, num_args = 1..)]
    cip13: Vec<Cip13>,

    /// Calcule et affiche sans rien enregistrer ni alerter.
    #[arg(long)]
    dry_run: bool,

    /// Sortie JSON : le bilan et l'évaluation de chaque référence.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    policy: crate::policy_args::PolicyArgs,

    /// Calcule sans certains signaux du modèle (slip, stop, censored, local, undeclared, episode) ou
    /// avec ceux désactivés par défaut (+batches, +delay, +slip2, +reliability), séparés par
    /// des virgules, comme `backtest --without` et le paramètre ModelWithout du déploiement.
    #[arg(long, value_name = "SIGNAUX", value_parser = ModelOptions::without)]
    without: Option<ModelOptions>,
}

/// The declarants' types and the reference settings of a data directory: the same
/// [`medistock_analytics::risk::config::load_config`] as the functions, on the local backend.
pub async fn load_config(backend: &LocalBackend) -> anyhow::Result<(Registry, RiskConfig)> {
    let (registry, config, _) = medistock_analytics::risk::config::load_config(
        &backend.objects,
        &backend.state,
        LAKE_BUCKET,
    )
    .await?;
    Ok((registry, config))
}

pub async fn run(data_dir: &Path, args: &RiskArgs) -> anyhow::Result<ExitCode> {
    let backend = LocalBackend::open(data_dir)?;
    let (_, mut config) = load_config(&backend).await?;
    if let Some(model) = args.without {
        config.model = model;
    }
    config.calibration = medistock_analytics::risk::config::load_calibration(
        &backend.objects,
        LAKE_BUCKET,
        &config.model,
    )
    .await?;
    let topics = AlertTopics {
        critical: "critique".into(),
        info: "information".into(),
    };
    let policy = args.policy.policy()?;
    let run = RiskRun {
        lake_bucket: LAKE_BUCKET,
        inbox_bucket: Some(INBOX_BUCKET),
        policy,
        topics: &topics,
        config: &config,
        history_cache: None,
    };
    let scope = if args.cip13.is_empty() {
        Scope::All
    } else {
        Scope::References(args.cip13.clone())
    };
    let as_of = args.as_of.unwrap_or_else(paris_today);
    let RiskOutcome {
        summary,
        mut assessments,
        ..
    } = run_risk(
        &backend.objects,
        &backend.state,
        &run,
        &scope,
        as_of,
        args.dry_run,
        Utc::now(),
    )
    .await?;
    let published = if args.dry_run {
        None
    } else {
        let delivery = Delivery {
            policy,
            now: Utc::now(),
        };
        Some(publish_pending(&backend.state, &backend.notifier, &delivery).await?)
    };
    if args.json {
        println!(
            "{}",
            json!({ "summary": summary, "published": published, "assessments": assessments })
        );
        return Ok(ExitCode::SUCCESS);
    }
    assessments.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(a.days_to_stockout.cmp(&b.days_to_stockout))
    });
    let colour = std::io::stdout().is_terminal();
    println!(
        "Risque au {}{}",
        medistock_domain::french::date(as_of),
        if args.dry_run { " (simulation)" } else { "" }
    );
    println!(
        "{:<10} {:<14} {:<40} {:>12} {:>10} {:>12}",
        "niveau", "cip13", "dénomination", "stock", "couverture", "rupture"
    );
    for a in &assessments {
        let name: String = config
            .settings(&a.cip13)
            .denomination
            .chars()
            .take(40)
            .collect();
        let coverage = a
            .coverage_days
            .map_or_else(|| "—".into(), |c| format!("{c:.0} j"));
        let stockout = a
            .stockout_date
            .map_or_else(|| "—".into(), medistock_domain::french::date);
        let level = format!("{:<10}", a.level.as_str());
        let level = if colour {
            paint(a.level, &level)
        } else {
            level
        };
        println!(
            "{level} {:<14} {name:<40} {:>12.0} {coverage:>10} {stockout:>12}",
            a.cip13.as_str(),
            a.chain_stock
        );
    }
    let counts: Vec<String> = summary
        .levels
        .iter()
        .rev()
        .map(|(l, n)| format!("{} {n}", l.as_str()))
        .collect();
    println!(
        "{} référence(s) : {}",
        summary.references,
        counts.join(", ")
    );
    println!(
        "{} changement(s) de niveau, {} alerte(s) créée(s)",
        summary.transitions.len(),
        summary.alerts_created
    );
    if let Some(p) = published {
        let mut extra = Vec::new();
        if p.sms_held > 0 {
            extra.push(format!(
                "{} SMS retenu(s) jusqu'à la fin des heures calmes",
                p.sms_held
            ));
        }
        if p.sms_released > 0 {
            extra.push(format!("{} SMS retenu(s) envoyé(s)", p.sms_released));
        }
        if p.muted > 0 {
            extra.push(format!(
                "{} mise(s) en silence (medistock alerts list)",
                p.muted
            ));
        }
        if p.failed > 0 {
            extra.push(format!("{} en échec", p.failed));
        }
        println!(
            "{} alerte(s) publiée(s) dans alerts.jsonl{}",
            p.sent + p.sms_held,
            if extra.is_empty() {
                String::new()
            } else {
                format!(" ; {}", extra.join(", "))
            }
        );
    }
    if !summary.recalls.is_empty() {
        println!(
            "{} sujet(s) CRITIQUE ou RUPTURE rappelé(s) : personne ne les a pris en compte",
            summary.recalls.len()
        );
    }
    if !summary.silent_declarants.is_empty() {
        println!(
            "{} déclarant(s) silencieux : {} ({} rappel(s) déposé(s))",
            summary.silent_declarants.len(),
            summary.silent_declarants.join(", "),
            summary.reminders_written
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn paint(level: Level, text: &str) -> String {
    let code = match level {
        Level::Rupture => "1;37;41",
        Level::Critique => "1;31",
        Level::Tension => "33",
        Level::Vigilance => "36",
        Level::Normal => "32",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}
