//! `medistock backtest`: replays a folder of declarations day by day (on day t only the files
//! dated t or earlier are known) and scores the alerts against known stock-outs. This is how
//! ANSM measures the model on its own archives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{Days, NaiveDate, NaiveTime};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use medistock_analytics::declaration::{Limits, ValidationContext, validate};
use medistock_analytics::registry::Registry;
use medistock_analytics::risk::Thresholds;
use medistock_analytics::risk::config::{ModelOptions, RiskConfig};
use medistock_cli::demo::{
    Calibration, EscalationReasons, FileCounts, StockoutPeriods, details_csv, score_references,
    scoreboard, unknown_after_first,
};
use medistock_domain::{Cip13, DeclarantId};
use medistock_local::LocalBackend;

use crate::replay::{DayFile, Levels, Recorded, Replay, print_scoreboard, tension_days};
use crate::risk_cmd::REFERENCES_FILE;
use medistock_analytics::catalogue::{Catalogue, load_catalogue};

#[derive(Args)]
pub struct BacktestArgs {
    /// Dossier à rejouer : inbox/<déclarant>/<fichiers>, config/declarants.csv, et le
    /// catalogue (catalogue/catalogue.json) ou, à défaut, les références suivies au format des
    /// paramètres de suivi dans config/references.csv. Un fichier est connu le jour de sa
    /// dernière date de stock, ou le jour d'arrivée qui préfixe son nom
    /// (2026-11-23__stocks.csv) s'il est arrivé plus tard.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// CSV des ruptures connues : cip13;date_rupture, une ligne par référence, ou
    /// cip13;date_rupture;date_fin, une ligne par période de rupture (la première d'une
    /// référence est sa rupture ; une escalade suivie dans les 60 jours du début d'une
    /// période est juste, une escalade pendant une période ne compte ni pour ni contre ; une
    /// fin vide est une rupture toujours en cours).
    #[arg(long, value_name = "FILE")]
    truth: PathBuf,
    /// Écrit aussi une ligne par référence dans ce CSV : date de rupture, début de l'alerte
    /// tenue jusqu'à la rupture, avance en jours, parcours des niveaux, fausses alertes datées.
    #[arg(long, value_name = "FILE")]
    details: Option<PathBuf>,
    /// Sortie JSON.
    #[arg(long)]
    json: bool,
    /// Rejoue le modèle sans ces signaux, pour mesurer l'apport de chacun (séparés par des
    /// virgules) : slip (approvisionnement repoussé), stop (arrêt de production soupçonné),
    /// censored (jours de rupture des grossistes écartés de la demande), local (rupture
    /// locale d'une partie des grossistes), undeclared (pas de TENSION sur le seul stock des
    /// grossistes quand aucun exploitant ne déclare la référence), episode (une alerte en
    /// TENSION reste ouverte jusqu'au retour à la normale, au plus 90 jours après son ouverture
    /// sur des chiffres de VIGILANCE) ; +batches, +delay, +slip2
    /// et +reliability ajoutent des signaux désactivés par défaut (prochain lot attendu au
    /// rythme observé quand aucun n'est annoncé ; approvisionnement repoussé attendu aussi
    /// tard qu'il est déjà en retard ; approvisionnement mis en doute à son second report
    /// seulement ; probabilité de rupture calculée avec les chances d'arrivée tirées des
    /// promesses tenues par l'exploitant).
    #[arg(long, value_name = "SIGNAUX", value_parser = ModelOptions::without)]
    without: Option<ModelOptions>,
    /// Rejoue avec ce seuil de TENSION (en jours, de 8 à 60 ; 30 par défaut) pour les
    /// références dont les paramètres de suivi ne fixent pas le leur, et pour les groupes :
    /// ce que le modèle aurait dit avec ce réglage. Plus haut, les alertes viennent plus tôt ;
    /// le nombre de fausses alertes n'en suit pas toujours le sens (mesures sur les deux
    /// simulateurs : docs/risk-model.md).
    #[arg(long, value_name = "JOURS", value_parser = tension_days)]
    seuil_tension: Option<Thresholds>,
    /// Rejoue avec cette calibration de la probabilité de rupture (apprise par medistock
    /// calibration learn --output FICHIER) : la table de fiabilité dit alors ce que vaut la
    /// probabilité calibrée sur des données dont elle n'a pas été apprise.
    #[arg(long, value_name = "FILE")]
    calibration: Option<PathBuf>,
}

