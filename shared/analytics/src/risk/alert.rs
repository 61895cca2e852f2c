//! Alert messages in French: the full email, the short SMS (CRITIQUE and RUPTURE only), and
//! the message attributes that subscriptions filter on.

use medistock_domain::french::number;
use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::NaiveDate;

use super::assess::{Assessment, QualityFlag};
use super::config::ReferenceSettings;
use medistock_domain::Level;
use medistock_domain::store::Notification;

/// Where alerts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertTopics {
    /// CRITIQUE and RUPTURE: email and SMS.
    pub critical: String,
    /// TENSION and returns to normal: email.
    pub info: String,
}

/// A substitutable reference and how long it lasts.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    /// CIP13.
    pub cip13: String,
    /// Name.
    pub denomination: String,
    /// Its level.
    pub level: Level,
    /// Its coverage, days.
    pub coverage_days: Option<f64>,
}

/// Items of a list (supplies, alternatives, declarants) an alert names at most; the others
/// are counted.
pub const LIST_MAX: usize = 10;

/// Names joined by commas, the first [`LIST_MAX`] of them, and how many more.
fn capped_list(names: &[String]) -> String {
    let mut text = names
        .iter()
        .take(LIST_MAX)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LIST_MAX {
        text.push_str(&format!(" et {} autre(s)", names.len() - LIST_MAX));
    }
    text
}

/// Whether a transition is announced: escalation to TENSION or worse, and the end of an alert,
/// from TENSION or worse to below it (the return to NORMAL, or VIGILANCE once an alert episode
/// no longer holds TENSION: [`super::level::episode_level`]). Entries into VIGILANCE from
/// below go to the daily digest, not one by one.
pub fn is_announced(from: Level, to: Level) -> bool {
    (to > from && to >= Level::Tension) || (from >= Level::Tension && to < Level::Tension)
}

/// Why the level is held above the day's figures, when an open alert episode holds it
/// ([`super::level::episode_level`]), in French.
pub fn episode_note(a: &Assessment) -> Option<String> {
    a.figures_level.map(|figures| held_note(a.level, figures))
}

/// The French note of a subject (reference or group) held at `level` by its open alert while
/// its figures give `figures`.
pub fn held_note(level: Level, figures: Level) -> String {
    format!(
        "Niveau maintenu à {} : les chiffres du jour donnent {} ; l'alerte reste ouverte \
         jusqu'au retour à la normale ou, au plus tard, {} jours après son ouverture (la fin de \
         l'alerte est annoncée)",
        level.as_str(),
        figures.as_str(),
        super::level::EPISODE_HOLD_DAYS
    )
}

