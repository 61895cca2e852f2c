//! Charts as inline SVG, drawn by hand: a few lines and rectangles need no plotting library,
//! and the file stays self-contained (no script, no font, no external asset).

use medistock_domain::french::thousands;
use std::fmt::Write;

use chrono::{Days, NaiveDate};

use super::html::escape;
use super::synthesis::{HeatRow, ReferenceRow};
use super::week::Week;
use medistock_domain::Level;

/// Colour of a level (readable in grey when printed: darker is worse).
pub fn colour(level: Level) -> &'static str {
    match level {
        Level::Normal => "#c8e6c9",
        Level::Vigilance => "#fdd835",
        Level::Tension => "#fb8c00",
        Level::Critique => "#d32f2f",
        Level::Rupture => "#4a148c",
    }
}

/// Days drawn after the computation date.
const PROJECTION_DAYS: u64 = 60;

/// The projected chain stock from the assessment: demand with its trend taken off each day,
/// expected supplies added on their dates, never below zero.
pub fn projection(r: &ReferenceRow) -> Vec<(NaiveDate, f64)> {
    let a = &r.assessment;
    let daily = a.demand.unwrap_or(0.0) * a.trend;
    let mut stock = a.chain_stock.max(0.0);
    let mut out = vec![(a.as_of, stock)];
    for k in 1..=PROJECTION_DAYS {
        let Some(day) = a.as_of.checked_add_days(Days::new(k)) else {
            break;
        };
        stock += a
            .supplies
            .iter()
            .filter(|s| s.date == day)
            .map(|s| s.quantity as f64)
            .sum::<f64>();
        stock = (stock - daily).max(0.0);
        out.push((day, stock));
    }
    out
}

