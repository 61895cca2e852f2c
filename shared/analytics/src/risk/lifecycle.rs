//! What the daily run adds to its transitions, from the alert lifecycle: each subject's
//! episode (the day it entered TENSION or worse), the recall of a CRITIQUE or RUPTURE nobody
//! acknowledged, the one message when a silence ends on a subject still in tension, the
//! declarants silent past their cadence (a reminder in their receipts folder, a section of the
//! digest), and the measures in force written into the messages of their subject. Whether a
//! message is muted or its SMS held is decided when it is relayed
//! ([`medistock_domain::relay`]), with the silences of that moment.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};

use super::alert::AlertTopics;
use medistock_domain::account::{Account, Cadence};
use medistock_domain::french::date;
use medistock_domain::lifecycle::{AlertPolicy, AlertState};
use medistock_domain::store::{AlertRecord, LedgerEntry, Notification, RiskItem};
use medistock_domain::{DeclarantType, Level};

/// Files of the ledger looked at to find a declarant's latest: beyond, a declarant is silent
/// "for more than five weeks".
pub const SILENCE_HORIZON_DAYS: u64 = 35;

/// Silent declarants listed in a digest at most (the weekly synthesis lists them all).
pub const MAX_SILENT_LISTED: usize = 100;

/// References named per silent declarant in the digest at most.
pub const MAX_REFERENCES_NAMED: usize = 10;

/// The first day of the episode the item held is in, when it is at TENSION or worse. An item
/// written before episodes were kept counts from its own date.
pub fn held_episode(held: &RiskItem) -> Option<NaiveDate> {
    (held.level >= Level::Tension).then(|| held.open_since.unwrap_or(held.as_of))
}

/// The day a subject at `level` entered TENSION or worse (its episode), from the item held.
pub fn open_since(held: Option<&RiskItem>, level: Level, as_of: NaiveDate) -> Option<NaiveDate> {
    if level < Level::Tension {
        return None;
    }
    Some(held.and_then(held_episode).unwrap_or(as_of))
}

/// A subject recalled in the digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Recall {
    /// Reference or `GROUPE#<id>`.
    pub subject: String,
    /// What the reader knows it as.
    pub label: String,
    /// Level now.
    pub level: Level,
    /// Since when it is in tension.
    pub open_since: NaiveDate,
}

/// Whether a subject CRITIQUE or RUPTURE nobody acknowledged is due for a recall: every
/// `policy.recall_days` since its episode opened or since its last recall.
pub fn recall_due(
    held: Option<&RiskItem>,
    level: Level,
    open_since: Option<NaiveDate>,
    state: Option<&AlertState>,
    policy: &AlertPolicy,
    as_of: NaiveDate,
) -> bool {
    let Some(opened) = open_since else {
        return false;
    };
    if level < Level::Critique || state.is_some_and(|s| s.acknowledged(level, open_since)) {
        return false;
    }
    let recalled = held.and_then(|h| h.recalled_on).filter(|d| *d >= opened);
    // A rerun of the day recalls what the day's first run recalled.
    if recalled == Some(as_of) {
        return true;
    }
    let last = recalled.unwrap_or(opened);
    (as_of - last).num_days() >= i64::from(policy.recall_days)
}

