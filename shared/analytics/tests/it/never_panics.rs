//! Whatever the bytes, the validator returns a verdict: no panic, no internal error, and counts
//! that add up. Arbitrary bytes, valid files mutated byte by byte, and workbooks whose cells,
//! rows and dimension name arbitrary references.

use std::io::Write;

use chrono::NaiveDate;
use medistock_analytics::declaration::{Limits, Status, ValidationContext, validate};
use proptest::prelude::*;

const VALID: &str = "cip13;date_stock;stock;sorties;periode_jours;appro_quantite;appro_date;site\n\
                     3400949497294;2026-11-20;1 200;350;7;500;2026-12-01;Lyon\n\
                     4949770;20/11/2026;80,0;12;7;;;Lille\n\
                     3400936963504;2026-11-19;0;0;14;;;\"Dépôt; Nord\"\n";

fn check(bytes: &[u8]) {
    let limits = Limits::default();
    let ctx = ValidationContext {
        declarant: None,
        today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        limits: &limits,
        catalogue: None,
    };
    let v = validate(bytes, "f.csv", &ctx).expect("a verdict, never an internal error");
    let r = &v.report;
    assert_eq!(r.lines.accepted + r.lines.rejected, r.lines.total);
    assert_eq!(r.status == Status::Rejected, !r.file_errors.is_empty());
    assert_eq!(v.lines.is_some(), r.status != Status::Rejected);
    if let Some(lines) = &v.lines {
        assert!(lines.height() <= r.lines.accepted);
    }
    for e in &r.errors {
        assert!(e.code.is_error() && !e.message.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_get_a_verdict(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_text_with_a_valid_header_gets_a_verdict(body in "[0-9;,\\t\"\\r\\n /.\\-a-zé]{0,400}") {
        check(format!("cip13;date_stock;stock\n{body}").as_bytes());
    }

    #[test]
    fn mutated_valid_files_get_a_verdict(
        edits in proptest::collection::vec((0usize..VALID.len(), any::<u8>()), 1..8),
        cut in 0usize..=VALID.len(),
    ) {
        let mut bytes = VALID.as_bytes().to_vec();
        for (at, byte) in edits {
            bytes[at] = byte;
        }
        bytes.truncate(cut.max(1));
        check(&bytes);
    }

    #[test]
    fn arbitrary_bytes_behind_a_zip_header_get_a_verdict(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let mut data = b"PK\x03\x04".to_vec();
        data.extend(bytes);
        check(&data);
    }
}

/// A workbook of one sheet, written by hand: the sheet's XML is whatever the test says.
fn workbook(sheet_xml: &str) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    let opts = zip::write::SimpleFileOptions::default();
    let parts = [
        (
            "_rels/.rels",
            r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        ),
        (
            "xl/workbook.xml",
            r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="declaration" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        ),
        ("xl/worksheets/sheet1.xml", sheet_xml),
    ];
    for (name, text) in parts {
        zip.start_file(name, opts).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    buf.into_inner()
}

/// References as a hostile sheet writes them: letters then digits, often too many of either.
fn reference() -> impl Strategy<Value = String> {
    "[A-Za-z]{0,12}[0-9]{0,14}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn workbooks_with_arbitrary_references_get_a_verdict(
        dimension in proptest::option::of((reference(), proptest::option::of(reference()))),
        rows in proptest::collection::vec(
            (proptest::option::of(reference()), proptest::collection::vec(proptest::option::of(reference()), 0..4)),
            0..5,
        ),
    ) {
        let dimension = match dimension {
            Some((start, Some(end))) => format!(r#"<dimension ref="{start}:{end}"/>"#),
            Some((start, None)) => format!(r#"<dimension ref="{start}"/>"#),
            None => String::new(),
        };
        let mut data = String::from(
            r#"<row r="1"><c r="A1" t="inlineStr"><is><t>cip13</t></is></c><c r="B1" t="inlineStr"><is><t>date_stock</t></is></c><c r="C1" t="inlineStr"><is><t>stock</t></is></c></row>"#,
        );
        for (row, cells) in rows {
            let row = row.map_or(String::new(), |r| format!(r#" r="{r}""#));
            data.push_str(&format!("<row{row}>"));
            for cell in cells {
                let cell = cell.map_or(String::new(), |r| format!(r#" r="{r}""#));
                data.push_str(&format!("<c{cell}><v>3400949497294</v></c>"));
            }
            data.push_str("</row>");
        }
        check(&workbook(&format!(
            r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{dimension}<sheetData>{data}</sheetData></worksheet>"#
        )));
    }
}

#[test]
fn the_unmutated_file_is_accepted() {
    let limits = Limits::default();
    let ctx = ValidationContext {
        declarant: None,
        today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        limits: &limits,
        catalogue: None,
    };
    let v = validate(VALID.as_bytes(), "f.csv", &ctx).unwrap();
    assert_eq!(v.report.status, Status::Accepted, "{:#?}", v.report);
}
