//! XLSX declarations, built with rust_xlsxwriter the way Excel users fill the template: the
//! sheet named `declaration` among others, header below a title, CIP13 typed as numbers, real
//! Excel dates next to dates typed as text.

use std::io::Write;

use chrono::NaiveDate;
use medistock_analytics::declaration::{
    FileCode, Limits, Status, ValidationContext, ValidationReport, validate,
};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

fn ctx(limits: &Limits) -> ValidationContext<'_> {
    ValidationContext {
        declarant: None,
        today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        limits,
        catalogue: None,
    }
}

fn file_codes(report: &ValidationReport) -> Vec<FileCode> {
    report.file_errors.iter().map(|f| f.code).collect()
}

fn template() -> Vec<u8> {
    let mut wb = Workbook::new();
    let notice = wb.add_worksheet().set_name("Notice").unwrap();
    notice
        .write_string(0, 0, "Remplir la feuille « Déclaration »")
        .unwrap();
    let sheet = wb.add_worksheet().set_name("Déclaration").unwrap();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    // Header on row 3 (rows 1-2 empty), starting in column B.
    for (i, h) in ["CIP13", "Date stock", "Stock", "Sorties", "Commentaire"]
        .iter()
        .enumerate()
    {
        sheet.write_string(2, 1 + i as u16, *h).unwrap();
    }
    sheet.write_number(3, 1, 3_400_949_497_294.0).unwrap();
    sheet
        .write_datetime_with_format(3, 2, ExcelDateTime::from_ymd(2026, 11, 20).unwrap(), &date)
        .unwrap();
    sheet.write_number(3, 3, 1500.0).unwrap();
    sheet.write_number(3, 4, 210.0).unwrap();
    sheet.write_string(4, 1, "4949770").unwrap();
    sheet.write_string(4, 2, "21/11/2026").unwrap();
    sheet.write_number(4, 3, 30.0).unwrap();
    // A date typed as a plain serial number in a date column.
    sheet.write_number(5, 1, 3_400_936_963_504.0).unwrap();
    sheet.write_number(5, 2, 46_346.0).unwrap();
    sheet.write_number(5, 3, -3.0).unwrap();
    wb.save_to_buffer().unwrap()
}

#[test]
fn the_declaration_sheet_is_read_with_sheet_row_numbers() {
    let limits = Limits {
        max_error_rate: 1.0,
        ..Limits::default()
    };
    let v = validate(&template(), "modele.xlsx", &ctx(&limits)).unwrap();
    let r = &v.report;
    assert_eq!(
        r.read_as.as_deref(),
        Some("classeur XLSX, feuille « Déclaration »")
    );
    assert_eq!(
        (r.lines.total, r.lines.accepted, r.lines.rejected),
        (3, 2, 1)
    );
    assert_eq!(r.status, Status::AcceptedWithErrors);
    let e = &r.errors[0];
    assert_eq!(
        (e.line, e.column.as_str(), e.value.as_str(), e.code.as_str()),
        (6, "stock", "-3", "nombre_negatif")
    );
    let lines = v.lines.unwrap();
    let cips: Vec<_> = lines
        .column("cip13")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|c| c.unwrap().to_owned())
        .collect();
    assert_eq!(
        cips,
        ["3400949497294", "3400949497706"],
        "a CIP13 typed as a number comes back exactly"
    );
    let days: Vec<_> = lines
        .column("date_stock")
        .unwrap()
        .date()
        .unwrap()
        .physical()
        .iter()
        .collect();
    let expected =
        |d: NaiveDate| Some((d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32);
    assert_eq!(
        days,
        [
            expected(NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()),
            expected(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap())
        ]
    );
    let lines_no: Vec<_> = lines
        .column("line")
        .unwrap()
        .u32()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(lines_no, [Some(4), Some(5)]);
}

#[test]
fn a_serial_number_in_a_date_column_is_an_excel_date() {
    let limits = Limits {
        max_error_rate: 1.0,
        ..Limits::default()
    };
    let v = validate(&template(), "modele.xlsx", &ctx(&limits)).unwrap();
    // Row 6 has serial 46346 = 2026-11-20 and fails only on its stock.
    assert_eq!(v.report.errors.len(), 1);
}

