//! Validation of a whole declaration, a piece of rows at a time: every cell parsed into a typed
//! polars column, the checks that span columns (future dates, supplies) as vectorised polars
//! expressions; then, over the whole file, the rows that share a reference, site and date
//! (conflicting or exact duplicates). The result is a verdict for every line and, unless the
//! file is rejected, the normalized frame of accepted lines. The issues detailed are those of
//! the lowest lines, whatever the pieces.

use std::borrow::Cow;
use std::ops::ControlFlow;

use chrono::NaiveDate;
use medistock_domain::sha256_hex;
use polars::prelude::*;

use super::cells::{epoch_days, parse_date, parse_quantity};
use super::decode::{Container, sniff};
use super::direct::{self, DirectPart};
use super::format::{Column as Col, ColumnKind, DEFAULT_PERIOD_DAYS, Limits, PERIOD_DAYS_RANGE};
use super::issues::{FileCode, FileIssue, LineCode, LineIssue};
use super::scan::count_byte;
use super::table::{DirectReader, Piece, RawTable, TableShape, read_csv, read_xlsx};
use super::verdict::{LineCounts, Status, ValidationReport};
use crate::catalogue::Catalogue;
use crate::last_seen::LastSeen;
use crate::positions::SiteNumbers;
use medistock_domain::{Cip13, CipError, DeclarantId};

/// Failures of the validator itself (never of the input: bad input gets a verdict).
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// A polars operation failed on frames the validator built itself.
    #[error("erreur interne de calcul (polars) : {0}")]
    Polars(#[from] PolarsError),
}

/// What the checks depend on besides the bytes.
#[derive(Debug, Clone, Copy)]
pub struct ValidationContext<'a> {
    /// The declarant whose folder the file came from (the key prefix, never the file's content).
    pub declarant: Option<&'a DeclarantId>,
    /// The day of reception: `date_stock` may not be after it.
    pub today: NaiveDate,
    /// Size, error-rate and staleness bounds.
    pub limits: &'a Limits,
    /// The monitored catalogue, to warn about references outside it.
    pub catalogue: Option<&'a Catalogue>,
}

/// The verdict and, for a file that is not rejected, its accepted lines.
pub struct Validation {
    /// The verdict.
    pub report: ValidationReport,
    /// Accepted lines (one per distinct line, exact duplicates dropped), with the columns of
    /// [`NORMALIZED_COLUMNS`]; `None` when the file is rejected.
    pub lines: Option<DataFrame>,
}

/// Columns of the normalized frame, in order.
pub const NORMALIZED_COLUMNS: [&str; 12] = [
    "line",
    "cip13",
    "date_stock",
    "stock",
    "sorties",
    "periode_jours",
    "daily_outflow",
    "stock_bloque",
    "appro_quantite",
    "appro_date",
    "site",
    "commentaire",
];

/// The rejection of a file above the size bound. Callers that can see the size before reading
/// the bytes (a local file, an S3 object) use it to refuse without loading the file.
pub fn oversized(size: u64, limits: &Limits) -> FileIssue {
    FileIssue::new(
        FileCode::FichierTropVolumineux,
        format!(
            "fichier de {} Mo, au-delà de la limite de {} Mo : scindez-le en plusieurs fichiers",
            size.div_ceil(1_000_000),
            limits.max_file_bytes / 1_000_000
        ),
    )
}

/// Validates one declaration file. Never fails on input: whatever the bytes, the result is a
/// verdict; an `Err` means a bug or resource failure of the validator itself.
pub fn validate(
    bytes: &[u8],
    file_name: &str,
    ctx: &ValidationContext<'_>,
) -> Result<Validation, ValidationError> {
    validate_hashed(bytes, sha256_hex(bytes), file_name, ctx)
}

/// [`validate`] for a caller that has already hashed the bytes (the ingest, which needs the
/// hash before it claims the file): a national file is not hashed twice. `sha256` must be
/// the hex SHA-256 of `bytes`; the receipt shows it.
pub fn validate_hashed(
    bytes: &[u8],
    sha256: String,
    file_name: &str,
    ctx: &ValidationContext<'_>,
) -> Result<Validation, ValidationError> {
    validate_bytes(Cow::Borrowed(bytes), sha256, file_name, ctx)
}

