//! `medistock catalogue`: import the reference catalogue into the data directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use medistock_analytics::catalogue::{load_bdpm, load_settings, save_catalogue};

#[derive(Subcommand)]
pub enum CatalogueCommand {
    /// Importe le catalogue depuis les fichiers publics de la BDPM (CIS_bdpm.txt,
    /// CIS_CIP_bdpm.txt, CIS_COMPO_bdpm.txt, CIS_GENER_bdpm.txt, CIS_MITM.txt,
    /// CIS_CIP_Dispo_Spec.txt) et, en option, le CSV des paramètres de suivi.
    Import {
        /// Dossier contenant les six fichiers BDPM.
        #[arg(long, value_name = "DIR")]
        bdpm: PathBuf,
        /// CSV des paramètres de suivi : cip13;stock_securite_4_mois;seuil_vigilance_jours;
        /// seuil_tension_jours;seuil_critique_jours.
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// Résumé en JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(data_dir: &Path, command: &CatalogueCommand) -> anyhow::Result<ExitCode> {
    let CatalogueCommand::Import {
        bdpm,
        settings,
        json,
    } = command;
    let mut catalogue = load_bdpm(bdpm)?;
    if let Some(path) = settings {
        let (by_reference, rejected) = load_settings(path)?;
        catalogue.settings = by_reference;
        catalogue.rejected_lines += rejected;
    }
    let stored = save_catalogue(data_dir, &catalogue)?;
    let summary = catalogue.summary();
    if *json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!("Catalogue importé dans {}", stored.display());
        println!("  spécialités (CIS)          : {}", summary.cis);
        println!("  présentations (CIP13)      : {}", summary.presentations);
        println!(
            "    dont commercialisées     : {}",
            summary.marketed_presentations
        );
        println!("  spécialités MITM           : {}", summary.mitm_cis);
        println!("  groupes génériques         : {}", summary.generic_groups);
        println!(
            "  statuts de disponibilité   : {}",
            summary.shortage_statuses
        );
        println!(
            "  paramètres de suivi        : {}",
            catalogue.settings.len()
        );
        println!("  lignes rejetées            : {}", summary.rejected_lines);
    }
    Ok(ExitCode::SUCCESS)
}
