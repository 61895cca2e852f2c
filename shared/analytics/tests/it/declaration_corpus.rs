//! The fixture corpus (`tests/fixtures/`): one file per rule of the declaration format, each
//! with its exact verdict. The specification of `docs/format-declaration.md`, executable.

use std::path::PathBuf;

use chrono::NaiveDate;
use medistock_analytics::declaration::{
    FileCode, Limits, LineCode, Status, Validation, ValidationContext, ValidationReport, validate,
};
use medistock_analytics::positions::{PositionBatches, file_positions, normalized_parquet};
use medistock_domain::DeclarantId;
use polars::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

fn run_with(bytes: &[u8], name: &str, limits: &Limits) -> Validation {
    let declarant = DeclarantId::parse("grossiste-a").unwrap();
    let ctx = ValidationContext {
        declarant: Some(&declarant),
        today: today(),
        limits,
        catalogue: None,
    };
    validate(bytes, name, &ctx).expect("the validator never fails on input")
}

fn run(name: &str) -> Validation {
    run_with(&fixture(name), name, &Limits::default())
}

fn codes(issues: &[medistock_analytics::declaration::LineIssue]) -> Vec<(u32, &'static str)> {
    issues.iter().map(|i| (i.line, i.code.as_str())).collect()
}

fn file_codes(report: &ValidationReport) -> Vec<FileCode> {
    report.file_errors.iter().map(|f| f.code).collect()
}

fn assert_accepted(name: &str, total: usize) -> Validation {
    let v = run(name);
    assert_eq!(v.report.status, Status::Accepted, "{name}: {:#?}", v.report);
    assert_eq!(
        (
            v.report.lines.total,
            v.report.lines.accepted,
            v.report.lines.rejected
        ),
        (total, total, 0),
        "{name}"
    );
    v
}

fn column_i64(frame: &DataFrame, name: &str) -> Vec<Option<i64>> {
    frame.column(name).unwrap().i64().unwrap().iter().collect()
}

fn column_str(frame: &DataFrame, name: &str) -> Vec<Option<String>> {
    frame
        .column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.map(str::to_owned))
        .collect()
}

#[test]
fn a_complete_file_is_accepted_with_every_figure_typed() {
    let v = assert_accepted("valide_complet.csv", 4);
    let lines = v.lines.unwrap();
    assert_eq!(
        column_str(&lines, "cip13")[2].as_deref(),
        Some("3400949497706"),
        "CIP7 4949770 converted"
    );
    assert_eq!(
        column_i64(&lines, "stock"),
        [Some(12_500), Some(8_000), Some(1_234), Some(0)]
    );
    assert_eq!(column_i64(&lines, "appro_quantite")[0], Some(20_000));
    assert_eq!(
        column_str(&lines, "commentaire")[3].as_deref(),
        Some("rupture; fabricant prévenu"),
        "a quoted separator stays in its cell"
    );
    assert_eq!(
        lines
            .column("line")
            .unwrap()
            .u32()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        [Some(2), Some(3), Some(4), Some(5)]
    );
}

#[test]
fn windows_1252_with_crlf_trailing_separators_and_accented_aliases() {
    let v = assert_accepted("valide_windows1252_crlf.csv", 3);
    assert_eq!(
        v.report.read_as.as_deref(),
        Some("CSV, Windows-1252, séparateur « ; »")
    );
    let lines = v.lines.unwrap();
    assert_eq!(
        column_str(&lines, "site")[0].as_deref(),
        Some("Dépôt Marseille – Nord")
    );
    assert_eq!(
        column_i64(&lines, "sorties"),
        [Some(140), Some(70), Some(30)]
    );
}

#[test]
fn bom_tab_separator_cip7_and_french_dates() {
    let v = assert_accepted("valide_bom_tabulation.csv", 2);
    assert_eq!(
        v.report.read_as.as_deref(),
        Some("CSV, UTF-8 (avec BOM), séparateur tabulation")
    );
    let lines = v.lines.unwrap();
    assert_eq!(
        column_str(&lines, "cip13")[0].as_deref(),
        Some("3400949497294")
    );
    assert_eq!(column_i64(&lines, "periode_jours"), [Some(14), Some(7)]);
    let outflow: Vec<Option<f64>> = lines
        .column("daily_outflow")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(outflow, [Some(30.0), Some(0.0)]);
}