/// The message when a silence has ended on a subject still TENSION or worse: once, on the
/// first run after its last day (the item held was computed while it ran).
pub fn silence_end(
    state: &AlertState,
    held: Option<&RiskItem>,
    level: Level,
    label: &str,
    as_of: NaiveDate,
    topics: &AlertTopics,
    now: DateTime<Utc>,
) -> Option<AlertRecord> {
    let silence = state.silence.as_ref()?;
    let first_run_after = silence.until < as_of && held.is_some_and(|h| h.as_of <= silence.until);
    if !first_run_after || level < Level::Tension {
        return None;
    }
    let body = format!(
        "Le silence de {label} ({}) a pris fin le {} ; le sujet est toujours {}.\n\
         Silence posé par {} : {}\n\
         Les messages de ce sujet sont de nouveau envoyés ; « medistock alerts ack » pour en \
         prendre acte, « medistock alerts silence » pour le prolonger.\n",
        state.subject,
        date(silence.until),
        level.as_str(),
        silence.by,
        silence.note,
    );
    Some(AlertRecord::pending(
        format!("FINSILENCE#{}#{}", state.subject, silence.until),
        state.subject.clone(),
        Notification {
            topic: if level >= Level::Critique {
                topics.critical.clone()
            } else {
                topics.info.clone()
            },
            subject: format!(
                "[Medistock] Fin du silence — {label} toujours {}",
                level.as_str()
            ),
            body,
            sms: None,
            email: true,
            attributes: BTreeMap::from([
                ("severity".to_owned(), "info".to_owned()),
                ("level".to_owned(), level.as_str().to_owned()),
            ]),
        },
        now,
    ))
}

/// The key of a reminder in the inbox bucket: `receipts/<id>/rappel-<lapse>.txt`, readable
/// through SFTP beside the declarant's receipts.
pub fn reminder_key(declarant: &str, lapse: &str) -> String {
    format!("receipts/{declarant}/rappel-{lapse}.txt")
}

/// A declarant silent past its cadence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilentDeclarant {
    /// Id.
    pub id: String,
    /// Company name.
    pub name: String,
    /// Role.
    pub kind: DeclarantType,
    /// Cadence expected.
    pub cadence: Cadence,
    /// Day of its latest file (or, beyond the ledger's horizon, of its latest position), if
    /// any.
    pub last_file: Option<NaiveDate>,
    /// References it holds a position on: the picture it leaves incomplete.
    pub references: Vec<String>,
    /// Of those, the ones at TENSION or worse.
    pub references_in_tension: Vec<String>,
}

impl SilentDeclarant {
    /// Where its reminder goes in the inbox bucket: its receipts folder, named by the lapse.
    pub fn reminder_key(&self) -> String {
        reminder_key(&self.id, &self.lapse())
    }

    /// The lapse, named by the latest file: one reminder per lapse.
    pub fn lapse(&self) -> String {
        self.last_file
            .map_or_else(|| "premiere-declaration".to_owned(), |d| d.to_string())
    }
}

/// The enabled declarants whose latest file (within the ledger `files` of the horizon) is
/// older than their cadence and its grace allow on `as_of`.
///
/// A declarant's latest activity is its latest file within the ledger's horizon, or beyond it
/// the date of its latest position. One never heard of is reminded once that its first
/// declaration is expected.
pub fn silent_declarants(
    accounts: &[Account],
    files: &[LedgerEntry],
    positions_by_declarant: &HashMap<String, Vec<String>>,
    latest_position: &HashMap<String, NaiveDate>,
    levels: &HashMap<String, Level>,
    as_of: NaiveDate,
) -> Vec<SilentDeclarant> {
    let mut last: HashMap<&str, NaiveDate> = latest_position
        .iter()
        .map(|(id, d)| (id.as_str(), *d))
        .collect();
    for f in files {
        let day = medistock_domain::paris_date(f.received_at);
        let entry = last.entry(f.declarant.as_str()).or_insert(day);
        *entry = (*entry).max(day);
    }
    let mut out = Vec::new();
    for a in accounts.iter().filter(|a| a.enabled) {
        let cadence = Cadence::of(a);
        if cadence == Cadence::Aucune {
            continue;
        }
        let last_file = last.get(a.id.as_str()).copied();
        let silent = match last_file {
            Some(d) => cadence.lapsed_after(d).is_some_and(|l| as_of > l),
            None => true,
        };
        if !silent {
            continue;
        }
        let references = positions_by_declarant
            .get(a.id.as_str())
            .cloned()
            .unwrap_or_default();
        let references_in_tension = references
            .iter()
            .filter(|c| levels.get(c.as_str()).is_some_and(|l| *l >= Level::Tension))
            .cloned()
            .collect();
        out.push(SilentDeclarant {
            id: a.id.to_string(),
            name: a.name.clone(),
            kind: a.kind,
            cadence,
            last_file,
            references,
            references_in_tension,
        });
    }
    out
}

