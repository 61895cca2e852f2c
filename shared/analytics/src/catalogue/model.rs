//! What the catalogue holds.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use medistock_domain::Cip13;

/// A specialty (CIS): one medicine, all presentations together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Specialty {
    /// CIS code (8 digits).
    pub cis: String,
    /// Name, e.g. `AMOXICILLINE BIOGARAN 500 mg, gélule`.
    pub name: String,
    /// Pharmaceutical form.
    pub form: String,
    /// Routes of administration.
    pub routes: String,
    /// Holder(s) of the marketing authorisation.
    pub holder: String,
    /// Whether the specialty is marketed (`Commercialisée`).
    pub marketed: bool,
    /// Active substances with their dosage.
    pub substances: Vec<Substance>,
    /// Médicament d'intérêt thérapeutique majeur.
    pub mitm: bool,
    /// ATC code, when the MITM list gives it.
    pub atc: Option<String>,
    /// Generic group, if any.
    pub generic_group: Option<String>,
    /// Role in that group.
    pub generic_role: Option<GenericRole>,
}

/// An active substance of a specialty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Substance {
    /// BDPM substance code.
    pub code: String,
    /// Substance name (DCI).
    pub name: String,
    /// Dosage, e.g. `500 mg`.
    pub dosage: String,
}

/// Role of a specialty in its generic group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GenericRole {
    /// The reference medicine.
    Princeps,
    /// A generic.
    Generique,
    /// A generic by complementarity of posology.
    Complementaire,
    /// A substitutable generic.
    Substituable,
}

/// A group of substitutable specialties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenericGroup {
    /// BDPM group id.
    pub id: String,
    /// Group label (substance, dosage, form and princeps).
    pub label: String,
}

/// ANSM's current availability status for a presentation or a whole specialty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortageStatus {
    /// 1 rupture, 2 tension, 3 arrêt de commercialisation, 4 remise à disposition.
    pub code: u8,
    /// Label as published.
    pub label: String,
    /// Start of the status.
    pub since: Option<NaiveDate>,
    /// Last update by ANSM.
    pub updated: Option<NaiveDate>,
}

/// A presentation (CIP13): what declarations are about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presentation {
    /// The CIP13.
    pub cip13: Cip13,
    /// Its specialty.
    pub cis: String,
    /// Packaging label.
    pub label: String,
    /// Whether it is declared marketed.
    pub marketed: bool,
    /// ANSM's current status, if any.
    pub shortage: Option<ShortageStatus>,
}

/// ANSM's monitoring settings of one reference, from the settings CSV: every field overrides
/// what the BDPM says or the risk model's default; absent fields keep them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MonitoringSettings {
    /// Name shown in alerts (default: the specialty's name).
    pub denomination: Option<String>,
    /// Group of substitutable presentations followed together.
    pub group: Option<String>,
    /// MITM (default: the BDPM's MITM list).
    pub mitm: Option<bool>,
    /// On ANSM's list of MITM with repeated shortages: 4 months of safety stock.
    pub safety_stock_4_months: bool,
    /// Legal safety stock in months, when set explicitly.
    pub safety_stock_months: Option<f64>,
    /// Override of the VIGILANCE threshold, in days to stock-out.
    pub vigilance_days: Option<f64>,
    /// Override of the TENSION threshold, in days to stock-out.
    pub tension_days: Option<f64>,
    /// Override of the CRITIQUE threshold, in days to stock-out.
    pub critique_days: Option<f64>,
    /// The manufacturer's declarant account expected to declare this reference (the
    /// exploitant holding it). Until it declares the reference, its stock is unknown, not zero.
    pub exploitant: Option<medistock_domain::DeclarantId>,
}

/// The whole catalogue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalogue {
    /// Specialties by CIS.
    pub specialties: BTreeMap<String, Specialty>,
    /// Presentations by CIP13.
    pub presentations: BTreeMap<Cip13, Presentation>,
    /// Generic groups by id.
    pub generic_groups: BTreeMap<String, GenericGroup>,
    /// CIS on the MITM list (some may be absent from the specialties file).
    pub mitm_cis: BTreeSet<String>,
    /// Number of distinct shortage-status records read.
    pub shortage_statuses: usize,
    /// Monitoring settings by CIP13: the references ANSM follows, with their overrides.
    pub settings: BTreeMap<Cip13, MonitoringSettings>,
    /// Source lines that could not be used (wrong column count, invalid code…).
    pub rejected_lines: usize,
}

/// Counts of distinct items, as `medistock catalogue import --json` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CatalogueSummary {
    /// Specialties.
    pub cis: usize,
    /// Presentations.
    pub presentations: usize,
    /// Presentations declared marketed.
    pub marketed_presentations: usize,
    /// Specialties on the MITM list.
    pub mitm_cis: usize,
    /// Generic groups.
    pub generic_groups: usize,
    /// Distinct shortage-status records.
    pub shortage_statuses: usize,
    /// Source lines rejected.
    pub rejected_lines: usize,
}

impl Catalogue {
    /// A catalogue of monitoring settings only, from the settings CSV, without the BDPM (a
    /// demo, a replayed folder): the error names the first line refused.
    pub fn from_settings_csv(text: &str) -> Result<Catalogue, super::SettingsError> {
        let (settings, refused) = super::parse_settings(text)?;
        if let Some(first) = refused.first() {
            return Err(super::SettingsError::Line(first.clone()));
        }
        Ok(Catalogue {
            settings,
            ..Catalogue::default()
        })
    }

    /// Whether a reference is in the catalogue.
    pub fn contains(&self, cip: &Cip13) -> bool {
        if self.settings.contains_key(cip) {
            return true;
        }
        self.presentations.contains_key(cip)
    }

    /// The specialty of a presentation.
    pub fn specialty_of(&self, cip: &Cip13) -> Option<&Specialty> {
        self.presentations
            .get(cip)
            .and_then(|p| self.specialties.get(&p.cis))
    }

    /// Counts of distinct items.
    pub fn summary(&self) -> CatalogueSummary {
        CatalogueSummary {
            cis: self.specialties.len(),
            presentations: self.presentations.len(),
            marketed_presentations: self.presentations.values().filter(|p| p.marketed).count(),
            mitm_cis: self.mitm_cis.len(),
            generic_groups: self.generic_groups.len(),
            shortage_statuses: self.shortage_statuses,
            rejected_lines: self.rejected_lines,
        }
    }
}