#[test]
fn comma_separator_quotes_decimal_point_and_blank_trailing_lines() {
    let v = assert_accepted("valide_virgule_guillemets.csv", 2);
    let lines = v.lines.unwrap();
    assert_eq!(
        column_str(&lines, "commentaire")[0].as_deref(),
        Some("lot bloqué, \"QC\" en cours")
    );
    assert_eq!(column_i64(&lines, "stock"), [Some(12), Some(1)]);
}

#[test]
fn thousands_separators_and_whole_decimals() {
    let lines = assert_accepted("valide_milliers.csv", 2).lines.unwrap();
    assert_eq!(column_i64(&lines, "stock"), [Some(1_234_567), Some(1_234)]);
    assert_eq!(column_i64(&lines, "sorties"), [Some(12_000), Some(0)]);
    assert_eq!(column_i64(&lines, "stock_bloque"), [Some(1_000), Some(0)]);
}

#[test]
fn excel_unicode_text_is_utf16() {
    let v = assert_accepted("valide_utf16_excel.txt", 1);
    assert_eq!(
        v.report.read_as.as_deref(),
        Some("CSV, UTF-16, séparateur tabulation")
    );
}

#[test]
fn warnings_do_not_reject_and_identical_duplicates_count_once() {
    let v = run("avertissements.csv");
    assert_eq!(v.report.status, Status::Accepted);
    assert_eq!(
        codes(&v.report.warnings),
        [
            (1, "colonne_inconnue"),
            (3, "doublon_identique"),
            (4, "date_ancienne")
        ]
    );
    assert_eq!(v.lines.unwrap().height(), 2, "the duplicate is kept once");
}

#[test]
fn every_line_error_code_with_its_line_and_column() {
    let limits = Limits {
        max_error_rate: 1.0,
        ..Limits::default()
    };
    let v = run_with(
        &fixture("erreurs_lignes.csv"),
        "erreurs_lignes.csv",
        &limits,
    );
    let r = &v.report;
    assert_eq!(r.status, Status::AcceptedWithErrors);
    assert_eq!(
        (r.lines.total, r.lines.accepted, r.lines.rejected),
        (21, 3, 18)
    );
    let expected = [
        (2, "valeur_manquante"),
        (3, "cip_format"),
        (4, "cip_prefixe"),
        (5, "cip_cle"),
        (6, "date_format"),
        (7, "date_future"),
        (8, "nombre_invalide"),
        (9, "nombre_negatif"),
        (10, "nombre_non_entier"),
        (11, "nombre_trop_grand"),
        (12, "periode_hors_bornes"),
        (13, "appro_incomplet"),
        (14, "appro_date_anterieure"),
        (15, "texte_trop_long"),
        (16, "colonnes_en_trop"),
        (17, "colonnes_manquantes"),
        (18, "doublon_conflictuel"),
        (19, "doublon_conflictuel"),
    ];
    assert_eq!(codes(&r.errors), expected);
    let e = &r.errors[7];
    assert_eq!(
        (e.column.as_str(), e.value.as_str(), e.code),
        ("stock", "-5", LineCode::NombreNegatif)
    );
    assert_eq!(e.message, "« stock » ne peut pas être négatif");
    let lines = v.lines.unwrap();
    assert_eq!(
        column_str(&lines, "commentaire"),
        vec![Some("valide".to_owned()); 3]
    );
}

#[test]
fn the_csv_of_rejected_lines_starts_with_a_bom_for_excel() {
    use medistock_analytics::declaration::receipt::errors_csv;
    let v = run("erreurs_lignes.csv");
    let csv = errors_csv(&v.report);
    assert!(
        csv.starts_with("\u{feff}ligne;colonne;valeur;code;message\r\n"),
        "{csv}"
    );
    assert_eq!(csv.matches('\u{feff}').count(), 1);
    assert!(csv.contains("« stock » ne peut pas être négatif"));
}

#[test]
fn too_many_line_errors_reject_the_file() {
    let v = run("erreurs_lignes.csv");
    assert_eq!(v.report.status, Status::Rejected);
    assert_eq!(file_codes(&v.report), [FileCode::TauxErreurExcessif]);
    assert!(
        v.report.file_errors[0]
            .message
            .starts_with("18 ligne(s) en erreur sur 21 (85,7 %)")
    );
    assert!(v.lines.is_none(), "nothing of a rejected file is applied");
}

