//! ANSM's measures on a reference or a group in tension (quotas, restricted dispensing, an
//! import, an export ban, a release of safety stock, a message to prescribers): what was
//! decided, on what, from when to when, by whom. Their impact is computed by the analytics
//! (`medistock_analytics::measures`); the record is a value every crate shares.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::Cip13;
use crate::store::GROUP_SUBJECT_PREFIX;

/// Longest note of a measure, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;
/// Longest author name, in characters.
pub const MAX_BY_CHARS: usize = 100;
/// Longest group id in a subject, in characters.
pub const MAX_GROUP_ID_CHARS: usize = 64;
/// Measures held at most: a measure is a decision of the agency, a few hundred a year.
pub const MAX_MEASURES: usize = 10_000;

/// Why a measure, a subject or a name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeasureError {
    /// Neither a CIP13/CIP7 nor `GROUPE#<id>`.
    #[error(
        "sujet invalide « {0} » : attendu un code CIP13 (ou CIP7) ou GROUPE#<identifiant du groupe>"
    )]
    Subject(String),
    /// Not one of the kinds.
    #[error(
        "type de mesure inconnu « {0} » : contingentement, restriction-dispensation, importation, interdiction-export, liberation-stock-securite, communication ou autre"
    )]
    Kind(String),
    /// A text too long or with control characters.
    #[error("{field} invalide : {reason}")]
    Text {
        /// The field (`note`, `par`).
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A date outside the years a measure can be about.
    #[error("date {0} hors limites : entre 2000 et 2100")]
    DateOutOfRange(NaiveDate),
    /// End before start.
    #[error("la fin ({end}) précède le début ({start})")]
    EndBeforeStart {
        /// Start.
        start: NaiveDate,
        /// End.
        end: NaiveDate,
    },
}

/// What a measure is about: a reference (`3400930000014`) or a group of substitutable
/// presentations (`GROUPE#12`), in the spelling of risk items' subjects.
pub fn parse_subject(text: &str) -> Result<String, MeasureError> {
    let text = text.trim();
    if let Some(id) = text
        .strip_prefix(GROUP_SUBJECT_PREFIX)
        .or_else(|| text.strip_prefix("groupe#"))
    {
        let ok = !id.is_empty()
            && id.chars().count() <= MAX_GROUP_ID_CHARS
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        return if ok {
            Ok(format!("{GROUP_SUBJECT_PREFIX}{id}"))
        } else {
            Err(MeasureError::Subject(text.chars().take(80).collect()))
        };
    }
    Cip13::parse(text)
        .map(|c| c.to_string())
        .map_err(|_| MeasureError::Subject(text.chars().take(80).collect()))
}

/// A measure's dates lie between 2000 and 2100: an impact reads the days around them.
fn check_date(d: NaiveDate) -> Result<NaiveDate, MeasureError> {
    use chrono::Datelike;
    if (2000..=2100).contains(&d.year()) {
        Ok(d)
    } else {
        Err(MeasureError::DateOutOfRange(d))
    }
}

/// Checks a free text (a note, a name): at most `max` characters, no control character but
/// line breaks in a note.
pub fn check_text(field: &'static str, text: &str, max: usize) -> Result<String, MeasureError> {
    let text = text.trim();
    if text.chars().count() > max {
        return Err(MeasureError::Text {
            field,
            reason: format!("{} caractères au plus", max),
        });
    }
    if text
        .chars()
        .any(|c| c.is_control() && !(field == "note" && c == '\n'))
    {
        return Err(MeasureError::Text {
            field,
            reason: "caractère de contrôle".to_owned(),
        });
    }
    Ok(text.to_owned())
}

/// The kinds of measures ANSM takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MeasureKind {
    /// Quotas on what wholesalers receive or deliver.
    Contingentement,
    /// Dispensing restricted (hospital only, some prescribers, some patients).
    RestrictionDispensation,
    /// Import of an alternative from abroad.
    Importation,
    /// Export ban.
    InterdictionExport,
    /// Release of the manufacturer's safety stock.
    LiberationStockSecurite,
    /// A message to prescribers, pharmacists or patients.
    Communication,
    /// Anything else.
    Autre,
}

impl MeasureKind {
    /// Every kind, in the order of the documentation.
    pub const ALL: [MeasureKind; 7] = [
        MeasureKind::Contingentement,
        MeasureKind::RestrictionDispensation,
        MeasureKind::Importation,
        MeasureKind::InterdictionExport,
        MeasureKind::LiberationStockSecurite,
        MeasureKind::Communication,
        MeasureKind::Autre,
    ];

    /// The spelling on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MeasureKind::Contingentement => "contingentement",
            MeasureKind::RestrictionDispensation => "restriction-dispensation",
            MeasureKind::Importation => "importation",
            MeasureKind::InterdictionExport => "interdiction-export",
            MeasureKind::LiberationStockSecurite => "liberation-stock-securite",
            MeasureKind::Communication => "communication",
            MeasureKind::Autre => "autre",
        }
    }

    /// The French label in messages and reports.
    pub fn label(self) -> &'static str {
        match self {
            MeasureKind::Contingentement => "contingentement",
            MeasureKind::RestrictionDispensation => "restriction de dispensation",
            MeasureKind::Importation => "importation",
            MeasureKind::InterdictionExport => "interdiction d'exportation",
            MeasureKind::LiberationStockSecurite => "libération du stock de sécurité",
            MeasureKind::Communication => "communication",
            MeasureKind::Autre => "autre mesure",
        }
    }

    /// Parses the command-line spelling.
    pub fn parse(text: &str) -> Result<Self, MeasureError> {
        let text = text.trim();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| MeasureError::Kind(text.chars().take(40).collect()))
    }

    /// Whether the measure brings units into the chain: its impact counts what arrived.
    pub fn brings_stock(self) -> bool {
        matches!(
            self,
            MeasureKind::Importation | MeasureKind::LiberationStockSecurite
        )
    }
}

