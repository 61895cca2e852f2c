//! Dates and numbers as French readers write them, once for every receipt, alert, report and
//! command output: `23/11/2026`, `12 345,6` (a narrow no-break space between thousands, a
//! decimal comma).

use chrono::Datelike;

/// A date as `jj/mm/aaaa`.
pub fn date(d: impl Datelike) -> String {
    format!("{:02}/{:02}/{}", d.day(), d.month(), d.year())
}

/// An instant as `jj/mm/aaaa à hh:mm:ss UTC` (receipts and reports say when a file arrived).
pub fn instant(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%d/%m/%Y à %H:%M:%S UTC").to_string()
}

/// A number with `decimals` decimals, in French notation.
pub fn number(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped},{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A whole number with narrow no-break spaces between thousands.
pub fn thousands(value: f64) -> String {
    number(value, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_numbers_read_the_french_way() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
        assert_eq!(date(d), "05/03/2026");
        let t: chrono::DateTime<chrono::Utc> = "2026-11-23T08:31:13Z".parse().unwrap();
        assert_eq!(date(t), "23/11/2026");
        assert_eq!(instant(t), "23/11/2026 à 08:31:13 UTC");
        assert_eq!(number(12345.65, 1), "12\u{202f}345,6");
        assert_eq!(thousands(-1_234_567.0), "-1\u{202f}234\u{202f}567");
        assert_eq!(thousands(999.0), "999");
    }
}