#[test]
fn structural_errors_reject_the_whole_file() {
    for (name, code) in [
        ("rejet_vide.csv", FileCode::FichierVide),
        ("rejet_sans_entete.csv", FileCode::EnteteAbsente),
        (
            "rejet_colonne_absente.csv",
            FileCode::ColonneObligatoireAbsente,
        ),
        ("rejet_colonne_dupliquee.csv", FileCode::ColonneDupliquee),
        ("rejet_entete_seul.csv", FileCode::AucuneLigne),
        ("rejet_autre_declarant.csv", FileCode::DeclarantDifferent),
        ("rejet_pdf.csv", FileCode::FormatInconnu),
        ("rejet_excel97.xls", FileCode::FormatNonPrisEnCharge),
        ("rejet_xlsx_tronque.xlsx", FileCode::ClasseurIllisible),
    ] {
        let v = run(name);
        assert_eq!(v.report.status, Status::Rejected, "{name}");
        assert_eq!(file_codes(&v.report), [code], "{name}");
        assert!(v.lines.is_none(), "{name}");
    }
    let missing = run("rejet_colonne_absente.csv");
    assert!(
        missing.report.file_errors[0].message.ends_with(": stock"),
        "{}",
        missing.report.file_errors[0].message
    );
}

#[test]
fn a_file_above_the_size_bound_is_rejected() {
    let limits = Limits {
        max_file_bytes: 100,
        ..Limits::default()
    };
    let v = run_with(&fixture("valide_complet.csv"), "gros.csv", &limits);
    assert_eq!(file_codes(&v.report), [FileCode::FichierTropVolumineux]);
}

#[test]
fn the_declarant_column_may_name_the_folders_declarant_in_any_case() {
    let bytes = b"cip13;date_stock;stock;declarant\n3400949497294;2026-11-20;10;GROSSISTE-A\n";
    assert_eq!(
        run_with(bytes, "x.csv", &Limits::default()).report.status,
        Status::Accepted
    );
}

#[test]
fn the_same_bytes_give_the_same_hash_whatever_the_name() {
    let a = run_with(&fixture("valide_complet.csv"), "a.csv", &Limits::default());
    let b = run_with(&fixture("valide_complet.csv"), "b.csv", &Limits::default());
    assert_eq!(a.report.sha256, b.report.sha256);
    assert_eq!(a.report.sha256.len(), 64);
}

#[test]
fn references_outside_the_catalogue_get_a_warning() {
    use medistock_analytics::catalogue::{Catalogue, Presentation};
    use medistock_domain::Cip13;
    let known = Cip13::parse("3400949497294").unwrap();
    let mut catalogue = Catalogue::default();
    catalogue.presentations.insert(
        known,
        Presentation {
            cip13: known,
            cis: "60002283".into(),
            label: String::new(),
            marketed: true,
            shortage: None,
        },
    );
    let declarant = DeclarantId::parse("grossiste-a").unwrap();
    let limits = Limits::default();
    let ctx = ValidationContext {
        declarant: Some(&declarant),
        today: today(),
        limits: &limits,
        catalogue: Some(&catalogue),
    };
    let v = validate(&fixture("valide_complet.csv"), "c.csv", &ctx).unwrap();
    assert_eq!(v.report.status, Status::Accepted);
    assert_eq!(
        codes(&v.report.warnings),
        [(4, "hors_catalogue"), (5, "hors_catalogue")]
    );
}

#[test]
fn a_files_positions_sum_its_sites_per_reference() {
    let lines = run("valide_complet.csv").lines.unwrap();
    let declarant = DeclarantId::parse("grossiste-a").unwrap();
    let uploaded = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let positions = file_positions(&lines, &declarant, "abc", uploaded).unwrap();
    assert_eq!(positions.len(), 3);
    let first = positions
        .iter()
        .find(|p| p.cip13.as_str() == "3400949497294")
        .unwrap();
    assert_eq!(
        (first.stock, first.stock_bloque, first.site_figures.len()),
        (20_500, 100, 2)
    );
    assert_eq!(first.daily_outflow, Some(800.0), "(3500 + 2100) / 7");
    assert_eq!(first.supplies.len(), 1);
    assert_eq!(
        (first.supplies[0].date, first.supplies[0].quantity),
        (NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(), 20_000)
    );
    let out = positions
        .iter()
        .find(|p| p.cip13.as_str() == "3400936963504")
        .unwrap();
    assert_eq!((out.stock, out.supplies.len()), (0, 0));
}

