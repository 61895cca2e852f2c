//! The synthesis as one self-contained HTML file in French: no script, no external asset,
//! styles inline, prints on A4. Every text that comes from data (names, file names, declarant
//! ids) goes through [`escape`].

use medistock_domain::french::thousands;
use std::fmt::Write;

use chrono::NaiveDate;

use super::svg::{colour, heat_map, stock_chart};
use super::synthesis::{ReferenceRow, Synthesis};
use crate::risk::QualityFlag;
use medistock_domain::DeclarantType;
use medistock_domain::Level;

/// Charts drawn at most (the table lists every reference).
pub const MAX_CHARTS: usize = 40;
/// Rows of the heat map at most.
pub const MAX_HEAT_ROWS: usize = 150;

/// Text made safe for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn date(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "—".to_owned(), medistock_domain::french::date)
}

fn days(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_owned(), thousands)
}

fn badge(level: Level) -> String {
    let ink = if matches!(level, Level::Critique | Level::Rupture) {
        "#ffffff"
    } else {
        "#000000"
    };
    format!(
        r#"<span class="badge" style="background:{};color:{ink}">{}</span>"#,
        colour(level),
        level.as_str()
    )
}

/// `cell`, and below it why the level is held, when an open alert holds it above `figures`.
fn with_held(cell: String, figures: Option<Level>) -> String {
    match figures {
        Some(figures) => format!(
            "{cell}<br>maintenu (chiffres du jour : {}, alerte ouverte jusqu'au retour à la normale ou {} jours après son ouverture)",
            figures.as_str(),
            crate::risk::EPISODE_HOLD_DAYS
        ),
        None => cell,
    }
}

fn change(r: &ReferenceRow) -> String {
    with_held(trend(r), r.assessment.figures_level)
}

fn trend(r: &ReferenceRow) -> String {
    match r.last_week {
        None => "nouveau".to_owned(),
        Some(before) if before == r.level() => "=".to_owned(),
        Some(before) if before < r.level() => format!("↑ depuis {}", before.as_str()),
        Some(before) => format!("↓ depuis {}", before.as_str()),
    }
}

fn quality(r: &ReferenceRow) -> String {
    let notes: Vec<String> = r
        .assessment
        .flags
        .iter()
        .map(|f| match f {
            QualityFlag::StalePosition { declarant, as_of } => format!(
                "position de {} du {}",
                escape(declarant),
                as_of.format("%d/%m")
            ),
            QualityFlag::NoDemand => "demande inconnue".to_owned(),
            QualityFlag::NoPosition => "aucune déclaration".to_owned(),
            QualityFlag::MissingManufacturers => "stock des exploitants inconnu".to_owned(),
            QualityFlag::SupplySlipped { due } => {
                format!("appro. dû le {} repoussé : non compté", due.format("%d/%m"))
            }
            QualityFlag::ProductionStopSuspected { since } => format!(
                "arrêt de production soupçonné depuis le {} : appro. non comptés",
                since.format("%d/%m")
            ),
            QualityFlag::InferredBatch { date, .. } => format!(
                "aucun appro. annoncé : lot attendu vers le {} au rythme observé",
                date.format("%d/%m")
            ),
            QualityFlag::LocalShortage {
                share_pct, days, ..
            } => {
                format!("{share_pct} % des sorties des grossistes sous {days} jours de stock")
            }
            QualityFlag::CensoredDemand { days } => {
                format!("demande corrigée de {days} jour(s) de rupture des grossistes")
            }
        })
        .collect();
    if notes.is_empty() {
        "bonne".to_owned()
    } else {
        format!("réduite : {}", notes.join(", "))
    }
}

