//! From a decoded CSV or an XLSX sheet to a raw table: the header mapped to the format's
//! columns, one string column per known column (polars), and the physical line of every row.
//! Nothing is interpreted here beyond the header; cells are trimmed, empty cells become null.
//!
//! The cost is linear in the bytes: the header is checked (known columns, at most
//! [`Limits::max_columns`]) before any per-column work, an XLSX sheet is read cell by cell as
//! it streams (never as the dense rectangle its farthest cell spans), and line issues keep a
//! bounded value.

use std::borrow::Cow;
use std::io::Cursor;
use std::ops::ControlFlow;
use std::panic::AssertUnwindSafe;

use calamine::{DataRef, Reader, Xlsx, XlsxError};
use polars::prelude::{ChunkFullNull, PlSmallStr, StringChunked, StringChunkedBuilder};

use super::cells::excel_serial_to_date;
use super::decode::{EXCEL_COLUMNS, EXCEL_ROWS, cell_name, check_xlsx_archive};
use super::format::{Column, ColumnKind, Limits, fold_header};
use super::issues::{FileCode, FileIssue, LineCode, LineIssue, MAX_VALUE_CHARS, bounded};
use super::scan::{count_byte, lines};
use super::validate::MAX_ISSUES_KEPT;

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
    /// Structural line errors (wrong number of cells), the first
    /// [`super::validate::MAX_ISSUES_KEPT`] in full.
    pub line_errors: Vec<LineIssue>,
    /// Lines with a structural error beyond those detailed.
    pub other_error_lines: Vec<u32>,
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

/// A CSV's data after its header, handed over a piece at a time (see [`read_csv`]): a
/// national file's raw cells (3.6 million lines × ten columns of strings, about a gigabyte)
/// never exist at once, only one piece's. (An XLSX sheet hands its pieces to [`read_xlsx`]'s
/// caller as it is read.)
pub struct CsvRows<'t> {
    text: Cow<'t, str>,
    separator: u8,
    shape: TableShape,
    /// Byte offset of the next piece in `text`, and the physical line it starts on.
    next: usize,
    next_line: u64,
    /// Bytes per piece; the whole data in one piece when it holds quotes (a line end inside
    /// quotes is not a record end: only a quote-free text can be cut at any line end).
    piece_bytes: usize,
    description: String,
    /// The header's warnings, until the first piece takes them.
    header_warnings: Option<Vec<LineIssue>>,
}

impl CsvRows<'_> {
    /// How the file is read, for the receipt (e.g. `CSV, UTF-8, séparateur « ; »`).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The next piece of rows, in file order, `None` when all were given. The first piece
    /// carries the header's warnings, and is given even when no line follows the header.
    pub fn next_piece(&mut self) -> Option<RawTable> {
        match self.next_piece_with::<()>(None)? {
            Piece::Raw(table) => Some(table),
            // Never given without a direct reader.
            Piece::Direct { .. } => None,
        }
    }

    /// [`CsvRows::next_piece`], with a direct reader for quote-free text: each part of the
    /// piece (one per core) is handed to `direct` with its physical first line; when it reads
    /// every part, the piece is given as what it returned and is never tokenised. When it
    /// declines one part (`None`), the piece is tokenised as usual.
    pub(super) fn next_piece_with<T: Send>(
        &mut self,
        direct: Option<&DirectReader<'_, T>>,
    ) -> Option<Piece<T>> {
        let data = self.text.get(self.next..).unwrap_or("");
        let warnings = match self.header_warnings.take() {
            Some(warnings) => warnings,
            None if data.is_empty() => return None,
            None => Vec::new(),
        };
        let quoted = self.piece_bytes == usize::MAX;
        let len = if data.len() <= self.piece_bytes {
            data.len()
        } else {
            data.as_bytes()[self.piece_bytes..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(data.len(), |p| self.piece_bytes + p + 1)
        };
        let piece = &data[..len];
        let first_line = self.next_line;
        // Each part's first line: the line ends of the parts before it, counted once.
        let mut line = first_line;
        let parts: Vec<(u64, &str)> = split_at_line_ends(piece, shape_threads(piece))
            .into_iter()
            .map(|(_, part)| {
                let first = line;
                line += count_byte(part.as_bytes(), b'\n') as u64;
                (first, part)
            })
            .collect();
        self.next += len;
        self.next_line = line;
        let (separator, shape) = (self.separator, &self.shape);
        if let Some(direct) = direct.filter(|_| !quoted) {
            let read: Option<Vec<T>> =
                on_every_core(&parts, |line, part| direct(part, line, separator, shape))
                    .into_iter()
                    .collect();
            if let Some(parts) = read {
                return Some(Piece::Direct { parts, warnings });
            }
        }
        let sinks = on_every_core(&parts, |line, part| tokenize(part, line, separator, shape));
        Some(Piece::Raw(self.shape.finish(
            sinks,
            warnings,
            self.description.clone(),
        )))
    }
}

