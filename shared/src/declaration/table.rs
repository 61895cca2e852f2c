//! From a decoded CSV or an XLSX sheet to a raw table: the header mapped to the format's
//! columns, one string column per known column (polars), and the physical line of every row.
//! Nothing is interpreted here beyond the header; cells are trimmed, empty cells become null.

use std::borrow::Cow;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use polars::prelude::{PlSmallStr, StringChunked, StringChunkedBuilder};

use super::cells::excel_serial_to_date;
use super::format::{Column, ColumnKind, Limits, fold_header};
use super::issues::{FileCode, FileIssue, LineCode, LineIssue};

/// A column of the file that the format knows, with its raw (trimmed) cells.
pub struct RawColumn {
    /// The format's column.
    pub column: Column,
    /// One cell per row, null when empty.
    pub values: StringChunked,
}

/// The rows of a declaration as read, before any validation.
pub struct RawTable {
    /// Known columns, in header order.
    pub columns: Vec<RawColumn>,
    /// Physical line (CSV) or sheet row (XLSX) of each row, 1-based.
    pub lines: Vec<u32>,
    /// Structural line errors (wrong number of cells).
    pub line_errors: Vec<LineIssue>,
    /// Warnings about the header (unknown columns).
    pub warnings: Vec<LineIssue>,
    /// How the file was read, for the receipt (e.g. `CSV, UTF-8, séparateur « ; »`).
    pub description: String,
}

impl RawTable {
    /// The raw cells of a column, if the file has it.
    pub fn column(&self, column: Column) -> Option<&StringChunked> {
        self.columns
            .iter()
            .find(|c| c.column == column)
            .map(|c| &c.values)
    }
}

/// Reads a decoded CSV: separator detected from the header line (`;`, tab or `,`), quotes,
/// CRLF or LF, blank lines skipped, a trailing separator tolerated.
pub fn read_csv(text: &str, encoding_label: &str) -> Result<RawTable, FileIssue> {
    let separator = detect_separator(text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut builder: Option<TableBuilder> = None;
    let estimated_rows = text.len() / 40;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            // The text is valid UTF-8 and the reader is flexible: only I/O can fail, and it
            // reads from memory. Stop at the first such record rather than guess.
            Err(_) => break,
        }
        let line = record.position().map_or(0, |p| p.line()) as u32;
        match builder.as_mut() {
            Some(b) => {
                let cells: Vec<&str> = record.iter().collect();
                b.push_row(line, &cells);
            }
            None => {
                let header: Vec<String> = record.iter().map(str::to_owned).collect();
                if header.iter().all(|h| clean_header(h).is_empty()) {
                    continue;
                }
                builder = Some(TableBuilder::new(&header, line, estimated_rows)?);
            }
        }
    }
    let separator_label = match separator {
        b'\t' => "tabulation".to_owned(),
        other => format!("« {} »", other as char),
    };
    match builder {
        Some(b) => Ok(b.finish(format!(
            "CSV, {encoding_label}, séparateur {separator_label}"
        ))),
        None => Err(FileIssue::new(
            FileCode::FichierVide,
            "le fichier ne contient que des lignes vides",
        )),
    }
}