/// [`validate_hashed`] for a caller that gives the bytes away (the ingest, `medistock
/// validate`): they are released once every line is read and typed, before the checks across
/// the whole file (duplicates, the daily outflow), so that the file and its typed lines are
/// not both held then.
pub fn validate_owned(
    bytes: Vec<u8>,
    sha256: String,
    file_name: &str,
    ctx: &ValidationContext<'_>,
) -> Result<Validation, ValidationError> {
    validate_bytes(Cow::Owned(bytes), sha256, file_name, ctx)
}

fn validate_bytes(
    bytes: Cow<'_, [u8]>,
    sha256: String,
    file_name: &str,
    ctx: &ValidationContext<'_>,
) -> Result<Validation, ValidationError> {
    let mut report = ValidationReport::new(
        file_name,
        sha256,
        ctx.declarant.map(|d| d.as_str().to_owned()),
    );

    // The one bound checked on the bytes as they are; the reader checks the others (values per
    // line, header width, XLSX parts and cells) before the work they bound.
    if bytes.len() as u64 > ctx.limits.max_file_bytes {
        report.reject(oversized(bytes.len() as u64, ctx.limits));
        return Ok(Validation {
            report,
            lines: None,
        });
    }
    let mut gathered = Gathered::new(ctx);
    let read = match sniff(&bytes, ctx.limits.max_file_bytes) {
        Ok(Container::Text { text, encoding }) => check_text_bounds(&text, ctx.limits)
            .and_then(|()| read_csv(&text, encoding.label(), ctx.limits))
            .map(|mut rows| {
                let description = rows.description().to_owned();
                let direct = |text: &str, line: u64, separator: u8, shape: &TableShape| {
                    direct::read_part(text, line, separator, shape, ctx)
                };
                let direct: Option<&DirectReader<'_, DirectPart>> =
                    ctx.limits.direct_read.then_some(&direct);
                while let Some(piece) = rows.next_piece_with(direct) {
                    let flow = match piece {
                        Piece::Raw(table) => gathered.take(table),
                        Piece::Direct { parts, warnings } => gathered.take_direct(parts, warnings),
                    };
                    if flow.is_break() {
                        break;
                    }
                }
                description
            }),
        Ok(Container::Xlsx) => read_xlsx(&bytes, ctx.limits, |table| gathered.take(table)),
        Err(issue) => Err(issue),
    };
    // Every line is typed (or the file refused): its bytes are no longer needed.
    drop(bytes);
    match read {
        Ok(description) => {
            report.read_as = Some(description);
            gathered.finish(report)
        }
        // What pieces were read before the reader failed is discarded with the file.
        Err(issue) => {
            report.reject(issue);
            Ok(Validation {
                report,
                lines: None,
            })
        }
    }
}

/// The bounds of a decoded text, checked before anything is built per line (its size is
/// bounded while it is decoded: [`sniff`]).
fn check_text_bounds(text: &str, limits: &Limits) -> Result<(), FileIssue> {
    let lines = line_ends(text);
    // The header's line end counts too.
    if lines > limits.max_rows.saturating_add(1) {
        return Err(too_many_rows(lines, limits));
    }
    Ok(())
}

/// Line ends of a text (`\n`, or `\r` alone for old Mac files): an upper bound of its lines,
/// counted before anything is built per line.
fn line_ends(text: &str) -> usize {
    let newlines = count_byte(text.as_bytes(), b'\n');
    if newlines == 0 {
        count_byte(text.as_bytes(), b'\r')
    } else {
        newlines
    }
}

fn too_many_rows(rows: usize, limits: &Limits) -> FileIssue {
    FileIssue::new(
        FileCode::TropDeLignes,
        format!(
            "le fichier compte {rows} lignes, au-delà de la limite de {} : scindez-le en \
             plusieurs fichiers",
            limits.max_rows
        ),
    )
}

/// Line issues detailed in a report at most, of each kind (errors, warnings): a file whose
/// every line is wrong costs the memory of its rows, not of a French message per cell. The
/// others are counted, and every refused line is still refused.
pub const MAX_ISSUES_KEPT: usize = 10_000;

/// The issues of one kind a report details: those of the lowest lines, at most
/// [`MAX_ISSUES_KEPT`], whatever order they are found in (column by column, piece by piece);
/// the others are counted. Issues of one line keep the order they were found in.
#[derive(Default)]
struct KeptIssues {
    heap: std::collections::BinaryHeap<Kept>,
    found: u64,
    omitted: usize,
}

