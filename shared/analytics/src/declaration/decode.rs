//! From bytes to something parseable: recognises the container (XLSX or text) and decodes text
//! whatever the encoding declarants' tools produce (UTF-8 with or without BOM, UTF-16 from
//! Excel's "Unicode text", Windows-1252 from older ERPs). Detected, never assumed.
//!
//! An XLSX archive is checked here before any of its parts is parsed: sizes and compression
//! ratios announced by the archive, sizes actually inflated, and every cell reference its XML
//! holds (see [`check_xlsx_archive`]).

use std::borrow::Cow;
use std::io::{Cursor, Read};

use super::format::Limits;
use super::issues::{FileCode, FileIssue, bounded};

/// The text encoding a CSV was read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 without BOM.
    Utf8,
    /// UTF-8 with a byte-order mark.
    Utf8Bom,
    /// UTF-16 little endian, with BOM.
    Utf16Le,
    /// UTF-16 big endian, with BOM.
    Utf16Be,
    /// Windows-1252 (what "Latin-1" exports really are).
    Windows1252,
}

impl TextEncoding {
    /// A French label for receipts.
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 (avec BOM)",
            TextEncoding::Utf16Le | TextEncoding::Utf16Be => "UTF-16",
            TextEncoding::Windows1252 => "Windows-1252",
        }
    }
}

/// What a file holds.
#[derive(Debug)]
pub enum Container<'a> {
    /// Delimited text, decoded.
    Text {
        /// The decoded text, BOM removed.
        text: Cow<'a, str>,
        /// How it was decoded.
        encoding: TextEncoding,
    },
    /// An XLSX workbook (a zip archive).
    Xlsx,
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// Recognises the container and decodes text, bounded to `max_text_bytes` once decoded.
/// Rejects what is neither text nor XLSX. Windows-1252 and UTF-16 grow when decoded (0x80 is
/// three bytes of UTF-8): a text past the bound is refused while it is decoded, before it
/// exists whole (a 200 MB file of 0x80 bytes would otherwise take 600 MB more to be refused).
pub fn sniff(bytes: &[u8], max_text_bytes: u64) -> Result<Container<'_>, FileIssue> {
    if bytes.is_empty() {
        return Err(FileIssue::new(
            FileCode::FichierVide,
            "le fichier est vide (0 octet)",
        ));
    }
    if bytes.starts_with(ZIP_MAGIC) {
        return Ok(Container::Xlsx);
    }
    if bytes.starts_with(OLE_MAGIC) {
        return Err(FileIssue::new(
            FileCode::FormatNonPrisEnCharge,
            "classeur Excel 97-2003 (.xls) non pris en charge : enregistrez-le au format .xlsx ou CSV",
        ));
    }
    if let Some(label) = known_binary(bytes) {
        return Err(FileIssue::new(
            FileCode::FormatInconnu,
            format!("le fichier est un {label}, pas un CSV ni un classeur .xlsx"),
        ));
    }
    let detected = detect(bytes);
    // A NUL byte is binary content: in UTF-8 and Windows-1252 it is the byte 0, looked for
    // before anything is decoded and measured; UTF-16's zero bytes are its ASCII's high
    // halves, and its NUL is looked for in the text.
    let utf16 = matches!(
        detected,
        Detected::Decode(_, _, TextEncoding::Utf16Le | TextEncoding::Utf16Be)
    );
    if !utf16 && memchr::memchr(0, bytes).is_some() {
        return Err(binary_content());
    }
    let (text, encoding) = decode_within(detected, max_text_bytes)
        .map_err(|decoded| decoded_too_large(decoded, max_text_bytes))?;
    if utf16 && text.contains('\0') {
        return Err(binary_content());
    }
    if text.trim().is_empty() {
        return Err(FileIssue::new(
            FileCode::FichierVide,
            "le fichier ne contient que des lignes vides",
        ));
    }
    Ok(Container::Text { text, encoding })
}

fn binary_content() -> FileIssue {
    FileIssue::new(
        FileCode::FormatInconnu,
        "le fichier contient des données binaires : ce n'est ni un CSV ni un classeur .xlsx",
    )
}

/// How a text's bytes read: BOM first, then UTF-8 if the bytes are valid UTF-8, else
/// Windows-1252 (which maps every byte, so decoding never fails; binary content is caught by
/// the caller).
enum Detected<'a> {
    /// Valid UTF-8 (BOM removed), read as it is.
    Utf8(&'a str, TextEncoding),
    /// Bytes (BOM removed) to decode with this encoding.
    Decode(&'static encoding_rs::Encoding, &'a [u8], TextEncoding),
}

