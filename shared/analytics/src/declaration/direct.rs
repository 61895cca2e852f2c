//! The direct read of a quote-free CSV: each line is split and its cells parsed into typed
//! columns in one pass over the bytes, without the string columns the tokeniser builds and
//! the typed parse reads again. It reads only valid lines: at the first line the general path
//! would report (a cell that does not parse, a missing required value, a wrong number of
//! cells, a check across columns, another declarant's name), it declines the part, which is
//! then tokenised and validated as usual. A national file's lines are valid: they are read
//! here; a file with errors gets its reasons from the one validator that gives them.
//!
//! What it gives is what the general path gives for the same lines: the typed frame, and the
//! two warnings a valid line can have (reference outside the catalogue, stale stock date). The
//! tests compare both paths line for line, on the corpus and on mutated files.

use medistock_domain::Cip13;
use polars::prelude::*;

use super::cells::{epoch_days, parse_date, parse_quantity};
use super::format::{Column as Col, ColumnKind, DEFAULT_PERIOD_DAYS, PERIOD_DAYS_RANGE};
use super::issues::bounded;
use super::scan::text_lines;
use super::table::{TableShape, trim_cell};
use super::validate::{MAX_ISSUES_KEPT, ValidationContext};
use crate::last_seen::LastSeen;

/// One part of a piece, read directly.
pub(super) struct DirectPart {
    /// Physical line of each row.
    pub lines: Vec<u32>,
    /// The typed columns, in the order and with the types of the general path's frame
    /// (without `line`).
    pub columns: Vec<Column>,
    /// References outside the catalogue: (line, reference), the first [`MAX_ISSUES_KEPT`].
    pub outside_catalogue: Vec<(u32, Cip13)>,
    /// Those beyond, counted.
    pub outside_catalogue_more: usize,
    /// Stale stock dates: (line, the cell as written), the first [`MAX_ISSUES_KEPT`].
    pub stale: Vec<(u32, String)>,
    /// Those beyond, counted.
    pub stale_more: usize,
}

/// The values of one row, as the general path types them.
#[derive(Default)]
struct Row<'t> {
    cip13: Option<Cip13>,
    date_stock: Option<i32>,
    date_stock_text: &'t str,
    stock: Option<i64>,
    sorties: Option<i64>,
    periode_jours: Option<i64>,
    stock_bloque: Option<i64>,
    appro_quantite: Option<i64>,
    appro_date: Option<i32>,
    site: Option<&'t str>,
    commentaire: Option<&'t str>,
}

