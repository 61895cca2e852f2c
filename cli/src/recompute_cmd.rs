//! `medistock recompute`: an analyst asks the deployed `risk` function for an on-demand run
//! (AWS credentials and region from the usual chain: environment, profile, SSO).

use std::process::ExitCode;

use anyhow::Context;
use aws_sdk_lambda::primitives::Blob;
use chrono::NaiveDate;
use clap::Args;
use medistock_domain::Cip13;
use serde_json::{Value, json};

#[derive(Args)]
pub struct RecomputeArgs {
    /// Nom (ou ARN) de la fonction de calcul du risque déployée, par ex. medistock-prod-risk.
    #[arg(long)]
    function: String,

    /// Limite le calcul à ces références ; par défaut, toutes.
    #[arg(long, value_parser = Cip13::parse, num_args = 1..)]
    cip13: Vec<Cip13>,

    /// Date du calcul (AAAA-MM-JJ) ; par défaut aujourd'hui (heure de Paris).
    #[arg(long, value_name = "DATE")]
    as_of: Option<NaiveDate>,

    /// Calcule sans rien enregistrer ni alerter.
    #[arg(long)]
    dry_run: bool,
}

/// The on-demand payload of the risk function.
pub fn payload(args: &RecomputeArgs) -> Value {
    let scope = if args.cip13.is_empty() {
        json!("all")
    } else {
        json!({ "cip13": args.cip13.iter().map(Cip13::as_str).collect::<Vec<_>>() })
    };
    let mut payload = json!({ "scope": scope, "dry_run": args.dry_run });
    if let Some(as_of) = args.as_of {
        payload["as_of"] = json!(as_of.to_string());
    }
    payload
}

pub async fn run(args: &RecomputeArgs) -> anyhow::Result<ExitCode> {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let client = aws_sdk_lambda::Client::new(&sdk);
    let out = client
        .invoke()
        .function_name(&args.function)
        .payload(Blob::new(serde_json::to_vec(&payload(args))?))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(aws_sdk_lambda::error::DisplayErrorContext(e).to_string()))
        .with_context(|| format!("appel de la fonction {}", args.function))?;
    let body = out.payload.map(|p| p.into_inner()).unwrap_or_default();
    if let Some(error) = out.function_error {
        anyhow::bail!(
            "la fonction {} a échoué ({error}) : {}",
            args.function,
            String::from_utf8_lossy(&body)
        );
    }
    let summary: Value =
        serde_json::from_slice(&body).context("réponse illisible de la fonction")?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cip13: &[&str], as_of: Option<&str>, dry_run: bool) -> RecomputeArgs {
        RecomputeArgs {
            function: "f".into(),
            cip13: cip13.iter().map(|c| Cip13::parse(c).unwrap()).collect(),
            as_of: as_of.map(|d| d.parse().unwrap()),
            dry_run,
        }
    }

    #[test]
    fn payloads_match_what_the_risk_function_reads() {
        assert_eq!(
            payload(&args(&[], None, false)),
            json!({"scope": "all", "dry_run": false})
        );
        assert_eq!(
            payload(&args(&["4949729"], Some("2026-11-20"), true)),
            json!({"scope": {"cip13": ["3400949497294"]}, "as_of": "2026-11-20", "dry_run": true})
        );
    }
}
