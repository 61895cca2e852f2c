//! The life of an alert after it is raised, in Alertmanager's terms for a daily batch: who
//! acknowledged a subject, a silence that mutes its messages until a date, the quiet hours in
//! which SMS wait, and the recall of what nobody acknowledged. The risk run and the relay
//! apply it; the records live in the state store ([`crate::store::AlertStateStore`]).

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Level;
use crate::measure::{MAX_BY_CHARS, MAX_NOTE_CHARS, MeasureError, check_text, parse_subject};

/// What ANSM said about one subject (a reference or `GROUPE#<id>`): its acknowledgement and
/// its silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertState {
    /// A reference's CIP13 or `GROUPE#<id>`.
    pub subject: String,
    /// The latest acknowledgement.
    #[serde(default)]
    pub acknowledgement: Option<Acknowledgement>,
    /// The silence, while one is set.
    #[serde(default)]
    pub silence: Option<Silence>,
    /// Optimistic-locking version: each write expects the version it read.
    pub version: u64,
}

/// "Seen, we are on it": holds for the level acknowledged and below, within one episode
/// (from the subject's entry into TENSION or worse until it leaves it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// Who.
    pub by: String,
    /// Why, what is done.
    #[serde(default)]
    pub note: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The level held when acknowledged: an escalation above it is not acknowledged.
    pub level: Level,
    /// The episode acknowledged: the day the subject entered TENSION or worse.
    pub open_since: Option<NaiveDate>,
}

/// Messages of a subject muted until a day, included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Last day muted.
    pub until: NaiveDate,
    /// Who.
    pub by: String,
    /// Why (a measure in force, a known situation).
    pub note: String,
    /// When it was set.
    pub at: DateTime<Utc>,
}

impl Silence {
    /// Whether it mutes messages of `day`.
    pub fn active_on(&self, day: NaiveDate) -> bool {
        day <= self.until
    }
}

impl AlertState {
    /// A subject's state with nothing set.
    pub fn new(subject: &str) -> Result<Self, MeasureError> {
        Ok(Self {
            subject: parse_subject(subject)?,
            acknowledgement: None,
            silence: None,
            version: 0,
        })
    }

    /// Whether the subject, now at `level` in the episode opened on `open_since`, is
    /// acknowledged.
    pub fn acknowledged(&self, level: Level, open_since: Option<NaiveDate>) -> bool {
        self.acknowledgement
            .as_ref()
            .is_some_and(|a| a.level >= level && a.open_since == open_since)
    }

    /// The silence in force on `day`.
    pub fn silence_on(&self, day: NaiveDate) -> Option<&Silence> {
        self.silence.as_ref().filter(|s| s.active_on(day))
    }

    /// The state acknowledged by `by` at `level` in the episode `open_since`.
    pub fn acknowledge(
        &self,
        by: &str,
        note: &str,
        at: DateTime<Utc>,
        level: Level,
        open_since: Option<NaiveDate>,
    ) -> Result<Self, MeasureError> {
        Ok(Self {
            acknowledgement: Some(Acknowledgement {
                by: check_text("par", by, MAX_BY_CHARS)?,
                note: check_text("note", note, MAX_NOTE_CHARS)?,
                at,
                level,
                open_since,
            }),
            version: self.version + 1,
            ..self.clone()
        })
    }

    /// The state silenced until `until`, included.
    pub fn silenced(
        &self,
        until: NaiveDate,
        by: &str,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<Self, MeasureError> {
        Ok(Self {
            silence: Some(Silence {
                until,
                by: check_text("par", by, MAX_BY_CHARS)?,
                note: check_text("note", note, MAX_NOTE_CHARS)?,
                at,
            }),
            version: self.version + 1,
            ..self.clone()
        })
    }

    /// The state without its silence.
    pub fn unsilenced(&self) -> Self {
        Self {
            silence: None,
            version: self.version + 1,
            ..self.clone()
        }
    }
}

/// The silences in force on one day, to decide whether a message is muted.
#[derive(Debug, Clone, Default)]
pub struct Silences {
    by_subject: std::collections::HashMap<String, Silence>,
}

impl Silences {
    /// The silences of `states` in force on `day`.
    pub fn on<'a>(states: impl IntoIterator<Item = &'a AlertState>, day: NaiveDate) -> Self {
        Self {
            by_subject: states
                .into_iter()
                .filter_map(|s| s.silence_on(day).map(|x| (s.subject.clone(), x.clone())))
                .collect(),
        }
    }

    /// The silence of a subject.
    pub fn of(&self, subject: &str) -> Option<&Silence> {
        self.by_subject.get(subject)
    }