/// One measure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measure {
    /// Its id (`MES-…`), given when it is recorded.
    pub id: String,
    /// A reference's CIP13 or `GROUPE#<id>`.
    pub subject: String,
    /// What kind.
    pub kind: MeasureKind,
    /// First day in force.
    pub start: NaiveDate,
    /// Last day in force, when known.
    pub end: Option<NaiveDate>,
    /// What was decided.
    pub note: String,
    /// Who recorded it.
    pub by: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Optimistic-locking version: each write expects the version it read.
    pub version: u64,
}

impl Measure {
    /// A new measure, its fields checked; `id` from [`Measure::new_id`].
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        subject: &str,
        kind: MeasureKind,
        start: NaiveDate,
        end: Option<NaiveDate>,
        note: &str,
        by: &str,
        recorded_at: DateTime<Utc>,
    ) -> Result<Self, MeasureError> {
        for d in std::iter::once(start).chain(end) {
            check_date(d)?;
        }
        if let Some(end) = end.filter(|e| *e < start) {
            return Err(MeasureError::EndBeforeStart { start, end });
        }
        Ok(Self {
            id,
            subject: parse_subject(subject)?,
            kind,
            start,
            end,
            note: check_text("note", note, MAX_NOTE_CHARS)?,
            by: check_text("par", by, MAX_BY_CHARS)?,
            recorded_at,
            version: 1,
        })
    }

    /// A fresh id: `MES-<yyyymmdd>-<8 hex>`.
    pub fn new_id(today: NaiveDate) -> String {
        let token = crate::store::lease_token();
        format!(
            "MES-{}-{}",
            today.format("%Y%m%d"),
            token.get(..8).unwrap_or(&token)
        )
    }

    /// Whether it is in force on `day`.
    pub fn in_force(&self, day: NaiveDate) -> bool {
        self.start <= day && self.end.is_none_or(|e| day <= e)
    }

    /// The measure ended on `date` (a new version), refused before its start.
    pub fn ended(&self, date: NaiveDate) -> Result<Self, MeasureError> {
        check_date(date)?;
        if date < self.start {
            return Err(MeasureError::EndBeforeStart {
                start: self.start,
                end: date,
            });
        }
        Ok(Self {
            end: Some(date),
            version: self.version + 1,
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn subjects_are_a_cip_or_a_group() {
        assert_eq!(parse_subject("3000001").unwrap(), "3400930000014");
        assert_eq!(parse_subject(" GROUPE#12 ").unwrap(), "GROUPE#12");
        assert_eq!(parse_subject("groupe#A-1").unwrap(), "GROUPE#A-1");
        for bad in ["", "GROUPE#", "GROUPE#a/b", "3400930000015", "hello"] {
            assert!(parse_subject(bad).is_err(), "{bad}");
        }
        let at_limit = format!("GROUPE#{}", "x".repeat(MAX_GROUP_ID_CHARS));
        assert!(parse_subject(&at_limit).is_ok());
        assert!(parse_subject(&(at_limit + "x")).is_err());
    }

    #[test]
    fn every_kind_round_trips_and_unknown_ones_are_named() {
        for k in MeasureKind::ALL {
            assert_eq!(MeasureKind::parse(k.as_str()), Ok(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        let e = MeasureKind::parse("quota").unwrap_err();
        assert!(e.to_string().contains("« quota »"), "{e}");
    }

    #[test]
    fn a_measure_is_in_force_from_its_start_to_its_end_inclusive() {
        let m = Measure::new(
            Measure::new_id(day("2026-11-20")),
            "3000001",
            MeasureKind::Contingentement,
            day("2026-11-20"),
            None,
            "quotas 80 %",
            "Jeanne",
            Utc::now(),
        )
        .unwrap();
        assert!(
            m.id.starts_with("MES-20261120-") && m.id.len() == 21,
            "{}",
            m.id
        );
        assert!(!m.in_force(day("2026-11-19")));
        assert!(m.in_force(day("2027-01-01")));
        let ended = m.ended(day("2026-11-30")).unwrap();
        assert_eq!((ended.version, ended.end), (2, Some(day("2026-11-30"))));
        assert!(ended.in_force(day("2026-11-30")) && !ended.in_force(day("2026-12-01")));
        assert!(m.ended(day("2026-11-19")).is_err());
        assert!(m.ended(day("2999-01-01")).is_err());
        let far = Measure::new(
            "MES-2".into(),
            "3000001",
            MeasureKind::Autre,
            day("1900-01-01"),
            None,
            "n",
            "x",
            Utc::now(),
        );
        assert!(matches!(far, Err(MeasureError::DateOutOfRange(_))));
    }

    #[test]
    fn texts_are_bounded_and_free_of_control_characters() {
        let make = |note: &str, by: &str| {
            Measure::new(
                "MES-1".into(),
                "3000001",
                MeasureKind::Autre,
                day("2026-11-20"),
                None,
                note,
                by,
                Utc::now(),
            )
        };
        assert!(make(&"é".repeat(MAX_NOTE_CHARS), "x").is_ok());
        assert!(make(&"é".repeat(MAX_NOTE_CHARS + 1), "x").is_err());
        assert!(make("deux\nlignes", "x").is_ok());
        assert!(make("x", "a\nb").is_err());
        assert!(make("\u{7}", "x").is_err());
        assert!(make("x", &"b".repeat(MAX_BY_CHARS + 1)).is_err());
    }
}
