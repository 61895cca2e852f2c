//! Hostile declarations: files built to crash the parser, exhaust its memory or its time, or
//! smuggle content into the receipts. Each one gets a verdict (`validate` returns, never
//! panics) with a precise code, at a cost linear in the bytes.
//!
//! The files are built here rather than stored: most are megabytes of repetition, and the
//! XLSX ones hold XML that no spreadsheet would write. `write_the_corpus_to_a_folder` writes
//! them to disk, to measure the command on each:
//!
//! ```sh
//! MEDISTOCK_HOSTILE_DIR=/tmp/hostile cargo test -p medistock-analytics --test it \
//!     write_the_corpus_to_a_folder -- --ignored
//! /usr/bin/time -v target/debug/medistock validate /tmp/hostile/csv_ligne_50mo.csv
//! ```

use std::io::{Cursor, Write};

use chrono::NaiveDate;
use medistock_analytics::declaration::receipt::errors_csv;
use medistock_analytics::declaration::{Limits, Status, Validation, ValidationContext, validate};
use zip::write::SimpleFileOptions;

fn ctx(limits: &Limits) -> ValidationContext<'_> {
    ValidationContext {
        declarant: None,
        today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        limits,
        catalogue: None,
    }
}

/// Validates and checks what holds for every verdict: counts that add up, a rejection iff a
/// file error, no line issue whose value would bloat a receipt.
fn run_with(bytes: &[u8], name: &str, limits: &Limits) -> Validation {
    let v = validate(bytes, name, &ctx(limits)).expect("a verdict, never an internal error");
    let r = &v.report;
    assert_eq!(r.lines.accepted + r.lines.rejected, r.lines.total);
    assert_eq!(r.status == Status::Rejected, !r.file_errors.is_empty());
    for issue in r.errors.iter().chain(&r.warnings) {
        assert!(
            issue.value.chars().count() <= 201 && issue.column.chars().count() <= 201,
            "line {} holds a value of {} characters",
            issue.line,
            issue.value.len()
        );
    }
    v
}

fn run(bytes: &[u8], name: &str) -> Validation {
    run_with(bytes, name, &Limits::default())
}

fn file_codes(v: &Validation) -> Vec<&'static str> {
    v.report
        .file_errors
        .iter()
        .map(|f| f.code.as_str())
        .collect()
}

fn line_codes(v: &Validation) -> Vec<(u32, &'static str)> {
    v.report
        .errors
        .iter()
        .map(|i| (i.line, i.code.as_str()))
        .collect()
}

fn message(v: &Validation) -> &str {
    &v.report.file_errors[0].message
}

// ---------------------------------------------------------------------------------------------
// XLSX written by hand: the smallest workbook calamine opens, one sheet named `declaration`.

fn xlsx(sheet_xml: &str) -> Vec<u8> {
    xlsx_with(sheet_xml, &[])
}

