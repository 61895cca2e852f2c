//! `medistock national`: writes a national data set (thousands of references, wholesalers'
//! daily files for each depot, manufacturers' weekly files, a few real stock-outs) to measure
//! the ingest, the risk run, the replay and the weekly synthesis at the scale of France.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use medistock_cli::national::{NationalError, NationalSpec, write_national};

use crate::exit::EXIT_USAGE;

#[derive(Args)]
pub struct NationalArgs {
    /// Dossier à créer (ou vide) : inbox/<déclarant>/<AAAA-MM-JJ>__stocks.csv,
    /// config/declarants.csv, config/references.csv et ruptures.csv (cip13;date_rupture),
    /// la disposition que medistock backtest rejoue.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Nombre de références (présentations), 20 000 au plus.
    #[arg(long, default_value_t = NationalSpec::default().references)]
    references: usize,
    /// Nombre de grossistes-répartiteurs (gr-1…), chacun déclarant chaque jour.
    #[arg(long, default_value_t = NationalSpec::default().wholesalers)]
    wholesalers: usize,
    /// Dépôts par grossiste : une ligne par référence et par dépôt dans chaque fichier
    /// quotidien (un fichier national de 20 000 références × 180 dépôts fait 3,6 M de lignes).
    #[arg(long, default_value_t = NationalSpec::default().depots)]
    depots: usize,
    /// Nombre de laboratoires exploitants (lab-1…), chacun déclarant ses références chaque
    /// semaine ; 0 pour aucun.
    #[arg(long, default_value_t = NationalSpec::default().manufacturers)]
    manufacturers: usize,
    /// Nombre de jours déclarés, 730 au plus.
    #[arg(long, default_value_t = NationalSpec::default().days)]
    days: usize,
    /// Premier jour déclaré (AAAA-MM-JJ).
    #[arg(long, default_value = "2025-11-24")]
    start: NaiveDate,
    /// Graine du tirage : la même graine donne les mêmes fichiers.
    #[arg(long, default_value_t = NationalSpec::default().seed)]
    seed: u64,
    /// Références dont la production s'arrête quatre mois, pour mille.
    #[arg(long, default_value_t = NationalSpec::default().stops_per_thousand)]
    stops_per_thousand: u32,
    /// Sortie JSON : un objet avec les chiffres du jeu écrit.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &NationalArgs) -> anyhow::Result<ExitCode> {
    let spec = NationalSpec {
        references: args.references,
        wholesalers: args.wholesalers,
        depots: args.depots,
        manufacturers: args.manufacturers,
        days: args.days,
        start: args.start,
        seed: args.seed,
        stops_per_thousand: args.stops_per_thousand,
    };
    let progress = ProgressBar::new(args.days as u64).with_style(
        ProgressStyle::with_template("{bar:40} jour {pos}/{len} ({eta} restantes)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if args.json {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let summary = match write_national(&spec, &args.out, |day| progress.set_position(day as u64)) {
        Ok(summary) => summary,
        Err(e @ (NationalError::OutOfBounds { .. } | NationalError::NotEmpty(_))) => {
            progress.finish_and_clear();
            eprintln!("medistock : {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
        Err(e) => return Err(e.into()),
    };
    progress.finish_and_clear();
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({
                "dossier": args.out.display().to_string(),
                "resume": summary,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Jeu national (graine {}) : {} références, {} grossistes × {} dépôts chaque jour, {} laboratoires chaque semaine, {} jours",
        args.seed, args.references, args.wholesalers, args.depots, args.manufacturers, args.days
    );
    println!(
        "  {} fichiers, {} lignes, {:.1} Mo ; {} ruptures dans {}/ruptures.csv",
        summary.files,
        summary.lines,
        summary.bytes as f64 / 1e6,
        summary.stockouts,
        args.out.display()
    );
    println!(
        "Rejeu : medistock backtest --data {0} --truth {0}/ruptures.csv",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
