//! What the risk run needs besides the state: declarant types (`config/declarants.csv`) and
//! the monitored references with their settings (`config/references.csv`):
//!
//! ```text
//! cip13;denomination;groupe;mitm;seuil_vigilance_jours;seuil_tension_jours;seuil_critique_jours;stock_securite_mois
//! 3400949497294;ANASTROZOLE 1 mg;12;oui;;;;4
//! ```
//! Only `cip13` is required; empty cells keep the defaults.

use std::collections::{BTreeMap, HashMap};

use super::level::Thresholds;
use crate::declaration::format::fold_header;
use crate::registry::Registry;
use medistock_domain::{Cip13, DeclarantType};

/// Legal safety stock of manufacturers, in months: 1 week for ordinary medicines.
pub const SAFETY_MONTHS_DEFAULT: f64 = 0.25;
/// For MITM (R5124-49-4).
pub const SAFETY_MONTHS_MITM: f64 = 2.0;

/// A monitored reference.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceSettings {
    /// Name shown in alerts.
    pub denomination: String,
    /// Group of substitutable presentations, if any.
    pub group: Option<String>,
    /// Médicament d'intérêt thérapeutique majeur.
    pub mitm: bool,
    /// Thresholds for this reference.
    pub thresholds: Thresholds,
    /// Legal safety stock in months.
    pub safety_stock_months: f64,
}

/// Declarant types and monitored references.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RiskConfig {
    /// Type of each declarant id.
    pub kinds: HashMap<String, DeclarantType>,
    /// Monitored references.
    pub references: BTreeMap<Cip13, ReferenceSettings>,
}

impl RiskConfig {
    /// From the registry and the text of `config/references.csv` (if any).
    pub fn new(registry: &Registry, references_csv: Option<&str>) -> Result<Self, String> {
        let kinds = registry
            .declarants
            .values()
            .map(|d| (d.id.to_string(), d.kind))
            .collect();
        let references = match references_csv {
            Some(text) => parse_references(text)?,
            None => BTreeMap::new(),
        };
        Ok(Self { kinds, references })
    }

    /// Settings of a reference (defaults for one outside the list).
    pub fn settings(&self, cip13: &Cip13) -> ReferenceSettings {
        self.references
            .get(cip13)
            .cloned()
            .unwrap_or_else(|| ReferenceSettings {
                denomination: String::new(),
                group: None,
                mitm: false,
                thresholds: Thresholds::default(),
                safety_stock_months: SAFETY_MONTHS_DEFAULT,
            })
    }
}

/// Where the lake keeps the declarant registry.
pub const LAKE_REGISTRY_KEY: &str = "config/declarants.csv";
/// Where the lake keeps the monitored references.
pub const LAKE_REFERENCES_KEY: &str = "config/references.csv";

/// Why the configuration in the lake cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LakeConfigError {
    /// The lake cannot be read.
    #[error("{key} : {source}")]
    Store {
        /// Object.
        key: &'static str,
        /// Cause.
        source: medistock_domain::store::StoreError,
    },
    /// The registry is missing.
    #[error("{LAKE_REGISTRY_KEY} absent du lac : le type de chaque déclarant est nécessaire")]
    MissingRegistry,
    /// A file is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// The registry (required) and monitored references (optional) kept in the lake's `config/`.
pub async fn load_from_lake<O: medistock_domain::store::ObjectStore>(
    objects: &O,
    lake: &str,
) -> Result<(Registry, RiskConfig), LakeConfigError> {
    let read = |key: &'static str| async move {
        objects
            .get(lake, key)
            .await
            .map_err(|source| LakeConfigError::Store { key, source })
            .map(|o| o.map(|o| String::from_utf8_lossy(&o.bytes).into_owned()))
    };
    let registry_text = read(LAKE_REGISTRY_KEY)
        .await?
        .ok_or(LakeConfigError::MissingRegistry)?;
    let registry =
        Registry::parse(&registry_text).map_err(|e| LakeConfigError::Invalid(e.to_string()))?;
    let references = read(LAKE_REFERENCES_KEY).await?;
    let config =
        RiskConfig::new(&registry, references.as_deref()).map_err(LakeConfigError::Invalid)?;
    Ok((registry, config))
}

