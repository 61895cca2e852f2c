//! The direct read of quote-free CSV lines (typed in one pass over the bytes) against the
//! general reader (tokenised, then typed): the same verdict, the same issues, the same lines,
//! on the corpus and on thousands of mutations of a file written to exercise every form a
//! valid line may take.

use std::path::PathBuf;

use chrono::NaiveDate;
use medistock_analytics::catalogue::{Catalogue, Presentation};
use medistock_analytics::declaration::{
    FileCode, Limits, LineCode, LineIssue, Validation, ValidationContext, validate, validate_owned,
};
use medistock_domain::{Cip13, DeclarantId};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

fn catalogue() -> Catalogue {
    let mut catalogue = Catalogue::default();
    for cip in ["3400949497294", "3400930000007"] {
        let cip13 = Cip13::parse(cip).unwrap();
        catalogue.presentations.insert(
            cip13,
            Presentation {
                cip13,
                cis: "60002283".into(),
                label: String::new(),
                marketed: true,
                shortage: None,
            },
        );
    }
    catalogue
}

fn run(bytes: &[u8], limits: &Limits, catalogue: Option<&Catalogue>) -> Validation {
    let declarant = DeclarantId::parse("grossiste-a").unwrap();
    let ctx = ValidationContext {
        declarant: Some(&declarant),
        today: today(),
        limits,
        catalogue,
    };
    validate(bytes, "f.csv", &ctx).expect("the validator never fails on input")
}

/// The lines of the issues of one kind, in the report's order.
fn lines_of(issues: &[LineIssue], code: LineCode) -> Vec<u32> {
    issues
        .iter()
        .filter(|i| i.code == code)
        .map(|i| i.line)
        .collect()
}

/// Both readers on the same bytes, for each piece size and with or without a catalogue.
fn assert_same(bytes: &[u8], what: &str) {
    assert_same_in(bytes, what, &[16 << 20, 97, 1], &[false, true]);
}

fn assert_same_in(bytes: &[u8], what: &str, pieces: &[usize], catalogues: &[bool]) {
    let catalogue = catalogue();
    // The report of the first piece size, for each catalogue setting: where the pieces are
    // cut changes nothing either.
    let mut first = vec![None; catalogues.len()];
    for &piece in pieces {
        for (at, catalogue) in catalogues
            .iter()
            .map(|with| with.then_some(&catalogue))
            .enumerate()
        {
            let direct = Limits {
                csv_piece_bytes: piece,
                ..Limits::default()
            };
            let general = Limits {
                direct_read: false,
                ..direct.clone()
            };
            let (a, b) = (
                run(bytes, &direct, catalogue),
                run(bytes, &general, catalogue),
            );
            assert_eq!(a.report, b.report, "{what}, pieces of {piece} bytes");
            match &first[at] {
                None => first[at] = Some(a.report.clone()),
                Some(report) => assert_eq!(&a.report, report, "{what}, pieces of {piece} bytes"),
            }
            match (&a.lines, &b.lines) {
                (Some(x), Some(y)) => {
                    assert_eq!(x.schema(), y.schema(), "{what}");
                    for (cx, cy) in x.columns().iter().zip(y.columns()) {
                        let show = |c: &polars::prelude::Column| -> Vec<String> {
                            (0..c.len())
                                .map(|i| format!("{:?}", c.get(i).unwrap()))
                                .collect()
                        };
                        assert_eq!(show(cx), show(cy), "{what}, {piece}: column {}", cx.name());
                    }
                    assert!(x.equals_missing(y), "{what}, {piece}");
                }
                (None, None) => {}
                _ => panic!("{what}, {piece}: accepted by one reader only"),
            }
        }
    }
}

/// Every valid form at once: spaces and no-break spaces in figures, whole decimals, CIP7,
/// French dates with a time, optional cells empty, CRLF, blank lines, trailing separators, a
/// stale date, references outside the catalogue, the declarant's name in another case,
/// columns in an unusual order with an unknown one.
const VALID: &str = "\u{feff}Site;CIP13;date stock;stock;sorties;période (jours);stock bloqué;\
appro quantité;appro date;déclarant;commentaire;couleur\r\n\
Lyon;3400949497294;2026-11-20;1 200;35;7;0;;;grossiste-a;;bleu\r\n\
Lyon 2;4949729;20/11/2026;12,00;0;;;500;2026-11-30;GROSSISTE-A;livraison annoncée;\r\n\
\r\n\
Paris;3400930000007;2026-11-20 00:00:00;7\u{a0}000;  14 ;14;3;;;;;\r\n\
 ;;;;;;;;;;;\r\n\
Paris;3400949497294;01/11/2026;0;0;1;;;;;vieux;\r\n\
;3400930000014;2026-11-22;+5;1.0;92;;10;2026-11-22;;;\r\n\
Lille;3400949497294;2026-11-20;1 200;35;7;0;;;grossiste-a;;\r\n\
Lille;3400949497294;2026-11-20;1 200;35;7;0;;;grossiste-a;;\r\n\
Nice;3400930000007;2026-11-21;4;;;;;;;;\r\n";