/// Positions built a few references at a time are those built at once: each site's latest
/// date stands, references in CIP13 order, sites by name.
#[test]
fn positions_built_in_batches_are_the_positions_of_the_file() {
    let text = "cip13;date_stock;stock;sorties;periode_jours;site\n\
                3400949497706;2026-11-18;50;7;7;Lyon\n\
                3400949497294;2026-11-19;100;7;7;Lyon\n\
                3400949497294;2026-11-20;90;14;7;Lyon\n\
                3400949497294;2026-11-18;30;7;7;Arras\n\
                3400949497706;2026-11-20;40;7;7;Lyon\n\
                3400949497294;2026-11-17;999;7;7;Lyon\n\
                3400936963504;2026-11-20;5;7;7;Caen\n";
    let declarant = DeclarantId::parse("grossiste-a").unwrap();
    let limits = Limits::default();
    let ctx = ValidationContext {
        declarant: Some(&declarant),
        today: today(),
        limits: &limits,
        catalogue: None,
    };
    let lines = validate(text.as_bytes(), "h.csv", &ctx)
        .unwrap()
        .lines
        .unwrap();
    let uploaded = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let whole = file_positions(&lines, &declarant, "abc", uploaded).unwrap();
    let mut batches = PositionBatches::new(&lines, &declarant, "abc", uploaded).unwrap();
    let mut one_by_one = Vec::new();
    while let Some(batch) = batches.next_batch(1).unwrap() {
        assert_eq!(batch.len(), 1);
        one_by_one.extend(batch);
    }
    assert_eq!(one_by_one, whole);
    let summary: Vec<(&str, i64, Vec<&str>)> = whole
        .iter()
        .map(|p| {
            (
                p.cip13.as_str(),
                p.stock,
                p.site_figures.iter().map(|s| s.site.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("3400936963504", 5, vec!["Caen"]),
            ("3400949497294", 120, vec!["Arras", "Lyon"]),
            ("3400949497706", 40, vec!["Lyon"]),
        ]
    );
    assert_eq!(
        whole[1].as_of,
        NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
    );
}

#[test]
fn normalized_lines_round_trip_through_parquet() {
    let lines = run("valide_complet.csv").lines.unwrap();
    let bytes = normalized_parquet(&lines, "grossiste-a", "abc").unwrap();
    let back = ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .unwrap();
    assert_eq!(back.height(), 4);
    assert_eq!(
        column_str(&back, "declarant"),
        vec![Some("grossiste-a".to_owned()); 4]
    );
    assert_eq!(column_i64(&back, "stock"), column_i64(&lines, "stock"));
    assert_eq!(back.column("date_stock").unwrap().dtype(), &DataType::Date);
}

#[test]
fn the_history_parquet_has_the_columns_and_types_the_glue_table_declares() {
    let lines = run("valide_complet.csv").lines.unwrap();
    let bytes = normalized_parquet(&lines, "grossiste-a", "abc").unwrap();
    let back = ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .unwrap();
    for (name, glue) in medistock_domain::lake::HISTORY_COLUMNS {
        let dtype = back
            .column(name)
            .unwrap_or_else(|_| panic!("{name} absent"))
            .dtype()
            .clone();
        let expected = match glue {
            "int" => DataType::Int32,
            "bigint" => DataType::Int64,
            "double" => DataType::Float64,
            "date" => DataType::Date,
            "string" => DataType::String,
            other => panic!("type Glue inattendu : {other}"),
        };
        assert_eq!(dtype, expected, "{name}");
    }
    let written: Vec<&str> = back
        .get_column_names()
        .into_iter()
        .map(|c| c.as_str())
        .filter(|c| *c != "declarant")
        .collect();
    let declared: Vec<&str> = medistock_domain::lake::HISTORY_COLUMNS
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(written, declared, "declarant is the partition key");
}

/// A file large enough to be tokenised in parallel pieces (several MB, no quote).
fn large_file(line_end: &str, lines: usize, bad_every: usize) -> Vec<u8> {
    let mut text = format!("cip13;date_stock;stock;site{line_end}");
    for i in 0..lines {
        let stock = if i % bad_every == bad_every - 1 {
            "-1".to_owned()
        } else {
            (i % 5000).to_string()
        };
        text.push_str(&format!(
            "3400949497294;2026-11-20;{stock};Dépôt numéro {i:08}{line_end}"
        ));
    }
    text.into_bytes()
}

#[test]
fn large_files_keep_exact_line_numbers_whatever_the_pieces() {
    let limits = Limits {
        max_error_rate: 1.0,
        ..Limits::default()
    };
    for line_end in ["\n", "\r\n"] {
        let bytes = large_file(line_end, 250_000, 49_999);
        assert!(
            bytes.len() > 10 << 20,
            "{} bytes is enough to be cut in pieces",
            bytes.len()
        );
        let v = run_with(&bytes, "gros.csv", &limits);
        assert_eq!(v.report.lines.total, 250_000);
        // Data row i (from 0) is on line i + 2 (header = line 1); rows 49,998, 99,997… are bad.
        assert_eq!(
            codes(&v.report.errors),
            [
                (50_000, "nombre_negatif"),
                (99_999, "nombre_negatif"),
                (149_998, "nombre_negatif"),
                (199_997, "nombre_negatif"),
                (249_996, "nombre_negatif")
            ]
        );
        let lines = v.lines.unwrap();
        let numbers = lines.column("line").unwrap().u32().unwrap();
        assert_eq!(numbers.get(0), Some(2));
        assert_eq!(numbers.get(lines.height() - 1), Some(250_001));
        let sites = lines.column("site").unwrap().str().unwrap();
        assert_eq!(sites.get(lines.height() - 1), Some("Dépôt numéro 00249999"));
    }
}

#[test]
fn a_quote_anywhere_keeps_one_sequential_reader_with_the_same_result() {
    let limits = Limits {
        max_error_rate: 1.0,
        ..Limits::default()
    };
    let mut bytes = large_file("\n", 250_000, 49_999);
    bytes.extend_from_slice(b"3400949497294;2026-11-20;-1;\"cit\xc3\xa9\ne\"\n");
    let v = run_with(&bytes, "gros.csv", &limits);
    assert_eq!(v.report.lines.total, 250_001);
    assert_eq!(v.report.errors.len(), 6);
    assert_eq!(
        v.report.errors[5].line, 250_002,
        "a record with a quoted line break is numbered by its first line"
    );
}

#[test]
fn old_mac_line_ends_are_numbered() {
    let bytes =
        b"cip13;date_stock;stock\r3400949497294;2026-11-20;10\r3400949497294;2026-11-21;-1\r";
    let limits = Limits {
        max_error_rate: 1.0,
        ..Limits::default()
    };
    assert_eq!(
        codes(&run_with(bytes, "mac.csv", &limits).report.errors),
        [(3, "nombre_negatif")]
    );
}

/// Blank lines count as lines: an issue names the line a text editor shows, after blank
/// lines with LF, CRLF or CR line ends, before the header and between data lines, quoted or
/// not.
#[test]
fn lines_after_blank_lines_keep_their_physical_number() {
    let limits = Limits {
        max_error_rate: 1.0,
        ..Limits::default()
    };
    for end in ["\n", "\r\n", "\r"] {
        for quote in ["", "\""] {
            let text = format!(
                "{end}{end}cip13;date_stock;stock;couleur{end}3400949497294;2026-11-20;{quote}1{quote};{end}\
                 {end}{end}3400949497294;2026-11-21;-1;{end}{end}3400949497294;2026-11-22;x;"
            );
            let v = run_with(text.as_bytes(), "vides.csv", &limits);
            let what = format!("{end:?} {quote:?}");
            assert_eq!(
                codes(&v.report.errors),
                [(7, "nombre_negatif"), (9, "nombre_invalide")],
                "{what}"
            );
            assert_eq!(
                codes(&v.report.warnings),
                [(3, "colonne_inconnue")],
                "{what}"
            );
        }
    }
}

/// A CSV is validated a piece at a time (a national file's raw cells never exist at once):
/// every file of the corpus, and a file whose duplicates and errors straddle pieces, gets the
/// same verdict and the same lines whatever the size of the pieces, down to one line each.
#[test]
fn the_verdict_does_not_depend_on_the_pieces_a_file_is_read_in() {
    let mut files: Vec<(String, Vec<u8>)> =
        std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).unwrap())
            })
            .collect();
    assert!(files.len() >= 15, "the corpus is where it was");
    let mut spread = String::from("cip13;date_stock;stock;sorties;site\n");
    for i in 0..60 {
        // Line 2 and line 42 conflict, line 12 repeats line 3 exactly, some lines are wrong.
        let line = match i {
            10 => "3400949497294;2026-11-20;100;7;Lyon".to_owned(),
            40 => "3400949497294;2026-11-20;999;7;Paris".to_owned(),
            0 => "3400949497294;2026-11-20;100;7;Paris".to_owned(),
            1 => "3400949497294;2026-11-20;100;7;Lyon".to_owned(),
            i if i % 17 == 5 => format!("3400949497294;2026-11-3{i};1;1;D{i}"),
            i => format!("3400949497294;2026-11-20;{i};7;D{i}"),
        };
        spread.push_str(&line);
        spread.push('\n');
    }
    files.push(("etale.csv".into(), spread.into_bytes()));
    for (name, bytes) in &files {
        let whole = run_with(bytes, name, &Limits::default());
        for piece in [1, 7, 64, 300] {
            let limits = Limits {
                csv_piece_bytes: piece,
                ..Limits::default()
            };
            let pieces = run_with(bytes, name, &limits);
            assert_eq!(
                pieces.report, whole.report,
                "{name}, pieces of {piece} bytes"
            );
            match (&pieces.lines, &whole.lines) {
                (Some(a), Some(b)) => assert!(a.equals_missing(b), "{name}, {piece}: {a} {b}"),
                (None, None) => {}
                _ => panic!("{name}, {piece}: accepted one way and not the other"),
            }
        }
    }
    let spread = run_with(
        files.last().map(|(_, b)| b.as_slice()).unwrap(),
        "etale.csv",
        &Limits {
            csv_piece_bytes: 1,
            ..Limits::default()
        },
    );
    assert_eq!(
        codes(&spread.report.errors),
        [
            (2, "doublon_conflictuel"),
            (7, "date_format"),
            (24, "date_format"),
            (41, "date_format"),
            (42, "doublon_conflictuel"),
            (58, "date_format"),
        ]
    );
    assert_eq!(codes(&spread.report.warnings), [(12, "doublon_identique")]);
}