/// The separator among `;`, tab and `,` that occurs most often, outside quotes, on the first
/// non-blank line; `;` on a tie (the French default: `,` is the decimal mark).
fn detect_separator(text: &str) -> u8 {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut counts = [(b';', 0usize), (b'\t', 0), (b',', 0)];
    let mut quoted = false;
    for b in header.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if let Some(entry) = counts.iter_mut().find(|(sep, _)| *sep == b && !quoted) {
            entry.1 += 1;
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    counts
        .iter()
        .find(|(_, n)| *n == best)
        .map_or(b';', |(sep, _)| *sep)
}

/// Reads the first sheet of an XLSX workbook, or the sheet named `declaration`. Refuses
/// archives whose uncompressed size or compression ratio betrays a zip bomb before inflating
/// anything.
pub fn read_xlsx(bytes: &[u8], limits: &Limits) -> Result<RawTable, FileIssue> {
    check_zip_bounds(bytes, limits)?;
    let unreadable = |e: &dyn std::fmt::Display| {
        FileIssue::new(
            FileCode::ClasseurIllisible,
            format!(
                "classeur .xlsx illisible ({e}) : enregistrez-le à nouveau depuis Excel, ou en CSV"
            ),
        )
    };
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    let names = workbook.sheet_names();
    let sheet = names
        .iter()
        .find(|n| fold_header(n) == "declaration")
        .or_else(|| names.first())
        .cloned()
        .ok_or_else(|| unreadable(&"aucune feuille"))?;
    let range = workbook
        .worksheet_range(&sheet)
        .map_err(|e| unreadable(&e))?;
    let first_row = range.start().map_or(0, |(row, _)| row);
    let first_col = range.start().map_or(0, |(_, col)| col) as usize;
    let mut builder: Option<TableBuilder> = None;
    for (i, row) in range.rows().enumerate() {
        let line = first_row + i as u32 + 1;
        match builder.as_mut() {
            Some(b) => {
                let kinds = b.kinds_by_position(first_col, row.len());
                let texts: Vec<Cow<'_, str>> = row
                    .iter()
                    .zip(kinds)
                    .map(|(cell, kind)| xlsx_cell_text(cell, kind))
                    .collect();
                let cells: Vec<&str> = texts.iter().map(|c| c.as_ref()).collect();
                b.push_row(line, &cells);
            }
            None => {
                let mut header = vec![String::new(); first_col];
                header.extend(row.iter().map(|c| xlsx_cell_text(c, None).into_owned()));
                if header.iter().all(|h| clean_header(h).is_empty()) {
                    continue;
                }
                builder = Some(
                    TableBuilder::new(&header, line, range.height()).map(|mut b| {
                        b.leading_empty = first_col;
                        b
                    })?,
                );
            }
        }
    }
    match builder {
        Some(b) => Ok(b.finish(format!("classeur XLSX, feuille « {sheet} »"))),
        None => Err(FileIssue::new(
            FileCode::FichierVide,
            format!("la feuille « {sheet} » est vide"),
        )),
    }
}

fn check_zip_bounds(bytes: &[u8], limits: &Limits) -> Result<(), FileIssue> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        FileIssue::new(
            FileCode::ClasseurIllisible,
            format!("archive .xlsx illisible ({e}) : fichier tronqué ou corrompu ?"),
        )
    })?;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let Ok(entry) = archive.by_index_raw(i) else {
            return Err(FileIssue::new(
                FileCode::ClasseurIllisible,
                "archive .xlsx corrompue",
            ));
        };
        let ratio = entry.size() / entry.compressed_size().max(1);
        total = total.saturating_add(entry.size());
        if total > limits.max_xlsx_uncompressed_bytes
            || (entry.size() > 1_000_000 && ratio > limits.max_xlsx_compression_ratio)
        {
            return Err(FileIssue::new(
                FileCode::ArchiveSuspecte,
                format!(
                    "le classeur décompressé serait trop volumineux ({} Mo, limite {} Mo) : \
                     envoyez un CSV ou scindez le fichier",
                    total / 1_000_000,
                    limits.max_xlsx_uncompressed_bytes / 1_000_000
                ),
            ));
        }
    }
    Ok(())
}

/// The text of an XLSX cell. In date columns, numbers are Excel serial dates; elsewhere whole
/// numbers are printed without `.0` (a CIP13 typed as a number must come back exactly).
fn xlsx_cell_text(cell: &Data, kind: Option<ColumnKind>) -> Cow<'_, str> {
    let is_date = kind == Some(ColumnKind::Date);
    match cell {
        Data::Empty => Cow::Borrowed(""),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cow::Borrowed(s.as_str()),
        Data::Float(f) if is_date => serial_text(*f),
        Data::Int(i) if is_date => serial_text(*i as f64),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
            Cow::Owned(format!("{}", *f as i64))
        }
        Data::Float(f) => Cow::Owned(f.to_string()),
        Data::Int(i) => Cow::Owned(i.to_string()),
        Data::Bool(b) => Cow::Borrowed(if *b { "VRAI" } else { "FAUX" }),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(d) => Cow::Owned(d.date().to_string()),
            None => Cow::Owned(dt.as_f64().to_string()),
        },
        Data::Error(e) => Cow::Owned(e.to_string()),
    }
}

fn serial_text(serial: f64) -> Cow<'static, str> {
    match excel_serial_to_date(serial) {
        Some(d) => Cow::Owned(d.to_string()),
        None => Cow::Owned(serial.to_string()),
    }
}