#[test]
fn the_valid_forms_are_read_directly_as_the_general_reader_reads_them() {
    let v = run(VALID.as_bytes(), &Limits::default(), Some(&catalogue()));
    assert_eq!(v.report.errors, [], "{:#?}", v.report);
    assert_eq!(v.report.lines.total, 8);
    assert!(v.report.warnings.len() >= 4, "{:#?}", v.report.warnings);
    assert_same(VALID.as_bytes(), "the valid forms");
    // LF line ends, and the same lines in Windows-1252.
    assert_same(VALID.replace("\r\n", "\n").as_bytes(), "LF");
    let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode(&VALID[3..]);
    assert_same(&cp1252, "Windows-1252");
}

#[test]
fn the_corpus_gets_the_same_verdict_from_both_readers() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert_same(&bytes, &path.display().to_string());
            assert_owned_same(&bytes, &path.display().to_string());
            seen += 1;
        }
    }
    assert!(seen >= 15, "the corpus is where it was");
}

/// Giving the bytes away (the ingest) gives the verdict and lines of lending them.
fn assert_owned_same(bytes: &[u8], what: &str) {
    let declarant = DeclarantId::parse("grossiste-a").unwrap();
    let (limits, catalogue) = (Limits::default(), catalogue());
    let ctx = ValidationContext {
        declarant: Some(&declarant),
        today: today(),
        limits: &limits,
        catalogue: Some(&catalogue),
    };
    let lent = validate(bytes, "f.csv", &ctx).unwrap();
    let sha256 = lent.report.sha256.clone();
    let owned = validate_owned(bytes.to_vec(), sha256, "f.csv", &ctx).unwrap();
    assert_eq!(lent.report, owned.report, "{what}");
    match (&lent.lines, &owned.lines) {
        (Some(x), Some(y)) => assert!(x.equals_missing(y), "{what}"),
        (None, None) => {}
        _ => panic!("{what}: accepted one way only"),
    }
}

/// A small deterministic generator (xorshift): the mutations are the same on every run.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Bytes a mutation writes: separators, line ends, signs, digits, marks of dates and
/// decimals, letters, half of a UTF-8 character, a no-break space, a byte order mark.
const ALPHABET: [&[u8]; 21] = [
    b"\xef\xbb\xbf",
    b";",
    b"\n",
    b"\r",
    b" ",
    b"0",
    b"9",
    b"1",
    b"-",
    b"/",
    b",",
    b".",
    b"+",
    b"x",
    b"T",
    b"\xc3",
    b"\xc2\xa0",
    b"\t",
    b";;",
    b"",
    b"31",
];

/// Files that differ from the valid one by one to three edits (a byte replaced, a byte
/// deleted, a line repeated): each gets the same verdict, issues and lines from both readers.
#[test]
fn mutated_files_get_the_same_verdict_from_both_readers() {
    let valid = VALID.replace("\r\n", "\n").into_bytes();
    let mut dice = Dice(0x5eed_cafe);
    let mut declined = 0;
    for round in 0..1_000 {
        let mut bytes = valid.clone();
        for _ in 0..1 + dice.below(3) {
            let at = dice.below(bytes.len());
            match dice.below(5) {
                0 => {
                    bytes.remove(at);
                }
                1 => {
                    let start = bytes[..at]
                        .iter()
                        .rposition(|b| *b == b'\n')
                        .map_or(0, |p| p + 1);
                    let end = bytes[at..]
                        .iter()
                        .position(|b| *b == b'\n')
                        .map_or(bytes.len(), |p| at + p + 1);
                    let line = bytes[start..end].to_vec();
                    bytes.splice(end..end, line);
                }
                _ => {
                    let with = ALPHABET[dice.below(ALPHABET.len())];
                    bytes.splice(at..at + 1, with.iter().copied());
                }
            }
        }
        let general = Limits {
            direct_read: false,
            ..Limits::default()
        };
        if !run(&bytes, &general, None).report.errors.is_empty() {
            declined += 1;
        }
        let what = format!("mutation {round}: {}", String::from_utf8_lossy(&bytes));
        assert_same_in(&bytes, &what, &[16 << 20, 1], &[round % 2 == 0]);
    }
    // Both kinds were exercised: files the direct reader reads, files it must decline.
    assert!(
        (200..900).contains(&declined),
        "{declined} mutated files with errors"
    );
}

