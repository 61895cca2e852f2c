//! What the risk run needs besides the state: each declarant's type (its account) and each
//! reference's settings, taken from the catalogue ([`crate::catalogue`]), the one source of
//! reference settings: the references ANSM follows with their overrides (groups, MITM,
//! thresholds, safety stock), and for every other presentation its name and MITM status from
//! the BDPM.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::assess::Assessment;
use super::calibration::{
    CALIBRATION_FILE, CalibrationError, CalibrationMap, load_calibration_object,
};
use super::level::Thresholds;
use crate::catalogue::{
    CATALOGUE_FILE, Catalogue, CatalogueError, MonitoringSettings, load_catalogue_object,
};
use crate::registry::Registry;
use medistock_domain::store::{AccountStore, ObjectStore};
use medistock_domain::{Cip13, DeclarantType};

/// Legal safety stock of manufacturers, in months: 1 week for ordinary medicines.
pub const SAFETY_MONTHS_DEFAULT: f64 = 0.25;
/// For MITM (R5124-49-4).
pub const SAFETY_MONTHS_MITM: f64 = 2.0;
/// For the MITM on ANSM's list of repeated shortages.
pub const SAFETY_MONTHS_LIST: f64 = 4.0;

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
    /// The manufacturer's account expected to declare the reference (ANSM's `exploitant`).
    pub exploitant: Option<medistock_domain::DeclarantId>,
}

/// Declarant types and reference settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RiskConfig {
    /// Type of each declarant id.
    pub kinds: HashMap<String, DeclarantType>,
    /// The manufacturers expected to declare: enabled accounts of type exploitant with a
    /// cadence (`aucune` expects nothing). Only they are awaited for the references ANSM
    /// names them for.
    pub expected_manufacturers: BTreeSet<String>,
    /// The references ANSM follows (the catalogue's monitoring settings): always assessed,
    /// and the only ones grouped.
    pub references: BTreeMap<Cip13, ReferenceSettings>,
    /// Every other presentation of the catalogue: its name and MITM status.
    known: BTreeMap<Cip13, ReferenceSettings>,
    /// Which of the model's signals are used (all by default; the backtest turns them off one
    /// by one to measure each).
    pub model: ModelOptions,
    /// The thresholds of a reference whose monitoring settings set none, and of the groups
    /// (the model's defaults; a replay may try others: `medistock backtest --seuil-tension`).
    /// Set once, with the references' settings ([`RiskConfig::with_defaults`]).
    defaults: Thresholds,
    /// The calibration of the probability of a stock-out, when one was learnt
    /// ([`super::calibration`]): the model's figures are kept beside the calibrated ones.
    pub calibration: Option<CalibrationMap>,
}

/// The model's signals that can be turned off, to measure what each brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelOptions {
    /// Announced supplies are not counted when one slipped.
    pub slipped_supplies: bool,
    /// Announced supplies are not counted when a production stop is suspected.
    pub production_stop: bool,
    /// Days the wholesalers ran dry are left out of the demand.
    pub censored_demand: bool,
    /// Empty depots behind a full chain raise VIGILANCE.
    pub local_shortage: bool,
    /// A manufacturer whose habit is to announce nothing has its next batch expected at the
    /// rhythm its stock showed. Off by default: measured, it cost more 30-day warnings than it
    /// saved false alerts (docs/risk-model.md).
    pub inferred_batches: bool,
    /// A slipped supply is expected as late again as it already is, instead of not at all.
    /// Off by default (measured: docs/risk-model.md).
    pub delayed_supplies: bool,
    /// A supply is doubted from its second push back only, not its first. Off by default
    /// (measured: docs/risk-model.md).
    pub slip_twice: bool,
    /// The probability of a stock-out takes the chances that an announced supply arrives from
    /// the manufacturer's own record of promises ([`super::SupplyRecord`]) instead of the
    /// model's defaults. Off by default: measured, it did not make the probability better
    /// calibrated (docs/risk-model.md). The record is shown either way.
    pub learnt_reliability: bool,
    /// Where manufacturers take part, a reference no manufacturer has declared is not
    /// escalated to TENSION on the wholesalers' stock alone (CRITIQUE and RUPTURE still show).
    /// On by default (measured: docs/risk-model.md); `--without undeclared` turns it off.
    pub undeclared_manufacturers: bool,
    /// An alert episode ends with the return to normal: a reference at TENSION or worse is
    /// held at TENSION while its figures only go back to VIGILANCE (no message is sent for that
    /// step down, so the alert ANSM received stays open), and leaves it at NORMAL. On by
    /// default (measured: docs/risk-model.md); `--without episode` turns it off.
    pub episode_hold: bool,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            slipped_supplies: true,
            production_stop: true,
            censored_demand: true,
            local_shortage: true,
            inferred_batches: false,
            delayed_supplies: false,
            slip_twice: false,
            learnt_reliability: false,
            undeclared_manufacturers: true,
            episode_hold: true,
        }
    }
}