/// The reminder left in a silent declarant's receipts folder, in French.
pub fn reminder_text(d: &SilentDeclarant, as_of: NaiveDate) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "Medistock — rappel de déclaration du {}", date(as_of));
    let _ = writeln!(text);
    let _ = writeln!(text, "Bonjour,");
    let _ = writeln!(text);
    let since = d.last_file.map_or_else(
        || "depuis l'ouverture de votre compte".to_owned(),
        |l| format!("depuis le {}", date(l)),
    );
    let cadence = match d.cadence {
        Cadence::Quotidienne => "chaque jour ouvré",
        Cadence::Hebdomadaire => "chaque semaine",
        Cadence::Aucune => "à votre rythme",
    };
    let _ = writeln!(
        text,
        "Nous n'avons reçu aucun fichier de déclaration de stocks de {} ({}) {since}. \
         Votre déclaration est attendue {cadence}.",
        d.name, d.id
    );
    let _ = writeln!(
        text,
        "Sans elle, l'ANSM suit {} référence(s) sans vos chiffres : le stock que vous détenez \
         est inconnu, ce qui peut retarder la détection d'une rupture ou en signaler une à tort.",
        d.references.len()
    );
    let _ = writeln!(text);
    let _ = writeln!(
        text,
        "Merci de déposer votre fichier dans votre dossier (format : docs/format-declaration.md \
         du guide du déclarant). Si vous n'avez plus de stock à déclarer, ou si ce rappel est une \
         erreur, contactez l'ANSM."
    );
    let _ = writeln!(
        text,
        "Ce rappel n'est envoyé qu'une fois pour cette interruption ; il n'appelle pas de réponse \
         par ce dossier."
    );
    text
}