/// A byte order mark inside the file (a line pasted from another file) is trimmed like a
/// space wherever it stands: at the start of a line, alone on a line, at the end of a cell.
/// The verdict does not depend on where the reader cuts its pieces.
#[test]
fn byte_order_marks_inside_the_file_are_trimmed_wherever_the_pieces_are_cut() {
    let header = "site;cip13;date_stock;stock;sorties\n";
    let body = "A;3400949497294;2026-11-20;10;1\n\
                \u{feff}\n\
                \u{feff}A;3400949497294;2026-11-20;10;2\u{feff}\n\
                B;3400930000007;2026-11-20;10;1\n";
    let text = format!("{header}{body}");
    assert_same_in(
        text.as_bytes(),
        "marks",
        &[16 << 20, 97, 40, 1],
        &[false, true],
    );
    // Both lines are the same site once the mark is trimmed: a conflicting duplicate,
    // reported on the line an editor shows (the mark-only line counts).
    let v = run(text.as_bytes(), &Limits::default(), None);
    let lines = lines_of(&v.report.errors, LineCode::DoublonConflictuel);
    assert_eq!(lines, [2, 4], "{:#?}", v.report);
    assert_eq!(v.report.lines.total, 3);
}

/// A file of more than twice the part size is read in parts on every core: the direct read
/// of each part, stitched, equals the general read, including when the last part declines,
/// and when more references are outside the catalogue than the report keeps.
#[test]
fn a_file_read_in_parts_gets_the_same_verdict_from_both_readers() {
    let mut text = String::from("site;cip13;date_stock;stock;sorties;appro_quantite;appro_date\n");
    let mut line = 0u32;
    while text.len() < 9 << 20 {
        line += 1;
        let cip = ["3400949497294", "3400930000007", "3400930000014"][line as usize % 3];
        let supply = if line.is_multiple_of(7) {
            "50;2026-12-01"
        } else {
            ";"
        };
        text.push_str(&format!(
            "D{line};{cip};2026-11-{:02};{};{};{supply}\n",
            10 + line % 12,
            line % 5000,
            line % 300
        ));
    }
    assert!(line > 100_000, "{line} lines");
    assert_same_in(text.as_bytes(), "parts", &[16 << 20, 3 << 20], &[true]);
    let v = run(text.as_bytes(), &Limits::default(), Some(&catalogue()));
    assert_eq!(v.report.errors, [], "{:#?}", v.report.errors);
    assert_eq!(v.report.lines.total, line as usize);
    // One line in three is outside the catalogue: more than the report lists.
    assert!(line / 3 > 10_000);
    // The last line is refused: the last part declines, the general reader reports it.
    text.push_str("Z;3400949497294;2026-11-20;douze;1;;\n");
    assert_same_in(
        text.as_bytes(),
        "parts, last line refused",
        &[16 << 20],
        &[true],
    );
    let v = run(text.as_bytes(), &Limits::default(), None);
    let last = line + 2;
    assert!(
        v.report
            .errors
            .iter()
            .any(|e| e.line == last && e.code == LineCode::NombreInvalide),
        "line {last} refused: {:#?}",
        v.report.errors
    );
}