/// What naming a signal does to the options.
type Signal = fn(&mut ModelOptions);

/// Each name [`ModelOptions::without`] accepts and what it does: the signals turned off, then
/// (`+`) those turned on. The one list the parser, its error and the deployment's parameter
/// pattern (tested in `infra/`) are read from.
const SIGNALS: [(&str, Signal); 11] = [
    ("slip", |o| o.slipped_supplies = false),
    ("stop", |o| o.production_stop = false),
    ("censored", |o| o.censored_demand = false),
    ("local", |o| o.local_shortage = false),
    ("undeclared", |o| o.undeclared_manufacturers = false),
    ("episode", |o| o.episode_hold = false),
    ("batches", |o| o.inferred_batches = false),
    ("+batches", |o| o.inferred_batches = true),
    ("+delay", |o| o.delayed_supplies = true),
    ("+slip2", |o| o.slip_twice = true),
    ("+reliability", |o| o.learnt_reliability = true),
];

/// Version of the model's figures, in [`ModelOptions::signature`]: raised by a change that
/// makes the model give other probabilities for the same declarations, so that a calibration
/// learnt before ([`super::calibration`]) is set aside instead of mapping figures it never saw.
pub const MODEL_VERSION: u32 = 1;

/// The options a signature is written against: the defaults when [`MODEL_VERSION`] 1 was set,
/// fixed here so that a later change of the defaults changes the defaults' signature instead of
/// giving `v1` another meaning.
const SIGNATURE_BASELINE: ModelOptions = ModelOptions {
    slipped_supplies: true,
    production_stop: true,
    censored_demand: true,
    local_shortage: true,
    inferred_batches: false,
    delayed_supplies: false,
    slip_twice: false,
    learnt_reliability: false,
    undeclared_manufacturers: true,
    episode_hold: true,
};

impl ModelOptions {
    /// The model these options make, as a calibration records it: [`MODEL_VERSION`], then the
    /// names of [`ModelOptions::without`] that give these options from a fixed baseline (today's
    /// defaults: `v1` for them, `v1,episode,+reliability`…). Two different options never share
    /// one.
    pub fn signature(&self) -> String {
        let defaults = SIGNATURE_BASELINE;
        let mut signature = format!("v{MODEL_VERSION}");
        for (name, apply) in SIGNALS {
            let mut changed = defaults;
            apply(&mut changed);
            let mut here = *self;
            apply(&mut here);
            if changed != defaults && here == *self {
                signature.push(',');
                signature.push_str(name);
            }
        }
        signature
    }

    /// Every name [`ModelOptions::without`] accepts, in the order of [`SIGNALS`].
    pub fn names() -> impl Iterator<Item = &'static str> {
        SIGNALS.iter().map(|(name, _)| *name)
    }

    /// The default signals but those named (`slip`, `stop`, `censored`, `local`,
    /// `undeclared`, `episode`, `batches`, comma-separated), and with those named `+batches`,
    /// `+delay`, `+slip2`, `+reliability` (the ones off by default).
    pub fn without(names: &str) -> Result<Self, String> {
        let mut o = Self::default();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let Some((_, apply)) = SIGNALS.iter().find(|(known, _)| *known == name) else {
                let known: Vec<&str> = Self::names().collect();
                return Err(format!(
                    "signal inconnu « {} » : {} (les noms en + ajoutent un signal désactivé par défaut)",
                    name.chars().take(40).collect::<String>(),
                    known.join(", ")
                ));
            };
            apply(&mut o);
        }
        Ok(o)
    }
}

