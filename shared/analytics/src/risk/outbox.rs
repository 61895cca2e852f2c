//! What a run announces, grouped and deduplicated as Alertmanager does: one message per group
//! of substitutable presentations for the transitions of its references and of the group
//! itself in one run; one message for a reference outside any group; entries into VIGILANCE
//! in one daily digest. Every record has a deterministic key built from the transitions it
//! carries, so a rerun or a concurrent run writes the same keys and never alerts twice.

use medistock_domain::french::number;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::alert::{
    AlertTopics, Alternative, coverage_text, is_announced, notification, severity, sms_ascii,
    stockout_line,
};
use super::assess::Assessment;
use super::config::RiskConfig;
use super::group::GroupAssessment;
use medistock_domain::Cip13;
use medistock_domain::Level;
use medistock_domain::store::{AlertRecord, Notification, RiskItem};

/// A run's assessments with the levels held before it.
pub struct RunChanges<'a> {
    /// Reference assessments and the level each held before.
    pub references: Vec<(&'a Assessment, Level)>,
    /// Group assessments and the level each held before.
    pub groups: Vec<(&'a GroupAssessment, Level)>,
}

/// What the daily lifecycle adds to a run's messages (see [`super::lifecycle`]).
#[derive(Debug, Clone, Default)]
pub struct OutboxExtras {
    /// Subjects CRITIQUE or RUPTURE nobody acknowledged, due for a recall in the digest.
    pub recalls: Vec<super::lifecycle::Recall>,
    /// Declarants silent past their cadence.
    pub silent: Vec<super::lifecycle::SilentDeclarant>,
    /// Lines "mesures en cours" by subject (a reference or `GROUPE#<id>`).
    pub measures: HashMap<String, Vec<String>>,
}

/// References listed in a digest at most: an SNS message holds 256 KB, and a reader a few
/// hundred lines.
pub const DIGEST_MAX_LINES: usize = 200;

/// The alert records of a run's transitions.
///
/// Each record says what a silence must cover to mute it (the reference, or its group;
/// a group's message: the group or every presentation it carries), whether it escalates to
/// RUPTURE (no silence mutes that) and whether it is urgent (a RUPTURE of an MITM reference:
/// its SMS goes out in the quiet hours). A group's message carries its presentations'
/// transitions: they get no message of their own in the same run (inhibition).
pub fn outbox_records(
    changes: &RunChanges<'_>,
    config: &RiskConfig,
    topics: &AlertTopics,
    as_of: NaiveDate,
    now: DateTime<Utc>,
    extras: &OutboxExtras,
) -> Vec<AlertRecord> {
    let group_of = |a: &Assessment| {
        config
            .references
            .get(&a.cip13)
            .and_then(|s| s.group.clone())
    };
    let scope_of = |a: &Assessment| {
        let mut part = vec![a.cip13.to_string()];
        if let Some(g) = group_of(a) {
            part.push(RiskItem::group_subject(&g));
        }
        part
    };
    let to_rupture = |from: Level, to: Level| to == Level::Rupture && from < Level::Rupture;
    let record = |key: String,
                  cip13: String,
                  mut notification: Notification,
                  scope: Vec<Vec<String>>,
                  carried: &[(&Assessment, Level)]| {
        let mut subjects: Vec<&String> = scope.iter().flatten().collect();
        subjects.sort();
        subjects.dedup();
        let lines: Vec<&String> = subjects
            .iter()
            .filter_map(|s| extras.measures.get(s.as_str()))
            .flatten()
            .collect();
        if !lines.is_empty() {
            notification.body.push_str("\nMesures en cours :\n");
            for line in lines {
                notification.body.push_str(&format!("  - {line}\n"));
            }
        }
        let mut r = AlertRecord::pending(
            key,
            cip13,
            // Every message fits one SNS publication, whatever a run produced.
            notification.bounded(),
            now,
        );
        r.escalates_to_rupture = carried.iter().any(|(a, from)| to_rupture(*from, a.level));
        r.urgent = carried
            .iter()
            .any(|(a, from)| to_rupture(*from, a.level) && config.settings(&a.cip13).mitm);
        r.silence_scope = scope;
        r
    };
    let groups: BTreeMap<&str, &(&GroupAssessment, Level)> = changes
        .groups
        .iter()
        .map(|c| (c.0.group.as_str(), c))
        .collect();
    let mut by_group: BTreeMap<Option<String>, Vec<(&Assessment, Level)>> = BTreeMap::new();
    for (a, from) in &changes.references {
        if is_announced(*from, a.level) {
            by_group.entry(group_of(a)).or_default().push((a, *from));
        }
    }
    for (g, from) in &changes.groups {
        if is_announced(*from, g.level) {
            by_group.entry(Some(g.group.clone())).or_default();
        }
    }
    let all: Vec<&Assessment> = changes.references.iter().map(|(a, _)| *a).collect();
    let index = Alternatives::new(&all, config);
    let mut out = Vec::new();
    for (group, refs) in by_group {
        let group_change = group
            .as_deref()
            .and_then(|g| groups.get(g))
            .filter(|(g, from)| is_announced(*from, g.level));
        let single = |a: &Assessment, from: Level| {
            let alternatives = index.of(a);
            notification(a, from, &config.settings(&a.cip13), &alternatives, topics)
        };
        match (refs.as_slice(), group_change) {
            ([(a, from)], None) => out.push(record(
                format!("{}#{as_of}#{}-{}", a.cip13, from.as_str(), a.level.as_str()),
                a.cip13.to_string(),
                single(a, *from),
                vec![scope_of(a)],
                &[(*a, *from)],
            )),
            _ => {
                let Some(id) = group else {
                    // References outside any group: one message each.
                    for (a, from) in &refs {
                        out.push(record(
                            format!("{}#{as_of}#{}-{}", a.cip13, from.as_str(), a.level.as_str()),
                            a.cip13.to_string(),
                            single(a, *from),
                            vec![scope_of(a)],
                            &[(*a, *from)],
                        ));
                    }
                    continue;
                };
                let current = groups.get(id.as_str()).map(|c| c.0);
                let messages: Vec<(&Assessment, Level, Notification)> = refs
                    .iter()
                    .map(|(a, from)| (*a, *from, single(a, *from)))
                    .collect();
                let mut carried: Vec<String> = refs
                    .iter()
                    .map(|(a, from)| format!("{}:{}-{}", a.cip13, from.as_str(), a.level.as_str()))
                    .collect();
                if let Some((g, from)) = group_change {
                    carried.push(format!("groupe:{}-{}", from.as_str(), g.level.as_str()));
                }
                let worst = messages.iter().max_by_key(|(a, _, _)| a.level);
                let group_subject = RiskItem::group_subject(&id);
                let mut scope: Vec<Vec<String>> = refs.iter().map(|(a, _)| scope_of(a)).collect();
                if group_change.is_some() {
                    scope.push(vec![group_subject.clone()]);
                }
                let group_to_rupture =
                    group_change.is_some_and(|(g, from)| to_rupture(*from, g.level));
                let mut r = record(
                    format!("GROUPE#{id}#{as_of}#{}", digest_of(&carried)),
                    worst
                        .map(|(a, _, _)| a.cip13.to_string())
                        .unwrap_or_default(),
                    group_notification(
                        &id,
                        current,
                        group_change.map(|c| c.1),
                        &messages,
                        &all,
                        config,
                        topics,
                    ),
                    scope,
                    &refs,
                );
                r.escalates_to_rupture |= group_to_rupture;
                // A group of an MITM reaching RUPTURE is urgent too.
                r.urgent |= group_to_rupture
                    && current.is_some_and(|g| {
                        g.members
                            .iter()
                            .any(|m| Cip13::parse(m).is_ok_and(|c| config.settings(&c).mitm))
                    });
                out.push(r);
            }
        }
    }
    if let Some((key, notification)) = vigilance_digest(changes, config, topics, as_of) {
        out.push(AlertRecord::pending(
            key,
            String::new(),
            notification.bounded(),
            now,
        ));
    }
    if let Some((key, notification)) = daily_point(topics, as_of, extras) {
        out.push(AlertRecord::pending(
            key,
            String::new(),
            notification.bounded(),
            now,
        ));
    }
    out
}

/// The references of each group, built once per run: looking the group up for each
/// reference would be quadratic on 20,000 references.
pub struct Alternatives<'a> {
    by_group: HashMap<&'a str, Vec<&'a Assessment>>,
    config: &'a RiskConfig,
}

