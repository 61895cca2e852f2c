//! What the declarants send: the figures of the physics, in the format of
//! `docs/format-declaration.md`, with each declarant's habits (spelling of the header, dates,
//! thousands, line ends) and failings (joining late, outages, missing and late files).

use chrono::{Datelike, Days, NaiveDate};

use super::calendar::is_working_day;
use super::physics::Record;
use super::rng::Rng;
use super::world::{Behaviour, Dialect, WARMUP, World};
use super::{ChainFile, MissingFile};

const WHOLESALER_HEADERS: [[&str; 6]; 3] = [
    [
        "cip13",
        "date_stock",
        "stock",
        "sorties",
        "periode_jours",
        "site",
    ],
    [
        "CIP13",
        "Date stock",
        "Stock",
        "Sorties",
        "Période jours",
        "Site",
    ],
    [
        "code_cip",
        "date",
        "stock_unites",
        "ventes",
        "periode_jours",
        "depot",
    ],
];

const LAB_HEADERS: [[&str; 8]; 3] = [
    [
        "cip13",
        "date_stock",
        "stock",
        "sorties",
        "periode_jours",
        "stock_bloque",
        "appro_quantite",
        "appro_date",
    ],
    [
        "CIP13",
        "Date stock",
        "Stock",
        "Sorties",
        "Période jours",
        "Stock bloqué",
        "Appro quantité",
        "Appro date",
    ],
    [
        "code_cip",
        "date_declaration",
        "quantite_stock",
        "sorties_unites",
        "periode_jours",
        "stock_bloque",
        "appro_quantite",
        "appro_date",
    ],
];

/// The files sent, and those that never were.
pub struct Declarations {
    /// Files sent, by arrival.
    pub files: Vec<ChainFile>,
    /// Files due but never sent.
    pub missing: Vec<MissingFile>,
}

/// A file being written in a declarant's dialect.
struct Writer {
    dialect: Dialect,
    text: String,
}

impl Writer {
    fn new(dialect: Dialect, header: &[&str]) -> Self {
        let mut w = Self {
            dialect,
            text: String::new(),
        };
        w.row(header.iter().map(|h| (*h).to_owned()));
        w
    }

    fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        for (k, cell) in cells.into_iter().enumerate() {
            if k > 0 {
                self.text.push(';');
            }
            self.text.push_str(&cell);
        }
        self.text
            .push_str(if self.dialect.crlf { "\r\n" } else { "\n" });
    }

    fn num(&self, n: u64) -> String {
        let plain = n.to_string();
        if !self.dialect.thousands {
            return plain;
        }
        let mut out = String::with_capacity(plain.len() + plain.len() / 3);
        for (k, c) in plain.chars().enumerate() {
            if k > 0 && (plain.len() - k).is_multiple_of(3) {
                out.push(' ');
            }
            out.push(c);
        }
        out
    }

    fn date(&self, date: NaiveDate) -> String {
        if self.dialect.french_dates {
            date.format("%d/%m/%Y").to_string()
        } else {
            date.format("%Y-%m-%d").to_string()
        }
    }

    fn cip(&self, cip: &medistock_domain::Cip13) -> String {
        if self.dialect.cip7 {
            cip.cip7().to_owned()
        } else {
            cip.as_str().to_owned()
        }
    }
}

/// When the file of period day `t` arrives, or `None` if it is never sent; the draws are made
/// whatever the answer, so that one habit never shifts another's randomness.
fn sending(rng: &mut Rng, behaviour: &Behaviour, t: i64, date: NaiveDate) -> Option<NaiveDate> {
    let dropped = rng.chance(behaviour.miss);
    let late = rng.chance(behaviour.late);
    let delay = rng.int(1, behaviour.max_delay);
    let out = behaviour
        .outage
        .is_some_and(|(from, to)| t >= from && t < to);
    if dropped || out {
        return None;
    }
    let delay = if late { delay as u64 } else { 0 };
    Some(date.checked_add_days(Days::new(delay)).unwrap_or(date))
}

/// Whether a manufacturer declaring on `weekday` (0 Monday) sends its weekly file on `date`:
/// the first working day of the week on or after that weekday.
fn lab_declares(date: NaiveDate, weekday: u32) -> bool {
    let wd = date.weekday().num_days_from_monday();
    if !is_working_day(date) || wd < weekday {
        return false;
    }
    (weekday..wd).all(|j| {
        date.checked_sub_days(Days::new(u64::from(wd - j)))
            .is_none_or(|earlier| !is_working_day(earlier))
    })
}