fn parse_references(text: &str) -> Result<BTreeMap<Cip13, ReferenceSettings>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or("config/references.csv est vide")?;
    let header: Vec<String> = header.split(';').map(fold_header).collect();
    let at = |name: &str| header.iter().position(|h| h == name);
    let cip_at = at("cip13").ok_or("config/references.csv : colonne cip13 absente")?;
    let columns = [
        at("denomination"),
        at("groupe"),
        at("mitm"),
        at("seuilvigilancejours"),
        at("seuiltensionjours"),
        at("seuilcritiquejours"),
        at("stocksecuritemois"),
    ];
    let mut out = BTreeMap::new();
    for (line_no, line) in lines {
        let cells: Vec<&str> = line.split(';').map(str::trim).collect();
        let cell = |i: Option<usize>| {
            i.and_then(|i| cells.get(i))
                .copied()
                .filter(|c| !c.is_empty())
        };
        let bad = |what: &str| format!("config/references.csv, ligne {line_no} : {what}");
        let cip =
            Cip13::parse(cell(Some(cip_at)).unwrap_or("")).map_err(|e| bad(&e.to_string()))?;
        let number = |i: Option<usize>, what: &str| {
            cell(i)
                .map(|v| v.replace(',', ".").parse::<f64>().map_err(|_| bad(what)))
                .transpose()
        };
        let mitm = matches!(
            cell(columns[2]).map(str::to_lowercase).as_deref(),
            Some("oui" | "o" | "1" | "vrai" | "x")
        );
        let defaults = Thresholds::default();
        let thresholds = Thresholds {
            vigilance_days: number(columns[3], "seuil_vigilance_jours")?
                .unwrap_or(defaults.vigilance_days),
            tension_days: number(columns[4], "seuil_tension_jours")?
                .unwrap_or(defaults.tension_days),
            critique_days: number(columns[5], "seuil_critique_jours")?
                .unwrap_or(defaults.critique_days),
            hysteresis: defaults.hysteresis,
        };
        let safety = number(columns[6], "stock_securite_mois")?.unwrap_or(if mitm {
            SAFETY_MONTHS_MITM
        } else {
            SAFETY_MONTHS_DEFAULT
        });
        out.insert(
            cip,
            ReferenceSettings {
                denomination: cell(columns[0]).unwrap_or_default().to_owned(),
                group: cell(columns[1]).map(str::to_owned),
                mitm,
                thresholds,
                safety_stock_months: safety,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_references_with_overrides_and_mitm_defaults() {
        let text = "cip13;denomination;groupe;mitm;seuil_tension_jours;stock_securite_mois\n\
                    3400949497294;ANASTROZOLE 1 mg;12;oui;45;\n\
                    3400949497706;ANASTROZOLE 1 mg x90;12;non;;4\n";
        let refs = parse_references(text).unwrap();
        let a = &refs[&Cip13::parse("3400949497294").unwrap()];
        assert_eq!(
            (
                a.mitm,
                a.thresholds.tension_days,
                a.safety_stock_months,
                a.group.as_deref()
            ),
            (true, 45.0, 2.0, Some("12"))
        );
        let b = &refs[&Cip13::parse("3400949497706").unwrap()];
        assert_eq!(
            (b.mitm, b.thresholds.tension_days, b.safety_stock_months),
            (false, 30.0, 4.0)
        );
    }

    #[test]
    fn a_bad_line_is_named() {
        let err =
            parse_references("cip13;seuil_tension_jours\n3400949497294;beaucoup\n").unwrap_err();
        assert_eq!(err, "config/references.csv, ligne 2 : seuil_tension_jours");
    }
}