#[test]
fn a_zip_bomb_is_refused_before_inflating() {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("xl/worksheets/sheet1.xml", opts).unwrap();
        let zeros = vec![b'0'; 1 << 20];
        for _ in 0..20 {
            zip.write_all(&zeros).unwrap();
        }
        zip.finish().unwrap();
    }
    let bytes = buf.into_inner();
    assert!(
        bytes.len() < 200_000,
        "20 MB compress to {} bytes",
        bytes.len()
    );
    let limits = Limits {
        max_xlsx_uncompressed_bytes: 10 << 20,
        ..Limits::default()
    };
    let v = validate(&bytes, "bombe.xlsx", &ctx(&limits)).unwrap();
    assert_eq!(file_codes(&v.report), [FileCode::ArchiveSuspecte]);
    // With the default bounds the ratio alone (about 1000:1) betrays it, and the message says
    // so rather than blame the size.
    let v = validate(&bytes, "bombe.xlsx", &ctx(&Limits::default())).unwrap();
    assert_eq!(file_codes(&v.report), [FileCode::ArchiveSuspecte]);
    let message = &v.report.file_errors[0].message;
    assert!(
        message.contains("taux de compression anormal")
            && message.contains("xl/worksheets/sheet1.xml")
            && message.contains("limite de 200 fois"),
        "{message}"
    );
}

#[test]
fn a_sheet_larger_than_the_part_bound_is_refused_before_parsing() {
    let limits = Limits {
        max_xlsx_part_bytes: 1_000,
        ..Limits::default()
    };
    let v = validate(&template(), "modele.xlsx", &ctx(&limits)).unwrap();
    assert_eq!(file_codes(&v.report), [FileCode::ClasseurTropVolumineux]);
    let message = &v.report.file_errors[0].message;
    assert!(
        message.starts_with("la partie « ") && message.contains("limite de 0 Mo"),
        "{message}"
    );
}

#[test]
fn a_sheet_with_more_cells_than_the_bound_is_refused() {
    let limits = Limits {
        max_xlsx_cells: 14,
        ..Limits::default()
    };
    let v = validate(&template(), "modele.xlsx", &ctx(&limits)).unwrap();
    assert_eq!(file_codes(&v.report), [FileCode::TropDeCellules]);
    // The template's 15 cells are read with a bound of 15.
    let limits = Limits {
        max_xlsx_cells: 15,
        max_error_rate: 1.0,
        ..Limits::default()
    };
    let v = validate(&template(), "modele.xlsx", &ctx(&limits)).unwrap();
    assert_eq!(v.report.status, Status::AcceptedWithErrors);
}

#[test]
fn cells_beyond_the_header_are_a_line_with_too_many_columns() {
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    for (i, h) in ["cip13", "date_stock", "stock"].iter().enumerate() {
        sheet.write_string(0, i as u16, *h).unwrap();
    }
    for r in 1..=2 {
        sheet.write_number(r, 0, 3_400_949_497_294.0).unwrap();
        sheet
            .write_string(r, 1, format!("2026-11-{}", 18 + r))
            .unwrap();
        sheet.write_number(r, 2, 10.0).unwrap();
    }
    sheet.write_string(2, 4, "en trop").unwrap();
    sheet.write_string(2, 7, "aussi").unwrap();
    let limits = Limits {
        max_error_rate: 1.0,
        ..Limits::default()
    };
    let v = validate(&wb.save_to_buffer().unwrap(), "x.xlsx", &ctx(&limits)).unwrap();
    let e = &v.report.errors;
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        (e[0].line, e[0].code.as_str(), e[0].value.as_str()),
        (3, "colonnes_en_trop", "en trop;aussi")
    );
}

#[test]
fn a_workbook_without_the_required_columns_is_rejected() {
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.write_string(0, 0, "produit").unwrap();
    sheet.write_string(0, 1, "stock").unwrap();
    let v = validate(
        &wb.save_to_buffer().unwrap(),
        "x.xlsx",
        &ctx(&Limits::default()),
    )
    .unwrap();
    assert_eq!(file_codes(&v.report), [FileCode::ColonneObligatoireAbsente]);
    assert!(
        v.report.file_errors[0]
            .message
            .ends_with(": cip13, date_stock")
    );
}