impl RiskConfig {
    /// From the registry and the catalogue, with the model's default thresholds.
    pub fn new(registry: &Registry, catalogue: &Catalogue) -> Self {
        Self::with_defaults(registry, catalogue, Thresholds::default())
    }

    /// From the registry and the catalogue, `defaults` standing for the thresholds the
    /// monitoring settings leave out (ANSM's own values for a reference still win).
    pub fn with_defaults(registry: &Registry, catalogue: &Catalogue, defaults: Thresholds) -> Self {
        let kinds = registry
            .declarants
            .values()
            .map(|d| (d.id.to_string(), d.kind))
            .collect();
        let expected_manufacturers = registry
            .declarants
            .values()
            .filter(|d| {
                d.kind == DeclarantType::Exploitant
                    && d.enabled
                    && d.cadence != Some(medistock_domain::account::Cadence::Aucune)
            })
            .map(|d| d.id.to_string())
            .collect();
        let references = catalogue
            .settings
            .iter()
            .map(|(cip, s)| (*cip, settings_of(catalogue, cip, Some(s), &defaults)))
            .collect();
        let known = catalogue
            .presentations
            .keys()
            .filter(|cip| !catalogue.settings.contains_key(cip))
            .map(|cip| (*cip, settings_of(catalogue, cip, None, &defaults)))
            .collect();
        Self {
            kinds,
            expected_manufacturers,
            references,
            known,
            model: ModelOptions::default(),
            defaults,
            calibration: None,
        }
    }

    /// The calibration a run applies: the map set, when it was learnt with this model. A map
    /// of another model is never applied, whoever set it (the loaders refuse it with the
    /// reason). Asked once per run, not per assessment.
    pub fn calibration_in_use(&self) -> Option<&CalibrationMap> {
        self.calibration
            .as_ref()
            .filter(|map| map.fits(&self.model).is_ok())
    }

    /// `assessment` calibrated by [`RiskConfig::calibration_in_use`] (see
    /// [`super::calibration::calibrated`]).
    pub fn calibrated(&self, assessment: Assessment) -> Assessment {
        super::calibration::calibrated(self.calibration_in_use(), assessment)
    }

    /// The thresholds of a reference whose monitoring settings set none, and of the groups.
    pub fn defaults(&self) -> &Thresholds {
        &self.defaults
    }

    /// What a reader knows a subject as: a reference's denomination (empty outside the
    /// catalogue), `groupe <id>` for a group.
    pub fn label(&self, subject: &str) -> String {
        match subject.strip_prefix(medistock_domain::store::GROUP_SUBJECT_PREFIX) {
            Some(g) => format!("groupe {g}"),
            None => Cip13::parse(subject)
                .map(|c| self.settings(&c).denomination)
                .unwrap_or_default(),
        }
    }

    /// The references whose `exploitant` names no manufacturer's account (an id nobody
    /// registered, or a wholesaler's): they await nobody, which [`Self::warn_unknown_exploitants`]
    /// logs where a configuration is loaded, so that a typo in the settings does not go
    /// unnoticed.
    pub fn unknown_exploitants(&self) -> Vec<(Cip13, &medistock_domain::DeclarantId)> {
        self.references
            .iter()
            .filter_map(|(cip13, s)| s.exploitant.as_ref().map(|id| (*cip13, id)))
            .filter(|(_, id)| self.kinds.get(id.as_str()) != Some(&DeclarantType::Exploitant))
            .collect()
    }

    /// Logs [`Self::unknown_exploitants`] once, where a configuration is loaded.
    pub fn warn_unknown_exploitants(&self) {
        let unknown = self.unknown_exploitants();
        if let Some((cip13, id)) = unknown.first() {
            tracing::warn!(
                references = unknown.len(),
                premiere = %cip13,
                exploitant = %id,
                "exploitant nommé dans les paramètres de suivi sans compte de laboratoire \
                 exploitant : ces références n'attendent personne"
            );
        }
    }

