//! The table of the synthesis as CSV (`;`, CRLF, UTF-8 with BOM for French spreadsheets): one
//! line per reference, every cell through [`crate::csv_cell::csv_line`] (formula injection
//! neutralised).

use super::synthesis::{ReferenceRow, Synthesis};
use crate::csv_cell::csv_line;

const HEADER: [&str; 20] = [
    "cip13",
    "denomination",
    "groupe",
    "mitm",
    "niveau",
    "niveau_semaine_precedente",
    "stock_exploitants",
    "stock_grossistes",
    "stock_bloque",
    "demande_jour",
    "tendance",
    "couverture_jours",
    "rupture_prevue",
    "jours_avant_rupture",
    "approvisionnements",
    "qualite",
    "alternatives",
    "date_calcul",
    "exploitant_attendu",
    "niveau_des_chiffres",
];

fn decimal(v: f64, digits: usize) -> String {
    format!("{v:.digits$}").replace('.', ",")
}

fn row(r: &ReferenceRow, awaited_from: Option<&str>) -> Vec<String> {
    let a = &r.assessment;
    vec![
        a.cip13.to_string(),
        r.denomination.clone(),
        r.group.clone().unwrap_or_default(),
        if r.mitm { "oui" } else { "non" }.to_owned(),
        r.level().as_str().to_owned(),
        r.last_week
            .map(|l| l.as_str().to_owned())
            .unwrap_or_default(),
        a.stock_by_type.exploitants.to_string(),
        a.stock_by_type.grossistes.to_string(),
        a.held_stock.to_string(),
        a.demand.map(|d| decimal(d, 1)).unwrap_or_default(),
        decimal(a.trend, 2),
        a.coverage_days.map(|c| decimal(c, 1)).unwrap_or_default(),
        a.stockout_date
            .map(medistock_domain::french::date)
            .unwrap_or_default(),
        a.days_to_stockout
            .map(|d| d.to_string())
            .unwrap_or_default(),
        a.supplies
            .iter()
            .map(|s| format!("{} {}", medistock_domain::french::date(s.date), s.quantity))
            .collect::<Vec<_>>()
            .join(" | "),
        a.flags.len().to_string(),
        r.alternatives
            .iter()
            .map(|alt| format!("{} {}", alt.cip13, alt.level.as_str()))
            .collect::<Vec<_>>()
            .join(" | "),
        medistock_domain::french::date(a.as_of),
        awaited_from.unwrap_or_default().to_owned(),
        // The level the day's figures give: below `niveau` when an open alert episode holds it.
        a.figures_level.unwrap_or(a.level).as_str().to_owned(),
    ]
}

/// The CSV of every reference of the synthesis, worst first.
pub fn render_csv(s: &Synthesis) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&csv_line(HEADER));
    // The manufacturer each reference no manufacturer declares is awaited from.
    let awaited_from: std::collections::HashMap<&str, &str> = s
        .awaited
        .iter()
        .flat_map(|m| m.references.iter().map(|cip| (cip.as_str(), m.id.as_str())))
        .collect();
    for r in &s.references {
        let cells = row(r, awaited_from.get(r.assessment.cip13.as_str()).copied());
        out.push_str(&csv_line(cells.iter().map(String::as_str)));
    }
    out
}