/// The day's point: its sections for recalls and silent declarants.
pub fn digest_sections(recalls: &[Recall], silent: &[SilentDeclarant]) -> String {
    let mut body = String::new();
    if !recalls.is_empty() {
        let _ = writeln!(
            body,
            "\nRappel — sujets CRITIQUE ou RUPTURE que personne n'a pris en compte (medistock alerts ack) :"
        );
        for r in recalls.iter().take(super::outbox::DIGEST_MAX_LINES) {
            let _ = writeln!(
                body,
                "  - {} {} : {} depuis le {}",
                r.subject,
                r.label,
                r.level.as_str(),
                date(r.open_since)
            );
        }
        if recalls.len() > super::outbox::DIGEST_MAX_LINES {
            let _ = writeln!(
                body,
                "  … et {} autres (medistock alerts list)",
                recalls.len() - super::outbox::DIGEST_MAX_LINES
            );
        }
    }
    if !silent.is_empty() {
        let _ = writeln!(
            body,
            "\nDéclarants silencieux (au-delà de leur cadence ; un rappel est déposé dans leur dossier) :"
        );
        for d in silent.iter().take(MAX_SILENT_LISTED) {
            let last = d.last_file.map_or_else(
                || "aucune déclaration reçue".to_owned(),
                |l| format!("dernière déclaration le {}", date(l)),
            );
            let named: Vec<&str> = d
                .references_in_tension
                .iter()
                .take(MAX_REFERENCES_NAMED)
                .map(String::as_str)
                .collect();
            let _ = writeln!(
                body,
                "  - {} ({}, {}, cadence {}) : {last} ; tableau incomplet pour {} référence(s){}",
                d.id,
                d.name,
                d.kind.as_str(),
                d.cadence.as_str(),
                d.references.len(),
                if named.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", dont {} en TENSION ou pire : {}{}",
                        d.references_in_tension.len(),
                        named.join(", "),
                        if d.references_in_tension.len() > named.len() {
                            ", …"
                        } else {
                            ""
                        }
                    )
                }
            );
        }
        if silent.len() > MAX_SILENT_LISTED {
            let _ = writeln!(
                body,
                "  … et {} autres (synthèse hebdomadaire)",
                silent.len() - MAX_SILENT_LISTED
            );
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use medistock_domain::DeclarantId;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn item(level: Level, as_of: &str, open: Option<&str>, recalled: Option<&str>) -> RiskItem {
        RiskItem {
            subject: "3400930000014".into(),
            level,
            as_of: day(as_of),
            computed_at: Utc::now(),
            version: 1,
            figures: String::new(),
            open_since: open.map(day),
            recalled_on: recalled.map(day),
        }
    }

    #[test]
    fn an_episode_opens_on_entering_tension_and_closes_below_it() {
        let d = day("2026-11-24");
        assert_eq!(open_since(None, Level::Tension, d), Some(d));
        assert_eq!(open_since(None, Level::Vigilance, d), None);
        let held = item(Level::Critique, "2026-11-23", Some("2026-11-10"), None);
        assert_eq!(
            open_since(Some(&held), Level::Tension, d),
            Some(day("2026-11-10"))
        );
        assert_eq!(open_since(Some(&held), Level::Vigilance, d), None);
        let legacy = item(Level::Tension, "2026-11-23", None, None);
        assert_eq!(
            open_since(Some(&legacy), Level::Tension, d),
            Some(day("2026-11-23"))
        );
    }

    #[test]
    fn a_critical_subject_nobody_acknowledged_is_recalled_every_seven_days() {
        let policy = AlertPolicy::default();
        let opened = Some(day("2026-11-10"));
        let held = item(Level::Critique, "2026-11-16", Some("2026-11-10"), None);
        let due = |held: &RiskItem, as_of: &str, state: Option<&AlertState>| {
            recall_due(
                Some(held),
                Level::Critique,
                opened,
                state,
                &policy,
                day(as_of),
            )
        };
        assert!(!due(&held, "2026-11-16", None), "6 days");
        assert!(due(&held, "2026-11-17", None), "7 days");
        let recalled = item(
            Level::Critique,
            "2026-11-17",
            Some("2026-11-10"),
            Some("2026-11-17"),
        );
        assert!(!due(&recalled, "2026-11-23", None));
        assert!(
            due(&recalled, "2026-11-24", None),
            "7 days after the recall"
        );
        let acked = AlertState::new("3000001")
            .unwrap()
            .acknowledge("Jeanne", "", Utc::now(), Level::Critique, opened)
            .unwrap();
        assert!(!due(&held, "2026-11-17", Some(&acked)));
        assert!(
            recall_due(
                Some(&held),
                Level::Rupture,
                opened,
                Some(&acked),
                &policy,
                day("2026-11-17")
            ),
            "an escalation past the level acknowledged is recalled"
        );
        assert!(!recall_due(
            Some(&held),
            Level::Tension,
            opened,
            None,
            &policy,
            day("2026-12-30")
        ));
    }

    #[test]
    fn the_end_of_a_silence_is_said_once_when_the_subject_is_still_in_tension() {
        let topics = AlertTopics {
            critical: "c".into(),
            info: "i".into(),
        };
        let state = AlertState::new("3000001")
            .unwrap()
            .silenced(day("2026-11-20"), "Jeanne", "import en cours", Utc::now())
            .unwrap();
        let during = item(Level::Tension, "2026-11-20", Some("2026-11-01"), None);
        let after = item(Level::Tension, "2026-11-21", Some("2026-11-01"), None);
        let end = |held: &RiskItem, level, as_of: &str| {
            silence_end(
                &state,
                Some(held),
                level,
                "X",
                day(as_of),
                &topics,
                Utc::now(),
            )
        };
        let record = end(&during, Level::Tension, "2026-11-21").unwrap();
        assert_eq!(record.key, "FINSILENCE#3400930000014#2026-11-20");
        assert!(
            record
                .notification
                .body
                .contains("a pris fin le 20/11/2026")
        );
        assert!(
            end(&after, Level::Tension, "2026-11-22").is_none(),
            "said once"
        );
        assert!(
            end(&during, Level::Vigilance, "2026-11-21").is_none(),
            "not in tension"
        );
        assert!(
            end(&during, Level::Tension, "2026-11-20").is_none(),
            "still silenced"
        );
    }

    #[test]
    fn declarants_silent_past_their_cadence_are_listed_with_the_references_they_leave_blind() {
        let account = |id: &str, kind| Account {
            id: DeclarantId::parse(id).unwrap(),
            name: id.to_uppercase(),
            kind,
            public_keys: Vec::new(),
            enabled: true,
            cadence: None,
        };
        let accounts = [
            account("gr-a", DeclarantType::Grossiste),
            account("gr-b", DeclarantType::Grossiste),
            account("lab-a", DeclarantType::Exploitant),
            account("lab-b", DeclarantType::Exploitant),
            account("autre", DeclarantType::Autre),
        ];
        let file = |declarant: &str, when: &str| LedgerEntry {
            sha256: format!("{declarant}{when}"),
            status: medistock_domain::store::FileStatus::Applied,
            key: String::new(),
            version: None,
            declarant: declarant.into(),
            owner: String::new(),
            lines: [0; 3],
            received_at: when.parse().unwrap(),
            lease_until: Utc::now(),
            finished_at: None,
        };
        // Thursday 26/11: gr-a sent Monday (Tue and Wed missed), gr-b Wednesday; lab-a
        // 9 days ago, lab-b 10 days ago.
        let files = [
            file("gr-a", "2026-11-23T10:00:00Z"),
            file("gr-b", "2026-11-25T10:00:00Z"),
            file("lab-a", "2026-11-17T10:00:00Z"),
            file("lab-b", "2026-11-16T10:00:00Z"),
        ];
        let positions = HashMap::from([(
            "gr-a".to_owned(),
            vec!["3400930000014".to_owned(), "3400930000021".to_owned()],
        )]);
        let levels = HashMap::from([("3400930000021".to_owned(), Level::Critique)]);
        let silent = silent_declarants(
            &accounts,
            &files,
            &positions,
            &HashMap::new(),
            &levels,
            day("2026-11-26"),
        );
        let ids: Vec<&str> = silent.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["gr-a", "lab-b"]);
        assert_eq!(silent[0].references_in_tension, ["3400930000021"]);
        assert_eq!(silent[0].lapse(), "2026-11-23");
        // A Monday after a Friday file is not a lapse (weekends are not working days).
        let friday = [file("gr-a", "2026-11-27T10:00:00Z")];
        assert!(
            silent_declarants(
                &accounts[..1],
                &friday,
                &positions,
                &HashMap::new(),
                &levels,
                day("2026-11-30")
            )
            .is_empty()
        );
        // Beyond the ledger's horizon, the latest position dates the lapse.
        let old = HashMap::from([("lab-b".to_owned(), day("2026-09-01"))]);
        let beyond = silent_declarants(
            &accounts[3..4],
            &[],
            &positions,
            &old,
            &levels,
            day("2026-11-26"),
        );
        assert_eq!(beyond[0].lapse(), "2026-09-01");
        let body = digest_sections(&[], &silent);
        assert!(body.contains("gr-a (GR-A, grossiste, cadence quotidienne) : dernière déclaration le 23/11/2026 ; tableau incomplet pour 2 référence(s), dont 1 en TENSION ou pire : 3400930000021"), "{body}");
        assert_eq!(body.lines().filter(|l| l.starts_with("  - ")).count(), 2);
        let reminder = reminder_text(&silent[0], day("2026-11-26"));
        assert!(reminder.contains("depuis le 23/11/2026"), "{reminder}");
        assert!(reminder.contains("chaque jour ouvré"));
    }
}