/// A national file lists a reference's depots in a row: runs of one reference, in the
/// catalogue or not, with a run of a known reference broken by an unknown one, get the same
/// warnings from both readers — one per line outside the catalogue, none for the others.
#[test]
fn runs_of_one_reference_are_checked_against_the_catalogue_line_by_line() {
    let mut text = String::from("site;cip13;date_stock;stock\n");
    let runs = [
        ("3400949497294", 4),
        ("3400930000014", 3),
        ("3400949497294", 1),
        ("3400930000014", 1),
        ("3400930000007", 5),
        ("3400930000014", 2),
    ];
    let mut outside = Vec::new();
    let mut line = 1;
    for (cip, depots) in runs {
        for depot in 0..depots {
            line += 1;
            text.push_str(&format!("D{depot};{cip};2026-11-20;10\n"));
            if cip == "3400930000014" {
                outside.push(line);
            }
        }
    }
    assert_same_in(text.as_bytes(), "runs", &[1 << 20, 64], &[true, false]);
    let v = run(text.as_bytes(), &Limits::default(), Some(&catalogue()));
    assert_eq!(
        lines_of(&v.report.warnings, LineCode::HorsCatalogue),
        outside
    );
}

/// An absurd staleness bound in the configuration saturates: nothing is stale, or
/// everything, the same for both readers, never an overflow.
#[test]
fn an_absurd_staleness_bound_saturates_in_both_readers() {
    for days in [i64::MAX, i64::from(i32::MAX) + 1, i64::MIN, -1] {
        let direct = Limits {
            stale_after_days: days,
            ..Limits::default()
        };
        let general = Limits {
            direct_read: false,
            ..direct.clone()
        };
        let a = run(VALID.as_bytes(), &direct, None);
        assert_eq!(a.report, run(VALID.as_bytes(), &general, None).report);
        let stale = lines_of(&a.report.warnings, LineCode::DateAncienne).len();
        if days > 0 {
            assert_eq!(stale, 0, "{days}");
        } else {
            assert_eq!(
                stale, a.report.lines.total,
                "{days}: {:#?}",
                a.report.warnings
            );
        }
    }
}

/// A mark-only line opening a piece keeps the line numbers an editor shows, and a mark before
/// a quote at a line start opens no quoted field: the limit on values per line holds. (The
/// tokeniser drops a mark at the start of each text it reads; a mark at a line start is made
/// spaces before any reader sees it.)
#[test]
fn a_mark_at_a_line_start_changes_neither_line_numbers_nor_limits() {
    let text = "cip13;date_stock;stock\n\u{feff}\n3400949497294;2026-11-20;-1\n";
    assert_same_in(
        text.as_bytes(),
        "mark line after the header",
        &[16 << 20, 25, 24, 23, 5, 1],
        &[false],
    );
    for piece in [16 << 20, 23, 5, 1] {
        for direct_read in [true, false] {
            let limits = Limits {
                csv_piece_bytes: piece,
                direct_read,
                ..Limits::default()
            };
            let v = run(text.as_bytes(), &limits, None);
            let lines: Vec<(u32, LineCode)> =
                v.report.errors.iter().map(|e| (e.line, e.code)).collect();
            assert_eq!(
                lines,
                [(3, LineCode::NombreNegatif)],
                "{piece} {direct_read}"
            );
        }
    }
    // The limit scan and the reader split records alike: a mark then a quote at a line
    // start is read as three spaces then a quote (not an opening quote), whatever the reader.
    let limits = Limits {
        max_line_values: 50,
        ..Limits::default()
    };
    let separators = ";".repeat(1_000);
    for (hostile, as_spaces) in [
        (
            format!("\u{feff}\u{feff}\"\n\"{separators}\n"),
            format!("\u{feff}   \"\n\"{separators}\n"),
        ),
        (
            format!("cip13;date_stock;stock\n\u{feff}\"\n\"{separators}\n"),
            format!("cip13;date_stock;stock\n   \"\n\"{separators}\n"),
        ),
        (
            format!("cip13;date_stock;stock\n\u{feff}{separators}\n"),
            format!("cip13;date_stock;stock\n   {separators}\n"),
        ),
    ] {
        let (a, b) = (
            run(hostile.as_bytes(), &limits, None).report,
            run(as_spaces.as_bytes(), &limits, None).report,
        );
        assert_eq!(
            (&a.file_errors, &a.errors, &a.lines),
            (&b.file_errors, &b.errors, &b.lines),
            "{hostile:?}"
        );
        assert!(!a.file_errors.is_empty(), "{a:#?}");
    }
    // A line of too many values after a mark is refused before it is tokenised.
    let v = run(
        format!("cip13;date_stock;stock\n\u{feff}{separators}\n").as_bytes(),
        &limits,
        None,
    );
    assert!(
        v.report
            .file_errors
            .iter()
            .any(|e| e.code == FileCode::TropDeColonnes),
        "{:#?}",
        v.report.file_errors
    );
}