const STYLE: &str = r#"
body{font-family:"DejaVu Sans",Arial,sans-serif;color:#212121;margin:24px auto;max-width:1100px;font-size:13px;line-height:1.4}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #1565c0;padding-bottom:3px}
h3{font-size:14px;margin:14px 0 4px}.sub{color:#616161;margin:0 0 16px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:12px}th,td{border:1px solid #e0e0e0;padding:3px 5px;text-align:left;vertical-align:top}td.alt{font-size:11px;white-space:nowrap}
th{background:#f5f5f5}td.n{text-align:right;white-space:nowrap}.badge{display:inline-block;padding:1px 6px;border-radius:3px;font-weight:bold;font-size:11px}
.cards{display:flex;gap:10px;flex-wrap:wrap}.card{flex:1;min-width:120px;border:1px solid #e0e0e0;border-radius:4px;padding:8px;text-align:center}
.card b{display:block;font-size:24px}.chart{border:1px solid #eeeeee;padding:6px;margin:8px 0 16px;page-break-inside:avoid}
.muted{color:#757575}.legend span{margin-right:12px}.compact{font-size:12px;line-height:1.8}
@media print{body{margin:0;max-width:none;font-size:11px}h2{page-break-after:avoid}tr{page-break-inside:avoid}}
@page{size:A4;margin:14mm}
"#;

/// VIGILANCE references listed in the HTML at most (the most urgent first); all are in the CSV.
pub const MAX_VIGILANCE_LISTED: usize = 500;

/// The VIGILANCE references as a compact list: reference, name, coverage.
fn vigilance_list(h: &mut String, watched: &[&ReferenceRow]) {
    let mut vigilance: Vec<&ReferenceRow> = watched
        .iter()
        .copied()
        .filter(|r| r.level() == Level::Vigilance)
        .collect();
    if vigilance.is_empty() {
        return;
    }
    vigilance.sort_by(|a, b| {
        let cover = |r: &ReferenceRow| r.assessment.coverage_days.unwrap_or(f64::INFINITY);
        cover(a).total_cmp(&cover(b))
    });
    let _ = write!(
        h,
        r#"<h2>Références en vigilance ({})</h2><p class="legend">Couverture en jours ; les plus courtes d'abord{}.</p><p class="compact">"#,
        vigilance.len(),
        if vigilance.len() > MAX_VIGILANCE_LISTED {
            format!(" : les {MAX_VIGILANCE_LISTED} premières, toutes figurent dans le fichier CSV")
        } else {
            String::new()
        }
    );
    let items: Vec<String> = vigilance
        .iter()
        .take(MAX_VIGILANCE_LISTED)
        .map(|r| {
            format!(
                r#"<span>{}{} <span class="muted">{}</span> {} j</span>"#,
                r.assessment.cip13,
                if r.mitm { " <b>MITM</b>" } else { "" },
                escape(&r.denomination),
                days(r.assessment.coverage_days)
            )
        })
        .collect();
    h.push_str(&items.join(" · "));
    h.push_str("</p>");
}

/// The HTML document of the synthesis.
/// Rows of the alerts table at most: the subjects in tension are listed in full below it.
const MAX_ALERT_ROWS: usize = 500;

/// ANSM's measures in force with their figures before and since, and the subjects in tension
/// with who acknowledged them and the silences.
fn measures_and_alerts(h: &mut String, s: &Synthesis) {
    if !s.measures.is_empty() {
        let _ = write!(
            h,
            r#"<h2>Mesures de l'ANSM en vigueur ({})</h2><p class="legend">Chiffres des 28 jours avant le début de la mesure → depuis son début (moyenne de la demande ; stock, couverture et rupture prévue au dernier jour calculé). Une observation, pas une preuve de cause. Le début de chaque mesure est marqué sur le graphique de la référence.</p><table><thead><tr><th>Mesure</th><th>Sujet</th><th>Type</th><th>Période</th><th>Par</th><th>Demande /jour</th><th>Stock de la chaîne</th><th>Couverture (jours)</th><th>Rupture prévue dans</th><th>Niveaux</th><th>Arrivé (estimation)</th></tr></thead><tbody>"#,
            s.measures.len()
        );
        let figure = |v: Option<f64>, d: usize| {
            v.map_or_else(
                || "?".to_owned(),
                |v| medistock_domain::french::number(v, d),
            )
        };
        for m in &s.measures {
            let (b, n) = (&m.impact.before, &m.impact.since);
            let change = m.impact.demand_change_pct.map_or_else(String::new, |p| {
                format!(
                    " ({}{} %)",
                    if p >= 0.0 { "+" } else { "" },
                    medistock_domain::french::number(p, 0)
                )
            });
            let levels: Vec<String> = m
                .impact
                .levels
                .iter()
                .map(|l| format!("{} {}", badge(l.level), l.date.format("%d/%m")))
                .collect();
            let days = |d: Option<i64>| d.map_or_else(|| "—".to_owned(), |d| format!("{d} j"));
            let _ = write!(
                h,
                "<tr><td>{}<br><span class=\"muted\">{}</span></td><td>{}<br><span class=\"muted\">{}</span></td><td>{}</td><td>du {}{}</td><td>{}</td><td>{} → {}{change}</td><td>{} → {}</td><td>{} → {}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
                escape(&m.measure.id),
                escape(&m.measure.note),
                escape(&m.measure.subject),
                escape(&m.label),
                escape(m.measure.kind.label()),
                medistock_domain::french::date(m.measure.start),
                m.measure.end.map_or_else(String::new, |e| format!(
                    " au {}",
                    medistock_domain::french::date(e)
                )),
                escape(&m.measure.by),
                figure(b.demand, 1),
                figure(n.demand, 1),
                figure(b.chain_stock_last, 0),
                figure(n.chain_stock_last, 0),
                figure(b.coverage_days_last, 1),
                figure(n.coverage_days_last, 1),
                days(b.days_to_stockout_last),
                days(n.days_to_stockout_last),
                levels.join(" → "),
                m.impact.arrived_estimate.map_or_else(
                    || "—".to_owned(),
                    |a| format!("{} unités", medistock_domain::french::number(a, 0))
                ),
            );
        }
        h.push_str("</tbody></table>");
    }
    if !s.alerts.is_empty() {
        let silenced = s.alerts.iter().filter(|a| a.silence.is_some()).count();
        let unacknowledged = s
            .alerts
            .iter()
            .filter(|a| a.level >= Level::Critique && a.acknowledged_by.is_none())
            .count();
        let _ = write!(
            h,
            r#"<h2>Alertes en cours ({})</h2><p class="legend">{} en silence · {} CRITIQUE ou RUPTURE sans prise en compte (rappelées dans le point quotidien) · medistock alerts ack / silence</p><table><thead><tr><th>Sujet</th><th>Nom</th><th>Niveau</th><th>En tension depuis</th><th>Pris en compte par</th><th>Silence</th></tr></thead><tbody>"#,
            s.alerts.len(),
            silenced,
            unacknowledged
        );
        for a in s.alerts.iter().take(MAX_ALERT_ROWS) {
            let _ = write!(
                h,
                "<tr class=\"alert\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&a.subject),
                escape(&a.label),
                badge(a.level),
                medistock_domain::french::date(a.since),
                a.acknowledged_by
                    .as_deref()
                    .map_or_else(|| "—".to_owned(), escape),
                a.silence.as_ref().map_or_else(
                    || "—".to_owned(),
                    |(until, by, note)| format!(
                        "jusqu'au {} par {} : {}",
                        medistock_domain::french::date(*until),
                        escape(by),
                        escape(note)
                    )
                ),
            );
        }
        if s.alerts.len() > MAX_ALERT_ROWS {
            let _ = write!(
                h,
                r#"<tr><td colspan="6">… et {} autres (medistock alerts list)</td></tr>"#,
                s.alerts.len() - MAX_ALERT_ROWS
            );
        }
        h.push_str("</tbody></table>");
    }
}

pub fn render_html(s: &Synthesis) -> String {
    let mut h = String::with_capacity(64 * 1024 + s.references.len() * 400);
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Medistock — synthèse {week}</title><style>{STYLE}</style></head><body>"#,
        week = s.week
    );
    let _ = write!(
        h,
        r#"<h1>Synthèse hebdomadaire des stocks — semaine {}</h1><p class="sub">Du {} au {} · dernier calcul du risque : {} · {} références suivies</p>"#,
        s.week,
        medistock_domain::french::date(s.week.start()),
        medistock_domain::french::date(s.week.end()),
        date(s.as_of),
        thousands(s.references.len() as f64)
    );

    h.push_str(r#"<h2>Références par niveau</h2><div class="cards">"#);
    for level in Level::ALL.iter().rev() {
        let now = s.counts.get(level).copied().unwrap_or(0);
        let before = s.counts_last_week.get(level).copied().unwrap_or(0);
        let delta = now as i64 - before as i64;
        let _ = write!(
            h,
            r#"<div class="card" style="border-top:6px solid {}"><b>{}</b>{}<br><span class="muted">{} depuis la semaine dernière</span></div>"#,
            colour(*level),
            thousands(now as f64),
            level.as_str(),
            match delta {
                0 => "inchangé".to_owned(),
                d if d > 0 => format!("+{d}"),
                d => d.to_string(),
            }
        );
    }
    h.push_str("</div>");

    measures_and_alerts(&mut h, s);

    let watched: Vec<&ReferenceRow> = s.watched().collect();
    // In full: TENSION or worse. VIGILANCE as a compact list; every reference is in the CSV.
    let serious: Vec<&ReferenceRow> = watched
        .iter()
        .copied()
        .filter(|r| r.level() >= Level::Tension)
        .collect();
    let _ = write!(
        h,
        r#"<h2>Références en tension ou pire ({})</h2>"#,
        serious.len()
    );
    if serious.is_empty() {
        h.push_str("<p>Aucune référence en tension cette semaine.</p>");
    } else {
        h.push_str(r#"<table><thead><tr><th>CIP13</th><th>Dénomination</th><th>Niveau</th><th>Évolution</th><th>Stock exploitants / grossistes</th><th>Demande /jour (tendance)</th><th>Couverture (jours)</th><th>Rupture prévue</th><th>Appro. attendus</th><th>Qualité des données</th><th>Alternatives du groupe</th></tr></thead><tbody>"#);
        for r in &serious {
            let a = &r.assessment;
            let supplies: Vec<String> = a
                .supplies
                .iter()
                .map(|s| {
                    format!(
                        "{} : {}",
                        s.date.format("%d/%m"),
                        thousands(s.quantity as f64)
                    )
                })
                .collect();
            let alternatives: Vec<String> = r
                .alternatives
                .iter()
                .map(|alt| {
                    format!(
                        r#"<span title="{}">{}</span> {} {} j"#,
                        escape(&alt.denomination),
                        alt.cip13,
                        alt.level.as_str(),
                        days(alt.coverage_days)
                    )
                })
                .collect();
            let _ = write!(
                h,
                r#"<tr><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td class="n">{}<br>{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td><td>{}</td><td>{}</td><td class="alt">{}</td></tr>"#,
                a.cip13,
                escape(&r.denomination),
                if r.mitm { " <b>(MITM)</b>" } else { "" },
                badge(r.level()),
                change(r),
                thousands(a.stock_by_type.exploitants as f64),
                thousands(a.stock_by_type.grossistes as f64),
                a.demand.map_or_else(
                    || "inconnue".to_owned(),
                    |d| format!("{} (×{:.2})", thousands(d), a.trend).replace('.', ",")
                ),
                days(a.coverage_days),
                date(a.stockout_date),
                if supplies.is_empty() {
                    "aucun".to_owned()
                } else {
                    supplies.join("<br>")
                },
                quality(r),
                if alternatives.is_empty() {
                    "—".to_owned()
                } else {
                    alternatives.join("<br>")
                }
            );
        }
        h.push_str("</tbody></table>");
    }
    vigilance_list(&mut h, &watched);

    let charted: Vec<&&ReferenceRow> = watched
        .iter()
        .filter(|r| r.level() >= Level::Tension)
        .take(MAX_CHARTS)
        .collect();
    if !charted.is_empty() {
        let in_tension = watched
            .iter()
            .filter(|r| r.level() >= Level::Tension)
            .count();
        let _ = write!(
            h,
            r#"<h2>Stock et projection des références en tension</h2><p class="legend"><span>— stock de la chaîne (exploitants + grossistes)</span><span>- - projection</span><span>··· stock couvrant le seuil à la demande actuelle</span>{}</p>"#,
            if in_tension > charted.len() {
                format!(
                    "<br>Les {} plus urgentes sur {in_tension} (toutes figurent dans le tableau).",
                    charted.len()
                )
            } else {
                String::new()
            }
        );
        for r in charted {
            let _ = write!(
                h,
                r#"<div class="chart"><h3>{} {} {}</h3>{}</div>"#,
                r.assessment.cip13,
                escape(&r.denomination),
                badge(r.level()),
                stock_chart(r)
            );
        }
    }

    if !s.heat_map.is_empty() {
        let shown = &s.heat_map[..s.heat_map.len().min(MAX_HEAT_ROWS)];
        let _ = write!(
            h,
            r#"<h2>Niveaux par semaine</h2><p class="legend">{}{}</p>{}"#,
            Level::ALL
                .iter()
                .map(|l| format!(
                    r#"<span><svg width="10" height="10"><rect width="10" height="10" fill="{}"/></svg> {}</span>"#,
                    colour(*l),
                    l.as_str()
                ))
                .collect::<String>(),
            if s.heat_map.len() > shown.len() {
                format!(
                    "<br>{} références sur {} (les plus graves aujourd'hui).",
                    shown.len(),
                    s.heat_map.len()
                )
            } else {
                String::new()
            },
            heat_map(&s.heat_weeks, shown)
        );
    }

    let groups: Vec<_> = s
        .groups
        .iter()
        .filter(|g| g.level >= Level::Vigilance)
        .collect();
    let _ = write!(
        h,
        r#"<h2>Groupes de présentations substituables</h2><p>{} groupes suivis, {} en vigilance ou pire : les présentations d'un groupe mises en commun disent si les alternatives couvrent encore la demande.</p>"#,
        s.groups.len(),
        groups.len()
    );
    if !groups.is_empty() {
        h.push_str(r#"<table><thead><tr><th>Groupe</th><th>Niveau</th><th>Présentations</th><th>Stock cumulé</th><th>Demande cumulée /jour</th><th>Couverture (jours)</th><th>Rupture prévue</th></tr></thead><tbody>"#);
        for g in groups {
            let _ = write!(
                h,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
                escape(&g.group),
                with_held(badge(g.level), g.figures_level),
                g.members.join(", "),
                thousands(g.chain_stock),
                g.demand.map_or_else(|| "—".to_owned(), thousands),
                days(g.coverage_days),
                date(g.stockout_date)
            );
        }
        h.push_str("</tbody></table>");
    }

    let f = &s.files;
    let _ = write!(
        h,
        r#"<h2>Déclarations de la semaine</h2><p>{} fichiers reçus : {} intégrés, {} rejetés{} · {} lignes acceptées, {} lignes rejetées dans les fichiers intégrés.</p>"#,
        f.received,
        f.applied,
        f.rejected,
        if f.processing > 0 {
            format!(", {} en cours", f.processing)
        } else {
            String::new()
        },
        thousands(f.lines_accepted as f64),
        thousands(f.lines_rejected as f64)
    );
    if !s.rejected_files.is_empty() {
        h.push_str(r#"<h3>Fichiers rejetés</h3><table><thead><tr><th>Déclarant</th><th>Fichier</th><th>Reçu le</th></tr></thead><tbody>"#);
        for e in &s.rejected_files {
            let name = e
                .key
                .strip_prefix(&format!("inbox/{}/", e.declarant))
                .unwrap_or(&e.key);
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&e.declarant),
                escape(name),
                medistock_domain::french::instant(e.received_at)
            );
        }
        h.push_str("</tbody></table>");
    }
    if s.silent.is_empty() {
        h.push_str("<p>Tous les déclarants ont déclaré cette semaine.</p>");
    } else {
        let _ = write!(
            h,
            r#"<h3>Déclarants sans déclaration cette semaine ({})</h3><table><thead><tr><th>Déclarant</th><th>Nom</th><th>Type</th><th>Dernière position</th></tr></thead><tbody>"#,
            s.silent.len()
        );
        for d in &s.silent {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&d.id),
                escape(&d.name),
                match d.kind {
                    DeclarantType::Exploitant => "laboratoire exploitant",
                    DeclarantType::Grossiste => "grossiste-répartiteur",
                    DeclarantType::Autre => "autre",
                },
                date(d.last_position)
            );
        }
        h.push_str("</tbody></table>");
    }
    if !s.awaited.is_empty() {
        let _ = write!(
            h,
            r#"<h3>Références attendues de leur exploitant ({})</h3><p class="muted">Aucun exploitant ne les déclare alors que les paramètres de suivi les attribuent à ce laboratoire : leur stock en amont est inconnu. Tant qu'il n'a rien déclaré du tout, le stock des grossistes seul ne les porte pas en TENSION ; ensuite elles sont évaluées sur ce qui est déclaré. Voir aussi la colonne exploitant_attendu du fichier CSV.</p><table><thead><tr><th>Exploitant</th><th>Nom</th><th>Références</th><th>Premières références</th></tr></thead><tbody>"#,
            s.awaited.iter().map(|a| a.references.len()).sum::<usize>()
        );
        for a in &s.awaited {
            let shown: Vec<&str> = a.references.iter().take(5).map(String::as_str).collect();
            let more = if a.references.len() > shown.len() {
                " …"
            } else {
                ""
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{more}</td></tr>",
                escape(&a.id),
                escape(&a.name),
                a.references.len(),
                escape(&shown.join(", ")),
            );
        }
        h.push_str("</tbody></table>");
    }
    let t = &s.default_thresholds;
    let _ = write!(
        h,
        r#"<p class="muted">Produit par Medistock. Niveaux : RUPTURE (moins d'un jour de stock dans la chaîne), CRITIQUE (rupture prévue sous {} jours), TENSION (sous {} jours), VIGILANCE (sous {} jours, ou exploitant sous son stock de sécurité), seuils par défaut, ajustables par référence. Le tableau complet est dans le fichier CSV joint.</p></body></html>"#,
        t.critique_days, t.tension_days, t.vigilance_days
    );
    h
}