/// A workbook whose sheet is `sheet_xml`, with extra parts (name, bytes) stored beside it.
fn xlsx_with(sheet_xml: &str, extra: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let parts: [(&str, &str); 5] = [
            (
                "[Content_Types].xml",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
            ),
            (
                "_rels/.rels",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
            ),
            (
                "xl/workbook.xml",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="declaration" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            ),
            (
                "xl/_rels/workbook.xml.rels",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
            ),
            ("xl/worksheets/sheet1.xml", sheet_xml),
        ];
        for (name, text) in parts {
            zip.start_file(name, opts).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        for (name, bytes) in extra {
            zip.start_file(name.as_str(), opts).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }
    buf.into_inner()
}

/// A worksheet: an optional `<dimension>` and the rows' XML.
fn sheet(dimension: Option<&str>, rows: &str) -> String {
    let dimension = dimension.map_or(String::new(), |d| format!(r#"<dimension ref="{d}"/>"#));
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{dimension}<sheetData>{rows}</sheetData></worksheet>"#
    )
}

fn text(r: &str, t: &str) -> String {
    format!(r#"<c r="{r}" t="inlineStr"><is><t>{t}</t></is></c>"#)
}

fn number(r: &str, v: &str) -> String {
    format!(r#"<c r="{r}"><v>{v}</v></c>"#)
}

fn row(r: &str, cells: &[String]) -> String {
    format!(r#"<row r="{r}">{}</row>"#, cells.concat())
}

/// The header on row 1 and one valid line on row 2.
fn header_and_line() -> String {
    row(
        "1",
        &[
            text("A1", "cip13"),
            text("B1", "date_stock"),
            text("C1", "stock"),
        ],
    ) + &row(
        "2",
        &[
            number("A2", "3400949497294"),
            text("B2", "2026-11-20"),
            number("C2", "10"),
        ],
    )
}

fn sheet_with_cell(reference: &str) -> Vec<u8> {
    xlsx(&sheet(
        None,
        &(header_and_line() + &format!("<row>{}</row>", number(reference, "1"))),
    ))
}

fn xlsx_row_beyond_excel() -> Vec<u8> {
    sheet_with_cell("A99999999999")
}

fn xlsx_column_beyond_excel() -> Vec<u8> {
    sheet_with_cell("ZZZZZZZZZZ3")
}

fn xlsx_dimension_beyond_excel() -> Vec<u8> {
    xlsx(&sheet(Some("A1:ZZZZZZZZZZ3"), &header_and_line()))
}

fn xlsx_corner_cells() -> Vec<u8> {
    xlsx(&sheet(
        Some("A1:XFD1048576"),
        &(row("1", &[text("A1", "x")]) + &row("1048576", &[text("XFD1048576", "x")])),
    ))
}

fn xlsx_far_cell_below_a_header() -> Vec<u8> {
    xlsx(&sheet(
        Some("A1:XFD1048576"),
        &(header_and_line() + &row("1048576", &[text("XFD1048576", "x")])),
    ))
}

fn xlsx_cell_in_zz200000() -> Vec<u8> {
    xlsx(&sheet(
        None,
        &(header_and_line() + &row("200000", &[text("ZZ200000", "x")])),
    ))
}

/// 20 MB of zeros, compressed about a thousand to one.
fn xlsx_zip_bomb() -> Vec<u8> {
    xlsx_with(
        &sheet(None, &header_and_line()),
        &[("xl/media/image1.bin".to_owned(), vec![b'0'; 20 << 20])],
    )
}

/// Many parts of less than 1 MB each, each compressed about a thousand to one.
fn xlsx_zip_bomb_in_small_parts() -> Vec<u8> {
    let parts: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| (format!("xl/media/image{i}.bin"), vec![b'0'; 900_000]))
        .collect();
    xlsx_with(&sheet(None, &header_and_line()), &parts)
}

/// The sheet holds 20 MB of blanks but the archive says it holds 1,000 bytes.
fn xlsx_with_a_lying_size() -> Vec<u8> {
    let padding = " ".repeat(20 << 20);
    let mut bytes = xlsx(&sheet(None, &(header_and_line() + &padding)));
    let name = b"xl/worksheets/sheet1.xml";
    let declared = 1_000u32.to_le_bytes();
    // Local header: size at 22, name at 30. Central directory: size at 24, name at 46.
    for (signature, size_at, name_at) in [(b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)] {
        let at = (0..bytes.len() - name_at - name.len())
            .find(|&i| {
                &bytes[i..i + 4] == signature
                    && &bytes[i + name_at..i + name_at + name.len()] == name
            })
            .expect("the sheet's header");
        bytes[at + size_at..at + size_at + 4].copy_from_slice(&declared);
    }
    bytes
}

fn xlsx_truncated() -> Vec<u8> {
    let mut bytes = xlsx(&sheet(None, &header_and_line()));
    bytes.truncate(bytes.len() / 2);
    bytes
}

// ---------------------------------------------------------------------------------------------
// CSV.

/// 25 MB of `x;` on one line: no header, 12.5 million cells.
fn csv_separators_without_header() -> Vec<u8> {
    "x;".repeat(12_500_000).into_bytes()
}

/// A header naming the three required columns and a million unknown ones, then 2,000 lines.
fn csv_million_unknown_columns() -> Vec<u8> {
    let mut out = String::from("cip13;date_stock;stock");
    for i in 0..1_000_000 {
        out.push_str(";c");
        out.push_str(&i.to_string());
    }
    out.push('\n');
    for _ in 0..2_000 {
        out.push_str("3400949497294;2026-11-20;10\n");
    }
    out.into_bytes()
}

/// 50 MB on one line, without separator or line end.
fn csv_single_line_of_50_mb() -> Vec<u8> {
    vec![b'x'; 50_000_000]
}

/// A valid header, then a line of 25 MB of separators between two valid lines.
fn csv_separators_below_a_header() -> Vec<u8> {
    let mut out = b"cip13;date_stock;stock\n3400949497294;2026-11-20;10\n".to_vec();
    out.extend("x;".repeat(12_500_000).into_bytes());
    out.extend(b"\n3400936963504;2026-11-20;10\n");
    out
}

/// A valid header, then a line with one extra value of 25 MB.
fn csv_value_of_25_mb_below_a_header() -> Vec<u8> {
    let mut out = b"cip13;date_stock;stock\n3400949497294;2026-11-20;10;".to_vec();
    out.extend(vec![b'x'; 25_000_000]);
    out.push(b'\n');
    out
}

fn csv_nul_bytes() -> Vec<u8> {
    b"cip13;date_stock;stock\n3400949497294;2026-11-20;1\0\0\0\n".to_vec()
}

/// The same valid line 20,000 times.
/// 2 MB of one-letter lines under a valid header: every line wrong in every column.
fn csv_every_line_an_error() -> Vec<u8> {
    let mut csv = b"cip13;date_stock;stock;sorties;site\n".to_vec();
    for _ in 0..1_000_000 {
        csv.extend_from_slice(b"x\n");
    }
    csv
}

fn csv_every_line_a_duplicate() -> Vec<u8> {
    let mut out = String::from("cip13;date_stock;stock\n");
    for _ in 0..20_000 {
        out.push_str("3400949497294;2026-11-20;10\n");
    }
    out.into_bytes()
}

const QUANTITIES: &str = "cip13;date_stock;stock;sorties;stock_bloque;appro_quantite;appro_date\n\
    3400949497294;2026-11-20;99999999999999999999;0;0;;\n\
    3400936963504;2026-11-20;-5;0;0;;\n\
    3400949497706;2026-11-20;10;-99999999999999999999;0;;\n\
    3400949497294;2026-11-19;10;0;1000000000001;;\n\
    3400949497294;2026-11-18;10;0;0;18446744073709551616;2026-12-01\n\
    3400949497294;2026-11-17;1 000 000 000 000;0;0;;\n";

const INJECTIONS: &str = "cip13;date_stock;stock;site;commentaire\n\
    \"=HYPERLINK(\"\"http://exemple.invalid\"\";\"\"clic\"\")\";2026-11-20;10;;\n\
    +cmd|' /C calc'!A0;2026-11-20;10;;\n\
    3400949497294;2026-11-20;10;<script>alert(1)</script>;<img src=x onerror=alert(1)>\n\
    3400936963504;2026-11-20;10;@SUM(A1);=1+1\n";

// ---------------------------------------------------------------------------------------------
// Cell references beyond Excel's grid: refused before calamine computes with them.

#[test]
fn a_row_reference_beyond_excel_is_refused_by_name() {
    let v = run(&xlsx_row_beyond_excel(), "x.xlsx");
    assert_eq!(file_codes(&v), ["reference_cellule_invalide"]);
    assert!(message(&v).contains("A99999999999"), "{}", message(&v));
}

#[test]
fn a_column_reference_beyond_excel_is_refused_by_name() {
    let v = run(&xlsx_column_beyond_excel(), "x.xlsx");
    assert_eq!(file_codes(&v), ["reference_cellule_invalide"]);
    assert!(message(&v).contains("ZZZZZZZZZZ3"), "{}", message(&v));
}

#[test]
fn a_dimension_beyond_excel_is_refused() {
    let v = run(&xlsx_dimension_beyond_excel(), "x.xlsx");
    assert_eq!(file_codes(&v), ["reference_cellule_invalide"]);
}

#[test]
fn a_reversed_dimension_is_refused() {
    let v = run(&xlsx(&sheet(Some("C3:A1"), &header_and_line())), "x.xlsx");
    assert_eq!(file_codes(&v), ["reference_cellule_invalide"]);
    assert!(message(&v).contains("C3:A1"), "{}", message(&v));
}

#[test]
fn a_row_number_beyond_excel_is_refused() {
    let rows = header_and_line() + r#"<row r="99999999999"><c><v>1</v></c></row>"#;
    let v = run(&xlsx(&sheet(None, &rows)), "x.xlsx");
    assert_eq!(file_codes(&v), ["reference_cellule_invalide"]);
}

#[test]
fn a_cell_numbered_past_the_last_row_is_refused() {
    // Cells without a reference follow the previous one: here, row 1,048,577.
    let rows = header_and_line()
        + &row("1048576", &[number("A1048576", "1")])
        + "<row><c><v>1</v></c></row>";
    let v = run(&xlsx(&sheet(None, &rows)), "x.xlsx");
    assert_eq!(file_codes(&v), ["reference_cellule_invalide"]);
    assert!(message(&v).contains("A1048577"), "{}", message(&v));
}

#[test]
fn references_inside_excel_are_read() {
    let rows = header_and_line()
        + &row(
            "3",
            &[
                number("A3", "3400936963504"),
                text("B3", "2026-11-20"),
                number("C3", "5"),
            ],
        );
    let v = run(&xlsx(&sheet(Some("A1:C3"), &rows)), "x.xlsx");
    assert_eq!(v.report.status, Status::Accepted, "{:#?}", v.report);
    assert_eq!(v.report.lines.total, 2);
}

// ---------------------------------------------------------------------------------------------
// Far cells: the cost follows the cells present, not the rectangle they span.

#[test]
fn two_corner_cells_cost_two_cells() {
    let v = run(&xlsx_corner_cells(), "x.xlsx");
    assert_eq!(file_codes(&v), ["entete_absente"]);
}

#[test]
fn a_far_cell_below_a_header_is_a_line_with_too_many_columns() {
    let v = run(&xlsx_far_cell_below_a_header(), "x.xlsx");
    assert_eq!(v.report.lines.total, 2);
    assert!(
        line_codes(&v).contains(&(1_048_576, "colonnes_en_trop")),
        "{:?}",
        line_codes(&v)
    );
    assert_eq!(file_codes(&v), ["taux_erreur_excessif"]);
}

#[test]
fn a_cell_in_zz200000_is_read_without_a_dense_range() {
    let v = run(&xlsx_cell_in_zz200000(), "x.xlsx");
    assert!(line_codes(&v).contains(&(200_000, "colonnes_en_trop")));
}

// ---------------------------------------------------------------------------------------------
// Archives.

#[test]
fn a_zip_bomb_is_refused_for_its_compression_ratio() {
    let bytes = xlsx_zip_bomb();
    assert!(bytes.len() < 100_000, "{} bytes", bytes.len());
    let v = run(&bytes, "bombe.xlsx");
    assert_eq!(file_codes(&v), ["archive_suspecte"]);
    assert!(message(&v).contains("compression"), "{}", message(&v));
}

#[test]
fn a_zip_bomb_spread_over_small_parts_is_refused() {
    let v = run(&xlsx_zip_bomb_in_small_parts(), "bombe.xlsx");
    assert_eq!(file_codes(&v), ["archive_suspecte"]);
}

#[test]
fn a_part_larger_than_the_archive_says_is_read_no_further() {
    let v = run(&xlsx_with_a_lying_size(), "x.xlsx");
    assert_eq!(file_codes(&v), ["classeur_illisible"]);
    assert!(
        message(&v).contains("declared uncompressed size"),
        "{}",
        message(&v)
    );
}

#[test]
fn a_truncated_workbook_is_unreadable() {
    let v = run(&xlsx_truncated(), "x.xlsx");
    assert_eq!(file_codes(&v), ["classeur_illisible"]);
}

#[test]
fn rows_out_of_order_are_unreadable() {
    let rows = row(
        "1",
        &[
            text("A1", "cip13"),
            text("B1", "date_stock"),
            text("C1", "stock"),
        ],
    ) + &row(
        "3",
        &[
            number("A3", "3400949497294"),
            text("B3", "2026-11-20"),
            number("C3", "1"),
        ],
    ) + &row(
        "2",
        &[
            number("A2", "3400949497294"),
            text("B2", "2026-11-19"),
            number("C2", "1"),
        ],
    );
    let v = run(&xlsx(&sheet(None, &rows)), "x.xlsx");
    assert_eq!(file_codes(&v), ["classeur_illisible"]);
}

// ---------------------------------------------------------------------------------------------
// CSV whose cost could explode.

#[test]
fn megabytes_of_separators_are_refused_before_they_are_tokenised() {
    let v = run(&csv_separators_without_header(), "x.csv");
    assert_eq!(file_codes(&v), ["trop_de_colonnes"]);
    assert_eq!(
        message(&v),
        "la ligne 1 compte 12500001 valeurs, au-delà de la limite de 100000 : ce n'est pas une \
         déclaration, ou le séparateur « ; » ne convient pas"
    );
    let v = run(&csv_separators_below_a_header(), "x.csv");
    assert_eq!(file_codes(&v), ["trop_de_colonnes"]);
    assert!(message(&v).starts_with("la ligne 3 compte 12500001 valeurs"));
}

#[test]
fn a_line_may_have_as_many_values_as_the_bound_and_no_more() {
    let limits = Limits {
        max_line_values: 5,
        max_error_rate: 1.0,
        ..Limits::default()
    };
    let csv = |extra: &str| format!("cip13;date_stock;stock\n3400949497294;2026-11-20;10{extra}\n");
    // Empty values at the end of a line are values too, but no error.
    let v = run_with(csv(";;").as_bytes(), "x.csv", &limits);
    assert_eq!(v.report.status, Status::Accepted);
    let v = run_with(csv(";;;").as_bytes(), "x.csv", &limits);
    assert_eq!(file_codes(&v), ["trop_de_colonnes"]);
    // Quoted separators are not.
    let v = run_with(csv(";\";;;;;\"").as_bytes(), "x.csv", &limits);
    assert_eq!(line_codes(&v), [(2, "colonnes_en_trop")]);
}

#[test]
fn a_million_unknown_columns_are_too_many() {
    let v = run(&csv_million_unknown_columns(), "x.csv");
    assert_eq!(file_codes(&v), ["trop_de_colonnes"]);
    assert!(message(&v).contains("1000003"), "{}", message(&v));
    assert!(v.report.warnings.is_empty());
}

#[test]
fn a_single_line_of_50_mb_has_no_header() {
    let v = run(&csv_single_line_of_50_mb(), "x.csv");
    assert_eq!(file_codes(&v), ["entete_absente"]);
}

#[test]
fn a_value_of_25_mb_is_reported_short() {
    let v = run(&csv_value_of_25_mb_below_a_header(), "x.csv");
    let error = &v.report.errors[0];
    assert_eq!((error.line, error.code.as_str()), (2, "colonnes_en_trop"));
    assert_eq!(error.value, format!("{}…", "x".repeat(200)));
    let csv = errors_csv(&v.report);
    assert!(csv.len() < 1_000, "{} bytes", csv.len());
}

#[test]
fn nul_bytes_are_binary_content() {
    let v = run(&csv_nul_bytes(), "x.csv");
    assert_eq!(file_codes(&v), ["format_inconnu"]);
}

#[test]
fn every_line_a_duplicate_leaves_one_line() {
    let v = run(&csv_every_line_a_duplicate(), "x.csv");
    assert_eq!(v.report.status, Status::Accepted);
    assert_eq!(v.lines.unwrap().height(), 1);
    // The first warnings are detailed, the others counted.
    assert_eq!(
        (v.report.warnings.len(), v.report.warnings_omitted),
        (10_000, 9_999)
    );
    assert!(
        v.report
            .warnings
            .iter()
            .all(|w| w.code.as_str() == "doublon_identique")
    );
}

#[test]
fn huge_negative_and_overflowing_quantities_are_refused_one_by_one() {
    let limits = Limits {
        max_error_rate: 1.0,
        ..Limits::default()
    };
    let v = run_with(QUANTITIES.as_bytes(), "x.csv", &limits);
    assert_eq!(
        line_codes(&v),
        [
            (2, "nombre_trop_grand"),
            (3, "nombre_negatif"),
            (4, "nombre_negatif"),
            (5, "nombre_trop_grand"),
            (6, "nombre_trop_grand"),
        ]
    );
    assert_eq!(v.report.lines.accepted, 1, "10¹² itself is plausible");
}

#[test]
fn formulas_and_html_stay_inert_text() {
    let limits = Limits {
        max_error_rate: 1.0,
        ..Limits::default()
    };
    let v = run_with(INJECTIONS.as_bytes(), "x.csv", &limits);
    assert_eq!(line_codes(&v), [(2, "cip_format"), (3, "cip_format")]);
    assert_eq!(v.report.lines.accepted, 2);
    let csv = errors_csv(&v.report);
    assert!(csv.contains("'=HYPERLINK("), "{csv}");
    assert!(csv.contains("'+cmd"), "{csv}");
    let lines = v.lines.unwrap();
    let sites: Vec<_> = lines
        .column("site")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(sites, [Some("<script>alert(1)</script>"), Some("@SUM(A1)")]);
}

#[test]
fn a_wide_header_of_unknown_columns_is_no_header() {
    let mut header = String::from("c0");
    for i in 1..50_000 {
        header.push_str(";c");
        header.push_str(&i.to_string());
    }
    header.push_str("\n1;2;3\n");
    let v = run(header.as_bytes(), "x.csv");
    assert_eq!(file_codes(&v), ["entete_absente"]);
}

#[test]
fn the_header_may_be_as_wide_as_the_bound_and_no_wider() {
    let limits = Limits {
        max_columns: 10,
        ..Limits::default()
    };
    let header = |width: usize| {
        let mut h = String::from("cip13;date_stock;stock");
        for i in 3..width {
            h.push_str(&format!(";autre{i}"));
        }
        // Trailing separators, as spreadsheets export them, do not count.
        format!(
            "{h};;;;;\n3400949497294;2026-11-20;10{}\n",
            ";".repeat(width - 3)
        )
    };
    let v = run_with(header(10).as_bytes(), "x.csv", &limits);
    assert_eq!(v.report.status, Status::Accepted, "{:#?}", v.report);
    let v = run_with(header(11).as_bytes(), "x.csv", &limits);
    assert_eq!(file_codes(&v), ["trop_de_colonnes"]);
    assert_eq!(
        message(&v),
        "l'en-tête (ligne 1) compte 11 colonnes, au-delà de la limite de 10 : un séparateur \
         mal choisi, ou des colonnes vides à supprimer ?"
    );
}

#[test]
fn unknown_columns_get_twenty_warnings_and_one_for_the_rest() {
    let mut csv = String::from("cip13;date_stock;stock");
    for i in 0..100 {
        csv.push_str(&format!(";lot{i}"));
    }
    csv.push_str("\n3400949497294;2026-11-20;10");
    csv.push_str(&";".repeat(100));
    csv.push('\n');
    let v = run(csv.as_bytes(), "x.csv");
    assert_eq!(v.report.status, Status::Accepted);
    let w = &v.report.warnings;
    assert_eq!(w.len(), 21);
    assert!(w.iter().all(|w| w.code.as_str() == "colonne_inconnue"));
    assert_eq!(
        (w[0].column.as_str(), w[19].column.as_str()),
        ("lot0", "lot19")
    );
    assert_eq!(
        w[20].message,
        "et 80 autre(s) colonne(s) inconnue(s) : ignorée(s)"
    );
}

#[test]
fn a_header_cell_of_megabytes_is_reported_short() {
    let mut csv = b"cip13;date_stock;stock;".to_vec();
    csv.extend(vec![b'y'; 5_000_000]);
    csv.extend(b"\n3400949497294;2026-11-20;10;\n");
    let v = run(&csv, "x.csv");
    assert_eq!(v.report.status, Status::Accepted);
    let w = &v.report.warnings[0];
    assert_eq!(w.column.chars().count(), 201);
    assert!(w.message.chars().count() < 300);
}

#[test]
fn a_sheet_wider_than_the_bound_is_refused() {
    let rows = row(
        "1",
        &[
            text("A1", "cip13"),
            text("B1", "date_stock"),
            text("C1", "stock"),
            text("XFD1", "tout au bout"),
        ],
    ) + &row("2", &[number("A2", "3400949497294")]);
    let v = run(&xlsx(&sheet(None, &rows)), "x.xlsx");
    assert_eq!(file_codes(&v), ["trop_de_colonnes"]);
    assert!(message(&v).contains("16384 colonnes"), "{}", message(&v));
}

/// 1.9 KB whose shared strings announce ten thousand billion texts: calamine reserved that
/// much memory, and the allocation failure aborted the process.
fn xlsx_announcing_ten_thousand_billion_strings() -> Vec<u8> {
    let sst = br#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="10000000000000"><si><t>cip13</t></si></sst>"#;
    xlsx_with(
        &sheet(None, &header_and_line()),
        &[("xl/sharedStrings.xml".to_owned(), sst.to_vec())],
    )
}

#[test]
fn shared_strings_announcing_terabytes_are_refused_before_calamine_reserves_them() {
    let v = run(&xlsx_announcing_ten_thousand_billion_strings(), "x.xlsx");
    assert_eq!(file_codes(&v), ["trop_de_cellules"]);
    assert!(message(&v).contains("10000000000000"), "{}", message(&v));
}

#[test]
fn the_size_bound_holds_for_the_decoded_text_too() {
    // Windows-1252 0x80 is "€", three bytes once decoded: 400 bytes become 1,200.
    let limits = Limits {
        max_file_bytes: 1_000,
        ..Limits::default()
    };
    let mut bytes = b"cip13;date_stock;stock;commentaire\n3400949497294;2026-11-20;1;".to_vec();
    bytes.extend(vec![0x80; 400]);
    bytes.push(b'\n');
    assert!(bytes.len() < 1_000);
    let v = run_with(&bytes, "x.csv", &limits);
    assert_eq!(file_codes(&v), ["fichier_trop_volumineux"]);
    assert!(message(&v).contains("une fois décodé"), "{}", message(&v));
}

#[test]
fn a_file_whose_every_line_is_wrong_details_the_first_errors_and_counts_the_rest() {
    use medistock_analytics::declaration::validate::MAX_ISSUES_KEPT;
    let v = run(&csv_every_line_an_error(), "x.csv");
    let r = &v.report;
    assert_eq!(file_codes(&v), ["taux_erreur_excessif"]);
    assert_eq!((r.lines.total, r.lines.rejected), (1_000_000, 1_000_000));
    assert_eq!(r.errors.len(), MAX_ISSUES_KEPT);
    // Each line: too few columns, then cip13, date_stock and stock missing.
    assert_eq!(r.errors.len() + r.errors_omitted, 4_000_000);
    assert_eq!(
        r.errors[0].line, 2,
        "the first errors are the ones detailed"
    );
    let receipt = medistock_analytics::declaration::receipt::receipt_text(r, chrono::Utc::now());
    assert!(
        receipt.contains("Erreurs (4000000 au total, les 20 premiers)")
            && receipt.contains("3990000 autre(s) ne le sont pas"),
        "{receipt}"
    );
    assert_eq!(errors_csv(r).lines().count(), MAX_ISSUES_KEPT + 1);
}

#[test]
fn a_file_may_have_as_many_lines_as_the_bound_and_no_more() {
    let limits = Limits {
        max_rows: 10,
        ..Limits::default()
    };
    let file = |rows: usize| {
        let mut csv = String::from("cip13;date_stock;stock\n");
        for _ in 0..rows {
            csv.push_str("3400949497294;2026-11-20;10\n");
        }
        csv
    };
    let v = run_with(file(10).as_bytes(), "x.csv", &limits);
    assert_eq!(v.report.lines.total, 10);
    let v = run_with(file(11).as_bytes(), "x.csv", &limits);
    assert_eq!(file_codes(&v), ["trop_de_lignes"]);
    assert_eq!(v.report.lines.total, 0, "refused before any line is read");
}

/// A file of distinct references, one line each: as many as the bound are accepted, one more
/// rejects the file (each would be a position stored and assessed every day), whichever the
/// bound, the default's included. Lines refused by their own checks do not count (a line of a
/// conflicting duplicate, valid on its own, does).
#[test]
fn a_file_may_name_as_many_references_as_the_bound_and_no_more() {
    // A CIP7 is read as 34009 + CIP7 + its check digit: `n` distinct valid references.
    let file = |references: usize, invalid: usize| {
        let mut csv = String::from("cip13;date_stock;stock\n");
        for n in 0..references {
            csv.push_str(&format!("{:07};2026-11-20;10\n", 3_000_000 + n));
        }
        for n in 0..invalid {
            csv.push_str(&format!("{:07};2026-11-20;-1\n", 4_000_000 + n));
        }
        csv
    };
    let small = Limits {
        max_references: 3,
        ..Limits::default()
    };
    let v = run_with(file(3, 0).as_bytes(), "x.csv", &small);
    assert_eq!(
        v.report.status,
        Status::Accepted,
        "{:?}",
        v.report.file_errors
    );
    // Two more lines in error (under the error rate's bound) name no reference that counts.
    let v = run_with(
        file(30, 2).as_bytes(),
        "x.csv",
        &Limits {
            max_references: 30,
            ..small.clone()
        },
    );
    assert_eq!(v.report.status, Status::AcceptedWithErrors);
    let v = run_with(file(4, 0).as_bytes(), "x.csv", &small);
    assert_eq!(file_codes(&v), ["trop_de_references"]);
    assert!(
        v.report.file_errors[0]
            .message
            .starts_with("4 références (CIP13) distinctes, au-delà de 3"),
        "{}",
        v.report.file_errors[0].message
    );
    let default = Limits::default();
    assert_eq!(default.max_references, 50_000);
    let v = run_with(file(50_000, 0).as_bytes(), "x.csv", &default);
    assert_eq!(v.report.status, Status::Accepted);
    let v = run_with(file(50_001, 0).as_bytes(), "x.csv", &default);
    assert_eq!(file_codes(&v), ["trop_de_references"]);
}

// ---------------------------------------------------------------------------------------------

/// A file of the corpus: its name and how to build its bytes.
type Hostile = (&'static str, fn() -> Vec<u8>);

/// The corpus, as files: what `write_the_corpus_to_a_folder` writes.
const CORPUS: &[Hostile] = &[
    ("csv_toutes_lignes_en_erreur.csv", csv_every_line_an_error),
    (
        "xlsx_textes_partages_annonces.xlsx",
        xlsx_announcing_ten_thousand_billion_strings,
    ),
    ("xlsx_ligne_hors_grille.xlsx", xlsx_row_beyond_excel),
    ("xlsx_colonne_hors_grille.xlsx", xlsx_column_beyond_excel),
    (
        "xlsx_dimension_hors_grille.xlsx",
        xlsx_dimension_beyond_excel,
    ),
    ("xlsx_coins_a1_xfd1048576.xlsx", xlsx_corner_cells),
    (
        "xlsx_entete_et_xfd1048576.xlsx",
        xlsx_far_cell_below_a_header,
    ),
    ("xlsx_entete_et_zz200000.xlsx", xlsx_cell_in_zz200000),
    ("xlsx_bombe.xlsx", xlsx_zip_bomb),
    (
        "xlsx_bombe_petites_parties.xlsx",
        xlsx_zip_bomb_in_small_parts,
    ),
    ("xlsx_taille_mensongere.xlsx", xlsx_with_a_lying_size),
    ("xlsx_tronque.xlsx", xlsx_truncated),
    ("csv_25mo_separateurs.csv", csv_separators_without_header),
    ("csv_million_colonnes.csv", csv_million_unknown_columns),
    ("csv_ligne_50mo.csv", csv_single_line_of_50_mb),
    (
        "csv_separateurs_sous_entete.csv",
        csv_separators_below_a_header,
    ),
    (
        "csv_valeur_25mo_sous_entete.csv",
        csv_value_of_25_mb_below_a_header,
    ),
    ("csv_octets_nuls.csv", csv_nul_bytes),
    ("csv_doublons.csv", csv_every_line_a_duplicate),
    ("csv_quantites.csv", || QUANTITIES.as_bytes().to_vec()),
    ("csv_formules_html.csv", || INJECTIONS.as_bytes().to_vec()),
];

/// Writes the corpus to `$MEDISTOCK_HOSTILE_DIR` (by default `medistock-hostile` in the
/// temporary folder), to time `medistock validate` on each file.
#[test]
#[ignore = "writes about 200 MB; run it to measure the command"]
fn write_the_corpus_to_a_folder() {
    let dir = std::env::var_os("MEDISTOCK_HOSTILE_DIR").map_or_else(
        || std::env::temp_dir().join("medistock-hostile"),
        Into::into,
    );
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in CORPUS {
        std::fs::write(dir.join(name), bytes()).unwrap();
    }
}