/// The notification of a transition.
pub fn notification(
    a: &Assessment,
    from: Level,
    settings: &ReferenceSettings,
    alternatives: &[Alternative],
    topics: &AlertTopics,
) -> Notification {
    let name = if settings.denomination.is_empty() {
        a.cip13.to_string()
    } else {
        settings.denomination.clone()
    };
    let critical = a.level >= Level::Critique;
    let subject = match a.level {
        Level::Normal => format!("[Medistock] Retour à la normale — {name} ({})", a.cip13),
        Level::Vigilance if from >= Level::Tension => format!(
            "[Medistock] Fin de l'alerte, VIGILANCE — {name} ({})",
            a.cip13
        ),
        level => format!("[Medistock] {} — {name} ({})", level.as_str(), a.cip13),
    };
    let mut body = String::new();
    let _ = writeln!(
        body,
        "Référence : {} — {name}{}",
        a.cip13,
        if settings.mitm { " (MITM)" } else { "" }
    );
    let _ = writeln!(
        body,
        "Niveau : {} (précédent : {})",
        a.level.as_str(),
        from.as_str()
    );
    if a.level == Level::Vigilance && from >= Level::Tension {
        let _ = writeln!(
            body,
            "L'alerte prend fin sans retour à la normale : les chiffres donnent VIGILANCE."
        );
    }
    let _ = writeln!(
        body,
        "Calcul du : {}",
        medistock_domain::french::date(a.as_of)
    );
    let detail = &a.stock_detail;
    let declared = |t: &super::assess::TypeStock| {
        let when = match (t.oldest, t.newest) {
            (Some(o), Some(n)) if o == n => format!(" (au {})", medistock_domain::french::date(n)),
            (Some(o), Some(n)) => format!(
                " (du {} au {})",
                medistock_domain::french::date(o),
                medistock_domain::french::date(n)
            ),
            _ => " (aucune déclaration)".to_owned(),
        };
        format!("{}{when}", number(t.declared as f64, 0))
    };
    let _ = writeln!(
        body,
        "Stock déclaré : exploitants {}, grossistes {} ; stock bloqué : {}",
        declared(&detail.exploitants),
        declared(&detail.grossistes),
        number(a.held_stock as f64, 0)
    );
    let _ = writeln!(
        body,
        "Stock de la chaîne estimé au {} : {} unités (exploitants {}, grossistes {}) — chaque stock déclaré moins les sorties déclarées depuis sa date, plus les approvisionnements annoncés entre-temps",
        medistock_domain::french::date(a.as_of),
        number(a.chain_stock, 0),
        number(detail.exploitants.estimated, 0),
        number(detail.grossistes.estimated, 0),
    );
    match a.demand {
        Some(d) => {
            let _ = writeln!(
                body,
                "Demande estimée : {} unités/jour (tendance ×{})",
                number(d, 1),
                number(a.trend, 2)
            );
        }
        None => {
            let _ = writeln!(
                body,
                "Demande estimée : non calculable (aucune sortie déclarée)"
            );
        }
    }
    if let Some(c) = a.coverage_days {
        let _ = writeln!(body, "Couverture : {} jours", number(c, 1));
    }
    let _ = writeln!(
        body,
        "{}",
        stockout_line("Rupture prévue", a.stockout_date, a.days_to_stockout)
    );
    if let Some(p) = a.probability {
        let why = if p.before_calibration.is_some() {
            ""
        } else {
            " (dispersion de la demande, approvisionnements annoncés pouvant manquer)"
        };
        let _ = writeln!(body, "Probabilité de rupture : {}{why}", p.describe());
        if let Some(record) = a.supply_record.describe(a.supply_record_used) {
            let _ = writeln!(body, "Promesses de l'exploitant : {record}");
        }
    } else if a.probability_withheld() {
        let _ = writeln!(
            body,
            "Probabilité de rupture : {}",
            super::PROBABILITY_WITHHELD
        );
    }
    if let Some(first) = &a.first_announced_supply {
        let without = a.stockout_without_supplies;
        if without.is_some() && (a.stockout_date.is_none() || without < a.stockout_date) {
            let _ = writeln!(
                body,
                "Sans les approvisionnements annoncés (pas encore reçus) : rupture le {} ; la prévision ci-dessus suppose que l'approvisionnement annoncé pour le {} ({} unités) arrive à temps",
                without
                    .map(medistock_domain::french::date)
                    .unwrap_or_default(),
                medistock_domain::french::date(first.date),
                number(first.quantity as f64, 0)
            );
        }
    }
    if !a.supplies.is_empty() {
        let _ = writeln!(body, "Approvisionnements attendus :");
        // The earliest ones decide a stock-out; the rest are counted, not listed.
        for s in a.supplies.iter().take(LIST_MAX) {
            let _ = writeln!(
                body,
                "  - {} : {} unités",
                medistock_domain::french::date(s.date),
                number(s.quantity as f64, 0)
            );
        }
        if let Some(rest) = a.supplies.get(LIST_MAX..).filter(|r| !r.is_empty()) {
            let units = rest.iter().map(|s| s.quantity as f64).sum::<f64>();
            let _ = writeln!(
                body,
                "  - … et {} autre(s) approvisionnement(s) ({} unités, jusqu'au {})",
                rest.len(),
                number(units, 0),
                medistock_domain::french::date(
                    rest.iter().map(|s| s.date).max().unwrap_or(a.as_of)
                )
            );
        }
    }
    if !a.below_safety_stock.is_empty() {
        let _ = writeln!(
            body,
            "Exploitants sous leur stock de sécurité : {}",
            capped_list(&a.below_safety_stock)
        );
    }
    if !a.flags.is_empty() {
        let _ = writeln!(body, "Qualité des données (confiance réduite) :");
        for f in &a.flags {
            let text = match f {
                QualityFlag::StalePosition { declarant, as_of } => {
                    format!(
                        "position de {declarant} datée du {}",
                        medistock_domain::french::date(*as_of)
                    )
                }
                QualityFlag::NoDemand => "aucune sortie déclarée : demande inconnue".to_owned(),
                QualityFlag::NoPosition => {
                    "aucun exploitant ni grossiste ne déclare cette référence".to_owned()
                }
                QualityFlag::MissingManufacturers => "données incomplètes : aucun exploitant \
                     n'a déclaré cette référence depuis 14 jours, ou aucun ne l'a encore \
                     déclarée ; son stock est inconnu (pas nul) et ce manque ne fait pas monter \
                     le niveau"
                    .to_owned(),
                QualityFlag::SupplySlipped { due } => format!(
                    "l'approvisionnement annoncé pour le {} n'est pas arrivé et est annoncé \
                     plus tard : les approvisionnements annoncés ne sont pas comptés, la \
                     rupture prévue est celle sans eux",
                    medistock_domain::french::date(*due)
                ),
                QualityFlag::ProductionStopSuspected { since } => format!(
                    "arrêt de production soupçonné : le stock des exploitants ne fait que \
                     baisser depuis le {} sans lot reçu ; les approvisionnements annoncés ne \
                     sont pas comptés",
                    medistock_domain::french::date(*since)
                ),
                QualityFlag::InferredBatch { date, quantity } => format!(
                    "aucun approvisionnement annoncé : le prochain lot est attendu vers le {} \
                     ({} unités) d'après le rythme des lots reçus ; il est compté dans la \
                     prévision",
                    medistock_domain::french::date(*date),
                    number(*quantity as f64, 0)
                ),
                QualityFlag::LocalShortage {
                    share_pct,
                    days,
                    declarants,
                } => format!(
                    "rupture locale : les grossistes qui servent {share_pct} % des sorties ont \
                     moins de {days} jours de stock ({}) alors que la chaîne en a plus ; niveau \
                     au moins VIGILANCE",
                    capped_list(declarants)
                ),
                QualityFlag::CensoredDemand { days } => format!(
                    "demande corrigée : {days} jour(s) où les grossistes étaient en rupture \
                     sont écartés (leurs sorties étaient ce qu'ils ont servi, pas ce qui était \
                     demandé)"
                ),
            };
            let _ = writeln!(body, "  - {text}");
        }
    }
    if let Some(group) = &settings.group {
        if alternatives.is_empty() {
            let _ = writeln!(
                body,
                "Alternatives (groupe {group}) : aucune autre présentation suivie."
            );
        } else {
            let _ = writeln!(body, "Alternatives (groupe {group}) :");
            for alt in alternatives.iter().take(LIST_MAX) {
                let coverage = coverage_text(alt.coverage_days);
                let _ = writeln!(
                    body,
                    "  - {} {} : {}, {coverage}",
                    alt.cip13,
                    alt.denomination,
                    alt.level.as_str()
                );
            }
            if alternatives.len() > LIST_MAX {
                let _ = writeln!(
                    body,
                    "  - … et {} autre(s) présentation(s)",
                    alternatives.len() - LIST_MAX
                );
            }
        }
    }
    let sms = critical.then(|| {
        let date = a
            .stockout_date
            .map_or_else(|| "-".to_owned(), |d| d.format("%d/%m").to_string());
        let coverage = a
            .coverage_days
            .map_or_else(|| "?".to_owned(), |c| format!("{c:.0}"));
        let text = format!(
            "Medistock {} {} {}: rupture prevue {date}, couverture {coverage} j",
            a.level.as_str(),
            a.cip13,
            sms_ascii(&name)
        );
        text.chars().take(160).collect()
    });
    Notification {
        topic: if critical {
            topics.critical.clone()
        } else {
            topics.info.clone()
        },
        subject,
        body,
        sms,
        email: true,
        attributes: BTreeMap::from([
            ("severity".to_owned(), severity(a.level).to_owned()),
            ("level".to_owned(), a.level.as_str().to_owned()),
            ("cip13".to_owned(), a.cip13.to_string()),
            ("mitm".to_owned(), settings.mitm.to_string()),
        ]),
    }
}

