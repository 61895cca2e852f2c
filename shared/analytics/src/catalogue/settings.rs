//! The monitoring settings CSV kept by ANSM: the references it follows, one line each, with
//! what overrides the BDPM or the risk model's defaults. The one import format of monitored
//! references (`config/references.csv` of a demo or a replayed folder is read by it too).
//!
//! ```text
//! cip13;denomination;groupe;mitm;stock_securite_4_mois;stock_securite_mois;seuil_vigilance_jours;seuil_tension_jours;seuil_critique_jours;exploitant
//! 3400949497294;ANASTROZOLE 1 mg;12;oui;;;90;45;10;lab-1
//! ```
//! Only `cip13` is required; empty cells keep the defaults. `exploitant` is the declarant
//! account of the manufacturer expected to declare the reference (its stock is unknown, not
//! zero, until it does: `docs/risk-model.md`). A line that cannot be read is
//! refused with its number and reason; the others are kept.

use std::collections::BTreeMap;
use std::path::Path;

use super::CatalogueError;
use super::model::MonitoringSettings;
use crate::declaration::decode::decode_text;
use crate::declaration::format::fold_header;
use medistock_domain::{Cip13, DeclarantId};

/// Settings by reference, and why each refused line was refused (`ligne N : raison`).
pub type ParsedSettings = (BTreeMap<Cip13, MonitoringSettings>, Vec<String>);

/// Why a settings CSV cannot be read at all, or (for [`super::Catalogue::from_settings_csv`])
/// which line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// No line at all.
    #[error("fichier vide")]
    Empty,
    /// The header names no `cip13` column.
    #[error("colonne cip13 absente de l'en-tête")]
    NoCip13Column,
    /// A line was refused (`ligne N : raison`).
    #[error("{0}")]
    Line(String),
}

/// Reads the settings CSV at `path`.
pub fn load_settings(path: &Path) -> Result<ParsedSettings, CatalogueError> {
    let bytes = std::fs::read(path).map_err(|source| CatalogueError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_settings(&decode_text(&bytes).0).map_err(|source| CatalogueError::Settings {
        path: path.to_owned(),
        source,
    })
}

/// Parses the settings CSV; the error is a header without `cip13`.
pub fn parse_settings(text: &str) -> Result<ParsedSettings, SettingsError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(SettingsError::Empty)?;
    let header: Vec<String> = header.split(';').map(fold_header).collect();
    let at = |name: &str| header.iter().position(|h| h == name);
    let cip_at = at("cip13").ok_or(SettingsError::NoCip13Column)?;
    let columns = Columns {
        denomination: at("denomination"),
        group: at("groupe"),
        mitm: at("mitm"),
        list: at("stocksecurite4mois"),
        months: at("stocksecuritemois"),
        vigilance: at("seuilvigilancejours"),
        tension: at("seuiltensionjours"),
        critique: at("seuilcritiquejours"),
        exploitant: at("exploitant"),
    };
    let mut settings = BTreeMap::new();
    let mut refused = Vec::new();
    for (line_no, line) in lines {
        let cells: Vec<&str> = line.split(';').map(str::trim).collect();
        match read_line(&cells, cip_at, &columns) {
            Ok((cip, s)) => {
                settings.insert(cip, s);
            }
            Err(reason) => refused.push(format!("ligne {line_no} : {reason}")),
        }
    }
    Ok((settings, refused))
}

struct Columns {
    denomination: Option<usize>,
    group: Option<usize>,
    mitm: Option<usize>,
    list: Option<usize>,
    months: Option<usize>,
    vigilance: Option<usize>,
    tension: Option<usize>,
    critique: Option<usize>,
    exploitant: Option<usize>,
}

