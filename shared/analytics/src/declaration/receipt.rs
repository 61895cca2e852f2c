//! The receipt (accusé de réception) in French: the text the declarant reads through SFTP and
//! that `medistock validate` prints, and the CSV listing every rejected line.

use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};

use super::issues::LineIssue;
use super::verdict::{Status, ValidationReport};
use crate::csv_cell::csv_line;
use medistock_domain::store::LedgerEntry;

/// How many line errors the text lists (all of them are in the CSV).
pub const ERRORS_IN_TEXT: usize = 20;
/// How many warnings the text lists.
pub const WARNINGS_IN_TEXT: usize = 10;

/// What applying an accepted file did to the positions held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplySummary {
    /// References whose position was updated.
    pub applied: usize,
    /// References (and site, when the file names sites) whose held figures are newer: a later
    /// date, or the same date from a file dropped later. Lines kept in history only.
    pub not_newer: Listed<(String, NaiveDate)>,
    /// References and sites whose figures of the same date, from an earlier file, this file
    /// replaced (a correction).
    pub corrected: Listed<(String, String)>,
    /// References and sites not recorded: the position already holds the most sites allowed.
    pub over_limit: Listed<(String, String)>,
}

/// The first [`ERRORS_IN_TEXT`] items of a list the receipt names, and how many there were:
/// a national file sent again has 3.6 million sites not newer than those held, of which the
/// receipt names 20; the others are counted, not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<T> {
    first: Vec<T>,
    total: usize,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Self {
            first: Vec::new(),
            total: 0,
        }
    }
}

impl<T> Listed<T> {
    /// Counts an item, built (by `item`) and kept only while fewer than [`ERRORS_IN_TEXT`]
    /// are.
    pub fn push_with(&mut self, item: impl FnOnce() -> T) {
        if self.first.len() < ERRORS_IN_TEXT {
            self.first.push(item());
        }
        self.total = self.total.saturating_add(1);
    }

    /// How many items were counted.
    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The items kept, the first counted.
    pub fn first(&self) -> &[T] {
        &self.first
    }

    /// Writes « … et N autre(s) » for the items counted and not kept, if any.
    fn write_others(&self, t: &mut String) {
        let others = self.total - self.first.len();
        if others > 0 {
            let _ = writeln!(t, "  - … et {others} autre(s)");
        }
    }
}

impl<T: PartialEq, const N: usize> PartialEq<[T; N]> for Listed<T> {
    fn eq(&self, other: &[T; N]) -> bool {
        self.total == N && self.first == other[..]
    }
}

/// The receipt text of a validation (what `medistock validate` prints).
pub fn receipt_text(report: &ValidationReport, received_at: DateTime<Utc>) -> String {
    receipt_text_applied(report, received_at, None)
}

/// The receipt text, with what applying the file did when it was applied.
pub fn receipt_text_applied(
    report: &ValidationReport,
    received_at: DateTime<Utc>,
    applied: Option<&ApplySummary>,
) -> String {
    let mut t = String::new();
    let counts = report.lines;
    let _ = writeln!(t, "ACCUSÉ DE RÉCEPTION — Medistock (ANSM)");
    let _ = writeln!(t);
    let _ = writeln!(t, "Fichier           : {}", report.file);
    let _ = writeln!(t, "Empreinte SHA-256 : {}", report.sha256);
    let _ = writeln!(
        t,
        "Reçu le           : {}",
        medistock_domain::french::instant(received_at)
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
    if let Some(applied) = applied {
        let _ = writeln!(t, "Références mises à jour : {}", applied.applied);
        if !applied.not_newer.is_empty() {
            let _ = writeln!(
                t,
                "Références non mises à jour ({}) : un stock plus récent (ou de même date reçu \
                 après ce fichier) est déjà connu ; ces lignes sont conservées dans l'historique.",
                applied.not_newer.len()
            );
            for (cip13, held) in applied.not_newer.first() {
                let _ = writeln!(
                    t,
                    "  - {cip13} : stock connu au {}",
                    medistock_domain::french::date(*held)
                );
            }
            applied.not_newer.write_others(&mut t);
        }
    }
    if let Some(applied) = applied {
        site_list(
            &mut t,
            &applied.corrected,
            "Corrections appliquées",
            "ce fichier complète ou remplace les chiffres de même date reçus auparavant pour \
             ces sites (les autres sites gardent leurs derniers chiffres)",
        );
        site_list(
            &mut t,
            &applied.over_limit,
            "Sites non enregistrés",
            "la position de la référence compte déjà le nombre maximal de sites ; \
             regroupez vos dépôts ou contactez l'ANSM",
        );
    }
    section(
        &mut t,
        "Erreurs",
        &report.errors,
        report.errors_omitted,
        ERRORS_IN_TEXT,
    );
    section(
        &mut t,
        "Avertissements",
        &report.warnings,
        report.warnings_omitted,
        WARNINGS_IN_TEXT,
    );
    if !report.errors.is_empty() {
        let _ = writeln!(t);
        if report.errors_omitted == 0 {
            let _ = writeln!(
                t,
                "La liste complète des lignes rejetées est jointe au format CSV."
            );
        } else {
            let _ = writeln!(
                t,
                "Les {} premières erreurs sont détaillées dans le CSV joint ; {} autre(s) ne le \
                 sont pas : corrigez d'abord celles-ci (souvent une même cause), puis déposez à \
                 nouveau le fichier.",
                report.errors.len(),
                report.errors_omitted
            );
        }
    }
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "Format attendu : voir le guide « Format des déclarations » (docs/format-declaration.md)."
    );
    t
}