/// A coverage in whole days, or that it is unknown.
pub(crate) fn coverage_text(days: Option<f64>) -> String {
    days.map_or_else(
        || "couverture inconnue".to_owned(),
        |c| format!("{} jours", number(c, 0)),
    )
}

/// `<what> le : 10/12/2026 (dans 20 jours)`, or that no stock-out falls within the horizon.
pub(crate) fn stockout_line(what: &str, date: Option<NaiveDate>, days: Option<i64>) -> String {
    match (date, days) {
        (Some(date), Some(days)) => format!(
            "{what} le : {} (dans {days} jours)",
            medistock_domain::french::date(date)
        ),
        _ => format!("{what} : aucune dans l'horizon de projection"),
    }
}

/// The `severity` message attribute of a level.
pub fn severity(level: Level) -> &'static str {
    match level {
        Level::Rupture | Level::Critique => "critical",
        Level::Tension => "warning",
        _ => "info",
    }
}

/// The SMS text of `text`: plain ASCII (SMS gateways mangle the rest), without ever changing a
/// dose or a unit. Accents are stripped (`É` → `E`); micro becomes `mc` before `g` (`µg` →
/// `mcg`, as prescribers write it) and `micro` otherwise (`µmol` → `micromol`); superscripts,
/// fractions, signs and ligatures are spelled out (`m²` → `m2`, `×` → `x`, `œ` → `oe`). A
/// character with no spelling becomes `?`, never nothing: a reader sees that something is
/// missing instead of reading another dose.
pub fn sms_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        if matches!(c, '\u{b5}' | '\u{3bc}' | '\u{39c}') {
            out.push_str(if chars.peek() == Some(&'g') {
                "mc"
            } else {
                "micro"
            });
            continue;
        }
        if let Some(spelled) = spelled(c) {
            out.push_str(spelled);
            continue;
        }
        let base = crate::declaration::format::strip_accent(c.to_lowercase().next().unwrap_or(c));
        let base = if c.is_uppercase() {
            base.to_ascii_uppercase()
        } else {
            base
        };
        out.push(if base.is_ascii() { base } else { '?' });
    }
    out
}

