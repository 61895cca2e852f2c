//! `medistock demo`: generates a realistic data set and runs the whole pipeline on it, day by
//! day, on the local backend: declarations dropped and ingested, the daily risk run, alerts;
//! then the alerts raised and the backtest scoreboard against the known truth.

use std::path::Path;
use std::process::ExitCode;

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Weekday};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use medistock_analytics::registry::Registry;
use medistock_analytics::report::Week;
use medistock_analytics::risk::Thresholds;
use medistock_analytics::risk::config::{ModelOptions, RiskConfig};
use medistock_cli::demo::{
    Calibration, DemoSpec, generate, score, single_days, unknown_after_first,
};
use medistock_domain::Level;
use medistock_domain::lifecycle::AlertPolicy;
use medistock_domain::lifecycle::AlertState;
use medistock_domain::measure::{Measure, MeasureKind};
use medistock_domain::relay::{Delivery, publish_pending};
use medistock_domain::store::{AccountStore, AlertStateStore, MeasureStore, RiskStore};

use medistock_local::{LAKE_BUCKET, LocalBackend, LocalNotifier};

use crate::replay::{DayFile, Levels, Recorded, Replay, print_scoreboard, tension_days};
use medistock_analytics::catalogue::{Catalogue, save_catalogue_object};

#[derive(Args)]
pub struct DemoArgs {
    /// Graine du générateur : la même graine donne les mêmes données.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Nombre de références (arrondi à des groupes de trois présentations).
    #[arg(long, default_value_t = 60)]
    references: usize,
    /// Nombre de jours simulés.
    #[arg(long, default_value_t = 150)]
    days: u32,
    /// Premier jour simulé.
    #[arg(long, default_value = "2026-08-01")]
    start: NaiveDate,
    /// Écrit aussi le tableau de bord en JSON dans ce fichier (évaluation sur plusieurs
    /// graines : scripts/evaluate.sh).
    #[arg(long, value_name = "FILE")]
    scoreboard: Option<std::path::PathBuf>,
    /// Rejoue le modèle sans ces signaux, pour mesurer l'apport de chacun : slip, stop,
    /// censored, local, undeclared ; +batches, +delay, +slip2 et +reliability ajoutent les
    /// signaux désactivés par défaut (voir medistock backtest --help).
    #[arg(long, value_name = "SIGNAUX", value_parser = ModelOptions::without)]
    without: Option<ModelOptions>,
    /// Seuil de TENSION (en jours, de 8 à 60 ; 30 par défaut) des références de la
    /// démonstration et de leurs groupes (voir medistock backtest --help).
    #[arg(long, value_name = "JOURS", value_parser = tension_days)]
    seuil_tension: Option<Thresholds>,
    /// Rejoue avec cette calibration de la probabilité de rupture (apprise par medistock
    /// calibration learn --output FICHIER) : la table de fiabilité dit alors ce que vaut la
    /// probabilité calibrée sur des données dont elle n'a pas été apprise.
    #[arg(long, value_name = "FILE")]
    calibration: Option<std::path::PathBuf>,
}

/// Days of history before the first risk run.
const WARM_UP_DAYS: u64 = 14;

