//! `medistock simulate`: writes a data set of the independent supply-chain simulator (patients,
//! pharmacies, wholesalers' depots, manufacturers) — declaration files, declarants, monitored
//! references and the stock-outs patients met — into a folder that `medistock backtest`
//! replays.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use medistock_cli::simulate::{ChainSpec, simulate_chain, summary, write_folder};

use crate::exit::EXIT_USAGE;

#[derive(Args)]
pub struct SimulateArgs {
    /// Dossier à créer (ou vide) : inbox/<déclarant>/<AAAA-MM-JJ d'arrivée>__<fichier>.csv,
    /// config/declarants.csv, config/references.csv et ruptures.csv
    /// (cip13;date_rupture;date_fin, une ligne par période de rupture).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Graine du tirage : la même graine donne les mêmes fichiers.
    #[arg(long, default_value_t = ChainSpec::default().seed)]
    seed: u64,
    /// Nombre de références (présentations) suivies, 20 000 au plus.
    #[arg(long, default_value_t = ChainSpec::default().references)]
    references: usize,
    /// Nombre de jours déclarés, de 28 à 730.
    #[arg(long, default_value_t = ChainSpec::default().days)]
    days: usize,
    /// Premier jour déclaré (AAAA-MM-JJ ou JJ/MM/AAAA).
    #[arg(long, value_parser = parse_start, default_value = "2025-10-06")]
    start: NaiveDate,
    /// Nombre de pharmacies (ou groupes de pharmacies servis par un même dépôt), de 30 à 500.
    #[arg(long, default_value_t = ChainSpec::default().pharmacies)]
    pharmacies: usize,
    /// Nombre de grossistes-répartiteurs (chacun de deux à cinq dépôts), de 1 à 6.
    #[arg(long, default_value_t = ChainSpec::default().wholesalers)]
    wholesalers: usize,
    /// Sortie JSON : un objet avec les chiffres du jeu de données.
    #[arg(long)]
    json: bool,
}

fn parse_start(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d/%m/%Y"))
        .map_err(|_| format!("date illisible : {text} (AAAA-MM-JJ ou JJ/MM/AAAA)"))
}

pub fn run(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let spec = ChainSpec {
        seed: args.seed,
        references: args.references,
        days: args.days,
        start: args.start,
        pharmacies: args.pharmacies,
        wholesalers: args.wholesalers,
        manufacturers: None,
    };
    let set = match simulate_chain(&spec) {
        Ok(set) => set,
        Err(e) => {
            eprintln!("medistock : {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    write_folder(&set, &args.out).with_context(|| args.out.display().to_string())?;
    let figures = summary(&set);
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({
                "dossier": args.out.display().to_string(),
                "resume": figures,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let date = |d: NaiveDate| medistock_domain::french::date(d);
    println!(
        "Jeu simulé (graine {}) du {} au {} : {}",
        figures.seed,
        date(figures.start),
        date(figures.end),
        args.out.display()
    );
    println!(
        "  {} fichiers de déclaration ({} lignes), dont {} arrivés en retard ; {} fichiers jamais envoyés",
        figures.files, figures.lines, figures.late_files, figures.missing_files
    );
    println!(
        "  {} déclarants : {} laboratoires exploitants, {} grossistes-répartiteurs ({} dépôts) ; \
         {} commencent en cours de période",
        figures.manufacturers + figures.wholesalers,
        figures.manufacturers,
        figures.wholesalers,
        figures.depots,
        figures.late_joiners
    );
    println!(
        "  {} références ({} MITM, {} groupes de présentations substituables), {} pharmacies",
        figures.references, figures.mitm, figures.groups, figures.pharmacies
    );
    let causes: Vec<String> = figures
        .stockouts_by_cause
        .iter()
        .map(|(cause, n)| format!("{n} {}", cause.replace('_', " ")))
        .collect();
    println!(
        "  {} ruptures (dispensation nationale sous 80 % de la demande des patients){}",
        figures.stockouts,
        if causes.is_empty() {
            String::new()
        } else {
            format!(" : {}", causes.join(", "))
        }
    );
    println!(
        "Rejeu : medistock backtest --data {0} --truth {0}/ruptures.csv",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