/// A sheet is validated a few rows at a time, as a CSV is: the verdict and the lines do not
/// depend on the size of the pieces, even when duplicates and errors straddle them; an error of
/// the sheet found after some pieces (too many cells) rejects the whole file and nothing of
/// those pieces is reported.
#[test]
fn a_sheet_read_in_pieces_gets_the_verdict_of_a_sheet_read_whole() {
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet().set_name("declaration").unwrap();
    for (i, h) in ["cip13", "date_stock", "stock", "sorties", "site", "couleur"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, i as u16, *h).unwrap();
    }
    for r in 1..=40u32 {
        let (stock, site, date) = match r {
            // Rows 2 and 31 conflict; row 12 repeats row 3 exactly.
            1 | 30 => (
                if r == 1 { 100.0 } else { 999.0 },
                "Paris".to_owned(),
                "2026-11-20",
            ),
            2 | 11 => (100.0, "Lyon".to_owned(), "2026-11-20"),
            r if r % 9 == 4 => (1.0, format!("D{r}"), "2026-11-35"),
            r => (f64::from(r), format!("D{r}"), "2026-11-20"),
        };
        sheet.write_string(r, 0, "3400949497294").unwrap();
        sheet.write_string(r, 1, date).unwrap();
        sheet.write_number(r, 2, stock).unwrap();
        sheet.write_number(r, 3, 7.0).unwrap();
        sheet.write_string(r, 4, &site).unwrap();
    }
    let bytes = wb.save_to_buffer().unwrap();
    let limits = Limits {
        max_error_rate: 1.0,
        ..Limits::default()
    };
    let whole = validate(&bytes, "t.xlsx", &ctx(&limits)).unwrap();
    let codes: Vec<(u32, &str)> = whole
        .report
        .errors
        .iter()
        .map(|i| (i.line, i.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            (2, "doublon_conflictuel"),
            (5, "date_format"),
            (14, "date_format"),
            (23, "date_format"),
            (31, "doublon_conflictuel"),
            (32, "date_format"),
            (41, "date_format"),
        ]
    );
    let warnings: Vec<(u32, &str)> = whole
        .report
        .warnings
        .iter()
        .map(|i| (i.line, i.code.as_str()))
        .collect();
    assert_eq!(
        warnings,
        [(1, "colonne_inconnue"), (12, "doublon_identique")]
    );
    for rows in [1, 3, 16] {
        let pieces = Limits {
            xlsx_piece_rows: rows,
            ..limits.clone()
        };
        let v = validate(&bytes, "t.xlsx", &ctx(&pieces)).unwrap();
        assert_eq!(v.report, whole.report, "pieces of {rows} rows");
        assert!(
            v.lines
                .unwrap()
                .equals_missing(whole.lines.as_ref().unwrap())
        );
    }
    // 41 rows × 5 cells: the cell bound is passed after the first pieces were validated.
    let bounded = Limits {
        xlsx_piece_rows: 4,
        max_xlsx_cells: 150,
        ..limits.clone()
    };
    let v = validate(&bytes, "t.xlsx", &ctx(&bounded)).unwrap();
    assert_eq!(file_codes(&v.report), [FileCode::TropDeCellules]);
    assert!(v.report.errors.is_empty() && v.report.warnings.is_empty());
    assert_eq!(v.report.lines.total, 0);
    assert!(v.lines.is_none());
}

/// A sheet with more rows than the bound is refused with its number of rows, counted to the
/// end; a panic of the validator while it reads a sheet is the validator's, never a verdict on
/// the file.
#[test]
fn too_many_rows_are_counted_and_a_validator_panic_is_not_a_verdict() {
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet().set_name("declaration").unwrap();
    for (i, h) in ["cip13", "date_stock", "stock", "sorties"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, i as u16, *h).unwrap();
    }
    for r in 1..=25u32 {
        sheet.write_string(r, 0, "3400949497294").unwrap();
        sheet.write_string(r, 1, "2026-11-20").unwrap();
        sheet.write_number(r, 2, f64::from(r)).unwrap();
        sheet.write_number(r, 3, 7.0).unwrap();
    }
    let bytes = wb.save_to_buffer().unwrap();
    let limits = Limits {
        max_rows: 10,
        xlsx_piece_rows: 4,
        ..Limits::default()
    };
    let v = validate(&bytes, "t.xlsx", &ctx(&limits)).unwrap();
    assert_eq!(file_codes(&v.report), [FileCode::TropDeLignes]);
    assert!(
        v.report.file_errors[0].message.contains("25 lignes"),
        "{:?}",
        v.report.file_errors
    );
    let unwound = std::panic::catch_unwind(|| {
        medistock_analytics::declaration::table::read_xlsx(&bytes, &Limits::default(), |_| {
            panic!("panne du validateur")
        })
    });
    assert!(unwound.is_err(), "the panic went on unwinding");
}