/// Every declarant's files over the declared period.
pub fn declare(world: &World, records: &[Record], seed: u64) -> Declarations {
    let mut files = Vec::new();
    let mut missing = Vec::new();

    for (k, wholesaler) in world.wholesalers.iter().enumerate() {
        let mut rng = Rng::stream(seed, 2, k as u64);
        let behaviour = &wholesaler.behaviour;
        let header = WHOLESALER_HEADERS[usize::from(behaviour.dialect.header) % 3];
        for t in behaviour.join.max(0)..world.days {
            let i = WARMUP + t;
            let date = world.date(i);
            if !is_working_day(date) {
                continue;
            }
            let Some(arrival) = sending(&mut rng, behaviour, t, date) else {
                missing.push(MissingFile {
                    declarant: wholesaler.id.clone(),
                    date,
                });
                continue;
            };
            // The period of `sorties`: the last seven days, or since the previous working day.
            let (period, from) = if behaviour.dialect.rolling7 {
                (7, i - 6)
            } else {
                let previous = (1..=10)
                    .find(|back| is_working_day(world.date(i - back)))
                    .unwrap_or(1);
                (previous, i - previous + 1)
            };
            let mut w = Writer::new(behaviour.dialect, &header);
            for (r, reference) in world.refs.iter().enumerate() {
                let record = &records[r];
                let Some(day) = record.at(i) else { continue };
                for d in &wholesaler.depots {
                    let stock = record.depot_stock[day * record.depots + d];
                    let sorties = record.depot_sum(*d, from, i);
                    let row = [
                        w.cip(&reference.cip),
                        w.date(date),
                        w.num(stock),
                        w.num(sorties),
                        period.to_string(),
                        world.depots[*d].site.clone(),
                    ];
                    w.row(row);
                }
            }
            files.push(ChainFile {
                declarant: wholesaler.id.clone(),
                stock_date: date,
                arrival,
                name: format!("stocks_{}_{}.csv", wholesaler.id, date.format("%Y%m%d")),
                content: w.text,
            });
        }
    }

    for (k, lab) in world.labs.iter().enumerate() {
        let mut rng = Rng::stream(seed, 3, k as u64);
        let behaviour = &lab.behaviour;
        let header = LAB_HEADERS[usize::from(behaviour.dialect.header) % 3];
        let own: Vec<usize> = (0..world.refs.len())
            .filter(|r| world.refs[*r].lab == k)
            .collect();
        if own.is_empty() {
            continue;
        }
        for t in behaviour.join.max(0)..world.days {
            let i = WARMUP + t;
            let date = world.date(i);
            if !lab_declares(date, lab.weekday) {
                continue;
            }
            let Some(arrival) = sending(&mut rng, behaviour, t, date) else {
                missing.push(MissingFile {
                    declarant: lab.id.clone(),
                    date,
                });
                continue;
            };
            let mut w = Writer::new(behaviour.dialect, &header);
            for r in &own {
                let record = &records[*r];
                let Some(day) = record.at(i) else { continue };
                let (appro_qty, appro_date) = match record.next_batch.get(day) {
                    Some((qty, planned)) if lab.announces => {
                        // Optimistic: the planned date while it is ahead, then "next week".
                        let announced = if *planned > i {
                            *planned
                        } else {
                            i + lab.slip_step
                        };
                        (w.num(*qty), w.date(world.date(announced)))
                    }
                    _ => (String::new(), String::new()),
                };
                let row = [
                    w.cip(&world.refs[*r].cip),
                    w.date(date),
                    w.num(record.lab_stock[day]),
                    w.num(record.sum(&record.lab_shipped, i - 6, i)),
                    "7".to_owned(),
                    w.num(record.lab_blocked[day]),
                    appro_qty,
                    appro_date,
                ];
                w.row(row);
            }
            files.push(ChainFile {
                declarant: lab.id.clone(),
                stock_date: date,
                arrival,
                name: format!("{}_stocks_{}.csv", lab.id, date.format("%Y-%m-%d")),
                content: w.text,
            });
        }
    }

    files.sort_by(|a, b| {
        (a.arrival, &a.declarant, &a.name).cmp(&(b.arrival, &b.declarant, &b.name))
    });
    missing.sort_by(|a, b| (a.date, &a.declarant).cmp(&(b.date, &b.declarant)));
    Declarations { files, missing }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weekly_file_moves_to_the_next_working_day_after_a_holiday() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        // Monday 6 April 2026 is Easter Monday: a Monday declarant sends on Tuesday.
        assert!(!lab_declares(d(4, 6), 0));
        assert!(lab_declares(d(4, 7), 0));
        assert!(lab_declares(d(4, 13), 0));
        assert!(!lab_declares(d(4, 14), 0));
        assert!(lab_declares(d(4, 17), 4));
    }

    #[test]
    fn thousands_are_grouped_by_three() {
        let dialect = Dialect {
            header: 0,
            french_dates: false,
            thousands: true,
            crlf: false,
            cip7: false,
            rolling7: false,
        };
        let w = Writer::new(dialect, &["cip13"]);
        assert_eq!(w.num(0), "0");
        assert_eq!(w.num(999), "999");
        assert_eq!(w.num(1_000), "1 000");
        assert_eq!(w.num(12_345_678), "12 345 678");
    }
}