/// An issue kept, ordered by its line, then by when it was found.
struct Kept {
    line: u32,
    order: u64,
    issue: LineIssue,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        (self.line, self.order) == (other.line, other.order)
    }
}

impl Eq for Kept {}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.line, self.order).cmp(&(other.line, other.order))
    }
}

impl KeptIssues {
    /// Records an issue of `line`, built only if it is kept.
    fn push_with(&mut self, line: u32, issue: impl FnOnce() -> LineIssue) {
        let order = self.found;
        self.found += 1;
        if self.heap.len() < MAX_ISSUES_KEPT {
            self.heap.push(Kept {
                line,
                order,
                issue: issue(),
            });
            return;
        }
        self.omitted += 1;
        if self
            .heap
            .peek()
            .is_some_and(|top| (line, order) < (top.line, top.order))
        {
            self.heap.pop();
            self.heap.push(Kept {
                line,
                order,
                issue: issue(),
            });
        }
    }

    /// Adds the issues kept elsewhere (a piece of the file), in their order.
    fn absorb(&mut self, other: KeptIssues) {
        self.omitted += other.omitted;
        for issue in other.into_sorted() {
            self.push_with(issue.line, || issue);
        }
    }

    /// The issues kept, by line.
    fn into_sorted(self) -> Vec<LineIssue> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|k| k.issue)
            .collect()
    }
}

/// Errors and warnings found so far, and which rows have an error.
struct Findings<'t> {
    lines: &'t [u32],
    failed: Vec<bool>,
    errors: KeptIssues,
    warnings: KeptIssues,
}

impl Findings<'_> {
    fn error(&mut self, row: usize, issue: LineIssue) {
        self.error_with(row, || issue);
    }

    /// Records an error on `row`, building its issue only if it is kept.
    fn error_with(&mut self, row: usize, issue: impl FnOnce() -> LineIssue) {
        self.failed[row] = true;
        let line = self.line(row);
        self.errors.push_with(line, issue);
    }

    /// Records an error on `row` whose details are not kept (counted only).
    fn fail(&mut self, row: usize) {
        self.failed[row] = true;
        self.errors.omitted += 1;
    }

    fn warning_with(&mut self, line: u32, issue: impl FnOnce() -> LineIssue) {
        self.warnings.push_with(line, issue);
    }

    fn line(&self, row: usize) -> u32 {
        self.lines[row]
    }
}

/// The checks of one piece of rows: each cell parsed, the checks across columns. What is kept
/// of a piece: its typed frame, which rows failed, its issues.
fn check_piece<'t>(
    table: &'t RawTable,
    ctx: &ValidationContext<'_>,
) -> Result<(DataFrame, Findings<'t>), ValidationError> {
    let n = table.lines.len();
    let mut found = Findings {
        lines: &table.lines,
        failed: vec![false; n],
        errors: KeptIssues::default(),
        warnings: KeptIssues::default(),
    };
    for issue in &table.line_errors {
        if let Ok(row) = table.lines.binary_search(&issue.line) {
            found.error(row, issue.clone());
        }
    }
    for line in &table.other_error_lines {
        if let Ok(row) = table.lines.binary_search(line) {
            found.fail(row);
        }
    }
    let frame = typed_frame(table, ctx, &mut found)?;
    cross_checks(&frame, table, ctx, &mut found)?;
    Ok((frame, found))
}

/// What validating a file's pieces has gathered so far: only the typed frames of the pieces
/// are kept, then the duplicates are looked for across the whole file ([`Gathered::finish`]).
struct Gathered<'c> {
    ctx: &'c ValidationContext<'c>,
    lines: Vec<u32>,
    failed: Vec<bool>,
    errors: KeptIssues,
    warnings: KeptIssues,
    /// Warnings of the reading (the header's unknown columns).
    warnings_read: Vec<LineIssue>,
    frame: Option<DataFrame>,
    foreign: Option<FileIssue>,
    /// Lines counted, once past [`Limits::max_rows`]: the rows are no longer validated.
    too_many: Option<usize>,
    /// A failure of the validator itself: the reading stopped.
    failure: Option<ValidationError>,
}