/// Reads a quote-free part whose first byte is on physical line `first_line`; `None` as soon
/// as one line is not valid.
pub(super) fn read_part(
    text: &str,
    first_line: u64,
    separator: u8,
    shape: &TableShape,
    ctx: &ValidationContext<'_>,
) -> Option<DirectPart> {
    let capacity = text.len() / 40;
    let today = epoch_days(ctx.today);
    let stale_before = ctx.limits.stale_before(today);
    let max = ctx.limits.max_quantity;
    let catalogue = ctx.catalogue.filter(|c| !c.presentations.is_empty());
    let known: Vec<(usize, Col)> = shape
        .slots
        .iter()
        .enumerate()
        .filter_map(|(pos, slot)| slot.map(|c| (pos, shape.columns[c])))
        .collect();
    let width = shape.width;

    let mut part = DirectPart {
        lines: Vec::with_capacity(capacity),
        columns: Vec::new(),
        outside_catalogue: Vec::new(),
        outside_catalogue_more: 0,
        stale: Vec::new(),
        stale_more: 0,
    };
    let mut cip13: Vec<Cip13> = Vec::with_capacity(capacity);
    let mut date_stock: Vec<i32> = Vec::with_capacity(capacity);
    let mut stock: Vec<i64> = Vec::with_capacity(capacity);
    let mut sorties: Vec<Option<i64>> = Vec::with_capacity(capacity);
    let mut periode_jours: Vec<i64> = Vec::with_capacity(capacity);
    let mut stock_bloque: Vec<Option<i64>> = Vec::with_capacity(capacity);
    let mut appro_quantite: Vec<Option<i64>> = Vec::with_capacity(capacity);
    let mut appro_date: Vec<Option<i32>> = Vec::with_capacity(capacity);
    let mut site: Vec<Option<&str>> = Vec::with_capacity(capacity);
    let mut commentaire: Vec<Option<&str>> = Vec::with_capacity(capacity);

    let mut cells: Vec<&str> = Vec::with_capacity(width);
    // A national file lists a reference's depots one after the other, all of one day: the
    // last reference and stock date read are reused when the next line repeats their text.
    let mut last_cip: LastSeen<&str, Cip13> = LastSeen::default();
    let mut last_day: LastSeen<&str, i32> = LastSeen::default();
    // Whether the previous line's reference is in the catalogue: one or two ordered-map
    // lookups a line otherwise (ANSM's settings, then the BDPM's presentations), for the 180
    // depots of a reference in a row.
    let mut last_known: LastSeen<Cip13, bool> = LastSeen::default();
    // Lines end at `\n` (a `\r` before it is trimmed with the cell), as the tokeniser splits
    // them; the empty text after a final line end is a blank line.
    for (number, record) in text_lines(text).enumerate() {
        let line = (first_line + number as u64) as u32;
        cells.clear();
        let mut count = 0usize;
        // Cut at the separator byte (ASCII: always a character boundary); lines are short,
        // a byte loop beats a search set up for each cell.
        let bytes = record.as_bytes();
        let mut start = 0;
        loop {
            let end = bytes[start..]
                .iter()
                .position(|b| *b == separator)
                .map_or(bytes.len(), |p| start + p);
            let cell = trim_cell(record.get(start..end).unwrap_or(""));
            if count < width {
                cells.push(cell);
            } else if !cell.is_empty() {
                // Cells beyond the header: `colonnes_en_trop`.
                return None;
            }
            count += 1;
            if end == bytes.len() {
                break;
            }
            start = end + 1;
        }
        if cells.iter().all(|c| c.is_empty()) {
            // A blank line (cells beyond the header were empty too): skipped.
            continue;
        }
        if count < width {
            // `colonnes_manquantes`.
            return None;
        }
        let mut row = Row::default();
        for &(pos, column) in &known {
            let cell = cells[pos];
            if cell.is_empty() {
                if column.is_required() {
                    return None;
                }
                continue;
            }
            match column {
                Col::Cip13 => {
                    row.cip13 = Some(last_cip.get(cell, |text| Cip13::parse(text).ok())?);
                }
                Col::DateStock => {
                    row.date_stock =
                        Some(last_day.get(cell, |text| parse_date(text).map(epoch_days))?);
                    row.date_stock_text = cell;
                }
                Col::ApproDate => row.appro_date = Some(epoch_days(parse_date(cell)?)),
                Col::Stock => row.stock = Some(parse_quantity(cell, max).ok()?),
                Col::Sorties => row.sorties = Some(parse_quantity(cell, max).ok()?),
                Col::PeriodeJours => {
                    let days = parse_quantity(cell, max).ok()?;
                    if !PERIOD_DAYS_RANGE.contains(&days) {
                        return None;
                    }
                    row.periode_jours = Some(days);
                }
                Col::StockBloque => row.stock_bloque = Some(parse_quantity(cell, max).ok()?),
                Col::ApproQuantite => row.appro_quantite = Some(parse_quantity(cell, max).ok()?),
                Col::Site => row.site = Some(within(cell, column)?),
                Col::Commentaire => row.commentaire = Some(within(cell, column)?),
                Col::Declarant => {
                    if ctx
                        .declarant
                        .is_some_and(|d| !cell.eq_ignore_ascii_case(d.as_str()))
                    {
                        return None;
                    }
                }
            }
        }
        // Required columns are in the header: a valid row has them.
        let (cip, day, units) = (row.cip13?, row.date_stock?, row.stock?);
        // The checks across columns: a stock date after the day of reception, a supply
        // quantity without its date or the reverse, a supply before the stock date.
        if day > today
            || row.appro_quantite.is_some() != row.appro_date.is_some()
            || row.appro_date.is_some_and(|d| d < day)
        {
            return None;
        }
        let known = catalogue.is_none_or(|c| {
            last_known
                .get(cip, |cip| Some(c.contains(&cip)))
                .unwrap_or(false)
        });
        if !known {
            if part.outside_catalogue.len() < MAX_ISSUES_KEPT {
                part.outside_catalogue.push((line, cip));
            } else {
                part.outside_catalogue_more += 1;
            }
        }
        if day < stale_before {
            if part.stale.len() < MAX_ISSUES_KEPT {
                part.stale.push((line, bounded(row.date_stock_text)));
            } else {
                part.stale_more += 1;
            }
        }
        part.lines.push(line);
        cip13.push(cip);
        date_stock.push(day);
        stock.push(units);
        sorties.push(row.sorties);
        periode_jours.push(row.periode_jours.unwrap_or(DEFAULT_PERIOD_DAYS));
        stock_bloque.push(row.stock_bloque);
        appro_quantite.push(row.appro_quantite);
        appro_date.push(row.appro_date);
        site.push(row.site);
        commentaire.push(row.commentaire);
    }

    let name = |column: Col| PlSmallStr::from_static(column.name());
    // A column without any value (absent from the header, or always empty) costs nothing per
    // row, as the general path's absent columns.
    let quantities = |column: Col, values: Vec<Option<i64>>| {
        if values.iter().all(Option::is_none) {
            return Int64Chunked::full_null(name(column), values.len()).into_column();
        }
        Int64Chunked::from_iter_options(name(column), values.into_iter()).into_column()
    };
    let texts = |column: Col, values: Vec<Option<&str>>| {
        if values.iter().all(Option::is_none) {
            return StringChunked::full_null(name(column), values.len()).into_column();
        }
        StringChunked::from_iter_options(name(column), values.into_iter()).into_column()
    };
    // The general path's columns: every known column but `declarant`, in the format's order.
    part.columns = vec![
        reference_column(name(Col::Cip13), &cip13)?,
        Int32Chunked::from_vec(name(Col::DateStock), date_stock)
            .into_date()
            .into_column(),
        Int64Chunked::from_vec(name(Col::Stock), stock).into_column(),
        quantities(Col::Sorties, sorties),
        Int64Chunked::from_vec(name(Col::PeriodeJours), periode_jours).into_column(),
        quantities(Col::StockBloque, stock_bloque),
        quantities(Col::ApproQuantite, appro_quantite),
        if appro_date.iter().all(Option::is_none) {
            Int32Chunked::full_null(name(Col::ApproDate), appro_date.len())
        } else {
            Int32Chunked::from_iter_options(name(Col::ApproDate), appro_date.into_iter())
        }
        .into_date()
        .into_column(),
        texts(Col::Site, site),
        texts(Col::Commentaire, commentaire),
    ];
    Some(part)
}