fn read_line(
    cells: &[&str],
    cip_at: usize,
    columns: &Columns,
) -> Result<(Cip13, MonitoringSettings), String> {
    let cell = |at: Option<usize>| {
        at.and_then(|i| cells.get(i))
            .copied()
            .filter(|c| !c.is_empty())
    };
    let cip_text = cell(Some(cip_at)).unwrap_or("");
    let cip = Cip13::parse(cip_text).map_err(|e| format!("cip13 « {cip_text} » : {e}"))?;
    let flag = |at: Option<usize>, name: &str| match cell(at).map(str::to_lowercase) {
        None => Ok(None),
        Some(v) if ["oui", "o", "1", "x", "vrai"].contains(&v.as_str()) => Ok(Some(true)),
        Some(v) if ["non", "n", "0", "faux"].contains(&v.as_str()) => Ok(Some(false)),
        Some(v) => Err(format!("{name} « {v} » : oui ou non attendu")),
    };
    let number = |at: Option<usize>, name: &str| {
        cell(at)
            .map(|v| {
                v.replace(',', ".")
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .ok_or_else(|| format!("{name} « {v} » : nombre positif attendu"))
            })
            .transpose()
    };
    Ok((
        cip,
        MonitoringSettings {
            denomination: cell(columns.denomination).map(str::to_owned),
            group: cell(columns.group).map(str::to_owned),
            mitm: flag(columns.mitm, "mitm")?,
            safety_stock_4_months: flag(columns.list, "stock_securite_4_mois")?.unwrap_or(false),
            safety_stock_months: number(columns.months, "stock_securite_mois")?,
            vigilance_days: number(columns.vigilance, "seuil_vigilance_jours")?,
            tension_days: number(columns.tension, "seuil_tension_jours")?,
            critique_days: number(columns.critique, "seuil_critique_jours")?,
            exploitant: cell(columns.exploitant)
                .map(|v| {
                    DeclarantId::parse(v).map_err(|_| {
                        format!(
                            "exploitant « {} » : identifiant de déclarant attendu (2 à {} \
                             lettres, chiffres, - ou _)",
                            crate::declaration::issues::bounded(v),
                            DeclarantId::MAX_LEN
                        )
                    })
                })
                .transpose()?,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manufacturer_named_is_a_declarant_id() {
        let text = "cip13;Exploitant\n3400949497294;LAB-1\n3400949497706;\n3400930000014;lab 2\n";
        let (settings, refused) = parse_settings(text).unwrap();
        let named = |cip: &str| settings[&Cip13::parse(cip).unwrap()].exploitant.clone();
        assert_eq!(
            named("3400949497294"),
            Some(DeclarantId::parse("lab-1").unwrap())
        );
        assert_eq!(named("3400949497706"), None);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].starts_with("ligne 4 : exploitant « lab 2 » : identifiant de déclarant"),
            "{refused:?}"
        );
    }

    #[test]
    fn reads_overrides_and_names_bad_lines() {
        let text = "CIP13;Stock sécurité 4 mois;Seuil tension (jours)\n\
                    3400949497294;oui;45\n\
                    4949770;;\n\
                    3400949497295;oui;45\n\
                    3400949497706;peut-être;\n\
                    3400949497706;non;beaucoup\n";
        let (settings, refused) = parse_settings(text).unwrap();
        assert_eq!(settings.len(), 2);
        assert_eq!(refused.len(), 3);
        assert!(
            refused[0].starts_with("ligne 4 : cip13 « 3400949497295 »"),
            "a CIP7 is read, a wrong check digit is not: {refused:?}"
        );
        assert_eq!(
            refused[1],
            "ligne 5 : stock_securite_4_mois « peut-être » : oui ou non attendu"
        );
        assert_eq!(
            refused[2],
            "ligne 6 : seuil_tension_jours « beaucoup » : nombre positif attendu"
        );
        let s = &settings[&Cip13::parse("3400949497294").unwrap()];
        assert!(s.safety_stock_4_months);
        assert_eq!((s.tension_days, s.vigilance_days), (Some(45.0), None));
    }

    #[test]
    fn reads_the_references_format_with_groups_and_mitm() {
        let text = "cip13;denomination;groupe;mitm;seuil_tension_jours;stock_securite_mois\n\
                    3400949497294;ANASTROZOLE 1 mg;12;oui;45;\n\
                    3400949497706;ANASTROZOLE 1 mg x90;12;non;;4\n";
        let (refs, refused) = parse_settings(text).unwrap();
        assert!(refused.is_empty());
        let a = &refs[&Cip13::parse("3400949497294").unwrap()];
        assert_eq!(
            (
                a.mitm,
                a.tension_days,
                a.safety_stock_months,
                a.group.as_deref()
            ),
            (Some(true), Some(45.0), None, Some("12"))
        );
        assert_eq!(a.denomination.as_deref(), Some("ANASTROZOLE 1 mg"));
        let b = &refs[&Cip13::parse("3400949497706").unwrap()];
        assert_eq!((b.mitm, b.safety_stock_months), (Some(false), Some(4.0)));
    }

    #[test]
    fn a_header_without_cip13_is_an_error() {
        assert!(parse_settings("code;seuil\n1;2\n").is_err());
    }
}
