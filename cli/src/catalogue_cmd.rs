//! `medistock catalogue`: import the reference catalogue (BDPM + ANSM's monitoring settings)
//! into the data directory, or into a deployment's lake with `--lake`, where the functions
//! read it (validation's `hors_catalogue` warning, the risk run's settings).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use medistock_analytics::catalogue::{
    CATALOGUE_FILE, load_bdpm, load_catalogue_object, load_settings, save_catalogue_object,
};
use medistock_aws::{S3Objects, s3_client, sdk_config};
use medistock_local::{LAKE_BUCKET, LocalObjects};

#[derive(Subcommand)]
pub enum CatalogueCommand {
    /// Importe le catalogue depuis les fichiers publics de la BDPM (CIS_bdpm.txt,
    /// CIS_CIP_bdpm.txt, CIS_COMPO_bdpm.txt, CIS_GENER_bdpm.txt, CIS_MITM.txt,
    /// CIS_CIP_Dispo_Spec.txt) et, en option, le CSV des paramètres de suivi.
    Import {
        /// Dossier contenant les six fichiers BDPM. Un import remplace la partie qu'il apporte
        /// et garde l'autre : la BDPM seule garde les paramètres de suivi déjà importés, et
        /// inversement. Sans BDPM, pas de contrôle hors_catalogue.
        #[arg(long, value_name = "DIR", required_unless_present = "settings")]
        bdpm: Option<PathBuf>,
        /// CSV des paramètres de suivi : les références suivies par l'ANSM, une par ligne ;
        /// colonnes cip13 (obligatoire), denomination, groupe, mitm, stock_securite_4_mois,
        /// stock_securite_mois, seuil_vigilance_jours, seuil_tension_jours,
        /// seuil_critique_jours.
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// Bucket du lac d'un déploiement (sortie LakeBucketName) : y écrit le catalogue
        /// (catalogue/catalogue.json) au lieu du dossier de données local.
        #[arg(long, value_name = "BUCKET")]
        lake: Option<String>,
        /// Résumé en JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(data_dir: &Path, command: &CatalogueCommand) -> anyhow::Result<ExitCode> {
    let CatalogueCommand::Import {
        bdpm,
        settings,
        lake,
        json,
    } = command;
    // An import replaces the part it brings and keeps the other: a BDPM refresh keeps ANSM's
    // settings, a settings update keeps the BDPM.
    let local = LocalObjects::new(data_dir);
    let held = match lake {
        Some(bucket) => {
            let objects = S3Objects::new(s3_client(&sdk_config().await));
            load_catalogue_object(&objects, bucket).await?
        }
        None => load_catalogue_object(&local, LAKE_BUCKET).await?,
    };
    let mut catalogue = held.unwrap_or_default();
    if let Some(dir) = bdpm {
        let settings = std::mem::take(&mut catalogue.settings);
        catalogue = load_bdpm(dir)?;
        catalogue.settings = settings;
    }
    if let Some(path) = settings {
        let (by_reference, refused) = load_settings(path)?;
        catalogue.settings = by_reference;
        catalogue.rejected_lines += refused.len();
        for reason in refused.iter().take(20) {
            eprintln!("{} : {reason}", path.display());
        }
        if refused.len() > 20 {
            eprintln!(
                "{} : et {} autre(s) ligne(s) refusée(s)",
                path.display(),
                refused.len() - 20
            );
        }
    }
    let stored = match lake {
        Some(bucket) => {
            let objects = S3Objects::new(s3_client(&sdk_config().await));
            save_catalogue_object(&objects, bucket, &catalogue).await?;
            format!("s3://{bucket}/{CATALOGUE_FILE}")
        }
        None => {
            save_catalogue_object(&local, LAKE_BUCKET, &catalogue).await?;
            data_dir
                .join(LAKE_BUCKET)
                .join(CATALOGUE_FILE)
                .display()
                .to_string()
        }
    };
    let summary = catalogue.summary();
    if *json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!("Catalogue importé dans {stored}");
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