/// Stock over time for one reference: the history (solid), the projection (dashed), and the
/// stock that would last the TENSION and CRITIQUE horizons at today's demand (dotted lines).
pub fn stock_chart(r: &ReferenceRow) -> String {
    const W: f64 = 640.0;
    const H: f64 = 220.0;
    const LEFT: f64 = 64.0;
    const RIGHT: f64 = 110.0;
    const TOP: f64 = 12.0;
    const BOTTOM: f64 = 28.0;
    let projected = projection(r);
    let demand = r.assessment.demand.unwrap_or(0.0);
    let thresholds = [
        (
            "TENSION",
            r.thresholds.tension_days * demand,
            Level::Tension,
        ),
        (
            "CRITIQUE",
            r.thresholds.critique_days * demand,
            Level::Critique,
        ),
    ];
    let first = r
        .history
        .first()
        .map_or(r.assessment.as_of, |(d, _)| *d)
        .min(r.assessment.as_of);
    let last = projected.last().map_or(r.assessment.as_of, |(d, _)| *d);
    let span = ((last - first).num_days().max(1)) as f64;
    let top = r
        .history
        .iter()
        .chain(projected.iter())
        .map(|(_, v)| *v)
        .chain(thresholds.iter().map(|t| t.1))
        .fold(1.0_f64, f64::max)
        * 1.08;
    let x = |d: NaiveDate| LEFT + (d - first).num_days() as f64 / span * (W - LEFT - RIGHT);
    let y = |v: f64| TOP + (1.0 - v / top) * (H - TOP - BOTTOM);
    let path = |points: &[(NaiveDate, f64)]| {
        points
            .iter()
            .enumerate()
            .fold(String::new(), |mut s, (i, (d, v))| {
                let _ = write!(
                    s,
                    "{}{:.1},{:.1}",
                    if i == 0 { "M" } else { " L" },
                    x(*d),
                    y(*v)
                );
                s
            })
    };
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="Stock de la chaîne et projection pour {cip}">"##,
        cip = r.assessment.cip13
    );
    // Gridlines on round values (1, 2 or 5 times a power of ten).
    let raw_step = top / 1.08 / 4.0;
    let power = 10f64.powf(raw_step.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw_step)
        .unwrap_or(raw_step);
    for i in 0..=((top / step).floor() as u32) {
        let v = step * f64::from(i);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#555">{}</text>"##,
            W - RIGHT,
            LEFT - 4.0,
            y(v) + 3.0,
            if step >= 1.0 {
                thousands(v)
            } else {
                format!("{v:.1}").replace('.', ",")
            },
            y = y(v)
        );
    }
    // Month ticks.
    let mut day = first;
    while day <= last {
        // Month starts, and the first day when no month start is near it.
        if chrono::Datelike::day(&day) == 1 || (day == first && chrono::Datelike::day(&day) < 22) {
            let _ = write!(
                svg,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="#eeeeee"/><text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#555">{}</text>"##,
                H - BOTTOM,
                H - BOTTOM + 14.0,
                day.format("%d/%m"),
                x = x(day)
            );
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    for (label, value, level) in thresholds {
        // A threshold too close to zero to read (no demand left) is not drawn.
        if value > top * 0.03 {
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{c}" stroke-width="1.5" stroke-dasharray="2 3"/><text x="{:.1}" y="{:.1}" font-size="10" fill="{c}">seuil {label}</text>"##,
                W - RIGHT,
                W - RIGHT + 4.0,
                y(value) + 3.0,
                y = y(value),
                c = colour(level)
            );
        }
    }
    // Today.
    let today = x(r.assessment.as_of);
    let _ = write!(
        svg,
        r##"<line x1="{today:.1}" x2="{today:.1}" y1="{TOP}" y2="{:.1}" stroke="#9e9e9e"/><text x="{today:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#555">calcul</text>"##,
        H - BOTTOM,
        TOP + 8.0
    );
    // ANSM's measures on the reference or its group: a marker at each start in the range.
    for (start, label) in r.measures.iter().filter(|(d, _)| *d >= first && *d <= last) {
        let mx = x(*start);
        let _ = write!(
            svg,
            r##"<line x1="{mx:.1}" x2="{mx:.1}" y1="{TOP}" y2="{:.1}" stroke="#6a1b9a" stroke-width="1.5" stroke-dasharray="4 2"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#6a1b9a">{}</text>"##,
            H - BOTTOM,
            mx + 3.0,
            TOP + 20.0,
            super::html::escape(label),
        );
    }
    if r.history.len() > 1 {
        let _ = write!(
            svg,
            r##"<path d="{}" fill="none" stroke="#1565c0" stroke-width="2"/>"##,
            path(&r.history)
        );
    }
    let _ = write!(
        svg,
        r##"<path d="{}" fill="none" stroke="#1565c0" stroke-width="2" stroke-dasharray="6 4"/>"##,
        path(&projected)
    );
    if let Some(date) = r.assessment.stockout_date.filter(|d| *d <= last) {
        let _ = write!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#b71c1c">rupture prévue {}</text>"##,
            x(date),
            y(0.0),
            colour(Level::Critique),
            x(date) + 6.0,
            y(0.0) - 6.0,
            date.format("%d/%m")
        );
    }
    svg.push_str("</svg>");
    svg
}

/// References by level over the weeks: one row per reference, one cell per week.
pub fn heat_map(weeks: &[Week], rows: &[HeatRow]) -> String {
    const LABEL: f64 = 380.0;
    const CELL_W: f64 = 56.0;
    const CELL_H: f64 = 16.0;
    const HEAD: f64 = 22.0;
    let width = LABEL + CELL_W * weeks.len() as f64;
    let height = HEAD + CELL_H * rows.len() as f64;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="Niveaux des références par semaine">"##
    );
    for (i, w) in weeks.iter().enumerate() {
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="15" font-size="11" text-anchor="middle" fill="#333">S{}</text>"##,
            LABEL + CELL_W * (i as f64 + 0.5),
            &w.to_string()[6..]
        );
    }
    for (j, row) in rows.iter().enumerate() {
        let y = HEAD + CELL_H * j as f64;
        let mut label = format!("{} {}", row.cip13, row.denomination);
        if label.chars().count() > 52 {
            label = label.chars().take(51).collect::<String>() + "…";
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#333">{}</text>"##,
            LABEL - 6.0,
            y + 12.0,
            escape(&label)
        );
        for (i, level) in row.weeks.iter().enumerate() {
            let (fill, title) = match level {
                Some(l) => (colour(*l), l.as_str()),
                None => ("#f5f5f5", "non calculé"),
            };
            let _ = write!(
                svg,
                r##"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}" stroke="#ffffff"><title>{title}</title></rect>"##,
                LABEL + CELL_W * i as f64,
                CELL_W,
                CELL_H
            );
        }
    }
    svg.push_str("</svg>");
    svg
}