/// A reader of quote-free text that types a part of a piece in one pass, or declines it:
/// `(text, physical line of its first byte, separator, header) -> read`.
pub(super) type DirectReader<'r, T> = dyn Fn(&str, u64, u8, &TableShape) -> Option<T> + Sync + 'r;

/// A piece of a CSV's rows, as [`CsvRows::next_piece_with`] gives it.
pub(super) enum Piece<T> {
    /// Tokenised: the raw cells.
    Raw(RawTable),
    /// Read by the direct reader, part by part in file order; `warnings` are the header's
    /// (first piece only).
    Direct {
        parts: Vec<T>,
        warnings: Vec<LineIssue>,
    },
}

/// Runs `work` on each (first line, text) part, one thread per part when there are several.
fn on_every_core<T: Send>(parts: &[(u64, &str)], work: impl Fn(u64, &str) -> T + Sync) -> Vec<T> {
    if let [(line, part)] = parts {
        return vec![work(*line, part)];
    }
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .map(|(line, part)| scope.spawn(move || work(*line, part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Reads a decoded CSV: separator detected from the header line (`;`, tab or `,`), quotes,
/// CRLF, LF or CR line ends, blank lines skipped, a trailing separator tolerated. The header is
/// read here; the rows come a piece at a time from the result.
///
/// Large files without any quote are cut at line ends, in pieces of
/// [`Limits::csv_piece_bytes`], each tokenised on every core: without quotes, a line end is
/// always a record end.
///
/// Errors: `fichier_vide`; `trop_de_colonnes` for a line of more than
/// [`Limits::max_line_values`] values (refused before it is tokenised) or a header wider than
/// [`Limits::max_columns`]; `entete_absente`, `colonne_dupliquee`, `colonne_obligatoire_absente`.
pub fn read_csv<'t>(
    text: &'t str,
    encoding_label: &str,
    limits: &Limits,
) -> Result<CsvRows<'t>, FileIssue> {
    // csv counts lines on `\n`: old Mac files that end lines with `\r` alone would all be line 1.
    let text: Cow<'t, str> = if text.contains('\r') && !text.contains('\n') {
        Cow::Owned(text.replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    };
    let text = marks_at_line_starts_as_spaces(text);
    let separator = detect_separator(&text);
    if let Some((line, values)) = widest_record(&text, separator, limits.max_line_values) {
        return Err(FileIssue::new(
            FileCode::TropDeColonnes,
            format!(
                "la ligne {line} compte {values} valeurs, au-delà de la limite de {} : ce n'est \
                 pas une déclaration, ou le séparateur {} ne convient pas",
                limits.max_line_values,
                separator_label(separator)
            ),
        ));
    }
    let mut header_reader = csv_reader(&text, separator);
    let mut record = csv::StringRecord::new();
    let mut shape = loop {
        match header_reader.read_record(&mut record) {
            Ok(true) => {}
            _ => {
                return Err(FileIssue::new(
                    FileCode::FichierVide,
                    "le fichier ne contient que des lignes vides",
                ));
            }
        }
        let Some(width) = header_width(record.iter()) else {
            continue;
        };
        let line = record_line(&text, record.position()) as u32;
        if width > limits.max_columns {
            return Err(too_wide(record.iter(), width, line, limits));
        }
        let header: Vec<&str> = record.iter().take(width).collect();
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
    let quoted = text[data_start..].contains('"');
    Ok(CsvRows {
        header_warnings: Some(std::mem::take(&mut shape.warnings)),
        description: format!(
            "CSV, {encoding_label}, séparateur {}",
            separator_label(separator)
        ),
        text,
        separator,
        shape,
        next: data_start,
        next_line: data_line,
        piece_bytes: if quoted {
            usize::MAX
        } else {
            limits.csv_piece_bytes.max(1)
        },
    })
}

/// A byte order mark at the start of a line (a line pasted from another file, a second mark
/// at the start of the file) becomes three spaces: the tokeniser drops a mark at the start of
/// each text it reads, so a quote after it, the line number of the record and the limit on
/// values per line would otherwise depend on where the text is cut into pieces. A mark is
/// trimmed like a space in any cell, so no value changes. Byte offsets and line numbers stay.
fn marks_at_line_starts_as_spaces(text: Cow<'_, str>) -> Cow<'_, str> {
    const MARK: char = '\u{feff}';
    let at_line_start = |t: &str| t.starts_with(MARK) || t.contains("\n\u{feff}");
    if !at_line_start(&text) {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.strip_prefix(MARK) {
            Some(rest) => {
                out.push_str("   ");
                out.push_str(rest);
            }
            None => out.push_str(line),
        }
    }
    Cow::Owned(out)
}

fn separator_label(separator: u8) -> String {
    match separator {
        b'\t' => "tabulation".to_owned(),
        other => format!("« {} »", other as char),
    }
}

/// The first record with more than `limit` values, as (physical line, number of values).
/// Records are split exactly as the csv reader splits them (`"` quotes fields, `""` is a
/// quote inside one, a line end inside quotes does not end the record), in one pass that
/// stores nothing: a line of 200 MB of separators is refused before the reader would store
/// 8 bytes for each of its values.
fn widest_record(text: &str, separator: u8, limit: usize) -> Option<(u64, usize)> {
    if text.contains('"') {
        widest_quoted_record(text, separator, limit)
    } else {
        widest_line(text, separator, limit)
    }
}

/// [`widest_record`] byte by byte, quotes followed.
fn widest_quoted_record(text: &str, separator: u8, limit: usize) -> Option<(u64, usize)> {
    #[derive(Clone, Copy)]
    enum State {
        /// Between records (blank lines are skipped).
        StartRecord,
        /// In an unquoted field; `true` at its first byte, where a quote opens quotes.
        Unquoted(bool),
        Quoted,
        /// A quote inside quotes: a second one is a quote, anything else closes them.
        QuoteInQuoted,
    }
    let mut state = State::StartRecord;
    let mut line: u64 = 1;
    let mut record_line: u64 = 1;
    let mut values: usize = 0;
    for &b in text.as_bytes() {
        if let State::StartRecord = state {
            if b == b'\n' {
                line += 1;
                continue;
            }
            record_line = line;
            values = 1;
            state = State::Unquoted(true);
        }
        state = match (state, b) {
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::Unquoted(true) | State::QuoteInQuoted, b'"') => State::Quoted,
            (_, b'\n') => State::StartRecord,
            (_, b) if b == separator => {
                values += 1;
                State::Unquoted(true)
            }
            _ => State::Unquoted(false),
        };
        if b == b'\n' {
            line += 1;
            if let State::StartRecord = state
                && values > limit
            {
                return Some((record_line, values));
            }
        }
    }
    match state {
        State::StartRecord => None,
        _ => (values > limit).then_some((record_line, values)),
    }
}

/// [`widest_record`] for a text without quotes, where a record is a line: line ends found by
/// `memchr`, separators counted only on lines long enough to exceed the limit
/// ([`super::scan`]; a national file's 3.6 M lines in a few hundredths of a second, where the
/// general scan takes a few tenths).
fn widest_line(text: &str, separator: u8, limit: usize) -> Option<(u64, usize)> {
    let mut line: u64 = 0;
    for record in lines(text.as_bytes()) {
        line += 1;
        // Blank lines are skipped, as the reader skips them.
        if record.is_empty() || record.len() < limit {
            // Fewer bytes than the limit: fewer values than the limit too.
            continue;
        }
        let values = 1 + count_byte(record, separator);
        if values > limit {
            return Some((line, values));
        }
    }
    None
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

/// The physical line (1-based) a record of `text` starts on. The reader gives the position
/// where it began to look for the record, before the blank lines it skipped (on the first of
/// them, line and byte): they are counted here. (A record never starts with a line end.)
fn record_line(text: &str, position: Option<&csv::Position>) -> u64 {
    position.map_or(1, |p| {
        let from = usize::try_from(p.byte()).map_or(text.len(), |b| b.min(text.len()));
        let blank = text.as_bytes()[from..]
            .iter()
            .take_while(|b| **b == b'\n')
            .count();
        p.line() + blank as u64
    })
}

/// Tokenises one piece of the data; `first_line` is the physical line of its first byte.
fn tokenize(part: &str, first_line: u64, separator: u8, shape: &TableShape) -> RowSink {
    let mut sink = shape.sink(part.len() / 40);
    let mut reader = csv_reader(part, separator);
    let mut record = csv::StringRecord::new();
    // The text is valid UTF-8 and the reader is flexible: only I/O can fail, and it reads
    // from memory. Stop at the first such record rather than guess.
    while let Ok(true) = reader.read_record(&mut record) {
        let line = first_line + record_line(part, record.position()) - 1;
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
        match b {
            b'"' => quoted = !quoted,
            _ if quoted => {}
            b';' => counts[0].1 += 1,
            b'\t' => counts[1].1 += 1,
            b',' => counts[2].1 += 1,
            _ => {}
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    counts
        .iter()
        .find(|(_, n)| *n == best)
        .map_or(b';', |(sep, _)| *sep)
}

/// Reads the first sheet of an XLSX workbook, or the sheet named `declaration`, and hands its
/// rows to `piece` [`Limits::xlsx_piece_rows`] at a time (the header's warnings with the first), as it
/// reads them; `piece` may stop the reading. Returns how the file was read, for the receipt.
/// The archive is checked first (see [`check_xlsx_archive`]); the sheet is then read cell by
/// cell, so that the cost follows the cells present: a single cell in `XFD1048576` costs one
/// cell.
///
/// An error found after some pieces were handed over (too many cells, rows out of order)
/// rejects the whole file: the caller discards what the pieces gave.
///
/// Errors: the archive's (see [`check_xlsx_archive`]); `classeur_illisible`, also for rows out
/// of order (Excel never writes them); `trop_de_cellules` past [`Limits::max_xlsx_cells`];
/// `reference_cellule_invalide` for a cell placed past Excel's grid; `fichier_vide`; and the
/// header's: `trop_de_colonnes`, `entete_absente`, `colonne_dupliquee`,
/// `colonne_obligatoire_absente`.
pub fn read_xlsx(
    bytes: &[u8],
    limits: &Limits,
    mut piece: impl FnMut(RawTable) -> ControlFlow<()>,
) -> Result<String, FileIssue> {
    // The checks leave calamine nothing known to panic on; should it panic all the same, the
    // file gets a verdict and the run goes on. A panic of the caller's `piece` (the validator)
    // is not the file's: it goes on unwinding.
    let in_piece = std::cell::Cell::new(false);
    let read = std::panic::catch_unwind(AssertUnwindSafe(|| {
        check_xlsx_archive(bytes, limits)?;
        read_sheet(bytes, limits, &mut |rows| {
            in_piece.set(true);
            let flow = piece(rows);
            in_piece.set(false);
            flow
        })
    }));
    match read {
        Ok(read) => read,
        Err(payload) if in_piece.get() => std::panic::resume_unwind(payload),
        Err(_) => Err(unreadable(&"erreur interne du lecteur de classeurs")),
    }
}

fn unreadable(e: &dyn std::fmt::Display) -> FileIssue {
    FileIssue::new(
        FileCode::ClasseurIllisible,
        format!(
            "classeur .xlsx illisible ({}) : enregistrez-le à nouveau depuis Excel, ou en CSV",
            bounded(&e.to_string())
        ),
    )
}

fn read_sheet(
    bytes: &[u8],
    limits: &Limits,
    piece: &mut dyn FnMut(RawTable) -> ControlFlow<()>,
) -> Result<String, FileIssue> {
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    let names = workbook.sheet_names();
    let sheet = names
        .iter()
        .find(|n| fold_header(n) == "declaration")
        .or_else(|| names.first())
        .cloned()
        .ok_or_else(|| unreadable(&"aucune feuille"))?;
    let empty = || {
        FileIssue::new(
            FileCode::FichierVide,
            format!("la feuille « {} » est vide", bounded(&sheet)),
        )
    };
    let mut cells = match workbook.worksheet_cells_reader(&sheet) {
        Ok(cells) => cells,
        Err(XlsxError::NotAWorksheet(_)) => return Err(empty()),
        Err(e) => return Err(unreadable(&e)),
    };
    let description = format!("classeur XLSX, feuille « {} »", bounded(&sheet));
    let mut table = SheetTable::default();
    // The cells of the row being read: (column, value), non-empty values only.
    let mut row: Vec<(u32, DataRef<'_>)> = Vec::new();
    let mut current: Option<u32> = None;
    let mut read: u64 = 0;
    while let Some(cell) = cells.next_cell().map_err(|e| unreadable(&e))? {
        read += 1;
        if read > limits.max_xlsx_cells {
            return Err(FileIssue::new(
                FileCode::TropDeCellules,
                format!(
                    "la feuille « {} » compte plus de {} cellules, la limite : envoyez un CSV ou \
                     scindez le fichier",
                    bounded(&sheet),
                    limits.max_xlsx_cells
                ),
            ));
        }
        let (r, c) = cell.get_position();
        if r >= EXCEL_ROWS || c >= EXCEL_COLUMNS {
            return Err(FileIssue::new(
                FileCode::ReferenceCelluleInvalide,
                format!(
                    "une cellule de la feuille tombe en « {} », hors de la grille d'Excel \
                     (colonnes A à XFD, lignes 1 à 1 048 576) : enregistrez le classeur à \
                     nouveau depuis Excel, ou envoyez un CSV",
                    cell_name(r, c)
                ),
            ));
        }
        if *cell.get_value() == DataRef::Empty {
            continue;
        }
        match current {
            Some(at) if r == at => {}
            Some(at) if r < at => {
                return Err(unreadable(&format!(
                    "lignes dans le désordre : la ligne {} suit la ligne {}",
                    r + 1,
                    at + 1
                )));
            }
            _ => {
                if let Some(at) = current {
                    table.push_row(at, &mut row, limits)?;
                    if table.holds(limits.xlsx_piece_rows)
                        && let Some(rows) = table.flush(&description)
                        && piece(rows).is_break()
                    {
                        return Ok(description);
                    }
                }
                current = Some(r);
            }
        }
        row.push((c, cell.get_value().clone()));
        if row.len() > 2 * EXCEL_COLUMNS as usize {
            in_column_order(&mut row);
        }
    }
    if let Some(at) = current {
        table.push_row(at, &mut row, limits)?;
    }
    if table.read.is_none() {
        return Err(empty());
    }
    if let Some(rows) = table.flush(&description) {
        let _ = piece(rows);
    }
    Ok(description)
}

/// Sorts a row's cells by column, keeping the last value written for a column (Excel writes
/// them in order, once; anything else is made so).
fn in_column_order(row: &mut Vec<(u32, DataRef<'_>)>) {
    if row.windows(2).all(|w| w[0].0 < w[1].0) {
        return;
    }
    row.sort_by_key(|(column, _)| *column);
    row.reverse();
    row.dedup_by_key(|(column, _)| *column);
    row.reverse();
}

/// An XLSX sheet being read: nothing until the header row, then the shape and the rows not
/// handed over yet.
#[derive(Default)]
struct SheetTable {
    read: Option<(TableShape, RowSink)>,
    /// Whether the first piece (with the header's warnings) was handed over.
    flushed: bool,
}

impl SheetTable {
    /// Whether `rows` rows (a piece) are waiting.
    fn holds(&self, rows: usize) -> bool {
        self.read
            .as_ref()
            .is_some_and(|(_, sink)| sink.lines.len() >= rows.max(1))
    }

    /// The rows waiting, as a piece (the first carries the header's warnings); `None` once
    /// the first was given and none wait.
    fn flush(&mut self, description: &str) -> Option<RawTable> {
        let (shape, sink) = self.read.as_mut()?;
        if self.flushed && sink.lines.is_empty() {
            return None;
        }
        let rows = std::mem::replace(sink, shape.sink(1024));
        let warnings = if self.flushed {
            Vec::new()
        } else {
            std::mem::take(&mut shape.warnings)
        };
        self.flushed = true;
        Some(shape.finish(vec![rows], warnings, description.to_owned()))
    }

    /// Takes one row (0-based `row`) of non-empty cells, and empties it.
    fn push_row(
        &mut self,
        row: u32,
        cells: &mut Vec<(u32, DataRef<'_>)>,
        limits: &Limits,
    ) -> Result<(), FileIssue> {
        in_column_order(cells);
        let line = row + 1;
        match &mut self.read {
            None => {
                let texts: Vec<(usize, Cow<'_, str>)> = cells
                    .iter()
                    .map(|(c, v)| (*c as usize, xlsx_cell_text(v, None)))
                    .filter(|(_, t)| !trim_cell(t).is_empty())
                    .collect();
                if let Some((last, _)) = texts.last() {
                    let width = last + 1;
                    if width > limits.max_columns {
                        let names = texts.iter().map(|(_, t)| t.as_ref());
                        return Err(too_wide(names, width, line, limits));
                    }
                    let mut header = vec![""; width];
                    for (c, text) in &texts {
                        header[*c] = text.as_ref();
                    }
                    let shape = TableShape::new(&header, line)?;
                    let sink = shape.sink(1024);
                    self.read = Some((shape, sink));
                }
            }
            Some((shape, sink)) => {
                let mut known: Vec<Cow<'_, str>> = vec![Cow::Borrowed(""); shape.width];
                let mut beyond: Vec<Cow<'_, str>> = Vec::new();
                for (c, value) in cells.iter() {
                    let c = *c as usize;
                    match known.get_mut(c) {
                        Some(slot) => *slot = xlsx_cell_text(value, shape.kind_at(c)),
                        None => beyond.push(xlsx_cell_text(value, None)),
                    }
                }
                sink.push_sparse(shape, line, &known, &beyond);
            }
        }
        cells.clear();
        Ok(())
    }
}

/// The text of an XLSX cell. In date columns, numbers are Excel serial dates; elsewhere whole
/// numbers are printed without `.0` (a CIP13 typed as a number must come back exactly).
fn xlsx_cell_text<'d>(cell: &'d DataRef<'_>, kind: Option<ColumnKind>) -> Cow<'d, str> {
    let is_date = kind == Some(ColumnKind::Date);
    match cell {
        DataRef::Empty => Cow::Borrowed(""),
        DataRef::SharedString(s) => Cow::Borrowed(s),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => {
            Cow::Borrowed(s.as_str())
        }
        DataRef::Float(f) if is_date => serial_text(*f),
        DataRef::Int(i) if is_date => serial_text(*i as f64),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
            Cow::Owned(format!("{}", *f as i64))
        }
        DataRef::Float(f) => Cow::Owned(f.to_string()),
        DataRef::Int(i) => Cow::Owned(i.to_string()),
        DataRef::Bool(b) => Cow::Borrowed(if *b { "VRAI" } else { "FAUX" }),
        DataRef::DateTime(dt) => match dt.as_datetime() {
            Some(d) => Cow::Owned(d.date().to_string()),
            None => Cow::Owned(dt.as_f64().to_string()),
        },
        DataRef::Error(e) => Cow::Owned(e.to_string()),
    }
}

fn serial_text(serial: f64) -> Cow<'static, str> {
    match excel_serial_to_date(serial) {
        Some(d) => Cow::Owned(d.to_string()),
        None => Cow::Owned(serial.to_string()),
    }
}

/// A cell without the white space and byte order marks around it. A mark is trimmed like a
/// space wherever it stands: the tokeniser drops one at the start of each piece it reads, so
/// keeping it elsewhere would make a verdict depend on where pieces are cut.
pub(super) fn trim_cell(cell: &str) -> &str {
    cell.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// The number of header positions up to the last non-empty cell; `None` for a blank row.
fn header_width<'h>(cells: impl Iterator<Item = &'h str>) -> Option<usize> {
    let mut width = None;
    for (at, cell) in cells.enumerate() {
        let blank = match cell.as_bytes().first() {
            None => true,
            Some(b) if b.is_ascii_graphic() => false,
            Some(_) => trim_cell(cell).is_empty(),
        };
        if !blank {
            width = Some(at + 1);
        }
    }
    width
}

/// The rejection of a header wider than the bound: `trop_de_colonnes` when it names a known
/// column, else `entete_absente` (a line of data, most likely). Costs one look at each cell.
fn too_wide<'h>(
    cells: impl Iterator<Item = &'h str>,
    width: usize,
    line: u32,
    limits: &Limits,
) -> FileIssue {
    let mut cells = cells;
    if !cells.any(|h| Column::from_header(h).is_some()) {
        return no_header(line);
    }
    FileIssue::new(
        FileCode::TropDeColonnes,
        format!(
            "l'en-tête (ligne {line}) compte {width} colonnes, au-delà de la limite de {} : \
             un séparateur mal choisi, ou des colonnes vides à supprimer ?",
            limits.max_columns
        ),
    )
}

fn no_header(line: u32) -> FileIssue {
    FileIssue::new(
        FileCode::EnteteAbsente,
        format!(
            "la ligne {line} devrait être l'en-tête mais ne nomme aucune colonne connue \
             (cip13, date_stock, stock…) : ajoutez une ligne d'en-tête"
        ),
    )
}

/// Cells joined with `;`, built no further than a line issue keeps (it adds the `…`).
fn bounded_join<'c>(cells: impl Iterator<Item = &'c str>) -> String {
    let mut out = String::new();
    let mut chars = 0;
    for (i, cell) in cells.enumerate() {
        for c in (i > 0).then_some(';').into_iter().chain(cell.chars()) {
            if chars > MAX_VALUE_CHARS {
                return out;
            }
            out.push(c);
            chars += 1;
        }
    }
    out
}

/// How many unknown header columns get a warning each; the others share one.
const UNKNOWN_COLUMNS_LISTED: usize = 20;

/// The header of a file mapped to the format's columns: shared by every piece tokenised.
pub(super) struct TableShape {
    /// For each header position, the index of its column in `columns`, if the column is known.
    pub(super) slots: Vec<Option<usize>>,
    /// Known columns, in header order.
    pub(super) columns: Vec<Column>,
    /// Number of header positions up to the last non-empty header cell.
    pub(super) width: usize,
    /// Unknown header columns.
    warnings: Vec<LineIssue>,
}

/// Rows read from one piece of a file: one polars string builder per known column.
struct RowSink {
    builders: Vec<StringChunkedBuilder>,
    lines: Vec<u32>,
    line_errors: Vec<LineIssue>,
    other_error_lines: Vec<u32>,
}

impl TableShape {
    /// Maps a header (cut at its last non-empty cell, at most [`Limits::max_columns`] wide) to
    /// the format's columns.
    ///
    /// Errors: `entete_absente` when no cell names a known column, `colonne_dupliquee`,
    /// `colonne_obligatoire_absente`.
    pub(super) fn new(header: &[&str], line: u32) -> Result<Self, FileIssue> {
        let mut slots = Vec::with_capacity(header.len());
        let mut columns: Vec<Column> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut unknown: Vec<&str> = Vec::new();
        for raw in header {
            let name = trim_cell(raw);
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
                                "les colonnes « {} » et « {} » désignent toutes deux « {} » : \
                                 gardez-en une seule",
                                bounded(names[at]),
                                bounded(name),
                                column.name()
                            ),
                        ));
                    }
                    slots.push(Some(columns.len()));
                    columns.push(column);
                    names.push(name);
                }
                None => {
                    unknown.push(name);
                    slots.push(None);
                }
            }
        }
        if columns.is_empty() {
            return Err(no_header(line));
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
        let mut warnings: Vec<LineIssue> = unknown
            .iter()
            .take(UNKNOWN_COLUMNS_LISTED)
            .map(|name| LineIssue::named(line, name, name, LineCode::ColonneInconnue))
            .collect();
        if let Some(more) = unknown
            .len()
            .checked_sub(UNKNOWN_COLUMNS_LISTED)
            .filter(|n| *n > 0)
        {
            warnings.push(LineIssue {
                line,
                column: "(en-tête)".to_owned(),
                value: String::new(),
                code: LineCode::ColonneInconnue,
                message: format!("et {more} autre(s) colonne(s) inconnue(s) : ignorée(s)"),
            });
        }
        let width = header
            .iter()
            .rposition(|h| !trim_cell(h).is_empty())
            .map_or(0, |p| p + 1);
        Ok(Self {
            slots,
            columns,
            width,
            warnings,
        })
    }

    /// The kind of the column at a header position, if the format knows it.
    fn kind_at(&self, pos: usize) -> Option<ColumnKind> {
        self.slots
            .get(pos)
            .copied()
            .flatten()
            .map(|c| self.columns[c].kind())
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
            other_error_lines: Vec::new(),
        }
    }

    /// Joins the parts of a piece, in file order.
    fn finish(
        &self,
        sinks: Vec<RowSink>,
        warnings: Vec<LineIssue>,
        description: String,
    ) -> RawTable {
        let mut lines = Vec::new();
        let mut line_errors: Vec<LineIssue> = Vec::new();
        let mut other_error_lines = Vec::new();
        let mut values: Vec<Option<StringChunked>> = vec![None; self.columns.len()];
        for sink in sinks {
            lines.extend(sink.lines);
            for issue in sink.line_errors {
                if line_errors.len() < MAX_ISSUES_KEPT {
                    line_errors.push(issue);
                } else {
                    other_error_lines.push(issue.line);
                }
            }
            other_error_lines.extend(sink.other_error_lines);
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
            other_error_lines,
            warnings,
            description,
        }
    }
}

