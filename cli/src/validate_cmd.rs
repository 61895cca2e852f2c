//! `medistock validate`: what a declarant runs before sending a file, and what ANSM runs to
//! understand a refusal. Prints the same receipt the SFTP folder gets.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use medistock_analytics::catalogue::{BDPM_FILES, Catalogue, load_bdpm, load_catalogue};
use medistock_analytics::declaration::receipt::receipt_text;
use medistock_analytics::declaration::{
    Limits, Status, ValidationContext, ValidationReport, oversized, validate_owned,
};
use medistock_domain::{DeclarantId, paris_date};
use medistock_local::LAKE_BUCKET;

use crate::exit::{EXIT_LINE_ERRORS, EXIT_REJECTED, EXIT_USAGE};

#[derive(Args)]
pub struct ValidateArgs {
    /// Fichiers à vérifier (CSV ou XLSX).
    #[arg(required = true)]
    files: Vec<PathBuf>,

    /// Identifiant du déclarant (celui de son dossier de dépôt) : vérifie la colonne
    /// `declarant` du fichier.
    #[arg(long, value_parser = DeclarantId::parse)]
    declarant: Option<DeclarantId>,

    /// Catalogue à utiliser pour signaler les références non suivies : un dossier de données
    /// où il a été importé, ou un dossier de fichiers BDPM. Par défaut, celui du dossier de
    /// données, s'il a été importé.
    #[arg(long, value_name = "DIR")]
    catalogue: Option<PathBuf>,

    /// Sortie JSON : un objet par fichier et par ligne.
    #[arg(long)]
    json: bool,
}

pub fn run(data_dir: &Path, args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let catalogue = match &args.catalogue {
        Some(dir) => Some(catalogue_from(dir)?),
        None => load_catalogue(&data_dir.join(LAKE_BUCKET))?,
    };
    let limits = Limits::default();
    let now = Utc::now();
    let ctx = ValidationContext {
        declarant: args.declarant.as_ref(),
        today: paris_date(now),
        limits: &limits,
        catalogue: catalogue.as_ref(),
    };
    let mut worst = Status::Accepted;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in &args.files {
        let report = match check_file(path, &ctx) {
            Ok(report) => report,
            Err(e) => {
                eprintln!("medistock : {e:#}");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        };
        worst = worse(worst, report.status);
        if args.json {
            writeln!(out, "{}", serde_json::to_string(&report)?)?;
        } else {
            writeln!(out, "{}", receipt_text(&report, now))?;
        }
    }
    Ok(match worst {
        Status::Accepted => ExitCode::SUCCESS,
        Status::AcceptedWithErrors => ExitCode::from(EXIT_LINE_ERRORS),
        Status::Rejected => ExitCode::from(EXIT_REJECTED),
    })
}

fn worse(a: Status, b: Status) -> Status {
    let rank = |s| match s {
        Status::Accepted => 0,
        Status::AcceptedWithErrors => 1,
        Status::Rejected => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// Validates one local file; a file above the size bound is refused without being loaded.
fn check_file(path: &Path, ctx: &ValidationContext<'_>) -> anyhow::Result<ValidationReport> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let size = std::fs::metadata(path)
        .with_context(|| format!("fichier illisible : {}", path.display()))?
        .len();
    if size > ctx.limits.max_file_bytes {
        let mut report = ValidationReport::new(
            &name,
            medistock_domain::sha256_hex_reader(std::fs::File::open(path)?)?,
            ctx.declarant.map(|d| d.to_string()),
        );
        report.reject(oversized(size, ctx.limits));
        return Ok(report);
    }
    let bytes =
        std::fs::read(path).with_context(|| format!("fichier illisible : {}", path.display()))?;
    let sha256 = medistock_domain::sha256_hex(&bytes);
    Ok(validate_owned(bytes, sha256, &name, ctx)?.report)
}

/// A catalogue from a data directory where one was imported, or from a folder of BDPM files.
fn catalogue_from(dir: &Path) -> anyhow::Result<Catalogue> {
    if let Some(catalogue) = load_catalogue(&dir.join(LAKE_BUCKET))? {
        return Ok(catalogue);
    }
    if dir.join(BDPM_FILES[0]).is_file() {
        return Ok(load_bdpm(dir)?);
    }
    anyhow::bail!(
        "{} ne contient ni catalogue importé (medistock catalogue import) ni fichiers BDPM",
        dir.display()
    )
}