    /// Settings of a reference: ANSM's if it follows it, the catalogue's name and MITM status
    /// otherwise, the defaults for a reference outside the catalogue.
    pub fn settings(&self, cip13: &Cip13) -> ReferenceSettings {
        self.references
            .get(cip13)
            .or_else(|| self.known.get(cip13))
            .cloned()
            .unwrap_or_else(|| ReferenceSettings {
                denomination: String::new(),
                group: None,
                mitm: false,
                thresholds: self.defaults,
                safety_stock_months: SAFETY_MONTHS_DEFAULT,
                exploitant: None,
            })
    }
}

/// A reference's settings: ANSM's overrides first, then the BDPM, then the model's defaults.
fn settings_of(
    catalogue: &Catalogue,
    cip13: &Cip13,
    monitoring: Option<&MonitoringSettings>,
    defaults: &Thresholds,
) -> ReferenceSettings {
    let empty = MonitoringSettings::default();
    let m = monitoring.unwrap_or(&empty);
    let specialty = catalogue.specialty_of(cip13);
    let mitm = m.mitm.unwrap_or_else(|| specialty.is_some_and(|s| s.mitm));
    let denomination = m
        .denomination
        .clone()
        .or_else(|| specialty.map(|s| s.name.clone()))
        .unwrap_or_default();
    ReferenceSettings {
        denomination,
        group: m.group.clone(),
        mitm,
        thresholds: Thresholds {
            vigilance_days: m.vigilance_days.unwrap_or(defaults.vigilance_days),
            tension_days: m.tension_days.unwrap_or(defaults.tension_days),
            critique_days: m.critique_days.unwrap_or(defaults.critique_days),
            hysteresis: defaults.hysteresis,
        },
        exploitant: m.exploitant.clone(),
        safety_stock_months: m.safety_stock_months.unwrap_or(if m.safety_stock_4_months {
            SAFETY_MONTHS_LIST
        } else if mitm {
            SAFETY_MONTHS_MITM
        } else {
            SAFETY_MONTHS_DEFAULT
        }),
    }
}

