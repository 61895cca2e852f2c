//! The receipt (accusé de réception) in French: the text the declarant reads through SFTP and
//! that `medistock validate` prints, and the CSV listing every rejected line.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::issues::LineIssue;
use super::report::{Status, ValidationReport};
use crate::csv_cell::csv_line;

/// How many line errors the text lists (all of them are in the CSV).
pub const ERRORS_IN_TEXT: usize = 20;
/// How many warnings the text lists.
pub const WARNINGS_IN_TEXT: usize = 10;

/// The receipt text.
pub fn receipt_text(report: &ValidationReport, received_at: DateTime<Utc>) -> String {
    let mut t = String::new();
    let counts = report.lines;
    let _ = writeln!(t, "ACCUSÉ DE RÉCEPTION — Medistock (ANSM)");
    let _ = writeln!(t);
    let _ = writeln!(t, "Fichier           : {}", report.file);
    let _ = writeln!(t, "Empreinte SHA-256 : {}", report.sha256);
    let _ = writeln!(
        t,
        "Reçu le           : {}",
        received_at.format("%d/%m/%Y à %H:%M:%S UTC")
    );
    if let Some(declarant) = &report.declarant {
        let _ = writeln!(t, "Déclarant         : {declarant}");
    }
    if let Some(read_as) = &report.read_as {
        let _ = writeln!(t, "Lu comme          : {read_as}");
    }
    let _ = writeln!(t, "Statut            : {}", report.status.label());
    if report.is_rejected() {
        let _ = writeln!(
            t,
            "Lignes            : {} lue(s) ({} sans erreur, {} en erreur), aucune prise en compte",
            counts.total, counts.accepted, counts.rejected
        );
    } else {
        let _ = writeln!(
            t,
            "Lignes            : {} lue(s), {} acceptée(s), {} rejetée(s)",
            counts.total, counts.accepted, counts.rejected
        );
    }
    let _ = writeln!(t);
    match report.status {
        Status::Accepted => {
            let _ = writeln!(t, "Toutes les lignes ont été prises en compte. Merci.");
        }
        Status::AcceptedWithErrors => {
            let _ = writeln!(
                t,
                "Les lignes valides ont été prises en compte. Les lignes rejetées ne le sont pas : \
                 corrigez-les et déposez-les dans un nouveau fichier."
            );
        }
        Status::Rejected => {
            let _ = writeln!(
                t,
                "Le fichier est REJETÉ : aucune ligne n'a été prise en compte."
            );
            for issue in &report.file_errors {
                let _ = writeln!(t, "  - {} [{}]", issue.message, issue.code.as_str());
            }
        }
    }
    section(&mut t, "Erreurs", &report.errors, ERRORS_IN_TEXT);
    section(&mut t, "Avertissements", &report.warnings, WARNINGS_IN_TEXT);
    if !report.errors.is_empty() {
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "La liste complète des lignes rejetées est jointe au format CSV."
        );
    }
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "Format attendu : voir le guide « Format des déclarations » (docs/format-declaration.md)."
    );
    t
}

fn section(t: &mut String, title: &str, issues: &[LineIssue], limit: usize) {
    if issues.is_empty() {
        return;
    }
    let _ = writeln!(t);
    if issues.len() > limit {
        let _ = writeln!(
            t,
            "{title} ({} au total, les {limit} premiers) :",
            issues.len()
        );
    } else {
        let _ = writeln!(t, "{title} ({}) :", issues.len());
    }
    for issue in issues.iter().take(limit) {
        let value = if issue.value.is_empty() {
            "(vide)".to_owned()
        } else {
            format!("« {} »", shorten(&issue.value))
        };
        let _ = writeln!(
            t,
            "  - ligne {}, colonne {}, valeur {value} : {} [{}]",
            issue.line,
            issue.column,
            issue.message,
            issue.code.as_str()
        );
    }
}

/// Long values (a whole truncated line) are cut for the text; the CSV has them whole.
fn shorten(value: &str) -> String {
    const MAX: usize = 60;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(MAX).collect::<String>())
    }
}

/// The CSV of rejected lines: `ligne;colonne;valeur;code;message`, one row per error.
pub fn errors_csv(report: &ValidationReport) -> String {
    let mut out = csv_line(["ligne", "colonne", "valeur", "code", "message"]);
    for issue in &report.errors {
        let line = issue.line.to_string();
        out.push_str(&csv_line([
            line.as_str(),
            &issue.column,
            &issue.value,
            issue.code.as_str(),
            &issue.message,
        ]));
    }
    out
}