pub async fn run(args: &BacktestArgs) -> anyhow::Result<ExitCode> {
    let registry =
        Registry::load(&args.data)?.context("config/declarants.csv absent du dossier rejoué")?;
    // The replayed folder's catalogue, else its monitored references in the settings format.
    let catalogue = match load_catalogue(&args.data)? {
        Some(catalogue) => catalogue,
        None => match std::fs::read_to_string(args.data.join(REFERENCES_FILE)) {
            Ok(text) => Catalogue::from_settings_csv(&text)
                .map_err(|e| anyhow::anyhow!("{REFERENCES_FILE} : {e}"))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Catalogue::default(),
            Err(e) => return Err(e).context(REFERENCES_FILE),
        },
    };
    let mut config = RiskConfig::with_defaults(
        &registry,
        &catalogue,
        args.seuil_tension.unwrap_or_default(),
    );
    config.warn_unknown_exploitants();
    if let Some(model) = args.without {
        config.model = model;
    }
    if let Some(path) = &args.calibration {
        config.calibration = Some(crate::calibration_cmd::read_map(path, &config.model)?);
    }
    let (truth, every_period) = read_truth(&args.truth)?;
    let (files, undated) = dated_files(&args.data.join("inbox"))?;
    let (Some(first), Some(last)) = (files.keys().next().copied(), files.keys().last().copied())
    else {
        anyhow::bail!(
            "aucun fichier de déclaration valide dans {}",
            args.data.join("inbox").display()
        );
    };
    let work = std::env::temp_dir().join(format!("medistock-backtest-{}", std::process::id()));
    // A truth of first stock-out days says nothing of the days after each.
    let known = if every_period {
        truth.clone()
    } else {
        unknown_after_first(&truth)
    };
    let mut calibration = Calibration::new(known, last);
    let result = replay(&work, &config, &files, first, last, &mut calibration).await;
    let _ = std::fs::remove_dir_all(&work);
    let (levels, reasons, mut files) = result?;
    files.rejected += undated;
    if files.rejected > 0 || files.lines_rejected > 0 || files.ignored > 0 {
        eprintln!(
            "attention : {} fichier(s) rejeté(s), {} ignoré(s) (nom de transfert temporaire) et \
             {} ligne(s) refusée(s) au rejeu : leurs déclarations ne sont pas comptées dans les \
             chiffres (medistock validate dit pourquoi)",
            files.rejected, files.ignored, files.lines_rejected
        );
    }
    let unseen = truth
        .keys()
        .filter(|cip| !levels.contains_key(*cip))
        .count();
    if unseen > 0 {
        eprintln!(
            "attention : {unseen} référence(s) du fichier des ruptures absente(s) du rejeu \
             (aucune déclaration ni paramètre de suivi) : leurs ruptures ne sont pas comptées"
        );
    }
    let scores = score_references(&levels, &truth);
    let mut board = scoreboard(&scores);
    board.calibration_14d = calibration.rows(0);
    board.calibration_30d = calibration.rows(1);
    board.calibration_withheld = calibration.withheld_rows();
    board.brier = calibration.brier_rows();
    board.raw_probabilities = Some(calibration.observed(&config.model));
    board.files = Some(files);
    if let Some(path) = &args.details {
        std::fs::write(path, details_csv(&scores, &reasons))
            .with_context(|| path.display().to_string())?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&board)?);
    } else {
        println!(
            "Rejeu du {} au {} ({} références)",
            medistock_domain::french::date(first),
            medistock_domain::french::date(last),
            board.references
        );
        print_scoreboard(&board);
    }
    Ok(ExitCode::SUCCESS)
}

