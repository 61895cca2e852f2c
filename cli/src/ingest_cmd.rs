//! `medistock ingest`: drops files into the local inbox and runs the same ingest core as the
//! Lambda, on the local backend.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{Duration, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use medistock_analytics::catalogue::load_catalogue_object;
use medistock_analytics::declaration::{Limits, Status};
use medistock_analytics::ingest::{InboxKey, IngestOutcome, IngestSettings, ingest_version};
use medistock_domain::DeclarantId;
use medistock_domain::store::AccountStore;
use medistock_domain::store::{ObjectStore, StoreError};
use medistock_local::{INBOX_BUCKET, LAKE_BUCKET, LocalBackend};

use crate::exit::{EXIT_LINE_ERRORS, EXIT_REJECTED, EXIT_USAGE};

#[derive(Args)]
pub struct IngestArgs {
    /// Fichiers de déclaration à déposer (CSV ou XLSX).
    #[arg(required = true)]
    files: Vec<PathBuf>,

    /// Déclarant pour le compte duquel les fichiers sont déposés (son dossier de dépôt).
    #[arg(long, value_parser = DeclarantId::parse)]
    declarant: DeclarantId,

    /// N'affiche pas les accusés de réception, seulement le bilan.
    #[arg(long)]
    quiet: bool,
}

pub async fn run(data_dir: &Path, args: &IngestArgs) -> anyhow::Result<ExitCode> {
    let backend = LocalBackend::open(data_dir)?;
    // As on AWS, where only an enabled account can log in and drop a file: once declarants
    // are registered, a file from anyone else, or from a disabled account, is refused.
    let accounts = backend.state.accounts().await?;
    if !accounts.is_empty() {
        match accounts.iter().find(|a| a.id == args.declarant) {
            None => {
                eprintln!(
                    "medistock : déclarant « {} » sans compte : inscrivez-le (medistock \
                     declarants add ou import)",
                    args.declarant
                );
                return Ok(ExitCode::from(EXIT_USAGE));
            }
            Some(account) if !account.enabled => {
                eprintln!(
                    "medistock : le compte du déclarant « {} » est désactivé (medistock \
                     declarants enable)",
                    args.declarant
                );
                return Ok(ExitCode::from(EXIT_USAGE));
            }
            Some(_) => {}
        }
    }
    let settings = IngestSettings {
        lake_bucket: LAKE_BUCKET.to_owned(),
        limits: Limits::default(),
        lease: Duration::minutes(5),
        catalogue: load_catalogue_object(&backend.objects, LAKE_BUCKET)
            .await?
            .map(std::sync::Arc::new),
    };
    let progress = ProgressBar::new(args.files.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} fichiers  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if args.files.len() < 2 {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut code = ExitCode::SUCCESS;
    let (mut applied, mut rejected, mut duplicates) = (0, 0, 0);
    for path in &args.files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        progress.set_message(name.clone());
        let key = format!("inbox/{}/{name}", args.declarant);
        // The inbox keeps every version: this command ingests the one it wrote, even when
        // another process drops a file under the same name at the same moment. The file is
        // copied by the file system, not read here: the ingest reads the version once.
        let version = match backend
            .objects
            .put_file(INBOX_BUCKET, &key, path, &Default::default())
            .await
        {
            Ok(version) => version,
            Err(StoreError::Io {
                path: failed,
                source,
            }) if failed == *path => {
                progress.suspend(|| {
                    eprintln!(
                        "medistock : fichier illisible : {} : {source}",
                        path.display()
                    )
                });
                return Ok(ExitCode::from(EXIT_USAGE));
            }
            Err(e) => return Err(e.into()),
        };
        let outcome = ingest_version(
            &backend.objects,
            &backend.state,
            &settings,
            INBOX_BUCKET,
            &key,
            version.as_deref(),
            Utc::now(),
        )
        .await
        .with_context(|| format!("dépôt de {}", path.display()))?;
        match &outcome {
            IngestOutcome::Applied { report, .. } => {
                applied += 1;
                if report.status == Status::AcceptedWithErrors && code == ExitCode::SUCCESS {
                    code = ExitCode::from(EXIT_LINE_ERRORS);
                }
            }
            IngestOutcome::Rejected { .. } => {
                rejected += 1;
                code = ExitCode::from(EXIT_REJECTED);
            }
            IngestOutcome::Duplicate { .. } => duplicates += 1,
            IngestOutcome::Ignored { reason } => anyhow::bail!("dépôt ignoré : {reason}"),
        }
        if !args.quiet {
            let receipt = InboxKey::parse(&key)
                .with_context(|| format!("nom de fichier refusé : {name}"))?
                .with_version(version.as_deref())
                .receipt_key("accuse.txt");
            if let Some(object) = backend.objects.get(INBOX_BUCKET, &receipt).await? {
                progress.suspend(|| println!("{}", String::from_utf8_lossy(&object.bytes)));
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    println!("{applied} fichier(s) appliqué(s), {rejected} rejeté(s), {duplicates} déjà reçu(s)");
    Ok(code)
}