    /// Why a message is muted, if it is: each part of its `scope` (one reference or group it
    /// speaks of, with the subjects whose silence covers that part) has a silence, and it is
    /// not an escalation to RUPTURE. A message with an empty scope (a digest) is never muted.
    pub fn mutes(&self, scope: &[Vec<String>], escalates_to_rupture: bool) -> Option<String> {
        if scope.is_empty() || escalates_to_rupture {
            return None;
        }
        let mut reasons = Vec::with_capacity(scope.len());
        for part in scope {
            let (subject, silence) = part
                .iter()
                .find_map(|s| self.of(s).map(|silence| (s, silence)))?;
            reasons.push(format!(
                "{subject} silencé jusqu'au {} par {} ({})",
                crate::french::date(silence.until),
                silence.by,
                silence.note
            ));
        }
        reasons.sort();
        reasons.dedup();
        Some(reasons.join(" ; "))
    }
}

/// The hours in which SMS wait (Paris time), `21:00-08:00` by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// First minute of the quiet hours.
    pub start: NaiveTime,
    /// First minute after them.
    pub end: NaiveTime,
}

impl Default for QuietHours {
    fn default() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(21, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
        }
    }
}

/// A configuration value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} invalide « {value} » : {expected}")]
pub struct PolicyError {
    /// The setting.
    pub name: &'static str,
    /// The value given.
    pub value: String,
    /// What is expected.
    pub expected: &'static str,
}

impl QuietHours {
    /// Parses `HH:MM-HH:MM` (Paris time); `aucune` for none (start = end).
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let error = || PolicyError {
            name: "heures calmes",
            value: text.chars().take(40).collect(),
            expected: "HH:MM-HH:MM (heure de Paris), par exemple 21:00-08:00, ou aucune",
        };
        let text = text.trim();
        if text.eq_ignore_ascii_case("aucune") {
            return Ok(Self {
                start: NaiveTime::MIN,
                end: NaiveTime::MIN,
            });
        }
        let (a, b) = text.split_once('-').ok_or_else(error)?;
        let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| error());
        Ok(Self {
            start: time(a)?,
            end: time(b)?,
        })
    }

    /// Whether `now` falls in the quiet hours.
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        let t = crate::calendar::paris_time(now).time();
        match self.start.cmp(&self.end) {
            std::cmp::Ordering::Equal => false,
            std::cmp::Ordering::Less => self.start <= t && t < self.end,
            std::cmp::Ordering::Greater => t >= self.start || t < self.end,
        }
    }

    /// When the quiet hours holding `now` end (the next `end` in Paris time).
    pub fn end_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let local = crate::calendar::paris_time(now);
        let today_end = local.date().and_time(self.end);
        let end = if today_end > local {
            today_end
        } else {
            today_end + Duration::days(1)
        };
        crate::calendar::paris_instant(end)
    }
}

/// How alerts are delivered after they are raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertPolicy {
    /// SMS wait outside these hours.
    pub quiet_hours: QuietHours,
    /// A RUPTURE of an MITM reference is texted even in the quiet hours.
    pub urgent_sms_in_quiet_hours: bool,
    /// A subject CRITIQUE or RUPTURE that nobody acknowledged is recalled in the daily digest
    /// every so many days.
    pub recall_days: u32,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            quiet_hours: QuietHours::default(),
            urgent_sms_in_quiet_hours: true,
            recall_days: 7,
        }
    }
}

/// Environment variables of the alert policy (all optional).
pub const POLICY_ENV_VARS: [&str; 3] = ["QUIET_HOURS", "URGENT_SMS_IN_QUIET_HOURS", "RECALL_DAYS"];

