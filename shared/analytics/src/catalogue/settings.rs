//! The monitoring settings CSV kept by ANSM: one line per reference with its threshold
//! overrides and whether it is on the 4-month safety-stock list.
//!
//! ```text
//! cip13;stock_securite_4_mois;seuil_vigilance_jours;seuil_tension_jours;seuil_critique_jours
//! 3400949497294;oui;90;45;10
//! ```
//! Only `cip13` is required; empty cells keep the defaults of the risk model.

use std::collections::BTreeMap;
use std::path::Path;

use super::CatalogueError;
use super::model::MonitoringSettings;
use crate::declaration::decode::decode_text;
use crate::declaration::format::fold_header;
use medistock_domain::Cip13;

/// Settings by reference, and the number of lines that could not be used.
pub fn load_settings(
    path: &Path,
) -> Result<(BTreeMap<Cip13, MonitoringSettings>, usize), CatalogueError> {
    let bytes = std::fs::read(path).map_err(|source| CatalogueError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_settings(&decode_text(&bytes).0).map_err(|reason| CatalogueError::Settings {
        path: path.to_owned(),
        reason,
    })
}

fn parse_settings(text: &str) -> Result<(BTreeMap<Cip13, MonitoringSettings>, usize), String> {
    let mut lines = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .ok_or("fichier vide")?
        .split(';')
        .map(fold_header)
        .collect();
    let position = |name: &str| header.iter().position(|h| h == name);
    let cip_at = position("cip13").ok_or("colonne cip13 absente de l'en-tête")?;
    let list_at = position("stocksecurite4mois");
    let vigilance_at = position("seuilvigilancejours");
    let tension_at = position("seuiltensionjours");
    let critique_at = position("seuilcritiquejours");

    let mut settings = BTreeMap::new();
    let mut rejected = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(';').map(str::trim).collect();
        let cell = |at: Option<usize>| {
            at.and_then(|i| cells.get(i))
                .copied()
                .filter(|c| !c.is_empty())
        };
        let days = |at: Option<usize>| cell(at).map(str::parse::<u32>).transpose();
        let flag = match cell(list_at).map(|c| c.to_lowercase()) {
            None => Some(false),
            Some(v) if ["oui", "o", "1", "x", "vrai"].contains(&v.as_str()) => Some(true),
            Some(v) if ["non", "n", "0", "faux"].contains(&v.as_str()) => Some(false),
            Some(_) => None,
        };
        let parsed = (
            Cip13::parse(cell(Some(cip_at)).unwrap_or("")),
            flag,
            days(vigilance_at),
            days(tension_at),
            days(critique_at),
        );
        match parsed {
            (Ok(cip), Some(flag), Ok(vigilance_days), Ok(tension_days), Ok(critique_days)) => {
                settings.insert(
                    cip,
                    MonitoringSettings {
                        safety_stock_4_months: flag,
                        vigilance_days,
                        tension_days,
                        critique_days,
                    },
                );
            }
            _ => rejected += 1,
        }
    }
    Ok((settings, rejected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_overrides_and_counts_bad_lines() {
        let text = "CIP13;Stock sécurité 4 mois;Seuil tension (jours)\n\
                    3400949497294;oui;45\n\
                    4949770;;\n\
                    3400949497295;oui;45\n\
                    3400949497294;peut-être;\n";
        let (settings, rejected) = parse_settings(text).unwrap();
        assert_eq!(settings.len(), 2);
        assert_eq!(rejected, 2);
        let s = &settings[&Cip13::parse("3400949497294").unwrap()];
        assert!(s.safety_stock_4_months);
        assert_eq!((s.tension_days, s.vigilance_days), (Some(45), None));
        assert!(!settings[&Cip13::parse("3400949497706").unwrap()].safety_stock_4_months);
    }

    #[test]
    fn a_header_without_cip13_is_an_error() {
        assert!(parse_settings("code;seuil\n1;2\n").is_err());
    }
}