fn site_list(t: &mut String, sites: &Listed<(String, String)>, title: &str, why: &str) {
    if sites.is_empty() {
        return;
    }
    let _ = writeln!(t, "{title} ({}) : {why}.", sites.len());
    for (cip13, site) in sites.first() {
        if site.is_empty() {
            let _ = writeln!(t, "  - {cip13}");
        } else {
            let _ = writeln!(t, "  - {cip13}, site « {} »", shorten(site));
        }
    }
    sites.write_others(t);
}

fn section(t: &mut String, title: &str, issues: &[LineIssue], omitted: usize, limit: usize) {
    if issues.is_empty() {
        return;
    }
    let _ = writeln!(t);
    let total = issues.len() + omitted;
    if total > limit {
        let _ = writeln!(t, "{title} ({total} au total, les {limit} premiers) :");
    } else {
        let _ = writeln!(t, "{title} ({total}) :");
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

/// Long values (a whole truncated line) are cut for the text; the CSV has them as kept (up to
/// 200 characters).
fn shorten(value: &str) -> String {
    const MAX: usize = 60;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(MAX).collect::<String>())
    }
}

/// The receipt of a file whose exact bytes were already received: nothing is applied again.
pub fn duplicate_receipt_text(
    file: &str,
    sha256: &str,
    received_at: DateTime<Utc>,
    first: &LedgerEntry,
) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "ACCUSÉ DE RÉCEPTION — Medistock (ANSM)");
    let _ = writeln!(t);
    let _ = writeln!(t, "Fichier           : {file}");
    let _ = writeln!(t, "Empreinte SHA-256 : {sha256}");
    let _ = writeln!(
        t,
        "Reçu le           : {}",
        medistock_domain::french::instant(received_at)
    );
    let _ = writeln!(t, "Déclarant         : {}", first.declarant);
    let _ = writeln!(t, "Statut            : DÉJÀ REÇU");
    let _ = writeln!(t);
    let first_name = first.key.rsplit('/').next().unwrap_or(&first.key);
    let _ = writeln!(
        t,
        "Ce fichier (mêmes octets) a déjà été reçu le {} sous le nom « {first_name} » : \
         il n'est pas pris en compte une seconde fois.",
        medistock_domain::french::instant(first.received_at),
    );
    t
}

/// The CSV of rejected lines: `ligne;colonne;valeur;code;message`, one row per error. It starts
/// with a UTF-8 byte-order mark: without it, Excel reads the file as Windows-1252 and garbles
/// the accents of the messages.
pub fn errors_csv(report: &ValidationReport) -> String {
    let mut out = String::from('\u{feff}');
    out.push_str(&csv_line(["ligne", "colonne", "valeur", "code", "message"]));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A national file sent again: millions of sites not newer are counted, twenty are named
    /// (and built), and the receipt says how many others there were.
    #[test]
    fn the_receipt_names_twenty_sites_and_counts_the_others() {
        let mut summary = ApplySummary::default();
        let mut built = 0;
        let held: NaiveDate = "2026-11-20".parse().unwrap();
        for i in 0..250_000 {
            summary.not_newer.push_with(|| {
                built += 1;
                (format!("34009{i:08}"), held)
            });
            summary
                .corrected
                .push_with(|| (format!("34009{i:08}"), "Lyon".to_owned()));
        }
        assert_eq!(built, ERRORS_IN_TEXT);
        assert_eq!(summary.not_newer.len(), 250_000);
        assert_eq!(summary.not_newer.first().len(), ERRORS_IN_TEXT);
        assert_eq!(summary.not_newer.first()[0].0, "3400900000000");
        let report = ValidationReport::new("s47.csv", "ab".into(), Some("gr-1".into()));
        let at = "2026-11-23T09:00:00Z".parse().unwrap();
        let text = receipt_text_applied(&report, at, Some(&summary));
        assert!(
            text.contains("Références non mises à jour (250000)"),
            "{text}"
        );
        assert!(
            text.contains("  - 3400900000019 : stock connu au"),
            "{text}"
        );
        assert!(!text.contains("3400900000020"), "{text}");
        assert_eq!(text.matches("… et 249980 autre(s)").count(), 2, "{text}");
        assert!(text.contains("Corrections appliquées (250000)"), "{text}");
        // Counted at the bound: twenty are named and nothing is said of others.
        let mut twenty = Listed::default();
        for i in 0..ERRORS_IN_TEXT {
            twenty.push_with(|| i);
        }
        assert_eq!((twenty.len(), twenty.first().len()), (20, 20));
        assert!(!twenty.is_empty() && Listed::<u8>::default().is_empty());
    }
}