/// Why a deployment's configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LakeConfigError {
    /// The accounts cannot be read.
    #[error("comptes des déclarants : {0}")]
    Accounts(#[source] medistock_domain::store::StoreError),
    /// No declarant has an account: nobody's stock would count as it should.
    #[error(
        "aucun déclarant inscrit : le type de chaque déclarant est nécessaire au calcul \
         (medistock declarants add, ou medistock declarants import config/declarants.csv)"
    )]
    NoAccounts,
    /// The catalogue cannot be read.
    #[error("{CATALOGUE_FILE} : {0}")]
    Catalogue(#[from] CatalogueError),
    /// The calibration of the probability cannot be read.
    #[error("{CALIBRATION_FILE} : {0}")]
    Calibration(#[from] CalibrationError),
}

impl LakeConfigError {
    /// Whether a retry can help: a store that failed may answer next time; missing accounts or
    /// a catalogue that does not decode need an operator.
    pub fn retry(&self) -> medistock_domain::env::Retry {
        match self {
            LakeConfigError::Accounts(e)
            | LakeConfigError::Catalogue(CatalogueError::Store(e))
            | LakeConfigError::Calibration(CalibrationError::Store(e)) => e.retry(),
            _ => medistock_domain::env::Retry::Useless,
        }
    }
}

/// A deployment's configuration, on AWS and locally alike: the declarants' types from their
/// accounts (at least one is required), and the catalogue kept in the lake
/// (`catalogue/catalogue.json`; without one, every reference keeps the defaults, which is
/// logged, and the caller is told by `None`). The risk run adds [`load_calibration`].
pub async fn load_config<O: ObjectStore, A: AccountStore>(
    objects: &O,
    accounts: &A,
    lake: &str,
) -> Result<(Registry, RiskConfig, Option<Catalogue>), LakeConfigError> {
    let registry = Registry::from_accounts(
        &accounts
            .accounts()
            .await
            .map_err(LakeConfigError::Accounts)?,
    );
    if registry.declarants.is_empty() {
        return Err(LakeConfigError::NoAccounts);
    }
    let catalogue = load_catalogue_object(objects, lake).await?;
    if catalogue.is_none() {
        tracing::warn!(
            key = CATALOGUE_FILE,
            "catalogue absent du lac : paramètres par défaut pour toutes les références"
        );
    }
    let config = RiskConfig::new(
        &registry,
        catalogue.as_ref().unwrap_or(&Catalogue::default()),
    );
    config.warn_unknown_exploitants();
    Ok((registry, config, catalogue))
}

/// The calibration of the probability kept beside the catalogue (`catalogue/calibration.json`),
/// for the risk run (the only reader of the probability). A map is an indication's refinement:
/// one that does not read, or was learnt with another model than `model`, is logged as an
/// error and left aside (the levels never depend on it); a store that fails fails the run, to
/// be retried.
pub async fn load_calibration<O: ObjectStore>(
    objects: &O,
    lake: &str,
    model: &ModelOptions,
) -> Result<Option<CalibrationMap>, LakeConfigError> {
    let loaded = load_calibration_object(objects, lake)
        .await
        .and_then(|map| match map {
            Some(map) => map.fits(model).map(|()| Some(map)),
            None => Ok(None),
        });
    let calibration = match loaded {
        Ok(map) => map,
        Err(CalibrationError::Store(e)) => {
            return Err(LakeConfigError::Calibration(CalibrationError::Store(e)));
        }
        Err(e) => {
            tracing::error!(
                key = CALIBRATION_FILE,
                error = %e,
                "calibration inutilisable, laissée de côté : probabilité du modèle sans calibration"
            );
            None
        }
    };
    if let Some(map) = &calibration {
        tracing::info!(
            key = CALIBRATION_FILE,
            learnt_from = %map.learnt_from,
            model = %map.model,
            "probabilité de rupture calibrée"
        );
    }
    Ok(calibration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{Presentation, Specialty};

    #[test]
    fn a_named_exploitant_that_is_no_manufacturer_s_account_is_reported() {
        let registry =
            Registry::parse("declarant;nom;type\nlab-a;A;exploitant\ngr-b;B;grossiste\n").unwrap();
        let catalogue = Catalogue::from_settings_csv(
            "cip13;exploitant\n3400949497294;LAB-A\n3400949497706;lab-z\n\
             3400930000007;gr-b\n3400930000014;\n",
        )
        .unwrap();
        let config = RiskConfig::new(&registry, &catalogue);
        let unknown: Vec<(String, String)> = config
            .unknown_exploitants()
            .into_iter()
            .map(|(cip, id)| (cip.to_string(), id.to_string()))
            .collect();
        assert_eq!(
            unknown,
            [
                ("3400930000007".to_owned(), "gr-b".to_owned()),
                ("3400949497706".to_owned(), "lab-z".to_owned()),
            ]
        );
    }

    #[tokio::test]
    async fn a_calibration_that_does_not_read_is_left_aside_and_a_good_one_is_read() {
        use crate::risk::calibration::{CalibrationMap, save_calibration_object};
        let dir = tempfile::tempdir().unwrap();
        let backend = medistock_local::LocalBackend::open(dir.path()).unwrap();
        let registry = Registry::parse("declarant;nom;type\ngr-b;B;grossiste\n").unwrap();
        for account in registry.to_accounts() {
            backend.state.put_account(&account).await.unwrap();
        }
        let lake = medistock_local::LAKE_BUCKET;
        let defaults = ModelOptions::default();
        let (_, config, _) = load_config(&backend.objects, &backend.state, lake)
            .await
            .unwrap();
        assert_eq!(config.calibration, None);
        assert_eq!(
            load_calibration(&backend.objects, lake, &defaults)
                .await
                .unwrap(),
            None
        );
        let map = CalibrationMap::flat(0.1);
        save_calibration_object(&backend.objects, lake, &map)
            .await
            .unwrap();
        assert_eq!(
            load_calibration(&backend.objects, lake, &defaults)
                .await
                .unwrap(),
            Some(map)
        );
        let (_, config, _) = load_config(&backend.objects, &backend.state, lake)
            .await
            .unwrap();
        assert_eq!(config.calibration, None, "the risk run's alone");
        // Learnt with the defaults, it does not calibrate a model without the episode rule.
        let other = ModelOptions::without("episode").unwrap();
        assert_eq!(
            load_calibration(&backend.objects, lake, &other)
                .await
                .unwrap(),
            None,
            "another model's map is left aside"
        );
        backend
            .objects
            .put(
                lake,
                CALIBRATION_FILE,
                b"{\"learnt_from\": 3}".to_vec(),
                "application/json",
                &Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            load_calibration(&backend.objects, lake, &defaults)
                .await
                .unwrap(),
            None,
            "left aside, the run goes on"
        );
    }

    #[test]
    fn each_model_has_its_own_signature() {
        // Today's defaults are the baseline: a change of the defaults shows here (their
        // signature then names what changed; `v1` keeps its meaning).
        assert_eq!(ModelOptions::default(), SIGNATURE_BASELINE);
        assert_eq!(
            ModelOptions::default().signature(),
            format!("v{MODEL_VERSION}")
        );
        assert_eq!(
            ModelOptions::without("+reliability,episode,batches")
                .unwrap()
                .signature(),
            format!("v{MODEL_VERSION},episode,+reliability"),
            "in the order of the list, a name that changes nothing left out"
        );
        // Every set of names that changes something: as many signatures as options, and each
        // read back by `without` gives the options it was made from.
        let names: Vec<&str> = ModelOptions::names().collect();
        let mut seen = std::collections::BTreeMap::new();
        for subset in 0u32..(1 << names.len()) {
            let chosen: Vec<&str> = (0..names.len())
                .filter(|i| subset & (1 << i) != 0)
                .map(|i| names[i])
                .collect();
            let options = ModelOptions::without(&chosen.join(",")).unwrap();
            let signature = options.signature();
            let listed = signature.split_once(',').map_or("", |(_, rest)| rest);
            assert_eq!(
                ModelOptions::without(listed).unwrap(),
                options,
                "{signature}"
            );
            if let Some(before) = seen.insert(signature.clone(), options) {
                assert_eq!(before, options, "{signature} names two models");
            }
        }
        assert_eq!(seen.len(), 1 << 10, "ten options, each on or off");
    }

    #[test]
    fn only_enabled_manufacturers_with_a_cadence_are_expected_to_declare() {
        let registry = Registry::parse(
            "declarant;nom;type;cadence\nlab-a;A;exploitant;\nlab-b;B;exploitant;aucune\n\
             lab-c;C;exploitant;hebdomadaire\ngr-d;D;grossiste;\n",
        )
        .unwrap();
        let mut accounts = registry.to_accounts();
        for account in &mut accounts {
            account.enabled = account.id.as_str() != "lab-c";
        }
        let config = RiskConfig::new(&Registry::from_accounts(&accounts), &Catalogue::default());
        assert_eq!(
            config
                .expected_manufacturers
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["lab-a"],
            "lab-b expects nothing, lab-c is disabled, gr-d is a wholesaler"
        );
    }

    #[test]
    fn signals_are_turned_off_and_on_by_name() {
        assert_eq!(ModelOptions::without("").unwrap(), ModelOptions::default());
        let o = ModelOptions::without(" slip, ,local,+delay").unwrap();
        assert!(!o.slipped_supplies && !o.local_shortage && o.delayed_supplies);
        assert!(o.production_stop && o.censored_demand && !o.inferred_batches);
        let o = ModelOptions::without("+batches,stop,censored").unwrap();
        assert!(o.inferred_batches && !o.production_stop && !o.censored_demand);
        assert!(
            !ModelOptions::without("+batches,batches")
                .unwrap()
                .inferred_batches
        );
        assert!(ModelOptions::without("+slip2").unwrap().slip_twice);
        assert!(
            ModelOptions::without("+reliability")
                .unwrap()
                .learnt_reliability
        );
        assert!(!ModelOptions::default().learnt_reliability);
        assert!(!ModelOptions::default().slip_twice);
        assert!(ModelOptions::default().undeclared_manufacturers);
        assert!(
            !ModelOptions::without("undeclared")
                .unwrap()
                .undeclared_manufacturers
        );
        let err = ModelOptions::without("slip,lune").unwrap_err();
        assert!(err.contains("« lune »"), "{err}");
        // The error names every signal; each of them parses and changes the default (but
        // `batches`, off by default: kept so that an older command line still reads).
        for name in ModelOptions::names() {
            assert!(err.contains(name), "{name}: {err}");
            let parsed = ModelOptions::without(name).unwrap();
            assert_eq!(
                parsed == ModelOptions::default(),
                name == "batches",
                "{name}"
            );
        }
    }

    fn specialty(cis: &str, name: &str, mitm: bool) -> Specialty {
        Specialty {
            cis: cis.into(),
            name: name.into(),
            form: String::new(),
            routes: String::new(),
            holder: String::new(),
            marketed: true,
            substances: Vec::new(),
            mitm,
            atc: None,
            generic_group: None,
            generic_role: None,
        }
    }

    fn presentation(cip: &str, cis: &str) -> (Cip13, Presentation) {
        let cip13 = Cip13::parse(cip).unwrap();
        let p = Presentation {
            cip13,
            cis: cis.into(),
            label: "boîte de 30".into(),
            marketed: true,
            shortage: None,
        };
        (cip13, p)
    }

    #[test]
    fn settings_come_from_ansm_then_the_bdpm_then_the_defaults() {
        let mut catalogue = Catalogue::from_settings_csv(
            "cip13;groupe;seuil_tension_jours;stock_securite_4_mois\n\
             3400949497294;12;45;oui\n",
        )
        .unwrap();
        catalogue.specialties = [
            (
                "60001",
                specialty("60001", "ANASTROZOLE 1 mg, comprimé", true),
            ),
            (
                "60002",
                specialty("60002", "PARACETAMOL 500 mg, gélule", false),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        catalogue.presentations = [
            presentation("3400949497294", "60001"),
            presentation("3400936963504", "60002"),
        ]
        .into_iter()
        .collect();
        let config = RiskConfig::new(&Registry::default(), &catalogue);

        let followed = config.settings(&Cip13::parse("3400949497294").unwrap());
        assert_eq!(followed.denomination, "ANASTROZOLE 1 mg, comprimé");
        assert_eq!(followed.group.as_deref(), Some("12"));
        assert!(followed.mitm, "from the BDPM's MITM list");
        assert_eq!(followed.thresholds.tension_days, 45.0);
        assert_eq!(followed.safety_stock_months, SAFETY_MONTHS_LIST);

        let known = config.settings(&Cip13::parse("3400936963504").unwrap());
        assert_eq!(
            (known.denomination.as_str(), known.mitm, known.group),
            ("PARACETAMOL 500 mg, gélule", false, None)
        );
        assert_eq!(known.safety_stock_months, SAFETY_MONTHS_DEFAULT);
        assert_eq!(
            config.references.len(),
            1,
            "only followed references are grouped"
        );

        let unknown = config.settings(&Cip13::parse("3400949497706").unwrap());
        assert_eq!(unknown.denomination, "");
        assert_eq!(unknown.thresholds, Thresholds::default());
    }

    #[test]
    fn other_default_thresholds_stand_where_ansm_set_none() {
        let mut catalogue = Catalogue::from_settings_csv(
            "cip13;groupe;seuil_tension_jours;seuil_critique_jours\n\
             3400949497294;12;45;\n3400949497706;12;;5\n",
        )
        .unwrap();
        // A presentation of the BDPM that ANSM does not follow.
        catalogue
            .presentations
            .extend([presentation("3400936963504", "60002")]);
        let defaults = Thresholds {
            tension_days: 40.0,
            ..Thresholds::default()
        };
        let config = RiskConfig::with_defaults(&Registry::default(), &catalogue, defaults);
        let own = config.settings(&Cip13::parse("3400949497294").unwrap());
        assert_eq!(own.thresholds.tension_days, 45.0, "ANSM's own value wins");
        let partly = config.settings(&Cip13::parse("3400949497706").unwrap());
        assert_eq!(
            (
                partly.thresholds.tension_days,
                partly.thresholds.critique_days
            ),
            (40.0, 5.0),
            "the value ANSM left out is the replay's default"
        );
        let unknown = config.settings(&Cip13::parse("3400930000007").unwrap());
        assert_eq!(unknown.thresholds, defaults);
        let known = config.settings(&Cip13::parse("3400936963504").unwrap());
        assert_eq!(
            known.thresholds, defaults,
            "a presentation ANSM does not follow"
        );
        assert_eq!(*config.defaults(), defaults, "the groups' thresholds");
        assert_eq!(
            *RiskConfig::new(&Registry::default(), &catalogue).defaults(),
            Thresholds::default()
        );
    }
}