/// The truth's periods, and whether it lists every period (the three-column form) or only the
/// first stock-out day of each reference.
fn read_truth(path: &Path) -> anyhow::Result<(StockoutPeriods, bool)> {
    let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} : le fichier des ruptures n'est pas en UTF-8 (octet {} illisible)",
            path.display(),
            e.utf8_error().valid_up_to() + 1
        )
    })?;
    parse_truth(&text).with_context(|| path.display().to_string())
}

/// The header of the one-date form, then of the periods form.
const TRUTH_HEADERS: [&[&str]; 2] = [
    &["cip13", "date_rupture"],
    &["cip13", "date_rupture", "date_fin"],
];

/// `cip13;date_rupture` lines after their header (the first stock-out day of each
/// reference), or `cip13;date_rupture;date_fin` (periods; an empty end is a period still
/// running). Every line has as many values as the header: a file of another shape is refused,
/// never half read.
fn parse_truth(text: &str) -> anyhow::Result<(StockoutPeriods, bool)> {
    let mut truth = StockoutPeriods::new();
    let cells = |line: &str| -> Vec<String> {
        line.trim_end_matches('\r')
            .split(';')
            .map(|c| c.trim().trim_start_matches('\u{feff}').to_lowercase())
            .collect()
    };
    let header = text.lines().next().map(cells).unwrap_or_default();
    let Some(columns) = TRUTH_HEADERS
        .iter()
        .find(|expected| {
            header
                .iter()
                .map(String::as_str)
                .eq(expected.iter().copied())
        })
        .map(|expected| expected.len())
    else {
        anyhow::bail!(
            "ligne 1 : en-tête « cip13;date_rupture » ou « cip13;date_rupture;date_fin » attendu, \
             « {} » trouvé",
            text.lines()
                .next()
                .unwrap_or_default()
                .trim_end_matches('\r')
                .chars()
                .take(80)
                .collect::<String>()
        );
    };
    let periods = columns == 3;
    for (i, line) in text
        .lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line_no = i + 1;
        let values: Vec<&str> = line
            .trim_end_matches('\r')
            .split(';')
            .map(str::trim)
            .collect();
        if values.len() != columns {
            anyhow::bail!(
                "ligne {line_no} : {columns} valeurs attendues comme l'en-tête, {} trouvées",
                values.len()
            );
        }
        let cip = Cip13::parse(values[0]).with_context(|| format!("ligne {line_no}"))?;
        let date = |cell: &str| {
            medistock_analytics::declaration::cells::parse_date(cell)
                .with_context(|| format!("ligne {line_no} : date illisible « {cell} »"))
        };
        let start = date(values[1])?;
        let end = match values.get(2).filter(|c| !c.is_empty()) {
            Some(cell) => date(cell)?,
            None if periods => NaiveDate::MAX,
            None => start,
        };
        if end < start {
            anyhow::bail!("ligne {line_no} : la fin de la rupture précède son début");
        }
        let lines = truth.entry(cip).or_default();
        if !periods && !lines.is_empty() {
            anyhow::bail!(
                "ligne {line_no} : {cip} a déjà une date de rupture (une ligne par référence ; \
                 les périodes s'écrivent cip13;date_rupture;date_fin)"
            );
        }
        lines.push((start, end));
    }
    for (cip, list) in truth.iter_mut() {
        list.sort_unstable();
        if let Some(pair) = list.windows(2).find(|pair| pair[1].0 <= pair[0].1) {
            anyhow::bail!(
                "{cip} : les périodes de rupture commençant le {} et le {} se chevauchent",
                medistock_domain::french::date(pair[0].0),
                medistock_domain::french::date(pair[1].0)
            );
        }
    }
    Ok((truth, periods))
}

