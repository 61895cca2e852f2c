//! `medistock status`: every declarant's latest position for a reference.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use medistock_domain::Cip13;
use medistock_domain::store::{PositionStore, RiskStore};
use medistock_local::LocalBackend;
use serde_json::json;

#[derive(Args)]
pub struct StatusArgs {
    /// Code CIP13 (ou CIP7) de la référence.
    #[arg(value_parser = Cip13::parse)]
    cip13: Cip13,

    /// Sortie JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(data_dir: &Path, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let backend = LocalBackend::open(data_dir)?;
    let positions = backend.state.positions(&args.cip13).await?;
    let risk = backend
        .state
        .risk_items()
        .await?
        .into_iter()
        .find(|r| r.subject == args.cip13.as_str());
    let figures: Option<serde_json::Value> = risk
        .as_ref()
        .and_then(|r| serde_json::from_str(&r.figures).ok());
    if args.json {
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
        println!(
            "{}",
            json!({ "cip13": args.cip13.as_str(), "positions": positions, "risk": figures })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("Référence {}", args.cip13);
    if positions.is_empty() {
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
        Some(r) => println!(
            "  risque au {} : {}",
            medistock_domain::french::date(r.as_of),
            r.level.as_str()
        ),
        None => println!("  risque : pas encore calculé (medistock risk)"),
    }
    Ok(ExitCode::SUCCESS)
}