fn detect(bytes: &[u8]) -> Detected<'_> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return match std::str::from_utf8(rest) {
            Ok(text) => Detected::Utf8(text, TextEncoding::Utf8Bom),
            Err(_) => Detected::Decode(encoding_rs::UTF_8, rest, TextEncoding::Utf8Bom),
        };
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return Detected::Decode(encoding_rs::UTF_16LE, rest, TextEncoding::Utf16Le);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return Detected::Decode(encoding_rs::UTF_16BE, rest, TextEncoding::Utf16Be);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Detected::Utf8(text, TextEncoding::Utf8),
        Err(_) => Detected::Decode(encoding_rs::WINDOWS_1252, bytes, TextEncoding::Windows1252),
    }
}

/// Decodes text whatever its encoding ([`Detected`]), at once: for files ANSM provides (the
/// BDPM, its settings, the registry). A declaration is read by [`sniff`], bounded.
pub fn decode_text(bytes: &[u8]) -> (Cow<'_, str>, TextEncoding) {
    match detect(bytes) {
        Detected::Utf8(text, encoding) => (Cow::Borrowed(text), encoding),
        Detected::Decode(with, rest, encoding) => {
            (with.decode_without_bom_handling(rest).0, encoding)
        }
    }
}

/// The text detected, refused when longer than `max` bytes once decoded: the error is its
/// decoded length, counted without keeping more than `max` bytes of it.
fn decode_within(detected: Detected<'_>, max: u64) -> Result<(Cow<'_, str>, TextEncoding), u64> {
    match detected {
        Detected::Utf8(text, _) if text.len() as u64 > max => Err(text.len() as u64),
        Detected::Utf8(text, encoding) => Ok((Cow::Borrowed(text), encoding)),
        Detected::Decode(with, rest, encoding) => {
            decode_bounded(with, rest, max).map(|text| (Cow::Owned(text), encoding))
        }
    }
}

/// Bytes of input decoded at a time by [`decode_bounded`].
const DECODE_CHUNK: usize = 1 << 20;

/// Decodes `bytes` (no BOM handling, malformed sequences replaced as `encoding_rs` does) a
/// chunk at a time; past `max` bytes of text, the rest is decoded into a scratch buffer only
/// to count it, and the error is the whole text's length.
fn decode_bounded(
    encoding: &'static encoding_rs::Encoding,
    bytes: &[u8],
    max: u64,
) -> Result<String, u64> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let room = |len: usize| {
        decoder
            .max_utf8_buffer_length(len)
            .unwrap_or(len.saturating_mul(3).saturating_add(4))
    };
    // Room for the whole text, or for the bound and one chunk past it, reserved once: the
    // text never moves while it grows (a `String` doubling its room would copy it and, for a
    // moment, hold it twice), and the room not written to is never touched.
    let capacity = room(bytes.len()).min(
        usize::try_from(max)
            .unwrap_or(usize::MAX)
            .saturating_add(room(DECODE_CHUNK)),
    );
    let mut text = String::with_capacity(capacity);
    let mut scratch = String::new();
    let mut counted: u64 = 0;
    let mut rest = bytes;
    loop {
        let chunk = &rest[..rest.len().min(DECODE_CHUNK)];
        let last = chunk.len() == rest.len();
        let keep = text.len() as u64 <= max;
        let out = if keep {
            &mut text
        } else {
            scratch.clear();
            &mut scratch
        };
        let needed = decoder
            .max_utf8_buffer_length(chunk.len())
            .unwrap_or(chunk.len().saturating_mul(3).saturating_add(4));
        out.reserve(needed);
        let (result, read, _) = decoder.decode_to_string(chunk, out, last);
        if !keep {
            counted = counted.saturating_add(scratch.len() as u64);
        }
        rest = &rest[read..];
        if last && rest.is_empty() && result == encoding_rs::CoderResult::InputEmpty {
            break;
        }
    }
    let total = (text.len() as u64).saturating_add(counted);
    if total > max { Err(total) } else { Ok(text) }
}

/// The refusal of a text longer than `max` bytes once decoded.
fn decoded_too_large(decoded: u64, max: u64) -> FileIssue {
    FileIssue::new(
        FileCode::FichierTropVolumineux,
        format!(
            "une fois décodé, le fichier ferait {} Mo, au-delà de la limite de {} Mo : \
             scindez-le en plusieurs fichiers",
            decoded.div_ceil(1_000_000),
            max / 1_000_000
        ),
    )
}