/// A declaration file to replay: its declarant, name and path (read on its day, so that a
/// year of national files is never held in memory at once).
type DatedFile = (DeclarantId, String, PathBuf);

/// The arrival day a replayed file's name may start with: `2026-11-23__stocks.csv`.
fn arrival_day(name: &str) -> Option<NaiveDate> {
    let (day, _) = name.split_once("__")?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// Declaration files by the day they became known: the latest `date_stock` of their lines, or
/// the arrival day their name starts with if they arrived later. Each file is read and
/// validated once here and dropped; the replay reads it again on its day, so that a year of
/// national files is never held in memory. Also returns how many files could not be dated
/// (rejected whole by validation, or without a valid line): those are not replayed.
fn dated_files(inbox: &Path) -> anyhow::Result<(BTreeMap<NaiveDate, Vec<DatedFile>>, usize)> {
    let limits = Limits::default();
    let far = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default();
    let mut out: BTreeMap<NaiveDate, Vec<_>> = BTreeMap::new();
    let mut undated = 0;
    for dir in std::fs::read_dir(inbox).with_context(|| format!("{}", inbox.display()))? {
        let dir = dir?;
        let Ok(declarant) = DeclarantId::parse(&dir.file_name().to_string_lossy()) else {
            continue;
        };
        for file in std::fs::read_dir(dir.path())? {
            let file = file?;
            let name = file.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(file.path())?;
            let ctx = ValidationContext {
                declarant: Some(&declarant),
                today: far,
                limits: &limits,
                catalogue: None,
            };
            let lines = validate(&bytes, &name, &ctx)?.lines;
            if let Some(day) = lines
                .as_ref()
                .and_then(medistock_analytics::positions::latest_date)
            {
                // A file that arrived after the day it describes is known from its arrival.
                let day = arrival_day(&name).map_or(day, |arrived| arrived.max(day));
                out.entry(day)
                    .or_default()
                    .push((declarant.clone(), name, file.path()));
            } else {
                undated += 1;
            }
        }
    }
    for files in out.values_mut() {
        files.sort();
    }
    Ok((out, undated))
}

async fn replay(
    work: &Path,
    config: &RiskConfig,
    files: &BTreeMap<NaiveDate, Vec<DatedFile>>,
    first: NaiveDate,
    last: NaiveDate,
    calibration: &mut Calibration,
) -> anyhow::Result<(Levels, EscalationReasons, FileCounts)> {
    let backend = LocalBackend::open(work)?;
    let replay = Replay::new(&backend, config);
    let days = (last - first).num_days().max(0) as u64 + 1;
    let progress = ProgressBar::new(days).with_style(
        ProgressStyle::with_template("{bar:40} jour {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut levels = Levels::new();
    let mut reasons = EscalationReasons::new();
    // Files are known in the evening of the day they describe.
    let evening = NaiveTime::from_hms_opt(20, 0, 0).unwrap_or_default();
    for t in 0..days {
        let Some(day) = first.checked_add_days(Days::new(t)) else {
            break;
        };
        let mut contents = Vec::new();
        for (declarant, name, path) in files.get(&day).map(Vec::as_slice).unwrap_or_default() {
            let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
            contents.push((declarant, name, bytes));
        }
        let dropped: Vec<DayFile<'_>> = contents
            .iter()
            .map(|(declarant, name, bytes)| DayFile {
                declarant: declarant.as_str(),
                name,
                bytes,
            })
            .collect();
        replay
            .day(
                day,
                evening,
                &dropped,
                true,
                Recorded {
                    levels: &mut levels,
                    calibration: Some(&mut *calibration),
                    reasons: Some(&mut reasons),
                },
            )
            .await?;
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok((levels, reasons, replay.files()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_file_is_known_from_its_arrival_day() {
        assert_eq!(
            arrival_day("2026-11-23__stocks.csv"),
            NaiveDate::from_ymd_opt(2026, 11, 23)
        );
        assert_eq!(arrival_day("stocks_2026-11-23.csv"), None);
        assert_eq!(arrival_day("hier__stocks.csv"), None);
    }

    #[test]
    fn a_truth_file_not_in_utf8_is_refused_in_french() {
        let path = std::env::temp_dir().join(format!("ruptures-{}.csv", std::process::id()));
        std::fs::write(
            &path,
            b"cip13;date_rupture\n3400949497294;20/11/2026 \xe9t\xe9\n",
        )
        .unwrap();
        let error = format!("{:#}", read_truth(&path).expect_err("latin-1"));
        let _ = std::fs::remove_file(&path);
        assert!(error.contains("pas en UTF-8 (octet 45"), "{error}");
    }

    #[test]
    fn a_truth_holds_one_date_or_periods() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        let cip = Cip13::parse("3400949497294").unwrap();
        let (one, every) =
            parse_truth("cip13;date_rupture\n3400949497294;20/11/2026\r\n\n").unwrap();
        assert_eq!((&one[&cip][..], every), (&[(d(20), d(20))][..], false));
        let (periods, every) = parse_truth(
            "cip13;date_rupture;date_fin\n3400949497294;25/11/2026;28/11/2026\n\
             3400949497294;2026-11-02;04/11/2026\n",
        )
        .unwrap();
        assert_eq!(
            (&periods[&cip][..], every),
            (&[(d(2), d(4)), (d(25), d(28))][..], true)
        );
        // An empty end in the periods form: still running.
        let running = parse_truth("cip13;date_rupture;date_fin\n3400949497294;25/11/2026;\n");
        assert_eq!(running.unwrap().0[&cip], [(d(25), NaiveDate::MAX)]);
        // A header with a byte order mark and capitals is still the header.
        let marked = parse_truth("\u{feff}CIP13;Date_Rupture\n3400949497294;20/11/2026\n");
        assert_eq!(marked.unwrap().0[&cip], [(d(20), d(20))]);
        for (bad, why) in [
            (
                "cip13;date_rupture;date_fin\n3400949497294;28/11/2026;25/11/2026\n",
                "précède",
            ),
            ("cip13;date_rupture\n3400949497294\n", "2 valeurs attendues"),
            ("cip13;date_rupture\n3400949497294;demain\n", "illisible"),
            ("cip13;date_rupture\n3400949497295;20/11/2026\n", "ligne 2"),
            // A first line that is a stock-out, not a header, is refused: never skipped.
            (
                "3400949497294;20/11/2026\n3400949497294;25/11/2026\n",
                "en-tête",
            ),
            ("cip;date\n3400949497294;20/11/2026\n", "en-tête"),
            // An extra value is refused, not ignored.
            (
                "cip13;date_rupture\n3400949497294;20/11/2026;25/11/2026\n",
                "3 trouvées",
            ),
            (
                "cip13;date_rupture;date_fin\n3400949497294;20/11/2026\n",
                "2 trouvées",
            ),
            ("", "en-tête"),
            (
                "cip13;date_rupture\n3400949497294;20/11/2026\n3400949497294;25/11/2026\n",
                "déjà une date",
            ),
            (
                "cip13;date_rupture;date_fin\n3400949497294;20/11/2026;26/11/2026\n\
                 3400949497294;25/11/2026;28/11/2026\n",
                "se chevauchent",
            ),
            (
                "cip13;date_rupture;date_fin\n3400949497294;20/11/2026;\n\
                 3400949497294;25/11/2026;28/11/2026\n",
                "se chevauchent",
            ),
        ] {
            let error = format!("{:#}", parse_truth(bad).expect_err(bad));
            assert!(error.contains(why), "{bad}: {error}");
        }
    }
}