impl<'a> Alternatives<'a> {
    /// Indexes `all` by group.
    pub fn new(all: &[&'a Assessment], config: &'a RiskConfig) -> Self {
        let mut by_group: HashMap<&'a str, Vec<&'a Assessment>> = HashMap::new();
        for a in all {
            if let Some(group) = config
                .references
                .get(&a.cip13)
                .and_then(|s| s.group.as_deref())
            {
                by_group.entry(group).or_default().push(a);
            }
        }
        Self { by_group, config }
    }

    /// The other references of `a`'s group, with their level and coverage.
    pub fn of(&self, a: &Assessment) -> Vec<Alternative> {
        let Some(members) = self
            .config
            .references
            .get(&a.cip13)
            .and_then(|s| s.group.as_deref())
            .and_then(|g| self.by_group.get(g))
        else {
            return Vec::new();
        };
        members
            .iter()
            .filter(|b| b.cip13 != a.cip13)
            .map(|b| Alternative {
                cip13: b.cip13.to_string(),
                denomination: self
                    .config
                    .references
                    .get(&b.cip13)
                    .map(|s| s.denomination.clone())
                    .unwrap_or_default(),
                level: b.level,
                coverage_days: b.coverage_days,
            })
            .collect()
    }
}

/// First 16 hex digits of the SHA-256 of the transitions a record carries.
fn digest_of(carried: &[String]) -> String {
    let mut sorted = carried.to_vec();
    sorted.sort();
    let hash = Sha256::digest(sorted.join("\n").as_bytes());
    hash.iter().take(8).fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn group_header(body: &mut String, g: &GroupAssessment, from: Option<Level>) {
    let previous = from.map_or_else(String::new, |f| format!(" (précédent : {})", f.as_str()));
    let _ = writeln!(body, "Groupe {} : {}{previous}", g.group, g.level.as_str());
    let demand = g.demand.map_or_else(
        || "non calculable".to_owned(),
        |d| format!("{} unités/jour", number(d, 1)),
    );
    let _ = writeln!(
        body,
        "Stock cumulé du groupe : {} unités ; demande cumulée : {demand} ; {}",
        number(g.chain_stock, 0),
        coverage_text(g.coverage_days)
    );
    let _ = writeln!(
        body,
        "{}",
        stockout_line(
            "Rupture du groupe prévue",
            g.stockout_date,
            g.days_to_stockout
        )
    );
}

/// The subject of a group message carrying its references' transitions: an alert that ends
/// must not read as one that begins, so the ends are counted apart from the alerts.
fn members_subject(
    id: &str,
    level: Level,
    group: Option<Level>,
    messages: &[(&Assessment, Level, Notification)],
) -> String {
    let ends = messages
        .iter()
        .filter(|(a, _, _)| a.level < Level::Tension)
        .count();
    let alerts = messages.len() - ends;
    if alerts == 0 && group.is_none_or(|g| g < Level::Tension) {
        let normal = messages.iter().all(|(a, _, _)| a.level == Level::Normal)
            && group.is_none_or(|g| g == Level::Normal);
        let what = if normal {
            "Retour à la normale"
        } else {
            "Fin de l'alerte"
        };
        return format!("[Medistock] {what} — groupe {id} : {ends} présentation(s)");
    }
    let mut subject = format!("[Medistock] {} — groupe {id}", level.as_str());
    if alerts > 0 {
        let _ = write!(subject, " : {alerts} présentation(s) en alerte");
    }
    if ends > 0 {
        let sep = if alerts > 0 { "," } else { " :" };
        let _ = write!(subject, "{sep} {ends} fin(s) d'alerte");
    }
    subject
}

/// One message for a group: its own figures, then each reference's transition in full.
fn group_notification(
    id: &str,
    group: Option<&GroupAssessment>,
    group_from: Option<Level>,
    messages: &[(&Assessment, Level, Notification)],
    all: &[&Assessment],
    config: &RiskConfig,
    topics: &AlertTopics,
) -> Notification {
    let worst_ref = messages.iter().map(|(a, _, _)| a.level).max();
    let level = worst_ref
        .into_iter()
        .chain(group.map(|g| g.level))
        .max()
        .unwrap_or(Level::Normal);
    let critical = level >= Level::Critique;
    let subject = match (messages, group) {
        ([], Some(g)) if g.level == Level::Normal => {
            format!("[Medistock] Retour à la normale — groupe {id}")
        }
        ([], Some(g)) if g.level < Level::Tension => {
            format!("[Medistock] Fin de l'alerte, VIGILANCE — groupe {id}")
        }
        ([], _) => format!(
            "[Medistock] {} — groupe {id} : les alternatives ne couvrent plus la demande",
            level.as_str()
        ),
        _ => members_subject(id, level, group.map(|g| g.level), messages),
    };
    let mut body = String::new();
    if let Some(g) = group {
        group_header(&mut body, g, group_from);
    }
    if messages.is_empty() {
        let _ = writeln!(body, "Présentations du groupe :");
        for a in all
            .iter()
            .filter(|a| group.is_some_and(|g| g.members.iter().any(|m| m == a.cip13.as_str())))
        {
            let _ = writeln!(
                body,
                "  - {} {} : {}, {}",
                a.cip13,
                config.settings(&a.cip13).denomination,
                a.level.as_str(),
                coverage_text(a.coverage_days)
            );
        }
    }
    for (_, _, n) in messages {
        let _ = writeln!(body, "\n———\n{}", n.subject);
        body.push_str(&n.body);
    }
    let sms = critical.then(|| {
        // The references whose alert ends are neither counted nor dated here.
        let alerting = || {
            messages
                .iter()
                .filter(|(a, _, _)| a.level >= Level::Tension)
        };
        let first = alerting()
            .filter_map(|(a, _, _)| a.stockout_date)
            .chain(group.and_then(|g| g.stockout_date))
            .min()
            .map_or_else(|| "-".to_owned(), |d| d.format("%d/%m").to_string());
        let text = format!(
            "Medistock {} groupe {}: {} presentation(s) en alerte, 1re rupture prevue {first}, couverture groupe {} j",
            level.as_str(),
            sms_ascii(id),
            alerting().count(),
            group
                .and_then(|g| g.coverage_days)
                .map_or_else(|| "?".to_owned(), |c| format!("{c:.0}"))
        );
        text.chars().take(160).collect()
    });
    let mut attributes = BTreeMap::from([
        ("severity".to_owned(), severity(level).to_owned()),
        ("level".to_owned(), level.as_str().to_owned()),
        ("groupe".to_owned(), id.to_owned()),
        (
            "mitm".to_owned(),
            messages
                .iter()
                .any(|(a, _, _)| config.settings(&a.cip13).mitm)
                .to_string(),
        ),
    ]);
    if let Some((a, _, _)) = messages.iter().max_by_key(|(a, _, _)| a.level) {
        attributes.insert("cip13".to_owned(), a.cip13.to_string());
    }
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
        attributes,
    }
}

/// The day's point, one per day (`POINT#<as_of>`, created once: a rerun of the day sends no
/// second one): the subjects recalled and the declarants silent past their cadence.
fn daily_point(
    topics: &AlertTopics,
    as_of: NaiveDate,
    extras: &OutboxExtras,
) -> Option<(String, Notification)> {
    if extras.recalls.is_empty() && extras.silent.is_empty() {
        return None;
    }
    let body = super::lifecycle::digest_sections(&extras.recalls, &extras.silent);
    let day = medistock_domain::french::date(as_of);
    Some((
        format!("POINT#{as_of}"),
        Notification {
            topic: topics.info.clone(),
            subject: format!(
                "[Medistock] Point du {day} : {} rappel(s), {} déclarant(s) silencieux",
                extras.recalls.len(),
                extras.silent.len()
            ),
            body: format!("Point du {day}\n{body}"),
            sms: None,
            email: true,
            attributes: BTreeMap::from([
                ("severity".to_owned(), "info".to_owned()),
                ("level".to_owned(), "POINT".to_owned()),
            ]),
        },
    ))
}

/// One message listing the references and groups that entered VIGILANCE in this run.
fn vigilance_digest(
    changes: &RunChanges<'_>,
    config: &RiskConfig,
    topics: &AlertTopics,
    as_of: NaiveDate,
) -> Option<(String, Notification)> {
    let entering = |from: Level, to: Level| to == Level::Vigilance && from < Level::Vigilance;
    let refs: Vec<&Assessment> = changes
        .references
        .iter()
        .filter(|(a, from)| entering(*from, a.level))
        .map(|(a, _)| *a)
        .collect();
    let groups: Vec<&GroupAssessment> = changes
        .groups
        .iter()
        .filter(|(g, from)| entering(*from, g.level))
        .map(|(g, _)| *g)
        .collect();
    if refs.is_empty() && groups.is_empty() {
        return None;
    }
    let mut carried: Vec<String> = refs.iter().map(|a| a.cip13.to_string()).collect();
    carried.extend(groups.iter().map(|g| format!("groupe:{}", g.group)));
    let mut body = format!(
        "Entrées en VIGILANCE au {} (rupture prévue dans moins de {} jours, ou exploitant sous son stock de sécurité) :\n",
        medistock_domain::french::date(as_of),
        number(super::level::Thresholds::default().vigilance_days, 0)
    );
    for a in refs.iter().take(DIGEST_MAX_LINES) {
        let settings = config.settings(&a.cip13);
        let stockout = a.stockout_date.map_or_else(
            || "pas de rupture prévue".to_owned(),
            |d| format!("rupture prévue le {}", medistock_domain::french::date(d)),
        );
        let _ = writeln!(
            body,
            "  - {} {}{} : {}, {stockout}{}",
            a.cip13,
            settings.denomination,
            if settings.mitm { " (MITM)" } else { "" },
            coverage_text(a.coverage_days),
            if a.below_safety_stock.is_empty() {
                String::new()
            } else {
                format!(
                    ", sous le stock de sécurité : {}",
                    a.below_safety_stock.join(", ")
                )
            }
        );
    }
    if refs.len() > DIGEST_MAX_LINES {
        let _ = writeln!(
            body,
            "  … et {} autres références (liste complète : synthèse hebdomadaire, medistock risk)",
            refs.len() - DIGEST_MAX_LINES
        );
    }
    for g in groups.iter().take(DIGEST_MAX_LINES) {
        let _ = writeln!(
            body,
            "  - groupe {} ({} présentations) : {}",
            g.group,
            g.members.len(),
            coverage_text(g.coverage_days)
        );
    }
    let count = refs.len() + groups.len();
    let day = medistock_domain::french::date(as_of);
    let subject = format!("[Medistock] Vigilance du {day} : {count} entrée(s)");
    Some((
        format!("VIGILANCE#{as_of}#{}", digest_of(&carried)),
        Notification {
            topic: topics.info.clone(),
            subject,
            body,
            sms: None,
            email: true,
            attributes: BTreeMap::from([
                ("severity".to_owned(), "info".to_owned()),
                ("level".to_owned(), Level::Vigilance.as_str().to_owned()),
            ]),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::assess::StockByType;
    use medistock_domain::Cip13;

    fn assessment(i: u32) -> Assessment {
        Assessment {
            cip13: Cip13::parse(&format!("{:07}", 3_000_000 + i)).unwrap(),
            as_of: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            level: Level::Vigilance,
            chain_stock: 4000.0,
            held_stock: 0,
            stock_by_type: StockByType::default(),
            stock_detail: Default::default(),
            stockout_without_supplies: None,
            first_announced_supply: None,
            probability: None,
            demand: Some(100.0),
            trend: 1.0,
            coverage_days: Some(40.0),
            stockout_date: None,
            days_to_stockout: Some(40),
            supplies: Vec::new(),
            below_safety_stock: Vec::new(),
            flags: Vec::new(),
            supply_record: Default::default(),
            supply_record_used: false,
            figures_level: None,
        }
    }

    #[test]
    fn a_national_digest_stays_within_an_sns_message() {
        let all: Vec<Assessment> = (0..5000).map(assessment).collect();
        let changes = RunChanges {
            references: all.iter().map(|a| (a, Level::Normal)).collect(),
            groups: Vec::new(),
        };
        let topics = AlertTopics {
            critical: "c".into(),
            info: "i".into(),
        };
        let records = outbox_records(
            &changes,
            &RiskConfig::default(),
            &topics,
            all[0].as_of,
            Utc::now(),
            &OutboxExtras::default(),
        );
        assert_eq!(records.len(), 1, "VIGILANCE is not sent one by one");
        let n = &records[0].notification;
        assert_eq!(
            n.subject,
            "[Medistock] Vigilance du 23/11/2026 : 5000 entrée(s)"
        );
        assert_eq!(
            n.body.lines().filter(|l| l.starts_with("  - ")).count(),
            DIGEST_MAX_LINES
        );
        assert!(n.body.contains("… et 4800 autres références"));
        assert!(n.body.len() < 64 * 1024, "{} bytes", n.body.len());
    }

    #[test]
    fn a_group_of_hundreds_of_presentations_with_thousands_of_supplies_fits_an_sns_message() {
        use medistock_domain::position::Supply;
        use std::fmt::Write;
        let start = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let all: Vec<Assessment> = (0..400)
            .map(|i| Assessment {
                level: Level::Rupture,
                supplies: (0..10_000)
                    .map(|d| Supply {
                        date: start + chrono::Days::new(d),
                        quantity: 1_000_000_000,
                    })
                    .collect(),
                below_safety_stock: (0..500).map(|l| format!("laboratoire-{l}")).collect(),
                ..assessment(i)
            })
            .collect();
        let mut references = String::from("cip13;denomination;groupe;mitm\n");
        for a in &all {
            let _ = writeln!(references, "{};Présentation µg {};7;oui", a.cip13, a.cip13);
        }
        let config = RiskConfig::new(
            &crate::registry::Registry::default(),
            &crate::catalogue::Catalogue::from_settings_csv(&references).unwrap(),
        );
        let changes = RunChanges {
            references: all.iter().map(|a| (a, Level::Normal)).collect(),
            groups: Vec::new(),
        };
        let topics = AlertTopics {
            critical: "c".into(),
            info: "i".into(),
        };
        let records = outbox_records(
            &changes,
            &config,
            &topics,
            all[0].as_of,
            Utc::now(),
            &OutboxExtras::default(),
        );
        assert_eq!(records.len(), 1, "one message for the group");
        let n = &records[0].notification;
        assert!(n.sms.is_some());
        assert!(n.sns_size() < 256 * 1024, "{} bytes for SNS", n.sns_size());
        assert!(n.body.contains("message tronqué"), "the cut says so");
        assert!(n.body.contains("… et 9990 autre(s) approvisionnement(s)"));
    }

    #[test]
    fn a_body_at_the_limit_is_kept_and_one_byte_more_is_cut_at_a_line_end() {
        use medistock_domain::store::MAX_BODY_BYTES;
        let line = "x".repeat(99) + "\n";
        let at_limit = line.repeat(MAX_BODY_BYTES / 100) + &"y".repeat(MAX_BODY_BYTES % 100);
        assert_eq!(at_limit.len(), MAX_BODY_BYTES);
        let n = |body: String| Notification {
            topic: "t".into(),
            subject: "s".into(),
            body,
            sms: Some("é".repeat(300)),
            email: true,
            attributes: BTreeMap::new(),
        };
        let kept = n(at_limit.clone()).bounded();
        assert_eq!(kept.body, at_limit);
        let cut = n(at_limit + "z").bounded();
        assert!(cut.body.len() <= MAX_BODY_BYTES, "{}", cut.body.len());
        assert!(cut.body.ends_with("»]\n"));
        assert!(
            cut.body
                .lines()
                .filter(|l| l.starts_with('x'))
                .all(|l| l.len() == 99)
        );
        assert_eq!(cut.sms.map(|s| s.chars().count()), Some(160));
        // Control characters grow sixfold in the JSON document SNS receives.
        let controls = n("\u{1}".repeat(MAX_BODY_BYTES)).bounded();
        assert!(controls.sns_size() < 256 * 1024, "{}", controls.sns_size());
    }
}

#[cfg(test)]
mod group_tests {
    use super::*;
    use crate::registry::Registry;
    use crate::risk::assess::StockByType;
    use medistock_domain::Cip13;

    fn reference(cip7: &str, level: Level, coverage: f64) -> Assessment {
        Assessment {
            cip13: Cip13::parse(cip7).unwrap(),
            as_of: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            level,
            chain_stock: coverage * 100.0,
            held_stock: 0,
            stock_by_type: StockByType::default(),
            stock_detail: Default::default(),
            stockout_without_supplies: None,
            first_announced_supply: None,
            probability: None,
            demand: Some(100.0),
            trend: 1.0,
            coverage_days: Some(coverage),
            stockout_date: None,
            days_to_stockout: None,
            supplies: Vec::new(),
            below_safety_stock: Vec::new(),
            flags: Vec::new(),
            supply_record: Default::default(),
            supply_record_used: false,
            figures_level: None,
        }
    }

    fn group(level: Level, members: &[&Assessment]) -> GroupAssessment {
        GroupAssessment {
            group: "12".into(),
            members: members.iter().map(|a| a.cip13.to_string()).collect(),
            as_of: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            level,
            chain_stock: 2500.0,
            demand: Some(200.0),
            coverage_days: Some(12.5),
            stockout_date: NaiveDate::from_ymd_opt(2026, 12, 5),
            days_to_stockout: Some(12),
            figures_level: None,
        }
    }

    fn records(changes: &RunChanges<'_>) -> Vec<AlertRecord> {
        let config = RiskConfig::new(
            &Registry::default(),
            &crate::catalogue::Catalogue::from_settings_csv(
                "cip13;denomination;groupe;mitm\n3000001;A x30;12;oui\n3000002;A x90;12;non\n",
            )
            .unwrap(),
        );
        let topics = AlertTopics {
            critical: "c".into(),
            info: "i".into(),
        };
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        outbox_records(
            changes,
            &config,
            &topics,
            as_of,
            Utc::now(),
            &OutboxExtras::default(),
        )
    }

    #[test]
    fn a_group_escalating_alone_gets_its_own_message_listing_its_presentations() {
        // The x30 was already CRITIQUE (announced before); the x90 only enters VIGILANCE; the
        // group, pooled, goes from VIGILANCE to TENSION: no reference message, one group
        // message, and the digest.
        let x30 = reference("3000001", Level::Critique, 3.0);
        let x90 = reference("3000002", Level::Vigilance, 22.0);
        let g = group(Level::Tension, &[&x30, &x90]);
        let out = records(&RunChanges {
            references: vec![(&x30, Level::Critique), (&x90, Level::Normal)],
            groups: vec![(&g, Level::Vigilance)],
        });
        assert_eq!(out.len(), 2, "{out:?}");
        let message = out
            .iter()
            .find(|r| r.key.starts_with("GROUPE#12#"))
            .unwrap();
        let n = &message.notification;
        assert_eq!(
            n.subject,
            "[Medistock] TENSION — groupe 12 : les alternatives ne couvrent plus la demande"
        );
        assert_eq!((n.topic.as_str(), n.sms.is_none()), ("i", true));
        assert!(
            n.body
                .starts_with("Groupe 12 : TENSION (précédent : VIGILANCE)\n")
        );
        assert!(
            n.body
                .contains("Rupture du groupe prévue le : 05/12/2026 (dans 12 jours)")
        );
        assert!(
            n.body
                .contains("  - 3400930000014 A x30 : CRITIQUE, 3 jours"),
            "{}",
            n.body
        );
        assert!(
            n.body
                .contains("  - 3400930000021 A x90 : VIGILANCE, 22 jours"),
            "{}",
            n.body
        );
        assert_eq!(n.attributes["groupe"], "12");
        assert!(!n.attributes.contains_key("cip13"), "no reference changed");
        assert!(
            out.iter()
                .any(|r| r.key.starts_with("VIGILANCE#2026-11-23#"))
        );

        // The same changes give the same keys: a rerun never alerts twice.
        let again = records(&RunChanges {
            references: vec![(&x30, Level::Critique), (&x90, Level::Normal)],
            groups: vec![(&g, Level::Vigilance)],
        });
        let keys = |r: &[AlertRecord]| r.iter().map(|r| r.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&out), keys(&again));
    }

    #[test]
    fn a_group_back_to_normal_says_so() {
        let x30 = reference("3000001", Level::Normal, 80.0);
        let x90 = reference("3000002", Level::Normal, 90.0);
        let g = group(Level::Normal, &[&x30, &x90]);
        let out = records(&RunChanges {
            references: vec![(&x30, Level::Normal), (&x90, Level::Normal)],
            groups: vec![(&g, Level::Tension)],
        });
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].notification.subject,
            "[Medistock] Retour à la normale — groupe 12"
        );
    }

    #[test]
    fn the_end_of_an_alert_short_of_normal_is_announced() {
        // An episode that no longer holds TENSION: the reference and its group step down to
        // VIGILANCE, and ANSM is told that the alert ends.
        let x30 = reference("3000001", Level::Vigilance, 40.0);
        let x90 = reference("3000002", Level::Normal, 90.0);
        let g = group(Level::Vigilance, &[&x30, &x90]);
        let reference_only = records(&RunChanges {
            references: vec![(&x30, Level::Tension)],
            groups: vec![],
        });
        assert_eq!(reference_only.len(), 1);
        let n = &reference_only[0].notification;
        assert!(
            n.subject
                .starts_with("[Medistock] Fin de l'alerte, VIGILANCE — "),
            "{}",
            n.subject
        );
        assert!(
            n.body
                .contains("L'alerte prend fin sans retour à la normale"),
            "{}",
            n.body
        );
        assert_eq!(
            (n.topic.as_str(), n.sms.is_none()),
            ("i", true),
            "by email, on the information topic"
        );
        let group_only = records(&RunChanges {
            references: vec![(&x90, Level::Normal)],
            groups: vec![(&g, Level::Critique)],
        });
        assert_eq!(group_only.len(), 1);
        assert_eq!(
            group_only[0].notification.subject,
            "[Medistock] Fin de l'alerte, VIGILANCE — groupe 12"
        );
    }

    #[test]
    fn a_group_message_counts_the_ends_of_alerts_apart() {
        // Both references of the group leave TENSION on the same day, the group stays below
        // it: one message, whose subject says the alerts end, not that they begin.
        let x30 = reference("3000001", Level::Vigilance, 40.0);
        let x90 = reference("3000002", Level::Normal, 90.0);
        let ends = records(&RunChanges {
            references: vec![(&x30, Level::Tension), (&x90, Level::Tension)],
            groups: vec![],
        });
        let subject = |out: &[AlertRecord]| {
            out.iter()
                .find(|r| r.key.starts_with("GROUPE#12#"))
                .map(|r| r.notification.subject.clone())
        };
        assert_eq!(
            subject(&ends).as_deref(),
            Some("[Medistock] Fin de l'alerte — groupe 12 : 2 présentation(s)")
        );
        // Both back to NORMAL, the group too.
        let x30n = reference("3000001", Level::Normal, 80.0);
        let gn = group(Level::Normal, &[&x30n, &x90]);
        let normal = records(&RunChanges {
            references: vec![(&x30n, Level::Tension), (&x90, Level::Critique)],
            groups: vec![(&gn, Level::Tension)],
        });
        assert_eq!(
            subject(&normal).as_deref(),
            Some("[Medistock] Retour à la normale — groupe 12 : 2 présentation(s)")
        );
        // One begins while the other ends: the alert leads, the end is counted.
        let x30c = reference("3000001", Level::Critique, 3.0);
        let gc = group(Level::Tension, &[&x30c, &x90]);
        let mixed = records(&RunChanges {
            references: vec![(&x30c, Level::Vigilance), (&x90, Level::Tension)],
            groups: vec![(&gc, Level::Vigilance)],
        });
        assert_eq!(
            subject(&mixed).as_deref(),
            Some(
                "[Medistock] CRITIQUE — groupe 12 : 1 présentation(s) en alerte, 1 fin(s) d'alerte"
            )
        );
        let sms = mixed
            .iter()
            .find(|r| r.key.starts_with("GROUPE#12#"))
            .and_then(|r| r.notification.sms.clone())
            .expect("a CRITIQUE group message has its SMS");
        assert!(sms.contains(": 1 presentation(s) en alerte,"), "{sms}");
        // The group itself still at TENSION while its references end theirs.
        let held = records(&RunChanges {
            references: vec![(&x30, Level::Tension), (&x90, Level::Tension)],
            groups: vec![(&group(Level::Tension, &[&x30, &x90]), Level::Critique)],
        });
        assert_eq!(
            subject(&held).as_deref(),
            Some("[Medistock] TENSION — groupe 12 : 2 fin(s) d'alerte")
        );
    }
}