impl RowSink {
    /// Records a structural error of `line`, detailed while fewer than
    /// [`MAX_ISSUES_KEPT`] are kept.
    fn line_error(&mut self, line: u32, issue: impl FnOnce() -> LineIssue) {
        if self.line_errors.len() < MAX_ISSUES_KEPT {
            self.line_errors.push(issue());
        } else {
            self.other_error_lines.push(line);
        }
    }

    /// Adds one CSV row of `count` untrimmed cells. Blank rows are skipped; a row with too few
    /// or too many cells gets a line error but is kept, so that its other errors are reported
    /// too. Costs one look at each cell.
    fn push_row<'c>(
        &mut self,
        shape: &TableShape,
        line: u32,
        count: usize,
        cells: impl Fn(usize) -> &'c str,
    ) {
        let cell = |pos: usize| {
            if pos < count {
                trim_cell(cells(pos))
            } else {
                ""
            }
        };
        if (0..count).all(|pos| cell(pos).is_empty()) {
            return;
        }
        if count < shape.width {
            self.line_error(line, || {
                LineIssue::named(
                    line,
                    "(ligne)",
                    bounded_join((0..count).map(cell)),
                    LineCode::ColonnesManquantes,
                )
            });
        } else if (shape.width..count).any(|pos| !cell(pos).is_empty()) {
            self.line_error(line, || {
                LineIssue::named(
                    line,
                    "(ligne)",
                    bounded_join((shape.width..count).map(cell)),
                    LineCode::ColonnesEnTrop,
                )
            });
        }
        self.push_known(shape, line, cell);
    }

    /// Adds one XLSX row: `known` holds the cells of the header's positions (empty where the
    /// sheet has none), `beyond` the cells right of the header. A sheet has no missing cells,
    /// only empty ones; a non-empty cell beyond the header is a line error.
    fn push_sparse(
        &mut self,
        shape: &TableShape,
        line: u32,
        known: &[Cow<'_, str>],
        beyond: &[Cow<'_, str>],
    ) {
        let beyond: Vec<&str> = beyond
            .iter()
            .map(|c| trim_cell(c))
            .filter(|c| !c.is_empty())
            .collect();
        if beyond.is_empty() && known.iter().all(|c| trim_cell(c).is_empty()) {
            return;
        }
        if !beyond.is_empty() {
            self.line_error(line, || {
                LineIssue::named(
                    line,
                    "(ligne)",
                    bounded_join(beyond.into_iter()),
                    LineCode::ColonnesEnTrop,
                )
            });
        }
        self.push_known(shape, line, |pos| {
            known.get(pos).map_or("", |c| trim_cell(c))
        });
    }

    /// Appends the cells of the known columns (null when empty) and the line.
    fn push_known<'c>(&mut self, shape: &TableShape, line: u32, cell: impl Fn(usize) -> &'c str) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct reader is handed every part of a quote-free file, in order, and its parts
    /// are what the pieces carry; a file with quotes, or a part it declines, is tokenised.
    #[test]
    fn quote_free_pieces_go_to_the_direct_reader() {
        let text = "cip13;date_stock;stock\n3400949497294;2026-11-20;1\n\
                    3400930000007;2026-11-20;2\n";
        let limits = Limits {
            csv_piece_bytes: 1,
            ..Limits::default()
        };
        let lines = |part: &str, line: u64, _: u8, _: &TableShape| Some((line, part.to_owned()));
        let direct: &DirectReader<'_, (u64, String)> = &lines;
        let mut rows = read_csv(text, "UTF-8", &limits).unwrap();
        let mut seen = Vec::new();
        while let Some(piece) = rows.next_piece_with(Some(direct)) {
            match piece {
                Piece::Direct { parts, .. } => seen.extend(parts),
                Piece::Raw(_) => panic!("a quote-free piece was tokenised"),
            }
        }
        assert_eq!(
            seen,
            [
                (2, "3400949497294;2026-11-20;1\n".to_owned()),
                (3, "3400930000007;2026-11-20;2\n".to_owned())
            ]
        );
        // A part the direct reader declines is tokenised.
        let decline = |_: &str, _: u64, _: u8, _: &TableShape| None::<()>;
        let decline: &DirectReader<'_, ()> = &decline;
        let mut rows = read_csv(text, "UTF-8", &limits).unwrap();
        while let Some(piece) = rows.next_piece_with(Some(decline)) {
            assert!(matches!(piece, Piece::Raw(_)), "declined, then tokenised");
        }
        // With quotes, never handed to the direct reader.
        let quoted = text.replace(";1\n", ";\"1\"\n");
        let mut rows = read_csv(&quoted, "UTF-8", &limits).unwrap();
        while let Some(piece) = rows.next_piece_with(Some(direct)) {
            assert!(matches!(piece, Piece::Raw(_)), "a quoted file is tokenised");
        }
    }

    #[test]
    fn a_join_stops_past_what_an_issue_keeps() {
        assert_eq!(bounded_join(["a", "", "b"].into_iter()), "a;;b");
        let many = std::iter::repeat_n("xy", 1_000_000);
        let joined = bounded_join(many);
        assert_eq!(joined.chars().count(), MAX_VALUE_CHARS + 1);
        let issue = LineIssue::named(2, "(ligne)", joined, LineCode::ColonnesEnTrop);
        assert_eq!(issue.value.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(issue.value.ends_with('…'));
    }

    #[test]
    fn a_header_is_as_wide_as_its_last_named_cell() {
        assert_eq!(header_width(["a", "", "b", " ", ""].into_iter()), Some(3));
        assert_eq!(header_width([" ", "\u{feff}"].into_iter()), None);
    }

    #[test]
    fn records_are_counted_as_the_csv_reader_splits_them() {
        let count = |text: &str| widest_record(text, b';', 0);
        assert_eq!(count("a;b;c\n"), Some((1, 3)));
        assert_eq!(count("\n\n a;b\r\nc"), Some((3, 2)));
        // Separators and line ends inside quotes, doubled quotes, a quote inside a field.
        assert_eq!(count("\"a;\nb\"\"c;\";d\n"), Some((1, 2)));
        // A quote inside a field is a character; one at a field's start opens quotes (here
        // never closed: the line end belongs to the field).
        assert_eq!(count("a\";b;\"c\n"), Some((1, 3)));
        assert_eq!(count("\"a\"b;c"), Some((1, 2)));
        let widest = |text: &str, limit| widest_record(text, b';', limit);
        assert_eq!(widest("a;b\n\"x\ny\";1;2;3\nc\n", 3), Some((2, 4)));
        assert_eq!(widest("a;b\n\"x\ny\";1;2\nc\n", 3), None);
        assert_eq!(widest("a;b\nc;d;e;f", 3), Some((2, 4)));
    }

    #[test]
    fn lines_without_quotes_are_counted_as_the_general_scan_counts_them() {
        let texts = [
            "a;b;c\n",
            "\n\n a;b\r\nc",
            "a;b\n;;;;\n\nx\n",
            "\r;\r\n;;\n",
            "",
            ";",
            "a;b;c;d",
        ];
        for text in texts {
            for limit in 0..6 {
                assert_eq!(
                    widest_line(text, b';', limit),
                    widest_quoted_record(text, b';', limit),
                    "{text:?} {limit}"
                );
            }
        }
    }

    #[test]
    fn a_wide_header_without_known_column_is_no_header() {
        let limits = Limits::default();
        let cells = std::iter::repeat_n("x", 300);
        assert_eq!(
            too_wide(cells, 300, 1, &limits).code,
            FileCode::EnteteAbsente
        );
        let cells = std::iter::once("Code CIP").chain(std::iter::repeat_n("x", 299));
        assert_eq!(
            too_wide(cells, 300, 1, &limits).code,
            FileCode::TropDeColonnes
        );
    }
}