fn clean_header(cell: &str) -> &str {
    cell.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// Accumulates rows into one polars string builder per known column.
struct TableBuilder {
    /// For each header position, the index of its builder, if the column is known.
    slots: Vec<Option<usize>>,
    builders: Vec<(Column, StringChunkedBuilder)>,
    /// Number of header positions up to the last non-empty header cell.
    width: usize,
    /// XLSX ranges may start right of column A: positions before it are empty.
    leading_empty: usize,
    lines: Vec<u32>,
    line_errors: Vec<LineIssue>,
    warnings: Vec<LineIssue>,
}

impl TableBuilder {
    fn new(header: &[String], line: u32, capacity: usize) -> Result<Self, FileIssue> {
        let mut slots = Vec::with_capacity(header.len());
        let mut builders: Vec<(Column, StringChunkedBuilder)> = Vec::new();
        let mut seen: Vec<(Column, &str)> = Vec::new();
        let mut warnings = Vec::new();
        for raw in header {
            let name = clean_header(raw);
            if name.is_empty() {
                slots.push(None);
                continue;
            }
            match Column::from_header(name) {
                Some(column) => {
                    if let Some((_, first)) = seen.iter().find(|(c, _)| *c == column) {
                        return Err(FileIssue::new(
                            FileCode::ColonneDupliquee,
                            format!(
                                "les colonnes « {first} » et « {name} » désignent toutes deux « {} » : \
                                 gardez-en une seule",
                                column.name()
                            ),
                        ));
                    }
                    seen.push((column, name));
                    slots.push(Some(builders.len()));
                    builders.push((
                        column,
                        StringChunkedBuilder::new(PlSmallStr::from_static(column.name()), capacity),
                    ));
                }
                None => {
                    warnings.push(LineIssue::named(
                        line,
                        name,
                        name,
                        LineCode::ColonneInconnue,
                    ));
                    slots.push(None);
                }
            }
        }
        if builders.is_empty() {
            return Err(FileIssue::new(
                FileCode::EnteteAbsente,
                format!(
                    "la ligne {line} devrait être l'en-tête mais ne nomme aucune colonne connue \
                     (cip13, date_stock, stock…) : ajoutez une ligne d'en-tête"
                ),
            ));
        }
        let missing: Vec<&str> = Column::ALL
            .iter()
            .filter(|c| c.is_required() && !seen.iter().any(|(s, _)| s == *c))
            .map(|c| c.name())
            .collect();
        if !missing.is_empty() {
            return Err(FileIssue::new(
                FileCode::ColonneObligatoireAbsente,
                format!(
                    "colonne(s) obligatoire(s) absente(s) de l'en-tête (ligne {line}) : {}",
                    missing.join(", ")
                ),
            ));
        }
        let width = header
            .iter()
            .rposition(|h| !clean_header(h).is_empty())
            .map_or(0, |p| p + 1);
        Ok(Self {
            slots,
            builders,
            width,
            leading_empty: 0,
            lines: Vec::with_capacity(capacity),
            line_errors: Vec::new(),
            warnings,
        })
    }

    /// The kind of the column at each position of an XLSX row.
    fn kinds_by_position(&self, first_col: usize, len: usize) -> Vec<Option<ColumnKind>> {
        (first_col..first_col + len)
            .map(|pos| {
                self.slots
                    .get(pos)
                    .copied()
                    .flatten()
                    .map(|b| self.builders[b].0.kind())
            })
            .collect()
    }

    /// Adds one row of untrimmed cells (XLSX rows start at `leading_empty`). Blank rows are
    /// skipped; a row with too few or too many cells gets a line error but is kept, so that its
    /// other errors are reported too.
    fn push_row(&mut self, line: u32, cells: &[&str]) {
        let cell = |pos: usize| {
            pos.checked_sub(self.leading_empty)
                .and_then(|i| cells.get(i))
                .map_or("", |c| c.trim())
        };
        let count = cells.len() + self.leading_empty;
        if (0..count).all(|pos| cell(pos).is_empty()) {
            return;
        }
        let joined = |range: std::ops::Range<usize>| range.map(cell).collect::<Vec<_>>().join(";");
        if count < self.width {
            self.line_errors.push(LineIssue::named(
                line,
                "(ligne)",
                joined(0..count),
                LineCode::ColonnesManquantes,
            ));
        } else if (self.width..count).any(|pos| !cell(pos).is_empty()) {
            self.line_errors.push(LineIssue::named(
                line,
                "(ligne)",
                joined(self.width..count),
                LineCode::ColonnesEnTrop,
            ));
        }
        for (pos, slot) in self.slots.iter().enumerate() {
            let Some(b) = slot else { continue };
            match cell(pos) {
                "" => self.builders[*b].1.append_null(),
                value => self.builders[*b].1.append_value(value),
            }
        }
        self.lines.push(line);
    }

    fn finish(self, description: String) -> RawTable {
        RawTable {
            columns: self
                .builders
                .into_iter()
                .map(|(column, b)| RawColumn {
                    column,
                    values: b.finish(),
                })
                .collect(),
            lines: self.lines,
            line_errors: self.line_errors,
            warnings: self.warnings,
            description,
        }
    }
}