/// Number of columns of Excel's grid (A to XFD).
pub const EXCEL_COLUMNS: u32 = 16_384;
/// Number of rows of Excel's grid.
pub const EXCEL_ROWS: u32 = 1_048_576;

/// Checks an XLSX archive before anything parses it, so that what follows costs at most the
/// bounds of [`Limits`]:
/// - sizes announced by the archive: each part and the whole below their bounds, and
///   compression ratios (of a part, and of the whole) below the zip-bomb bound;
/// - sizes actually inflated: the zip reader stops a part at the size it announced, with an
///   error (`classeur_illisible`), so that what calamine inflates later is bounded too;
/// - cell references: every `r="…"` (cells, rows) and `ref="…"` (the sheet's dimension,
///   ranges) attribute names a cell inside Excel's grid, and a range does not end before it
///   starts. The sheet reader (calamine) computes positions from these texts with unchecked
///   arithmetic: `A99999999999` overflows.
///
/// Errors: `archive_suspecte`, `classeur_trop_volumineux`, `reference_cellule_invalide`, and
/// `classeur_illisible` for an archive that cannot be read.
pub fn check_xlsx_archive(bytes: &[u8], limits: &Limits) -> Result<(), FileIssue> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        FileIssue::new(
            FileCode::ClasseurIllisible,
            format!(
                "archive .xlsx illisible ({}) : fichier tronqué ou corrompu ?",
                bounded(&e.to_string())
            ),
        )
    })?;
    check_announced_sizes(&mut archive, limits)?;
    let mut buf = vec![0u8; 1 << 16];
    for i in 0..archive.len() {
        let mut part = archive.by_index(i).map_err(|e| corrupt(&e))?;
        let mut scanner = ReferenceScanner::default();
        // calamine reserves room for as many shared strings as the part announces.
        let mut announced = part
            .name()
            .map_or(true, |n| {
                n.to_ascii_lowercase().ends_with("sharedstrings.xml")
            })
            .then(|| AnnouncedCount::new(limits.max_xlsx_cells));
        loop {
            match part.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    scanner.feed(&buf[..n])?;
                    if let Some(announced) = announced.as_mut() {
                        announced.feed(&buf[..n])?;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(corrupt(&e)),
            }
        }
        scanner.finish()?;
    }
    Ok(())
}

/// Finds every `uniqueCount="N"` of a shared-strings part, read piece by piece, and refuses
/// a count above the cell bound: calamine reserves memory for that many strings before reading
/// one, and an allocation of terabytes aborts the process (no panic to catch).
struct AnnouncedCount {
    limit: u64,
    carry: Vec<u8>,
}

impl AnnouncedCount {
    const KEY: &'static [u8] = b"uniqueCount";
    /// Longest attribute text kept across pieces (white space around `=` included).
    const MAX_CARRY: usize = 4096;

