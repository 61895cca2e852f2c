//! `medistock status`: every declarant's latest position for a reference (or a group's
//! presentations), its risk, its alert state, and ANSM's measures on it with their impact
//! (figures before the measure's start and since).

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use medistock_analytics::catalogue::{Catalogue, load_catalogue_object};
use medistock_analytics::measures::{impact_line, impacts};
use medistock_analytics::registry::Registry;
use medistock_analytics::risk::config::RiskConfig;
use medistock_analytics::risk::{Assessment, PROBABILITY_WITHHELD, subject_members};
use medistock_domain::measure::{Measure, parse_subject};
use medistock_domain::store::{
    AccountStore, AlertStateStore, MeasureStore, PositionStore, RiskItem, RiskStore,
};
use medistock_domain::{Cip13, Level, paris_today};
use medistock_local::{LAKE_BUCKET, LocalBackend};
use serde_json::json;

#[derive(Args)]
pub struct StatusArgs {
    /// Code CIP13 (ou CIP7) de la référence, ou GROUPE#<identifiant> pour un groupe de
    /// présentations substituables.
    #[arg(value_name = "SUJET", value_parser = parse_subject)]
    subject: String,

    /// Sortie JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(data_dir: &Path, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let backend = LocalBackend::open(data_dir)?;
    // The catalogue's groups and names; a data directory without accounts or catalogue still
    // shows its positions.
    let accounts = backend.state.accounts().await?;
    let catalogue = load_catalogue_object(&backend.objects, LAKE_BUCKET).await?;
    let config = RiskConfig::new(
        &Registry::from_accounts(&accounts),
        catalogue.as_ref().unwrap_or(&Catalogue::default()),
    );
    let members = subject_members(&args.subject, &config);
    let cip13 = Cip13::parse(&args.subject).ok();
    let mut positions = Vec::new();
    if let Some(c) = &cip13 {
        positions = backend.state.positions(c).await?;
    }
    let items = backend.state.risk_items().await?;
    let risk = items.iter().find(|r| r.subject == args.subject).cloned();
    let today = paris_today();
    let as_of = risk.as_ref().map_or(today, |r| r.as_of);
    let alert_state = backend.state.alert_state(&args.subject).await?;
    let alert = risk
        .as_ref()
        .filter(|r| r.level >= Level::Tension)
        .map(|r| crate::alerts_cmd::open_subject(r, alert_state.as_ref(), today));
    let silence = alert_state
        .as_ref()
        .and_then(|s| s.silence_on(today))
        .cloned();
    // Measures on the subject, and on the group of a reference.
    let group_subject = cip13
        .as_ref()
        .and_then(|c| config.settings(c).group)
        .map(|g| RiskItem::group_subject(&g));
    let measures: Vec<Measure> = backend
        .state
        .measures()
        .await?
        .into_iter()
        .filter(|m| m.subject == args.subject || Some(&m.subject) == group_subject.as_ref())
        .collect();
    let impacts = impacts(
        &backend.objects,
        LAKE_BUCKET,
        &measures,
        &config,
        as_of,
        &[],
    )
    .await?;
    if args.json {
        let figures: Option<serde_json::Value> = risk
            .as_ref()
            .and_then(|r| serde_json::from_str(&r.figures).ok());
        let positions: Vec<_> = positions
            .iter()
            .map(|p| {
                json!({
                    "declarant": p.declarant.as_str(),
                    "date_stock": p.as_of.to_string(),
                    "stock": p.stock,
                    "daily_outflow": p.daily_outflow,
                    "source_sha256": p.source_sha256,
                })
            })
            .collect();
        let measures: Vec<_> = measures
            .iter()
            .zip(&impacts)
            .map(|(m, i)| {
                let mut value = crate::measures_cmd::measure_json(m);
                value["impact"] = serde_json::to_value(i).unwrap_or_default();
                value
            })
            .collect();
        println!(
            "{}",
            json!({
                "subject": args.subject,
                "cip13": cip13.map(|c| c.to_string()),
                "members": members,
                "positions": positions,
                "risk": figures,
                "alert": alert,
                "silence": silence.map(|s| json!({"until": s.until.to_string(), "by": s.by, "note": s.note})),
                "measures": measures,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    match &cip13 {
        Some(c) => println!("Référence {c} {}", config.settings(c).denomination),
        None => {
            println!(
                "Groupe {} : {} présentation(s)",
                args.subject,
                members.len()
            );
            for m in &members {
                let level = items
                    .iter()
                    .find(|i| &i.subject == m)
                    .map_or("non calculé", |i| i.level.as_str());
                println!("  {m} : {level}");
            }
        }
    }
    if positions.is_empty() && cip13.is_some() {
        println!("  aucune position déclarée");
    }
    for p in &positions {
        let outflow = p.daily_outflow.map_or_else(
            || "—".to_owned(),
            |o| format!("{o:.1}/jour").replace('.', ","),
        );
        println!(
            "  {:<24} stock au {} : {:>10} unités (bloquées {}), sorties {outflow}, {} site(s)",
            p.declarant,
            medistock_domain::french::date(p.as_of),
            p.stock,
            p.stock_bloque,
            p.sites
        );
        for s in &p.supplies {
            println!(
                "      approvisionnement attendu le {} : {} unités",
                medistock_domain::french::date(s.date),
                s.quantity
            );
        }
    }
    match &risk {
        Some(r) => {
            println!(
                "  risque au {} : {}",
                medistock_domain::french::date(r.as_of),
                r.level.as_str()
            );
            // A group's figures are its pooled ones (the alert shows them), not a
            // reference's assessment.
            if cip13.is_some() {
                for line in assessment_lines(&r.figures) {
                    println!("  {line}");
                }
            } else if let Some(figures) =
                serde_json::from_str::<medistock_analytics::risk::GroupAssessment>(&r.figures)
                    .ok()
                    .and_then(|g| g.figures_level)
            {
                println!(
                    "  {}",
                    medistock_analytics::risk::alert::held_note(r.level, figures)
                );
            }
        }
        None => println!("  risque : pas encore calculé (medistock risk)"),
    }
    if let Some(a) = &alert {
        let since = a["since"]
            .as_str()
            .and_then(|d| d.parse::<chrono::NaiveDate>().ok())
            .map(medistock_domain::french::date)
            .unwrap_or_default();
        println!(
            "  en tension depuis le {since} ; {}",
            a["acknowledged_by"].as_str().map_or_else(
                || "personne ne l'a pris en compte (medistock alerts ack)".to_owned(),
                |by| format!("pris en compte par {by}")
            )
        );
    }
    if let Some(s) = &silence {
        println!(
            "  en silence jusqu'au {} par {} : {}",
            medistock_domain::french::date(s.until),
            s.by,
            s.note
        );
    }
    if !measures.is_empty() {
        println!("  mesures :");
        for (m, i) in measures.iter().zip(&impacts) {
            println!(
                "    - {}{}",
                if m.subject == args.subject {
                    String::new()
                } else {
                    format!("[{}] ", m.subject)
                },
                impact_line(m, i)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `status` shows of the assessment stored with a RISK item (its figures): the
/// probability, the manufacturer's record, the stock-out without the announced supplies. An
/// assessment that does not read (written by another version) says so rather than nothing.
fn assessment_lines(figures: &str) -> Vec<String> {
    let a: Assessment = match serde_json::from_str(figures) {
        Ok(a) => a,
        Err(e) => {
            return vec![format!(
                "détail du calcul illisible (enregistré par une autre version de Medistock ?) : {e}"
            )];
        }
    };
    let mut lines = Vec::new();
    if let Some(note) = medistock_analytics::risk::alert::episode_note(&a) {
        lines.push(note);
    }
    if let Some(p) = a.probability {
        lines.push(format!("probabilité de rupture : {}", p.describe()));
        if let Some(record) = a.supply_record.describe(a.supply_record_used) {
            lines.push(format!("promesses de l'exploitant : {record}"));
        }
    } else if a.probability_withheld() {
        lines.push(format!("probabilité de rupture : {PROBABILITY_WITHHELD}"));
    }
    if let Some(date) = a.stockout_without_supplies {
        lines.push(format!(
            "sans les approvisionnements annoncés : rupture le {}",
            medistock_domain::french::date(date)
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assessment_that_does_not_read_is_said_so() {
        for figures in ["", "{pas du json", r#"{"cip13":"3400949497294"}"#] {
            let lines = assessment_lines(figures);
            assert_eq!(lines.len(), 1, "{figures}: {lines:?}");
            assert!(
                lines[0].starts_with("détail du calcul illisible"),
                "{figures}: {lines:?}"
            );
        }
    }
}