impl<'c> Gathered<'c> {
    fn new(ctx: &'c ValidationContext<'c>) -> Self {
        Self {
            ctx,
            lines: Vec::new(),
            failed: Vec::new(),
            errors: KeptIssues::default(),
            warnings: KeptIssues::default(),
            warnings_read: Vec::new(),
            frame: None,
            foreign: None,
            too_many: None,
            failure: None,
        }
    }

    /// Validates one piece of rows; breaks when the reading should stop.
    fn take(&mut self, table: RawTable) -> ControlFlow<()> {
        match self.check(table) {
            Ok(flow) => flow,
            Err(e) => {
                self.failure = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    fn check(&mut self, mut table: RawTable) -> Result<ControlFlow<()>, ValidationError> {
        self.warnings_read.append(&mut table.warnings);
        if !self.admit(table.lines.len()) {
            return Ok(ControlFlow::Continue(()));
        }
        let (piece, found) = check_piece(&table, self.ctx)?;
        if self.foreign.is_none() {
            self.foreign = foreign_declarant(&table, self.ctx);
        }
        self.failed.extend_from_slice(&found.failed);
        self.errors.absorb(found.errors);
        self.warnings.absorb(found.warnings);
        self.lines.extend_from_slice(&table.lines);
        self.stack(piece)?;
        Ok(ControlFlow::Continue(()))
    }

    /// Whether the rows of a piece are to be validated: not when there are none, nor past
    /// [`Limits::max_rows`], where they are only counted (the file is refused with their
    /// number; a sheet's reading stays bounded by its cells).
    fn admit(&mut self, rows: usize) -> bool {
        if let Some(n) = &mut self.too_many {
            *n += rows;
            return false;
        }
        let n = self.lines.len() + rows;
        if n > self.ctx.limits.max_rows {
            self.too_many = Some(n);
            return false;
        }
        rows > 0
    }

    fn stack(&mut self, piece: DataFrame) -> Result<(), ValidationError> {
        match &mut self.frame {
            Some(whole) => {
                whole.vstack_mut_owned(piece)?;
            }
            None => self.frame = Some(piece),
        }
        Ok(())
    }

    fn stack_part(&mut self, part: DirectPart) -> Result<(), ValidationError> {
        let n = part.lines.len();
        if n == 0 {
            return Ok(());
        }
        self.lines.extend_from_slice(&part.lines);
        let mut columns = Vec::with_capacity(part.columns.len() + 1);
        columns.push(UInt32Chunked::from_vec("line".into(), part.lines).into_column());
        columns.extend(part.columns);
        self.stack(DataFrame::new(n, columns)?)
    }

    /// Takes a piece the direct reader read (every line valid, see [`direct`]): its frame,
    /// and its warnings in the order the general path finds them (references outside the
    /// catalogue, then stale dates), so that the same issues are kept.
    fn take_direct(
        &mut self,
        parts: Vec<DirectPart>,
        mut header_warnings: Vec<LineIssue>,
    ) -> ControlFlow<()> {
        self.warnings_read.append(&mut header_warnings);
        let rows = parts.iter().map(|p| p.lines.len()).sum();
        if !self.admit(rows) {
            return ControlFlow::Continue(());
        }
        let mut warnings = KeptIssues::default();
        for part in &parts {
            for (line, cip) in &part.outside_catalogue {
                warnings.push_with(*line, || {
                    LineIssue::new(*line, Col::Cip13, cip.as_str(), LineCode::HorsCatalogue)
                });
            }
            warnings.omitted += part.outside_catalogue_more;
        }
        for part in &parts {
            for (line, text) in &part.stale {
                warnings.push_with(*line, || {
                    LineIssue::new(*line, Col::DateStock, text.as_str(), LineCode::DateAncienne)
                });
            }
            warnings.omitted += part.stale_more;
        }
        self.warnings.absorb(warnings);
        self.failed.resize(self.failed.len() + rows, false);
        for part in parts {
            if let Err(e) = self.stack_part(part) {
                self.failure = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    /// The verdict once every piece was read.
    fn finish(self, mut report: ValidationReport) -> Result<Validation, ValidationError> {
        if let Some(e) = self.failure {
            return Err(e);
        }
        let ctx = self.ctx;
        report.warnings.extend(self.warnings_read);
        if let Some(n) = self.too_many {
            report.reject(too_many_rows(n, ctx.limits));
            return Ok(Validation {
                report,
                lines: None,
            });
        }
        let lines = self.lines;
        let n = lines.len();
        report.lines.total = n;
        let Some(frame) = self.frame else {
            report.reject(FileIssue::new(
                FileCode::AucuneLigne,
                "l'en-tête est présent mais aucune ligne de données ne suit",
            ));
            return Ok(Validation {
                report,
                lines: None,
            });
        };
        let foreign = self.foreign;
        let failed = self.failed;
        let errors = self.errors;
        let warnings = self.warnings;
        let mut found = Findings {
            lines: &lines,
            failed,
            errors,
            warnings,
        };
        let (lines, references) = deduplicate(frame, &mut found)?;
        if let Some(issue) = foreign {
            report.reject(issue);
        }
        if references > ctx.limits.max_references {
            report.reject(FileIssue::new(
                FileCode::TropDeReferences,
                format!(
                    "{references} références (CIP13) distinctes, au-delà de {} : la France \
                     commercialise environ 17 000 présentations ; vérifiez la colonne cip13",
                    ctx.limits.max_references
                ),
            ));
        }

        let rejected = found.failed.iter().filter(|f| **f).count();
        report.lines = LineCounts {
            total: n,
            accepted: n - rejected,
            rejected,
        };
        report.errors_omitted = found.errors.omitted;
        report.warnings_omitted = found.warnings.omitted;
        report.errors = found.errors.into_sorted();
        report.warnings.extend(found.warnings.into_sorted());
        let rate = rejected as f64 / n as f64;
        let percent = format!("{:.1}", rate * 100.0).replace('.', ",");
        if rate > ctx.limits.max_error_rate {
            report.reject(FileIssue::new(
            FileCode::TauxErreurExcessif,
            format!(
                "{rejected} ligne(s) en erreur sur {n} ({percent} %), au-delà du seuil de {:.0} % : \
                 corrigez le fichier et déposez-le à nouveau",
                ctx.limits.max_error_rate * 100.0
            ),
        ));
        }
        if !report.is_rejected() {
            report.status = if rejected > 0 {
                Status::AcceptedWithErrors
            } else {
                Status::Accepted
            };
        }
        let lines = (!report.is_rejected()).then_some(lines);
        Ok(Validation { report, lines })
    }
}

/// Parses every known column into its typed polars column; absent columns become all-null
/// columns of the right type so that the normalized schema never varies. Columns are parsed
/// in parallel on large files.
fn typed_frame(
    table: &RawTable,
    ctx: &ValidationContext<'_>,
    found: &mut Findings<'_>,
) -> Result<DataFrame, ValidationError> {
    const PARALLEL_FROM_ROWS: usize = 50_000;
    let n = table.lines.len();
    let typed_columns = Col::ALL.into_iter().filter(|c| *c != Col::Declarant);
    let parsed: Vec<ParsedColumn> = if n >= PARALLEL_FROM_ROWS {
        std::thread::scope(|scope| {
            let handles: Vec<_> = typed_columns
                .map(|column| scope.spawn(move || typed_column(table, column, ctx)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    } else {
        typed_columns
            .map(|column| typed_column(table, column, ctx))
            .collect()
    };
    let mut columns: Vec<Column> = Vec::with_capacity(parsed.len() + 1);
    columns.push(UInt32Chunked::from_vec("line".into(), table.lines.clone()).into_column());
    for column in parsed {
        for (row, issue) in column.errors.kept {
            found.error(row, issue);
        }
        for row in column.errors.other_rows {
            found.fail(row);
        }
        for issue in column.warnings {
            found.warning_with(issue.line, || issue);
        }
        found.warnings.omitted += column.warnings_omitted;
        columns.push(column.values);
    }
    Ok(DataFrame::new(n, columns)?)
}

/// One typed column and what parsing it found.
struct ParsedColumn {
    values: Column,
    errors: RowErrors,
    warnings: Vec<LineIssue>,
    warnings_omitted: usize,
}

/// The errors of one column: the first [`MAX_ISSUES_KEPT`] in full, then only their rows.
#[derive(Default)]
struct RowErrors {
    kept: Vec<(usize, LineIssue)>,
    other_rows: Vec<usize>,
}

impl RowErrors {
    fn push(&mut self, row: usize, issue: impl FnOnce() -> LineIssue) {
        if self.kept.len() < MAX_ISSUES_KEPT {
            self.kept.push((row, issue()));
        } else {
            self.other_rows.push(row);
        }
    }
}

fn typed_column(table: &RawTable, column: Col, ctx: &ValidationContext<'_>) -> ParsedColumn {
    let n = table.lines.len();
    let max = ctx.limits.max_quantity;
    let name = PlSmallStr::from_static(column.name());
    let mut errors = RowErrors::default();
    let mut warnings = Vec::new();
    let mut warnings_omitted = 0;
    let values = match column.kind() {
        ColumnKind::Cip => {
            let cips = parse_cells(table, column, &mut errors, |text| {
                Cip13::parse(text).map_err(cip_code)
            });
            // Only a catalogue that lists presentations (a BDPM import) can say a reference
            // is unknown; one holding ANSM's settings alone cannot.
            if let Some(catalogue) = ctx.catalogue.filter(|c| !c.presentations.is_empty()) {
                for (row, cip) in cips.iter().enumerate() {
                    if let Some(cip) = cip.filter(|c| !catalogue.contains(c)) {
                        if warnings.len() < MAX_ISSUES_KEPT {
                            warnings.push(LineIssue::new(
                                table.lines[row],
                                column,
                                cip.as_str(),
                                LineCode::HorsCatalogue,
                            ));
                        } else {
                            warnings_omitted += 1;
                        }
                    }
                }
            }
            StringChunked::from_iter_options(
                name,
                cips.iter().map(|c| c.as_ref().map(Cip13::as_str)),
            )
            .into_column()
        }
        ColumnKind::Date => {
            let days = parse_cells(table, column, &mut errors, |t| {
                parse_date(t).map(epoch_days).ok_or(LineCode::DateFormat)
            });
            Int32Chunked::from_iter_options(name, days.into_iter())
                .into_date()
                .into_column()
        }
        ColumnKind::Quantity if column == Col::PeriodeJours => {
            let values = parse_cells(table, column, &mut errors, |t| {
                parse_quantity(t, max).and_then(|v| {
                    if PERIOD_DAYS_RANGE.contains(&v) {
                        Ok(v)
                    } else {
                        Err(LineCode::PeriodeHorsBornes)
                    }
                })
            });
            Int64Chunked::from_iter_values(
                name,
                values.into_iter().map(|v| v.unwrap_or(DEFAULT_PERIOD_DAYS)),
            )
            .into_column()
        }
        ColumnKind::Quantity => {
            let values = parse_cells(table, column, &mut errors, |t| parse_quantity(t, max));
            Int64Chunked::from_iter_options(name, values.into_iter()).into_column()
        }
        ColumnKind::Text { max_chars } => {
            // Over-long cells reject their row, which never reaches the normalized frame: the
            // raw column serves as it is.
            parse_cells(table, column, &mut errors, |t| {
                if t.chars().count() <= max_chars {
                    Ok(())
                } else {
                    Err(LineCode::TexteTropLong)
                }
            });
            match table.column(column) {
                Some(raw) => raw.clone().with_name(name).into_column(),
                None => StringChunked::full_null(name, n).into_column(),
            }
        }
    };
    ParsedColumn {
        values,
        errors,
        warnings,
        warnings_omitted,
    }
}

fn cip_code(e: CipError) -> LineCode {
    match e {
        CipError::Format => LineCode::CipFormat,
        CipError::Prefix => LineCode::CipPrefixe,
        CipError::CheckDigit => LineCode::CipCle,
    }
}

/// Parses the cells of one column with `parse`, recording an error (with its row) for each
/// failure and for each empty cell of a required column. Cells of an absent column are `None`.
fn parse_cells<T>(
    table: &RawTable,
    column: Col,
    errors: &mut RowErrors,
    parse: impl Fn(&str) -> Result<T, LineCode>,
) -> Vec<Option<T>> {
    let n = table.lines.len();
    let Some(raw) = table.column(column) else {
        return (0..n).map(|_| None).collect();
    };
    let mut out = Vec::with_capacity(n);
    for (row, cell) in raw.iter().enumerate() {
        let parsed = match cell {
            Some(text) => parse(text).map(Some).map_err(|code| (text, code)),
            None if column.is_required() => Err(("", LineCode::ValeurManquante)),
            None => Ok(None),
        };
        match parsed {
            Ok(value) => out.push(value),
            Err((text, code)) => {
                errors.push(row, || LineIssue::new(table.lines[row], column, text, code));
                out.push(None);
            }
        }
    }
    out
}

/// Checks that span columns, on rows whose cells all parsed: `date_stock` not after the day of
/// reception (and a warning when stale), supply quantity and date given together, supply not
/// before the stock date.
fn cross_checks(
    frame: &DataFrame,
    table: &RawTable,
    ctx: &ValidationContext<'_>,
    found: &mut Findings<'_>,
) -> Result<(), ValidationError> {
    let today = epoch_days(ctx.today);
    let ok = BooleanChunked::from_iter_values("ok".into(), found.failed.iter().map(|f| !f));
    let stock_day = col("date_stock").cast(DataType::Int32);
    let masks = frame
        .clone()
        .lazy()
        .with_column(lit(Series::from(ok)).alias("ok"))
        .select([
            (col("ok").and(stock_day.clone().gt(lit(today)))).alias("future"),
            (col("ok").and(stock_day.clone().lt(lit(ctx.limits.stale_before(today)))))
                .alias("stale"),
            (col("ok").and(
                col("appro_quantite")
                    .is_null()
                    .xor(col("appro_date").is_null()),
            ))
            .alias("appro_incomplete"),
            (col("ok").and(col("appro_date").cast(DataType::Int32).lt(stock_day)))
                .alias("appro_before"),
        ])
        .collect()?;
    let raw = |column: Col, row: usize| {
        table
            .column(column)
            .and_then(|c| c.get(row))
            .unwrap_or("")
            .to_owned()
    };
    let mask = |name: &str| -> Result<Vec<bool>, ValidationError> {
        Ok(masks
            .column(name)?
            .bool()?
            .iter()
            .map(|v| v.unwrap_or(false))
            .collect())
    };
    for (row, hit) in mask("future")?.into_iter().enumerate().filter(|(_, h)| *h) {
        let _ = hit;
        let line = found.line(row);
        found.error_with(row, || {
            LineIssue::new(
                line,
                Col::DateStock,
                raw(Col::DateStock, row),
                LineCode::DateFuture,
            )
        });
    }
    for (row, _) in mask("appro_incomplete")?
        .into_iter()
        .enumerate()
        .filter(|(_, h)| *h)
    {
        let (column, value) = if table
            .column(Col::ApproQuantite)
            .and_then(|c| c.get(row))
            .is_some()
        {
            (Col::ApproDate, String::new())
        } else {
            (Col::ApproQuantite, String::new())
        };
        let line = found.line(row);
        found.error_with(row, || {
            LineIssue::new(line, column, value, LineCode::ApproIncomplet)
        });
    }
    for (row, _) in mask("appro_before")?
        .into_iter()
        .enumerate()
        .filter(|(_, h)| *h)
    {
        let line = found.line(row);
        found.error_with(row, || {
            LineIssue::new(
                line,
                Col::ApproDate,
                raw(Col::ApproDate, row),
                LineCode::ApproDateAnterieure,
            )
        });
    }
    for (row, _) in mask("stale")?.into_iter().enumerate().filter(|(_, h)| *h) {
        if !found.failed[row] {
            let line = found.line(row);
            found.warning_with(line, || {
                LineIssue::new(
                    line,
                    Col::DateStock,
                    raw(Col::DateStock, row),
                    LineCode::DateAncienne,
                )
            });
        }
    }
    Ok(())
}

/// Figures that must agree between two lines for the same reference, site and date.
const FIGURES: [&str; 6] = [
    "stock",
    "sorties",
    "periode_jours",
    "stock_bloque",
    "appro_quantite",
    "appro_date",
];

/// Among valid rows, rejects both sides of a conflicting duplicate (same reference, site and
/// date, different figures) and keeps the first of exact duplicates. Returns the normalized
/// frame of accepted lines and the number of distinct references among the valid rows.
///
/// Rows are ordered once by a key of numbers (reference, site, date): 16 bytes a row, where a
/// group-by over the string columns would hash and copy them. Duplicates are rare: only rows
/// that share a key are compared figure by figure. Nothing is copied when no row is refused or
/// dropped.
fn deduplicate(
    frame: DataFrame,
    found: &mut Findings<'_>,
) -> Result<(DataFrame, usize), ValidationError> {
    let cips = frame.column("cip13")?.str()?;
    let sites = frame.column("site")?.str()?;
    let dates = frame.column("date_stock")?.date()?.physical();
    let mut site_numbers = SiteNumbers::default();
    let mut keys: Vec<(u32, u32, i32, u32)> = Vec::with_capacity(frame.height());
    // A reference's lines most often follow one another: its rank is reused.
    let mut ranks: LastSeen<&str, u32> = LastSeen::default();
    for (row, ((cip, site), date)) in cips.iter().zip(sites.iter()).zip(dates.iter()).enumerate() {
        if found.failed[row] {
            continue;
        }
        // A valid row has its reference and date (required, parsed).
        let (Some(cip), Some(date)) = (cip, date) else {
            continue;
        };
        let Some(rank) = ranks.get(cip, |text| Cip13::parse(text).ok().map(|c| c.rank())) else {
            continue;
        };
        keys.push((rank, site_numbers.number(site), date, row as u32));
    }
    drop(site_numbers);
    keys.sort_unstable();
    let references = keys.chunk_by(|a, b| a.0 == b.0).count();
    let figures: Vec<&Column> = FIGURES
        .iter()
        .map(|name| frame.column(name))
        .collect::<PolarsResult<_>>()?;
    let same_figures = |a: usize, b: usize| figures.iter().all(|c| c.get(a).ok() == c.get(b).ok());
    // (row, conflicting?) for every row of a shared key but the first of exact duplicates.
    let mut duplicates: Vec<(usize, bool)> = Vec::new();
    for group in keys.chunk_by(|a, b| (a.0, a.1, a.2) == (b.0, b.1, b.2)) {
        let [first, rest @ ..] = group else { continue };
        if rest.is_empty() {
            continue;
        }
        let first = first.3 as usize;
        if rest.iter().all(|r| same_figures(first, r.3 as usize)) {
            duplicates.extend(rest.iter().map(|r| (r.3 as usize, false)));
        } else {
            duplicates.extend(group.iter().map(|r| (r.3 as usize, true)));
        }
    }
    drop(keys);
    duplicates.sort_unstable();
    let mut dropped = vec![false; found.failed.len()];
    for (row, conflict) in duplicates {
        let cip = cips.get(row).unwrap_or_default();
        let line = found.line(row);
        if conflict {
            found.error_with(row, || {
                LineIssue::new(line, Col::Cip13, cip, LineCode::DoublonConflictuel)
            });
        } else {
            found.warning_with(line, || {
                LineIssue::new(line, Col::Cip13, cip, LineCode::DoublonIdentique)
            });
        }
        dropped[row] = true;
    }
    let kept = found
        .failed
        .iter()
        .zip(&dropped)
        .filter(|(failed, dropped)| !**failed && !**dropped)
        .count();
    let frame = if kept == frame.height() {
        frame
    } else {
        let keep = BooleanChunked::from_iter_values(
            "keep".into(),
            found.failed.iter().zip(&dropped).map(|(f, d)| !f && !d),
        );
        frame.filter(&keep)?
    };
    let normalized = frame
        .lazy()
        .with_column(
            (col("sorties").cast(DataType::Float64) / col("periode_jours").cast(DataType::Float64))
                .alias("daily_outflow"),
        )
        .select(
            NORMALIZED_COLUMNS
                .iter()
                .map(|c| col(*c))
                .collect::<Vec<_>>(),
        )
        .collect()?;
    Ok((normalized, references))
}

/// The first line whose `declarant` cell names another declarant than the folder's.
fn foreign_declarant(table: &RawTable, ctx: &ValidationContext<'_>) -> Option<FileIssue> {
    let expected = ctx.declarant?;
    let cells = table.column(Col::Declarant)?;
    let (row, value) = cells.iter().enumerate().find_map(|(row, v)| {
        v.filter(|v| !v.eq_ignore_ascii_case(expected.as_str()))
            .map(|v| (row, v))
    })?;
    Some(FileIssue::new(
        FileCode::DeclarantDifferent,
        format!(
            "ligne {} : le fichier est établi au nom de « {value} » mais a été déposé dans le dossier de « {expected} » : \
             chaque déclarant dépose ses propres fichiers",
            table.lines[row]
        ),
    ))
}
