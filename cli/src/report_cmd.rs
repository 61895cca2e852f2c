//! `medistock report`: the weekly synthesis from the local data directory, written to
//! `<data-dir>/lac/reports/<semaine>/synthese.html` and `.csv` (the same files as on AWS).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use medistock_analytics::registry::Registry;
use medistock_analytics::report::{ReportOutcome, Week, write_report};
use medistock_analytics::risk::config::RiskConfig;
use medistock_domain::paris_today;
use medistock_domain::store::RiskStore;
use medistock_local::{LAKE_BUCKET, LocalBackend};

use crate::risk_cmd::load_config;

#[derive(Args)]
pub struct ReportArgs {
    /// Semaine ISO du rapport (AAAA-Wss, par exemple 2026-W48) ; par défaut la semaine du
    /// dernier calcul du risque, ou la semaine en cours s'il n'y en a pas.
    #[arg(long, value_parser = Week::parse)]
    week: Option<Week>,

    /// Ouvre le rapport HTML dans le navigateur une fois écrit.
    #[arg(long)]
    open: bool,
}

/// Writes the synthesis of `week` with an open backend and its configuration, and returns
/// it with the path of the HTML file.
pub async fn write(
    data_dir: &Path,
    backend: &LocalBackend,
    registry: &Registry,
    config: &RiskConfig,
    week: Week,
) -> anyhow::Result<(ReportOutcome, PathBuf)> {
    let outcome = write_report(
        &backend.objects,
        &backend.state,
        LAKE_BUCKET,
        week,
        config,
        registry,
    )
    .await?;
    let path = data_dir.join(LAKE_BUCKET).join(&outcome.html_key);
    Ok((outcome, path))
}

pub async fn run(data_dir: &Path, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let backend = LocalBackend::open(data_dir)?;
    let (registry, config) = load_config(&backend).await?;
    let week = match args.week {
        Some(week) => week,
        // The week of the latest risk computation.
        None => Week::of(
            backend
                .state
                .risk_items()
                .await?
                .iter()
                .map(|i| i.as_of)
                .max()
                .unwrap_or_else(paris_today),
        ),
    };
    let (outcome, path) = write(data_dir, &backend, &registry, &config, week).await?;
    let s = &outcome.synthesis;
    println!(
        "Synthèse de la semaine {} : {} références, {} en vigilance ou pire, {} fichiers reçus",
        s.week,
        s.references.len(),
        s.watched().count(),
        s.files.received
    );
    println!(
        "  rapport : {} ({} Ko)",
        path.display(),
        outcome.html_bytes / 1024
    );
    println!(
        "  tableau : {}",
        data_dir.join(LAKE_BUCKET).join(&outcome.csv_key).display()
    );
    if args.open {
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        if let Err(e) = std::process::Command::new(opener).arg(&path).status() {
            eprintln!("impossible d'ouvrir le navigateur ({opener}) : {e}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