    fn new(limit: u64) -> Self {
        Self {
            limit,
            carry: Vec::new(),
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), FileIssue> {
        let mut window = std::mem::take(&mut self.carry);
        window.extend_from_slice(bytes);
        let mut from = 0;
        while let Some(at) = window[from..]
            .windows(Self::KEY.len())
            .position(|w| w == Self::KEY)
            .map(|p| p + from)
        {
            match count_after(&window[at + Self::KEY.len()..]) {
                Count::Incomplete => {
                    // The value runs past this piece: keep it for the next one.
                    if window.len() - at > Self::MAX_CARRY {
                        return Err(self.refused("illisible".to_owned()));
                    }
                    self.carry = window[at..].to_vec();
                    return Ok(());
                }
                Count::Value(n) if n > self.limit => return Err(self.refused(n.to_string())),
                Count::Value(_) | Count::Other => from = at + Self::KEY.len(),
            }
        }
        let keep = window.len().saturating_sub(Self::KEY.len());
        self.carry = window[keep..].to_vec();
        Ok(())
    }

    fn refused(&self, what: String) -> FileIssue {
        FileIssue::new(
            FileCode::TropDeCellules,
            format!(
                "le classeur annonce {what} textes partagés (uniqueCount), au-delà de la limite \
                 de {} cellules : enregistrez-le à nouveau depuis Excel, ou envoyez un CSV",
                self.limit
            ),
        )
    }
}

/// What follows a `uniqueCount` key.
enum Count {
    /// `= "digits"`: the count (saturated).
    Value(u64),
    /// Something else: no count calamine would read.
    Other,
    /// The text ends before the value does.
    Incomplete,
}

fn count_after(rest: &[u8]) -> Count {
    let mut i = 0;
    let skip_space = |i: &mut usize| {
        while rest.get(*i).is_some_and(|b| b.is_ascii_whitespace()) {
            *i += 1;
        }
    };
    skip_space(&mut i);
    match rest.get(i) {
        None => return Count::Incomplete,
        Some(b'=') => i += 1,
        Some(_) => return Count::Other,
    }
    skip_space(&mut i);
    match rest.get(i) {
        None => return Count::Incomplete,
        Some(b'"' | b'\'') => i += 1,
        Some(_) => return Count::Other,
    }
    if rest.get(i) == Some(&b'+') {
        i += 1;
    }
    let mut value: u64 = 0;
    loop {
        match rest.get(i) {
            None => return Count::Incomplete,
            Some(b @ b'0'..=b'9') => {
                value = value.saturating_mul(10).saturating_add(u64::from(b - b'0'));
                i += 1;
            }
            Some(_) => return Count::Value(value),
        }
    }
}

/// The sizes and ratios the archive announces, checked without inflating anything.
fn check_announced_sizes(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    limits: &Limits,
) -> Result<(), FileIssue> {
    let ratio_issue = |what: String, ratio: u64| {
        FileIssue::new(
            FileCode::ArchiveSuspecte,
            format!(
                "archive .xlsx suspecte : taux de compression anormal ({what} se décompresse \
                 {ratio} fois, au-delà de la limite de {} fois) : enregistrez le classeur à \
                 nouveau depuis Excel, ou envoyez un CSV",
                limits.max_xlsx_compression_ratio
            ),
        )
    };
    let mut total: u64 = 0;
    let mut compressed: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| corrupt(&e))?;
        let (size, packed) = (entry.size(), entry.compressed_size());
        total = total.saturating_add(size);
        compressed = compressed.saturating_add(packed);
        let ratio = size / packed.max(1);
        if size > 1_000_000 && ratio > limits.max_xlsx_compression_ratio {
            return Err(ratio_issue(
                format!("la partie « {} »", part_name(entry.name_raw())),
                ratio,
            ));
        }
        if size > limits.max_xlsx_part_bytes {
            return Err(FileIssue::new(
                FileCode::ClasseurTropVolumineux,
                format!(
                    "la partie « {} » du classeur ferait {} Mo une fois décompressée, au-delà \
                     de la limite de {} Mo : envoyez un CSV ou scindez le fichier",
                    part_name(entry.name_raw()),
                    size.div_ceil(1_000_000),
                    limits.max_xlsx_part_bytes / 1_000_000
                ),
            ));
        }
        if total > limits.max_xlsx_uncompressed_bytes {
            return Err(FileIssue::new(
                FileCode::ArchiveSuspecte,
                format!(
                    "le classeur décompressé serait trop volumineux ({} Mo, limite {} Mo) : \
                     envoyez un CSV ou scindez le fichier",
                    total.div_ceil(1_000_000),
                    limits.max_xlsx_uncompressed_bytes / 1_000_000
                ),
            ));
        }
    }
    let ratio = total / compressed.max(1);
    if total > 1_000_000 && ratio > limits.max_xlsx_compression_ratio {
        return Err(ratio_issue("l'archive".to_owned(), ratio));
    }
    Ok(())
}

fn corrupt(e: &dyn std::fmt::Display) -> FileIssue {
    FileIssue::new(
        FileCode::ClasseurIllisible,
        format!(
            "archive .xlsx corrompue ({}) : enregistrez le classeur à nouveau depuis Excel, ou \
             envoyez un CSV",
            bounded(&e.to_string())
        ),
    )
}

/// A part's name as the archive gives it, short and printable, for a message.
fn part_name(name: &[u8]) -> String {
    let printable: String = String::from_utf8_lossy(name)
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    match printable.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", &printable[..end]),
        None => printable,
    }
}

