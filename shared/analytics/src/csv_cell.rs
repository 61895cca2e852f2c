//! Writing CSV cells that are safe to open in a spreadsheet: every CSV Medistock writes goes
//! through [`csv_line`], so that a value coming from a declarant's file can never run as a
//! formula (`=`, `+`, `-`, `@`, tab or carriage return at the start of a cell) nor break the
//! columns.

/// A cell neutralised against formula injection: a leading `'` makes spreadsheets read it as
/// text (OWASP's recommendation).
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{cell}")),
        _ => std::borrow::Cow::Borrowed(cell),
    }
}

/// One `;`-separated line (with CRLF, as French spreadsheets expect), each cell neutralised and
/// quoted when it holds a separator, a quote or a line break.
pub fn csv_line<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = String::new();
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push(';');
        }
        let cell = neutralise(cell);
        if cell.contains([';', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&cell.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&cell);
        }
    }
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(neutralise("-5"), "'-5");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("+33"), "'+33");
        assert_eq!(neutralise("34009"), "34009");
    }

    #[test]
    fn separators_and_quotes_are_quoted() {
        assert_eq!(
            csv_line(["a;b", "say \"hi\"", "x"]),
            "\"a;b\";\"say \"\"hi\"\"\";x\r\n"
        );
        assert_eq!(csv_line(["=1;2"]), "\"'=1;2\"\r\n");
    }
}