/// The references of a part as a string column whose consecutive equal values share their
/// bytes: a national file lists each reference's depots one after the other, and 180 lines of
/// one reference then hold its 13 digits once, not 180 times (a CIP13 is one byte too long to
/// sit inside its 16-byte view). The values are those of a column built value by value.
fn reference_column(name: PlSmallStr, cips: &[Cip13]) -> Option<Column> {
    use polars_arrow::array::{Utf8ViewArray, View};
    use polars_arrow::datatypes::ArrowDataType;
    let mut bytes: Vec<u8> = Vec::new();
    let mut views: Vec<View> = Vec::with_capacity(cips.len());
    let mut previous: Option<(&Cip13, u32)> = None;
    for cip in cips {
        let offset = match previous {
            Some((last, offset)) if last == cip => offset,
            _ => {
                let offset = u32::try_from(bytes.len()).ok()?;
                bytes.extend_from_slice(cip.as_str().as_bytes());
                offset
            }
        };
        previous = Some((cip, offset));
        views.push(View::new_from_bytes(cip.as_str().as_bytes(), 0, offset));
    }
    // Checked (UTF-8, bounds) once here: a failure declines the part, never a wrong frame.
    let array = Utf8ViewArray::try_new(
        ArrowDataType::Utf8View,
        views.into(),
        vec![bytes.into()].into(),
        None,
    )
    .ok()?;
    Some(StringChunked::with_chunk(name, array).into_column())
}