impl AlertPolicy {
    /// The policy from optional settings (environment variables or command-line options):
    /// `QUIET_HOURS` (`21:00-08:00`, `aucune`), `URGENT_SMS_IN_QUIET_HOURS` (`oui`/`non`),
    /// `RECALL_DAYS` (1 to 365).
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Self, PolicyError> {
        let mut policy = Self::default();
        if let Some(v) = get("QUIET_HOURS").filter(|v| !v.trim().is_empty()) {
            policy.quiet_hours = QuietHours::parse(&v)?;
        }
        if let Some(v) = get("URGENT_SMS_IN_QUIET_HOURS").filter(|v| !v.trim().is_empty()) {
            policy.urgent_sms_in_quiet_hours = match v.trim().to_ascii_lowercase().as_str() {
                "oui" | "true" | "1" => true,
                "non" | "false" | "0" => false,
                _ => {
                    return Err(PolicyError {
                        name: "URGENT_SMS_IN_QUIET_HOURS",
                        value: v.chars().take(40).collect(),
                        expected: "oui ou non",
                    });
                }
            };
        }
        if let Some(v) = get("RECALL_DAYS").filter(|v| !v.trim().is_empty()) {
            policy.recall_days = v
                .trim()
                .parse()
                .ok()
                .filter(|d| (1..=365).contains(d))
                .ok_or_else(|| PolicyError {
                    name: "RECALL_DAYS",
                    value: v.chars().take(40).collect(),
                    expected: "un nombre de jours de 1 à 365",
                })?;
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn quiet_hours_span_midnight_in_paris_time() {
        let q = QuietHours::default();
        // Winter: Paris is UTC+1.
        assert!(q.contains(utc("2026-11-24T05:00:00Z")), "06:00 Paris");
        assert!(!q.contains(utc("2026-11-24T07:00:00Z")), "08:00 Paris");
        assert!(!q.contains(utc("2026-11-24T19:59:00Z")), "20:59 Paris");
        assert!(q.contains(utc("2026-11-24T20:00:00Z")), "21:00 Paris");
        assert_eq!(
            q.end_after(utc("2026-11-24T05:00:00Z")),
            utc("2026-11-24T07:00:00Z")
        );
        assert_eq!(
            q.end_after(utc("2026-11-24T21:30:00Z")),
            utc("2026-11-25T07:00:00Z")
        );
        // Summer: UTC+2.
        assert!(q.contains(utc("2026-07-14T05:30:00Z")), "07:30 Paris");
        assert!(!q.contains(utc("2026-07-14T06:00:00Z")), "08:00 Paris");
        let none = QuietHours::parse("aucune").unwrap();
        assert!(!none.contains(utc("2026-11-24T02:00:00Z")));
        let day_shift = QuietHours::parse("12:00-14:00").unwrap();
        assert!(day_shift.contains(utc("2026-11-24T11:30:00Z")));
        assert!(!day_shift.contains(utc("2026-11-24T02:00:00Z")));
        for bad in ["", "21h-8h", "21:00", "25:00-08:00"] {
            assert!(QuietHours::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_policy_reads_its_settings_and_names_a_bad_one() {
        let policy = AlertPolicy::from_settings(|name| match name {
            "QUIET_HOURS" => Some("22:00-07:00".into()),
            "URGENT_SMS_IN_QUIET_HOURS" => Some("non".into()),
            "RECALL_DAYS" => Some("3".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(policy.recall_days, 3);
        assert!(!policy.urgent_sms_in_quiet_hours);
        assert_eq!(
            policy.quiet_hours.start,
            NaiveTime::from_hms_opt(22, 0, 0).unwrap()
        );
        assert_eq!(
            AlertPolicy::from_settings(|_| None).unwrap(),
            AlertPolicy::default()
        );
        let e = AlertPolicy::from_settings(|n| (n == "RECALL_DAYS").then(|| "0".into()));
        assert!(e.unwrap_err().to_string().contains("RECALL_DAYS"));
    }

    #[test]
    fn an_acknowledgement_holds_for_its_level_and_episode_only() {
        let state = AlertState::new("3000001")
            .unwrap()
            .acknowledge(
                "Jeanne",
                "vu",
                Utc::now(),
                Level::Critique,
                Some(day("2026-11-10")),
            )
            .unwrap();
        assert_eq!(state.version, 1);
        assert!(state.acknowledged(Level::Critique, Some(day("2026-11-10"))));
        assert!(state.acknowledged(Level::Tension, Some(day("2026-11-10"))));
        assert!(!state.acknowledged(Level::Rupture, Some(day("2026-11-10"))));
        assert!(!state.acknowledged(Level::Critique, Some(day("2026-11-20"))));
    }

    #[test]
    fn a_message_is_muted_only_when_every_part_is_silenced_and_never_on_an_escalation_to_rupture() {
        let silenced = AlertState::new("GROUPE#12")
            .unwrap()
            .silenced(day("2026-11-30"), "Jeanne", "contingentement", Utc::now())
            .unwrap();
        let member = AlertState::new("3000001")
            .unwrap()
            .silenced(day("2026-11-25"), "Paul", "import", Utc::now())
            .unwrap();
        let silences = Silences::on([&silenced, &member], day("2026-11-25"));
        let reference = vec!["3400930000014".to_owned(), "GROUPE#12".to_owned()];
        let other = vec!["3400930000021".to_owned()];
        let reason = silences.mutes(std::slice::from_ref(&reference), false);
        assert_eq!(
            reason.as_deref(),
            Some("3400930000014 silencé jusqu'au 25/11/2026 par Paul (import)")
        );
        assert!(silences.mutes(&[reference.clone(), other], false).is_none());
        assert!(
            silences
                .mutes(std::slice::from_ref(&reference), true)
                .is_none()
        );
        assert!(silences.mutes(&[], false).is_none());
        // The day after the member's silence, the group's still covers it.
        let later = Silences::on([&silenced, &member], day("2026-11-26"));
        assert!(
            later
                .mutes(&[reference], false)
                .unwrap()
                .contains("GROUPE#12")
        );
        assert!(
            Silences::on([&silenced], day("2026-12-01"))
                .mutes(&[vec!["GROUPE#12".to_owned()]], false)
                .is_none(),
            "a silence ends after its last day"
        );
    }
}
