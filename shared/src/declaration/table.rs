//! From a decoded CSV or an XLSX sheet to a raw table: the header mapped to the format's
//! columns, one string column per known column (polars), and the physical line of every row.
//! Nothing is interpreted here beyond the header; cells are trimmed, empty cells become null.

use std::borrow::Cow;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use polars::prelude::{ChunkFullNull, PlSmallStr, StringChunked, StringChunkedBuilder};

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
/// CRLF, LF or CR line ends, blank lines skipped, a trailing separator tolerated.
///
/// Large files without any quote are cut at line ends and tokenised on every core: without
/// quotes, a line end is always a record end.
pub fn read_csv(text: &str, encoding_label: &str) -> Result<RawTable, FileIssue> {
    // csv counts lines on `\n`: old Mac files that end lines with `\r` alone would all be line 1.
    let text: Cow<'_, str> = if text.contains('\r') && !text.contains('\n') {
        Cow::Owned(text.replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    };
    let separator = detect_separator(&text);
    let mut header_reader = csv_reader(&text, separator);
    let mut record = csv::StringRecord::new();
    let shape = loop {
        match header_reader.read_record(&mut record) {
            Ok(true) => {}
            _ => {
                return Err(FileIssue::new(
                    FileCode::FichierVide,
                    "le fichier ne contient que des lignes vides",
                ));
            }
        }
        let header: Vec<String> = record.iter().map(str::to_owned).collect();
        if header.iter().all(|h| clean_header(h).is_empty()) {
            continue;
        }
        let line = record.position().map_or(1, |p| p.line()) as u32;
        break TableShape::new(&header, line)?;
    };
    // The physical line of the first data byte, counted rather than taken from the reader,
    // whose position after a CRLF line depends on whether it has consumed the `\n` yet.
    let mut data_start = (header_reader.position().byte() as usize).min(text.len());
    let mut data_line = 1 + text.as_bytes()[..data_start]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64;
    // After a CRLF header the reader stops between `\r` and `\n`: the `\n` ends the header line.
    if text.as_bytes().get(data_start) == Some(&b'\n') {
        data_start += 1;
        data_line += 1;
    }
    let data = text.get(data_start..).unwrap_or("");

    let parts = split_at_line_ends(data, shape_threads(data));
    let sinks: Vec<RowSink> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .map(|(offset, part)| {
                let first_line =
                    data_line + data[..*offset].bytes().filter(|b| *b == b'\n').count() as u64;
                let shape = &shape;
                scope.spawn(move || tokenize(part, first_line, separator, shape))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let separator_label = match separator {
        b'\t' => "tabulation".to_owned(),
        other => format!("« {} »", other as char),
    };
    Ok(shape.finish(
        sinks,
        format!("CSV, {encoding_label}, séparateur {separator_label}"),
    ))
}

/// A reader whose record terminator is `\n` alone: with csv's default CRLF handling, the
/// position of a record after a `\r\n` is taken before the `\n` is counted, one line short.
/// The `\r` left at the end of the last cell is trimmed with the rest of the white space.
fn csv_reader(text: &str, separator: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .delimiter(separator)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
}

/// How many pieces to tokenise in parallel: one per core for files of several megabytes
/// without quotes, else one.
fn shape_threads(data: &str) -> usize {
    const MIN_PART_BYTES: usize = 4 << 20;
    if data.len() < 2 * MIN_PART_BYTES || data.contains('"') {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(data.len() / MIN_PART_BYTES).clamp(1, 16)
}

/// Cuts `data` into `n` pieces that each end at a line end; returns (byte offset, piece).
fn split_at_line_ends(data: &str, n: usize) -> Vec<(usize, &str)> {
    let mut parts = Vec::with_capacity(n);
    let mut start = 0;
    for k in 1..n {
        let target = (data.len() * k / n).max(start);
        let Some(end) = data.as_bytes()[target..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|p| target + p + 1)
        else {
            break;
        };
        parts.push((start, &data[start..end]));
        start = end;
    }
    parts.push((start, &data[start..]));
    parts
}

/// Tokenises one piece of the data; `first_line` is the physical line of its first byte.
fn tokenize(part: &str, first_line: u64, separator: u8, shape: &TableShape) -> RowSink {
    let mut sink = shape.sink(part.len() / 40);
    let mut reader = csv_reader(part, separator);
    let mut record = csv::StringRecord::new();
    // The text is valid UTF-8 and the reader is flexible: only I/O can fail, and it reads
    // from memory. Stop at the first such record rather than guess.
    while let Ok(true) = reader.read_record(&mut record) {
        let line = first_line + record.position().map_or(1, |p| p.line()) - 1;
        sink.push_row(shape, line as u32, record.len(), |i| {
            record.get(i).unwrap_or("")
        });
    }
    sink
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
    let mut rows = range.rows().enumerate();
    let shape = loop {
        let Some((i, row)) = rows.next() else {
            return Err(FileIssue::new(
                FileCode::FichierVide,
                format!("la feuille « {sheet} » est vide"),
            ));
        };
        let mut header = vec![String::new(); first_col];
        header.extend(row.iter().map(|c| xlsx_cell_text(c, None).into_owned()));
        if header.iter().all(|h| clean_header(h).is_empty()) {
            continue;
        }
        let mut shape = TableShape::new(&header, first_row + i as u32 + 1)?;
        shape.leading_empty = first_col;
        break shape;
    };
    let kinds = shape.kinds_by_position(first_col, range.width());
    let mut sink = shape.sink(range.height());
    for (i, row) in rows {
        let texts: Vec<Cow<'_, str>> = row
            .iter()
            .zip(&kinds)
            .map(|(cell, kind)| xlsx_cell_text(cell, *kind))
            .collect();
        sink.push_row(&shape, first_row + i as u32 + 1, texts.len(), |i| {
            texts[i].as_ref()
        });
    }
    Ok(shape.finish(vec![sink], format!("classeur XLSX, feuille « {sheet} »")))
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

/// The header of a file mapped to the format's columns: shared by every piece tokenised.
struct TableShape {
    /// For each header position, the index of its column in `columns`, if the column is known.
    slots: Vec<Option<usize>>,
    /// Known columns, in header order.
    columns: Vec<Column>,
    /// Number of header positions up to the last non-empty header cell.
    width: usize,
    /// XLSX ranges may start right of column A: positions before it are empty.
    leading_empty: usize,
    /// Unknown header columns.
    warnings: Vec<LineIssue>,
}

/// Rows read from one piece of a file: one polars string builder per known column.
struct RowSink {
    builders: Vec<StringChunkedBuilder>,
    lines: Vec<u32>,
    line_errors: Vec<LineIssue>,
}

impl TableShape {
    fn new(header: &[String], line: u32) -> Result<Self, FileIssue> {
        let mut slots = Vec::with_capacity(header.len());
        let mut columns: Vec<Column> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut warnings = Vec::new();
        for raw in header {
            let name = clean_header(raw);
            if name.is_empty() {
                slots.push(None);
                continue;
            }
            match Column::from_header(name) {
                Some(column) => {
                    if let Some(at) = columns.iter().position(|c| *c == column) {
                        return Err(FileIssue::new(
                            FileCode::ColonneDupliquee,
                            format!(
                                "les colonnes « {} » et « {name} » désignent toutes deux « {} » : \
                                 gardez-en une seule",
                                names[at],
                                column.name()
                            ),
                        ));
                    }
                    slots.push(Some(columns.len()));
                    columns.push(column);
                    names.push(name);
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
        if columns.is_empty() {
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
            .filter(|c| c.is_required() && !columns.contains(c))
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
            columns,
            width,
            leading_empty: 0,
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
                    .map(|c| self.columns[c].kind())
            })
            .collect()
    }

    fn sink(&self, capacity: usize) -> RowSink {
        RowSink {
            builders: self
                .columns
                .iter()
                .map(|c| StringChunkedBuilder::new(PlSmallStr::from_static(c.name()), capacity))
                .collect(),
            lines: Vec::with_capacity(capacity),
            line_errors: Vec::new(),
        }
    }

    /// Joins the pieces, in file order.
    fn finish(self, sinks: Vec<RowSink>, description: String) -> RawTable {
        let mut lines = Vec::new();
        let mut line_errors = Vec::new();
        let mut values: Vec<Option<StringChunked>> = vec![None; self.columns.len()];
        for sink in sinks {
            lines.extend(sink.lines);
            line_errors.extend(sink.line_errors);
            for (slot, builder) in values.iter_mut().zip(sink.builders) {
                let piece = builder.finish();
                match slot {
                    Some(whole) => whole.append_owned(piece).unwrap_or_default(),
                    None => *slot = Some(piece),
                }
            }
        }
        RawTable {
            columns: self
                .columns
                .iter()
                .zip(values)
                .map(|(column, values)| RawColumn {
                    column: *column,
                    values: values.unwrap_or_else(|| {
                        StringChunked::full_null(PlSmallStr::from_static(column.name()), 0)
                    }),
                })
                .collect(),
            lines,
            line_errors,
            warnings: self.warnings,
            description,
        }
    }
}

impl RowSink {
    /// Adds one row of `count` untrimmed cells (XLSX rows start at `leading_empty`). Blank rows
    /// are skipped; a row with too few or too many cells gets a line error but is kept, so
    /// that its other errors are reported too.
    fn push_row<'c>(
        &mut self,
        shape: &TableShape,
        line: u32,
        count: usize,
        cells: impl Fn(usize) -> &'c str,
    ) {
        let cell = |pos: usize| {
            pos.checked_sub(shape.leading_empty)
                .filter(|i| *i < count)
                .map_or("", |i| cells(i).trim())
        };
        let count = count + shape.leading_empty;
        if (0..count).all(|pos| cell(pos).is_empty()) {
            return;
        }
        let joined = |range: std::ops::Range<usize>| range.map(cell).collect::<Vec<_>>().join(";");
        if count < shape.width {
            self.line_errors.push(LineIssue::named(
                line,
                "(ligne)",
                joined(0..count),
                LineCode::ColonnesManquantes,
            ));
        } else if (shape.width..count).any(|pos| !cell(pos).is_empty()) {
            self.line_errors.push(LineIssue::named(
                line,
                "(ligne)",
                joined(shape.width..count),
                LineCode::ColonnesEnTrop,
            ));
        }
        for (pos, slot) in shape.slots.iter().enumerate() {
            let Some(b) = slot else { continue };
            match cell(pos) {
                "" => self.builders[*b].append_null(),
                value => self.builders[*b].append_value(value),
            }
        }
        self.lines.push(line);
    }
}