/// A header followed by nothing keeps the header's warnings beside its rejection.
#[test]
fn a_header_alone_keeps_its_warnings() {
    let v = run_with(
        b"cip13;date_stock;stock;sorties;couleur\n",
        "entete.csv",
        &Limits::default(),
    );
    assert_eq!(file_codes(&v.report), [FileCode::AucuneLigne]);
    assert_eq!(codes(&v.report.warnings), [(1, "colonne_inconnue")]);
}

/// Past the issues a report details, those kept are the lowest lines, whatever the order they
/// are found in (column by column) and the pieces the file is read in.
#[test]
fn the_issues_detailed_are_those_of_the_lowest_lines() {
    use medistock_analytics::declaration::validate::MAX_ISSUES_KEPT;
    let half = MAX_ISSUES_KEPT / 2 + 1_000;
    let mut text = String::from("cip13;date_stock;stock;sorties\n");
    // First half: a wrong date; second half: a wrong CIP13. Dates are parsed after CIP13s.
    for _ in 0..half {
        text.push_str("3400949497294;2026-13-01;1;1\n");
    }
    for _ in 0..half {
        text.push_str("3400949497295;2026-11-20;1;1\n");
    }
    let whole = run_with(text.as_bytes(), "beaucoup.csv", &Limits::default());
    assert_eq!(whole.report.errors.len(), MAX_ISSUES_KEPT);
    assert_eq!(whole.report.errors_omitted, 2 * half - MAX_ISSUES_KEPT);
    let lines: Vec<u32> = whole.report.errors.iter().map(|i| i.line).collect();
    assert_eq!(lines, (2..2 + MAX_ISSUES_KEPT as u32).collect::<Vec<_>>());
    assert_eq!(whole.report.errors[0].code, LineCode::DateFormat);
    assert_eq!(whole.report.errors.last().unwrap().code, LineCode::CipCle);
    for piece in [4_096, 100_000] {
        let limits = Limits {
            csv_piece_bytes: piece,
            ..Limits::default()
        };
        let pieces = run_with(text.as_bytes(), "beaucoup.csv", &limits);
        assert_eq!(pieces.report, whole.report, "pieces of {piece} bytes");
    }
}