/// The A1 name of a cell given by 0-based row and column, wherever it is.
pub fn cell_name(row: u32, column: u32) -> String {
    let mut letters = Vec::new();
    let mut n = u64::from(column) + 1;
    while n > 0 {
        let digit = ((n - 1) % 26) as u8;
        letters.push(b'A' + digit);
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!(
        "{}{}",
        String::from_utf8_lossy(&letters),
        u64::from(row) + 1
    )
}

/// Finds, in XML read piece by piece, every `r="…"` and `ref="…"` attribute and checks the
/// references it holds (`A1`, `5`, `A1:C3`). Attributes are split the way calamine splits them
/// (a key starts after white space or a closing quote and runs to `=`), and the match errs on
/// the side of checking too much: the attribute is checked whatever the element and the part.
#[derive(Default)]
struct ReferenceScanner {
    state: Scan,
    /// The byte before the current one.
    previous: u8,
    value: ReferenceValue,
}

#[derive(Default, Clone, Copy)]
enum Scan {
    /// Looking for a key.
    #[default]
    Outside,
    /// Read this many bytes of `ref` (`r` alone is a key too).
    Key(u8),
    /// After the key, before `=`.
    BeforeEquals,
    /// After `=`, before the opening quote.
    AfterEquals,
    /// Inside a value opened by this quote.
    Value(u8),
}

impl ReferenceScanner {
    fn feed(&mut self, bytes: &[u8]) -> Result<(), FileIssue> {
        for &b in bytes {
            loop {
                match self.state {
                    Scan::Outside => {
                        let key_start = self.previous.is_ascii_whitespace()
                            || self.previous == b'"'
                            || self.previous == b'\'';
                        if b == b'r' && key_start {
                            self.state = Scan::Key(1);
                        }
                    }
                    Scan::Key(n) => match (n, b) {
                        (1, b'e') => self.state = Scan::Key(2),
                        (2, b'f') => self.state = Scan::Key(3),
                        (1 | 3, b'=') => self.state = Scan::AfterEquals,
                        (1 | 3, b) if b.is_ascii_whitespace() => self.state = Scan::BeforeEquals,
                        _ => {
                            self.state = Scan::Outside;
                            continue;
                        }
                    },
                    Scan::BeforeEquals if b == b'=' => self.state = Scan::AfterEquals,
                    Scan::BeforeEquals | Scan::AfterEquals if b.is_ascii_whitespace() => {}
                    Scan::AfterEquals if b == b'"' || b == b'\'' => {
                        self.value = ReferenceValue::default();
                        self.state = Scan::Value(b);
                    }
                    Scan::BeforeEquals | Scan::AfterEquals => {
                        self.state = Scan::Outside;
                        continue;
                    }
                    Scan::Value(quote) if b == quote => {
                        self.state = Scan::Outside;
                        self.value.check()?;
                    }
                    Scan::Value(_) => self.value.push(b),
                }
                break;
            }
            self.previous = b;
        }
        Ok(())
    }

    /// A value still open at the end of the part is checked as far as it goes.
    fn finish(&mut self) -> Result<(), FileIssue> {
        match self.state {
            Scan::Value(_) => self.value.check(),
            _ => Ok(()),
        }
    }
}

/// The value of a reference attribute, parsed as it is read: one or more `:`-separated parts.
#[derive(Default)]
struct ReferenceValue {
    current: CellReference,
    /// The first two parts, for ranges.
    parts: [CellReference; 2],
    count: usize,
    outside: bool,
    /// The first bytes of the value, for the message.
    shown: Vec<u8>,
    cut: bool,
}

impl ReferenceValue {
    const SHOWN_BYTES: usize = 40;

    fn push(&mut self, b: u8) {
        if self.shown.len() < Self::SHOWN_BYTES {
            self.shown.push(b);
        } else {
            self.cut = true;
        }
        if b == b':' {
            self.end_part();
        } else {
            self.current.push(b);
        }
    }

    fn end_part(&mut self) {
        let part = std::mem::take(&mut self.current);
        self.outside |= part.outside();
        if let Some(slot) = self.parts.get_mut(self.count) {
            *slot = part;
        }
        self.count += 1;
    }

    fn check(&mut self) -> Result<(), FileIssue> {
        self.end_part();
        let [start, end] = &self.parts;
        let reversed = self.count == 2
            && start.complete()
            && end.complete()
            && (end.row < start.row || end.column < start.column);
        if !self.outside && !reversed {
            return Ok(());
        }
        let mut shown: String = String::from_utf8_lossy(&self.shown)
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        if self.cut {
            shown.push('…');
        }
        let why = if self.outside {
            "hors de la grille d'Excel (colonnes A à XFD, lignes 1 à 1 048 576)"
        } else {
            "dont la fin précède le début"
        };
        Err(FileIssue::new(
            FileCode::ReferenceCelluleInvalide,
            format!(
                "le classeur désigne la cellule ou la plage « {shown} », {why} : enregistrez-le \
                 à nouveau depuis Excel, ou envoyez un CSV"
            ),
        ))
    }
}

/// One reference (`XFD1048576`) computed as calamine computes it, letters then digits, but
/// with saturating arithmetic.
#[derive(Default, Clone, Copy)]
struct CellReference {
    column: u32,
    row: u32,
    letters: bool,
    digits: bool,
    /// A byte other than letters then digits: calamine stops there with an error.
    broken: bool,
}

impl CellReference {
    fn push(&mut self, b: u8) {
        if self.broken {
            return;
        }
        match b {
            b'A'..=b'Z' | b'a'..=b'z' if !self.digits => {
                let letter = u32::from(b.to_ascii_uppercase() - b'A') + 1;
                self.column = self.column.saturating_mul(26).saturating_add(letter);
                self.letters = true;
            }
            b'0'..=b'9' => {
                self.row = self
                    .row
                    .saturating_mul(10)
                    .saturating_add(u32::from(b - b'0'));
                self.digits = true;
            }
            _ => self.broken = true,
        }
    }

    fn outside(&self) -> bool {
        self.column > EXCEL_COLUMNS || self.row > EXCEL_ROWS
    }

    fn complete(&self) -> bool {
        !self.broken && self.letters && self.digits && self.row >= 1
    }
}

/// Names a few binary formats declarants drop by mistake, for a clearer message.
fn known_binary(bytes: &[u8]) -> Option<&'static str> {
    const MAGICS: [(&[u8], &str); 5] = [
        (b"%PDF", "document PDF"),
        (b"\x1F\x8B", "fichier compressé gzip"),
        (b"\x89PNG", "image PNG"),
        (b"\xFF\xD8\xFF", "image JPEG"),
        (b"Rar!", "archive RAR"),
    ];
    MAGICS
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, label)| *label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(bytes: &[u8]) -> (String, TextEncoding) {
        match sniff(bytes, u64::MAX).unwrap() {
            Container::Text { text, encoding } => (text.into_owned(), encoding),
            Container::Xlsx => panic!("not text"),
        }
    }

    /// The text decoded a chunk at a time is the text decoded at once, whatever straddles a
    /// chunk's end (a UTF-16 surrogate pair, a malformed UTF-8 sequence after a BOM).
    #[test]
    fn decoding_a_chunk_at_a_time_gives_the_text_decoded_at_once() {
        let unit = "dépôt €, 𝄞 100 µg;";
        let mut utf16 = b"\xFF\xFE".to_vec();
        utf16.push(b'x'); // an odd byte first: pairs straddle chunk ends
        utf16.extend(
            unit.repeat(60_000)
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        );
        utf16.push(b'y'); // and a lone byte at the end
        let mut utf16be = b"\xFE\xFF".to_vec();
        utf16be.extend(
            unit.repeat(60_000)
                .encode_utf16()
                .flat_map(u16::to_be_bytes),
        );
        let mut bom_malformed = b"\xEF\xBB\xBF".to_vec();
        for i in 0..500_000u32 {
            bom_malformed.extend_from_slice(b"ab\xE2\x82");
            bom_malformed.push(if i % 3 == 0 { 0xAC } else { b'c' });
        }
        let cp1252: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8 | 0x01).collect();
        for (bytes, encoding, skip) in [
            (&utf16, encoding_rs::UTF_16LE, 2),
            (&utf16be, encoding_rs::UTF_16BE, 2),
            (&bom_malformed, encoding_rs::UTF_8, 3),
            (&cp1252, encoding_rs::WINDOWS_1252, 0),
        ] {
            assert!(bytes.len() > 2 * DECODE_CHUNK);
            let (whole, _) = encoding.decode_without_bom_handling(&bytes[skip..]);
            assert_eq!(decode_text(bytes).0, whole, "{}", encoding.name());
            let (chunked, _) = decode_within(detect(bytes), u64::MAX).unwrap();
            assert_eq!(chunked.len(), whole.len(), "{}", encoding.name());
            assert!(chunked == whole, "{}", encoding.name());
        }
    }

    /// The bound on the decoded text: a text of exactly `max` bytes is read, one byte more is
    /// refused with its whole length, counted without being kept.
    #[test]
    fn a_decoded_text_is_bounded_at_its_limit() {
        // 0x80 is "€" in Windows-1252, three bytes of UTF-8.
        let bytes = vec![0x80; 3 * DECODE_CHUNK + 7];
        let decoded = 3 * bytes.len() as u64;
        let (text, encoding) = decode_within(detect(&bytes), decoded).unwrap();
        assert_eq!(
            (text.len() as u64, encoding),
            (decoded, TextEncoding::Windows1252)
        );
        assert_eq!(
            decode_within(detect(&bytes), decoded - 1).unwrap_err(),
            decoded
        );
        assert_eq!(decode_within(detect(&bytes), 10).unwrap_err(), decoded);
        // Valid UTF-8 is measured as it is.
        assert_eq!(decode_within(detect(b"abc"), 2).unwrap_err(), 3);
        assert!(decode_within(detect(b"abc"), 3).is_ok());
        // Binary content is said to be so, whatever its size once decoded.
        let mut binary = bytes.clone();
        binary[5] = 0;
        assert_eq!(
            sniff(&binary, 3_000_000).unwrap_err().code,
            FileCode::FormatInconnu
        );
        let issue = sniff(&bytes, 3_000_000).unwrap_err();
        assert_eq!(issue.code, FileCode::FichierTropVolumineux);
        assert!(
            issue
                .message
                .contains("ferait 10 Mo, au-delà de la limite de 3 Mo"),
            "{}",
            issue.message
        );
    }

    #[test]
    fn detects_windows_1252_from_invalid_utf8() {
        let (text, enc) = text_of(b"d\xe9p\xf4t;\x80");
        assert_eq!(text, "dépôt;€");
        assert_eq!(enc, TextEncoding::Windows1252);
    }

    #[test]
    fn strips_a_utf8_bom() {
        assert_eq!(
            text_of("\u{feff}cip13;stock".as_bytes()),
            ("cip13;stock".into(), TextEncoding::Utf8Bom)
        );
    }

    #[test]
    fn decodes_utf16_le_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend("dépôt".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(text_of(&bytes), ("dépôt".into(), TextEncoding::Utf16Le));
    }

    /// Scans `xml` cut in pieces of `piece` bytes; `Err` carries the message.
    fn scan(xml: &str, piece: usize) -> Result<(), String> {
        let mut scanner = ReferenceScanner::default();
        for chunk in xml.as_bytes().chunks(piece) {
            scanner.feed(chunk).map_err(|e| e.message)?;
        }
        scanner.finish().map_err(|e| e.message)
    }

    fn refused(xml: &str) -> bool {
        (1..=7).all(|piece| scan(xml, piece).is_err())
    }

    fn accepted(xml: &str) -> bool {
        (1..=7).all(|piece| scan(xml, piece).is_ok())
    }

    #[test]
    fn references_inside_the_grid_pass() {
        assert!(accepted(
            r#"<dimension ref="A1:XFD1048576"/><row r="1048576"><c r="XFD1048576" s="1" t="s">"#
        ));
        assert!(accepted(
            r#"<c r='a1'/><mergeCell ref="B2:B2"/><c r="A0001"/>"#
        ));
        // Not references at all: calamine refuses them itself, without computing.
        assert!(accepted(
            r#"<c r="$A$1"/><c r="1A99999999999"/><c r=""/><c r="A0"/>"#
        ));
        // Other attributes that end in `r` or `ref`, or start with them.
        assert!(accepted(
            r#"<pane topLeftCell="A99999999999" sqref="A99999999999" rid="ZZZZZZZZ1" xr:uid="9999999999999" refs="ZZZZZZZZZZ1"/>"#
        ));
    }

    #[test]
    fn references_past_the_grid_are_refused_wherever_the_pieces_end() {
        for xml in [
            r#"<c r="A99999999999">"#,
            r#"<c r="ZZZZZZZZZZ3">"#,
            r#"<c r="XFE1">"#,
            r#"<c r="A1048577">"#,
            r#"<row r="99999999999">"#,
            r#"<dimension ref="A1:ZZZZZZZZZZ3"/>"#,
            r#"<dimension ref='A1:B99999999999'/>"#,
            // However calamine splits the attributes, it would read these.
            "<c\tr\n=\r'A99999999999'>",
            r#"<c s="1"r="A99999999999">"#,
            r#"<c r = "A99999999999">"#,
            r#"<x:c r="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1">"#,
            // Overflow comes before the character that stops calamine.
            r#"<c r="A99999999999$">"#,
            // An attribute value left open at the end of the part.
            r#"<c r="A99999999999"#,
        ] {
            assert!(refused(xml), "{xml}");
        }
    }

    #[test]
    fn a_range_that_ends_before_it_starts_is_refused() {
        assert!(refused(r#"<dimension ref="C3:A1"/>"#));
        assert!(refused(r#"<dimension ref="A3:C1"/>"#));
        assert!(accepted(r#"<dimension ref="A1:C3"/><dimension ref="B2"/>"#));
        let message = scan(r#"<dimension ref="C3:A1"/>"#, 64).unwrap_err();
        assert_eq!(
            message,
            "le classeur désigne la cellule ou la plage « C3:A1 », dont la fin précède le \
             début : enregistrez-le à nouveau depuis Excel, ou envoyez un CSV"
        );
    }

    #[test]
    fn a_long_reference_is_named_short() {
        let xml = format!(r#"<c r="{}1">"#, "Z".repeat(10_000));
        let message = scan(&xml, 4096).unwrap_err();
        assert!(
            message.contains(&format!("« {}… »", "Z".repeat(40))),
            "{message}"
        );
    }

    #[test]
    fn an_announced_count_of_shared_strings_beyond_the_bound_is_refused_in_any_piece() {
        let check = |xml: &str, piece: usize| {
            let mut counted = AnnouncedCount::new(20_000_000);
            for chunk in xml.as_bytes().chunks(piece) {
                counted.feed(chunk)?;
            }
            Ok::<(), FileIssue>(())
        };
        for piece in [1, 2, 3, 7, 64, 4096] {
            for xml in [
                r#"<sst count="5" uniqueCount="10000000000000">"#,
                r#"<!-- --><x:sst uniqueCount = '300000000000000000'>"#,
                r#"<sst uniqueCount="+99999999999999999999999999">"#,
            ] {
                let refused = check(xml, piece).unwrap_err();
                assert_eq!(refused.code, FileCode::TropDeCellules, "{xml} / {piece}");
            }
            for xml in [
                r#"<sst count="5" uniqueCount="20000000">"#,
                r#"<sst uniqueCount="abc"><si><t>uniqueCount</t></si>"#,
            ] {
                assert!(check(xml, piece).is_ok(), "{xml} / {piece}");
            }
        }
        let padded = format!(r#"<sst uniqueCount={}"1">"#, " ".repeat(10_000));
        assert!(
            check(&padded, 100).is_err(),
            "a value that cannot be read whole is refused"
        );
    }

    #[test]
    fn cells_are_named_as_excel_names_them() {
        assert_eq!(cell_name(0, 0), "A1");
        assert_eq!(cell_name(1_048_575, 16_383), "XFD1048576");
        assert_eq!(cell_name(1_048_576, 26), "AA1048577");
        assert_eq!(cell_name(u32::MAX, u32::MAX), "MWLQKWV4294967296");
    }

    #[test]
    fn rejects_binary_and_empty_content() {
        assert_eq!(
            sniff(b"", u64::MAX).unwrap_err().code,
            FileCode::FichierVide
        );
        assert_eq!(
            sniff(b"\r\n \n", u64::MAX).unwrap_err().code,
            FileCode::FichierVide
        );
        assert_eq!(
            sniff(b"%PDF-1.7 ...", u64::MAX).unwrap_err().code,
            FileCode::FormatInconnu
        );
        assert_eq!(
            sniff(b"abc\0def", u64::MAX).unwrap_err().code,
            FileCode::FormatInconnu
        );
        // UTF-16: its zero bytes are text, its NUL character is not.
        let utf16 = |text: &str| {
            let mut bytes = b"\xFF\xFE".to_vec();
            bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            bytes
        };
        assert!(matches!(
            sniff(&utf16("cip13;stock\n"), u64::MAX).unwrap(),
            Container::Text { .. }
        ));
        assert_eq!(
            sniff(&utf16("cip13\0;stock\n"), u64::MAX).unwrap_err().code,
            FileCode::FormatInconnu
        );
        assert_eq!(
            sniff(OLE_MAGIC, u64::MAX).unwrap_err().code,
            FileCode::FormatNonPrisEnCharge
        );
        assert!(matches!(
            sniff(b"PK\x03\x04rest", u64::MAX).unwrap(),
            Container::Xlsx
        ));
    }
}