pub async fn run(data_dir: &Path, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    if data_dir.exists() && std::fs::read_dir(data_dir)?.next().is_some() {
        anyhow::bail!(
            "le dossier de données {} n'est pas vide : la démonstration a besoin d'un dossier neuf (--data-dir AUTRE_DOSSIER)",
            data_dir.display()
        );
    }
    let spec = DemoSpec {
        seed: args.seed,
        references: args.references,
        days: args.days,
        start: args.start,
    };
    let set = generate(&spec);
    let registry = Registry::parse(&set.declarants_csv)?;
    // The demo's references are followed through the catalogue, like an import of ANSM's
    // settings CSV.
    let catalogue = Catalogue::from_settings_csv(&set.references_csv)?;
    let backend = LocalBackend::open(data_dir)?;
    save_catalogue_object(&backend.objects, LAKE_BUCKET, &catalogue).await?;
    // The demo's declarants get their accounts, like an import of config/declarants.csv.
    for account in registry.to_accounts() {
        backend.state.put_account(&account).await?;
    }
    let (registry, mut config) = crate::risk_cmd::load_config(&backend).await?;
    if let Some(thresholds) = args.seuil_tension {
        config = RiskConfig::with_defaults(&registry, &catalogue, thresholds);
    }
    if let Some(model) = args.without {
        config.model = model;
    }
    if let Some(path) = &args.calibration {
        config.calibration = Some(crate::calibration_cmd::read_map(path, &config.model)?);
    }
    let notifier = LocalNotifier::new(data_dir.join("alerts.jsonl"), false);
    let replay = Replay::new(&backend, &config);

    println!(
        "Démonstration : {} références, {} déclarants, {} jours à partir du {}, {} fichiers de déclaration",
        set.scenarios.len(),
        registry.declarants.len(),
        args.days,
        medistock_domain::french::date(args.start),
        set.files.len()
    );
    let progress = ProgressBar::new(u64::from(args.days)).with_style(
        ProgressStyle::with_template("{bar:40} jour {pos}/{len}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut levels = Levels::new();
    let (mut ingested, mut alerts) = (0, 0);
    let mut lifecycle_shown: Option<String> = None;
    let mut calibration = Calibration::new(
        unknown_after_first(&single_days(&set.truth)),
        args.start
            .checked_add_days(Days::new(u64::from(args.days.saturating_sub(1))))
            .unwrap_or(args.start),
    );
    let last_day = args
        .start
        .checked_add_days(Days::new(u64::from(args.days)))
        .unwrap_or(args.start);
    for t in 0..u64::from(args.days) {
        let Some(day) = args.start.checked_add_days(Days::new(t)) else {
            break;
        };
        let files: Vec<DayFile<'_>> = set
            .files
            .iter()
            .filter(|f| f.day == day)
            .map(|f| DayFile {
                declarant: &f.declarant,
                name: &f.name,
                bytes: f.content.as_bytes(),
            })
            .collect();
        ingested += files.len();
        let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default();
        if let Some(summary) = replay
            .day(
                day,
                nine,
                &files,
                t >= WARM_UP_DAYS,
                Recorded {
                    levels: &mut levels,
                    calibration: Some(&mut calibration),
                    reasons: None,
                },
            )
            .await?
        {
            // The weekly synthesis, as the Sunday schedule writes it on AWS.
            if day.weekday() == Weekday::Sun {
                crate::report_cmd::write(data_dir, &backend, &registry, &config, Week::of(day))
                    .await?;
            }
            let now = day.and_time(nine).and_utc();
            if lifecycle_shown.is_none() {
                lifecycle_shown = show_lifecycle(&backend, day, last_day, now).await?;
            }
            let delivery = Delivery {
                policy: AlertPolicy::default(),
                now,
            };
            let published = publish_pending(&backend.state, &notifier, &delivery).await?;
            alerts += published.sent + published.sms_held;
            let worst: Vec<String> = summary
                .levels
                .iter()
                .rev()
                .take(3)
                .map(|(l, n)| format!("{} {n}", l.as_str()))
                .collect();
            progress.set_message(format!(
                "{ingested} fichiers, {alerts} alertes — {}",
                worst.join(", ")
            ));
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    if let Some(text) = &lifecycle_shown {
        println!("{text}");
    }

    println!(
        "{ingested} fichiers ingérés, {alerts} alertes publiées dans {}",
        data_dir.join("alerts.jsonl").display()
    );
    println!();
    println!(
        "{:<14} {:<28} {:<10} {:>14} {:>14}",
        "cip13", "scénario", "niveau", "rupture réelle", "1re alerte"
    );
    for (cip, scenario) in &set.scenarios {
        let days = levels.get(cip).map(Vec::as_slice).unwrap_or_default();
        let last = days.last().map_or(Level::Normal, |(_, l)| *l);
        let first_alert = days
            .iter()
            .find(|(_, l)| *l >= Level::Tension)
            .map(|(d, _)| medistock_domain::french::date(*d));
        let truth = set
            .truth
            .get(cip)
            .map(|d| medistock_domain::french::date(*d));
        if truth.is_some() || first_alert.is_some() {
            println!(
                "{:<14} {:<28} {:<10} {:>14} {:>14}",
                cip.as_str(),
                scenario.label(),
                last.as_str(),
                truth.unwrap_or_else(|| "—".into()),
                first_alert.unwrap_or_else(|| "—".into())
            );
        }
    }
    let mut board = score(&levels, &set.truth);
    board.calibration_14d = calibration.rows(0);
    board.calibration_30d = calibration.rows(1);
    board.calibration_withheld = calibration.withheld_rows();
    board.brier = calibration.brier_rows();
    board.raw_probabilities = Some(calibration.observed(&config.model));
    if let Some(path) = &args.scoreboard {
        std::fs::write(path, serde_json::to_string(&board)?)?;
    }
    println!();
    println!("Tableau de bord (rejeu jour par jour) :");
    print_scoreboard(&board);
    let last_day = args
        .start
        .checked_add_days(Days::new(u64::from(args.days.saturating_sub(1))))
        .unwrap_or(args.start);
    let (report, path) =
        crate::report_cmd::write(data_dir, &backend, &registry, &config, Week::of(last_day))
            .await?;
    println!();
    println!(
        "Synthèses hebdomadaires : {} ; la dernière (semaine {}, {} références en vigilance ou pire) : {}",
        data_dir.join(LAKE_BUCKET).join("reports").display(),
        report.synthesis.week,
        report.synthesis.watched().count(),
        path.display()
    );
    println!();
    println!(
        "Suite : medistock --data-dir {} status <cip13>, report --week <AAAA-Wss> ou risk --as-of <date>",
        data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The analyst's side of the demo: on the first day two subjects are in TENSION or worse, the
/// first gets a measure (quotas) and the second is silenced until the end of the demo (an
/// import on its way), as ANSM would record them; the synthesis then shows both. Returns what
/// was done.
async fn show_lifecycle(
    backend: &LocalBackend,
    day: NaiveDate,
    until: NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Option<String>> {
    let mut open: Vec<_> = backend
        .state
        .risk_items()
        .await?
        .into_iter()
        .filter(|i| i.level >= Level::Tension && i.group().is_none())
        .collect();
    open.sort_by(|a, b| b.level.cmp(&a.level).then(a.subject.cmp(&b.subject)));
    let [first, second, ..] = open.as_slice() else {
        return Ok(None);
    };
    // A fixed id: the same seed gives the same demo, output included.
    let measure = Measure::new(
        format!("MES-{}-00000001", day.format("%Y%m%d")),
        &first.subject,
        MeasureKind::Contingentement,
        day,
        None,
        "Contingentement des livraisons aux officines (démonstration)",
        "ANSM, démonstration",
        now,
    )?;
    backend.state.put_measure(&measure, None).await?;
    let silence = AlertState::new(&second.subject)?.silenced(
        until,
        "ANSM, démonstration",
        "Importation d'une spécialité étrangère en cours (démonstration)",
        now,
    )?;
    backend.state.put_alert_state(&silence, None).await?;
    Ok(Some(format!(
        "Le {} (démonstration) : mesure {} « contingentement » sur {} ({}) ; {} ({}) mis en silence jusqu'au {} (medistock measures list, alerts list)",
        medistock_domain::french::date(day),
        measure.id,
        first.subject,
        first.level.as_str(),
        second.subject,
        second.level.as_str(),
        medistock_domain::french::date(until)
    )))
}
