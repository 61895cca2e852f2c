//! `medistock calibration`: learns the calibration of the probability of a stock-out from
//! replays (`medistock backtest --json`, `medistock demo --scoreboard`) and keeps it in the
//! data directory, or in a deployment's lake with `--lake`, where the risk run reads it; shows
//! the one kept. `--calibration FILE` of `backtest` and `demo` replays with a map learnt
//! elsewhere, to check it on data it was not learnt from.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use medistock_analytics::risk::calibration::{
    CALIBRATION_FILE, CalibrationMap, Knot, MAX_CALIBRATION_BYTES, ObservedProbabilities,
    load_calibration_object, save_calibration_object,
};
use medistock_analytics::risk::config::ModelOptions;
use medistock_aws::{S3Objects, s3_client, sdk_config};
use medistock_local::{LAKE_BUCKET, LocalObjects};

/// Largest replay's JSON read (a scoreboard is a few kilobytes; its observations at most 200
/// bins).
const MAX_BOARD_BYTES: u64 = 10_000_000;

#[derive(Subcommand)]
pub enum CalibrationCommand {
    /// Apprend la calibration de la probabilité de rupture à partir de rejeux : pour chaque
    /// centième de la probabilité calculée par le modèle, la part des jours-références suivis
    /// d'une rupture (régression isotone, paliers d'au moins 100 jours-références). Le calcul
    /// du risque affiche ensuite la probabilité calibrée, avec celle du modèle seul.
    ///
    /// Une calibration ne vaut que pour des données semblables à celles dont elle est apprise :
    /// apprenez-la sur les archives rejouées du déploiement et ses ruptures connues, et
    /// vérifiez-la sur d'autres (medistock backtest --calibration FICHIER).
    Learn {
        /// Sorties JSON de rejeux (medistock backtest --json > rejeu.json, medistock demo
        /// --scoreboard rejeu.json), additionnées.
        #[arg(long = "from", value_name = "FILE", required = true, num_args = 1..)]
        from: Vec<PathBuf>,
        /// Ce dont la calibration est apprise, affiché avec elle (200 caractères au plus).
        #[arg(long, value_name = "TEXTE")]
        label: Option<String>,
        /// Écrit la calibration dans ce fichier seulement, sans l'installer (pour
        /// medistock backtest --calibration).
        #[arg(long, value_name = "FILE", conflicts_with = "lake")]
        output: Option<PathBuf>,
        /// Bucket du lac d'un déploiement (sortie LakeBucketName) : y installe la
        /// calibration (catalogue/calibration.json) au lieu du dossier de données local.
        #[arg(long, value_name = "BUCKET")]
        lake: Option<String>,
    },
    /// Affiche la calibration installée (dossier de données, ou lac avec --lake). Pour la
    /// retirer, supprimez catalogue/calibration.json du lac.
    Show {
        /// Bucket du lac d'un déploiement.
        #[arg(long, value_name = "BUCKET")]
        lake: Option<String>,
        /// Sortie JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(data_dir: &Path, command: &CalibrationCommand) -> anyhow::Result<ExitCode> {
    match command {
        CalibrationCommand::Learn {
            from,
            label,
            output,
            lake,
        } => {
            let mut observed = ObservedProbabilities::default();
            for path in from {
                observed
                    .add(&read_observations(path)?)
                    .with_context(|| path.display().to_string())?;
            }
            let label = label.clone().unwrap_or_else(|| {
                from.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            let map = CalibrationMap::learn(&observed, &label)?;
            let stored = match (output, lake) {
                (Some(path), _) => {
                    map.check()?;
                    std::fs::write(path, serde_json::to_vec_pretty(&map)?)
                        .with_context(|| path.display().to_string())?;
                    path.display().to_string()
                }
                (None, Some(bucket)) => {
                    let objects = S3Objects::new(s3_client(&sdk_config().await));
                    save_calibration_object(&objects, bucket, &map).await?;
                    format!("s3://{bucket}/{CALIBRATION_FILE}")
                }
                (None, None) => {
                    save_calibration_object(&LocalObjects::new(data_dir), LAKE_BUCKET, &map)
                        .await?;
                    data_dir
                        .join(LAKE_BUCKET)
                        .join(CALIBRATION_FILE)
                        .display()
                        .to_string()
                }
            };
            println!("Calibration apprise, écrite dans {stored}");
            print!("{}", describe(&map));
            Ok(ExitCode::SUCCESS)
        }
        CalibrationCommand::Show { lake, json } => {
            let map = match lake {
                Some(bucket) => {
                    let objects = S3Objects::new(s3_client(&sdk_config().await));
                    load_calibration_object(&objects, bucket).await?
                }
                None => load_calibration_object(&LocalObjects::new(data_dir), LAKE_BUCKET).await?,
            };
            match (map, json) {
                (Some(map), true) => println!("{}", serde_json::to_string(&map)?),
                (Some(map), false) => print!("{}", describe(&map)),
                (None, true) => println!("null"),
                (None, false) => println!(
                    "Aucune calibration installée : la probabilité de rupture est celle du \
                     modèle (medistock calibration learn)."
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A map read from a file (`--calibration` of `backtest` and `demo`), checked, and learnt with
/// the model `options` make.
pub fn read_map(path: &Path, options: &ModelOptions) -> anyhow::Result<CalibrationMap> {
    let bytes = read_bounded(path, MAX_CALIBRATION_BYTES)?;
    let map = CalibrationMap::from_json(&bytes)
        .with_context(|| format!("{} : calibration illisible", path.display()))?;
    map.fits(options)
        .with_context(|| path.display().to_string())?;
    Ok(map)
}

/// The observations of a replay's JSON.
fn read_observations(path: &Path) -> anyhow::Result<ObservedProbabilities> {
    #[derive(serde::Deserialize)]
    struct Board {
        raw_probabilities: Option<ObservedProbabilities>,
    }
    let bytes = read_bounded(path, MAX_BOARD_BYTES)?;
    let board: Board = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} : ni la sortie JSON de medistock backtest, ni le tableau de bord de medistock demo",
            path.display()
        )
    })?;
    board.raw_probabilities.with_context(|| {
        format!(
            "{} : aucune probabilité observée (rejeu fait par une version antérieure de \
             Medistock ?)",
            path.display()
        )
    })
}

fn read_bounded(path: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .with_context(|| path.display().to_string())?;
    if bytes.len() as u64 > max {
        anyhow::bail!("{} : plus de {max} octets", path.display());
    }
    Ok(bytes)
}

/// The map in French, one line per step.
fn describe(map: &CalibrationMap) -> String {
    let mut text = format!(
        "apprise sur : {}\nmodèle : {}\n",
        map.learnt_from, map.model
    );
    for (horizon, knots) in [(14, &map.within_14_days), (30, &map.within_30_days)] {
        text.push_str(&format!(
            "sous {horizon} jours (probabilité du modèle → part des jours-références suivis \
             d'une rupture) :\n"
        ));
        for Knot {
            predicted,
            observed,
            assessments,
        } in knots
        {
            text.push_str(&format!(
                "  {:5.1} % → {:5.1} %   ({assessments} jours-références)\n",
                predicted * 100.0,
                observed * 100.0
            ));
        }
    }
    text
}