/// A text cell within its column's length, as the general path counts it (characters).
fn within(cell: &str, column: Col) -> Option<&str> {
    let ColumnKind::Text { max_chars } = column.kind() else {
        return Some(cell);
    };
    (cell.len() <= max_chars || cell.chars().count() <= max_chars).then_some(cell)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use medistock_domain::DeclarantId;

    use super::*;
    use crate::declaration::Limits;

    /// Consecutive lines of one reference share its bytes; the values are those of a column
    /// built value by value, in order.
    #[test]
    fn a_reference_s_lines_share_its_digits() {
        let [a, b] = ["3400949497294", "3400930000007"].map(|c| Cip13::parse(c).unwrap());
        let cips = [a, a, a, b, b, a];
        let column = reference_column("cip13".into(), &cips).unwrap();
        let expected =
            StringChunked::from_iter_values("cip13".into(), cips.iter().map(Cip13::as_str));
        assert!(column.str().unwrap().equal_missing(&expected).all());
        let array = column.str().unwrap().downcast_iter().next().unwrap();
        // Three runs of one reference: three copies of 13 digits, not six.
        assert_eq!(array.total_buffer_len(), 3 * 13);
        assert_eq!(reference_column("cip13".into(), &[]).unwrap().len(), 0);
    }

    const HEADER: [&str; 7] = [
        "cip13",
        "date_stock",
        "stock",
        "sorties",
        "appro_quantite",
        "appro_date",
        "declarant",
    ];

    fn read(text: &str) -> Option<DirectPart> {
        let shape = TableShape::new(&HEADER, 1).expect("a valid header");
        let limits = Limits::default();
        let declarant = DeclarantId::parse("grossiste-a").expect("an id");
        let ctx = ValidationContext {
            declarant: Some(&declarant),
            today: NaiveDate::from_ymd_opt(2026, 11, 23).expect("a date"),
            limits: &limits,
            catalogue: None,
        };
        read_part(text, 2, b';', &shape, &ctx)
    }

    #[test]
    fn valid_lines_are_read_with_their_physical_lines() {
        let part = read(
            "3400949497294;2026-11-20;1 200;7;;;GROSSISTE-A\r\n\n  ;;\n\
             4949729;20/11/2026;3;0;50;2026-11-30;\n",
        )
        .expect("valid lines are read");
        assert_eq!(part.lines, [2, 5]);
        assert_eq!(part.columns.len(), 10);
        let stock: Vec<Option<i64>> = part.columns[2].i64().expect("i64").iter().collect();
        assert_eq!(stock, [Some(1200), Some(3)]);
        assert!(part.stale.is_empty() && part.outside_catalogue.is_empty());
    }

    #[test]
    fn stale_dates_are_kept_as_written() {
        let part = read("3400949497294; 1/10/2026 ;5;1;;;\n").expect("a stale line is valid");
        assert_eq!(part.stale, [(2, "1/10/2026".to_owned())]);
    }

    /// Every line the general path would report makes the direct read decline the part.
    #[test]
    fn any_line_with_an_issue_is_declined() {
        for (line, why) in [
            ("3400949497295;2026-11-20;1;1;;;", "CIP13 key"),
            (";2026-11-20;1;1;;;", "missing reference"),
            ("3400949497294;2026-11-31;1;1;;;", "impossible date"),
            ("3400949497294;2026-11-24;1;1;;;", "date after reception"),
            ("3400949497294;2026-11-20;-1;1;;;", "negative stock"),
            ("3400949497294;2026-11-20;;1;;;", "missing stock"),
            ("3400949497294;2026-11-20;1,5;1;;;", "not whole"),
            ("3400949497294;2026-11-20;1;1;5;;", "supply without date"),
            (
                "3400949497294;2026-11-20;1;1;5;2026-11-19;",
                "supply before stock",
            ),
            ("3400949497294;2026-11-20;1;1;;", "missing cell"),
            (
                "3400949497294;2026-11-20;1;1;;;;x",
                "cell beyond the header",
            ),
            (
                "3400949497294;2026-11-20;1;1;;;grossiste-b",
                "another declarant",
            ),
        ] {
            let text = format!("3400949497294;2026-11-20;1;1;;;\n{line}\n");
            assert!(read(&text).is_none(), "{why}: {line}");
        }
        assert!(
            read("3400949497294;2026-11-20;1;1;;;;;\n").is_some(),
            "empty cells beyond"
        );
    }
}