/// The ASCII spelling of the symbols found in medicine names and dosages.
fn spelled(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{b2}' => "2",
        '\u{b3}' => "3",
        '\u{b9}' => "1",
        '\u{b0}' => " deg",
        '\u{b7}' => ".",
        '\u{d7}' => "x",
        '\u{f7}' => "/",
        '\u{b1}' => "+/-",
        '\u{2030}' => " pour mille",
        '\u{bc}' => "1/4",
        '\u{bd}' => "1/2",
        '\u{be}' => "3/4",
        '\u{2264}' => "<=",
        '\u{2265}' => ">=",
        '\u{153}' => "oe",
        '\u{152}' => "OE",
        '\u{e6}' => "ae",
        '\u{c6}' => "AE",
        '\u{df}' => "ss",
        '\u{2018}' | '\u{2019}' | '\u{2032}' => "'",
        '\u{ab}' | '\u{bb}' | '\u{201c}' | '\u{201d}' => "\"",
        '\u{2013}' | '\u{2014}' | '\u{2212}' => "-",
        '\u{2026}' => "...",
        '\u{a0}' | '\u{202f}' | '\u{2009}' => " ",
        '\u{ae}' | '\u{2122}' | '\u{a9}' => "",
        '\u{bf}' => "?",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_transitions() {
        assert!(is_announced(Level::Normal, Level::Tension));
        assert!(is_announced(Level::Tension, Level::Critique));
        assert!(is_announced(Level::Critique, Level::Normal));
        assert!(
            !is_announced(Level::Normal, Level::Vigilance),
            "VIGILANCE goes to the digest"
        );
        assert!(
            !is_announced(Level::Critique, Level::Tension),
            "an improvement within the alert is not sent"
        );
        assert!(!is_announced(Level::Vigilance, Level::Normal));
        // The end of an alert short of normal (an episode no longer held) is.
        assert!(is_announced(Level::Tension, Level::Vigilance));
        assert!(is_announced(Level::Rupture, Level::Vigilance));
    }

    #[test]
    fn sms_text_is_plain_ascii_and_never_changes_a_dose() {
        assert_eq!(
            sms_ascii("PARACÉTAMOL 500 mg, gélule – ×2"),
            "PARACETAMOL 500 mg, gelule - x2"
        );
        assert_eq!(
            sms_ascii("SALBUTAMOL 100 µg/dose"),
            "SALBUTAMOL 100 mcg/dose",
            "not 100 g/dose"
        );
        assert_eq!(sms_ascii("CISPLATINE 75 mg/m²"), "CISPLATINE 75 mg/m2");
        assert_eq!(sms_ascii("10 µmol/L, 5 μg"), "10 micromol/L, 5 mcg");
        assert_eq!(sms_ascii("CŒUR ½ dose ≥ 2"), "COEUR 1/2 dose >= 2");
        assert_eq!(sms_ascii("dose ☢"), "dose ?", "never a silent drop");
    }

    #[test]
    fn numbers_in_french() {
        assert_eq!(number(1234567.0, 0), "1\u{202f}234\u{202f}567");
        assert_eq!(number(410.46, 1), "410,5");
        assert_eq!(number(-12.0, 0), "-12");
    }
}
