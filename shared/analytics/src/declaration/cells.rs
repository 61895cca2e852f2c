//! Parsing one cell: quantities as ERPs and Excel print them, and dates in the two forms of the
//! format. One function per kind of value, so that CSV and XLSX agree to the character.

use chrono::{Datelike, NaiveDate};

use super::issues::LineCode;

/// Parses a whole number of units: `1234`, `1 234` (space, no-break or narrow no-break space),
/// `1234,0` or `1234.00` (whole decimals), `+12`. Never reads `,` or `.` as a thousands
/// separator: `1.234` is refused as not whole rather than silently read as 1234.
pub fn parse_quantity(text: &str, max: i64) -> Result<i64, LineCode> {
    let bytes = text.as_bytes();
    let (negative, mut i) = match bytes.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut seen_digit = false;
    let mut value: i64 = 0;
    let mut in_fraction = false;
    let mut fraction_nonzero = false;
    let mut too_big = false;
    while i < bytes.len() {
        let in_integer_part = seen_digit && !in_fraction;
        match bytes[i] {
            d @ b'0'..=b'9' => {
                seen_digit = true;
                let digit = i64::from(d - b'0');
                if in_fraction {
                    fraction_nonzero |= digit != 0;
                } else {
                    match value.checked_mul(10).and_then(|v| v.checked_add(digit)) {
                        Some(v) => value = v,
                        None => too_big = true,
                    }
                }
            }
            b' ' if in_integer_part => {}
            b',' | b'.' if in_integer_part => in_fraction = true,
            // U+00A0 no-break space, U+202F narrow no-break space, in UTF-8.
            0xC2 if in_integer_part && bytes.get(i + 1) == Some(&0xA0) => i += 1,
            0xE2 if in_integer_part && bytes.get(i + 1..i + 3) == Some(&[0x80, 0xAF]) => i += 2,
            _ => return Err(LineCode::NombreInvalide),
        }
        i += 1;
    }
    if !seen_digit {
        return Err(LineCode::NombreInvalide);
    }
    if negative && (value != 0 || fraction_nonzero) {
        return Err(LineCode::NombreNegatif);
    }
    if fraction_nonzero {
        return Err(LineCode::NombreNonEntier);
    }
    if too_big || value > max {
        return Err(LineCode::NombreTropGrand);
    }
    Ok(value)
}

/// Parses `YYYY-MM-DD` or `DD/MM/YYYY` (day and month may have one digit). A time part after
/// the date (`2026-11-20 00:00:00`, `2026-11-20T00:00:00`) is tolerated, since spreadsheets add
/// it to dates typed as text.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let date_part = text.split([' ', 'T']).next().unwrap_or(text);
    let (year, month, day) = if let Some((d, rest)) = date_part.split_once('/') {
        let (m, y) = rest.split_once('/')?;
        (y, m, d)
    } else {
        let mut parts = date_part.splitn(3, '-');
        (parts.next()?, parts.next()?, parts.next()?)
    };
    let valid_lengths =
        year.len() == 4 && (1..=2).contains(&month.len()) && (1..=2).contains(&day.len());
    if !valid_lengths
        || ![year, month, day]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
}

/// Converts an Excel serial day number (1900 date system, as Excel on Windows writes) to a date.
/// Serial 60 is Excel's phantom 29 February 1900; serials before 1 March 1900 are refused.
pub fn excel_serial_to_date(serial: f64) -> Option<NaiveDate> {
    if !serial.is_finite() || !(61.0..=2_958_465.0).contains(&serial) {
        return None;
    }
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?;
    base.checked_add_days(chrono::Days::new(serial.trunc() as u64))
}

/// Days since 1970-01-01, the physical form of a polars `Date`.
pub fn epoch_days(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

/// `NaiveDate::from_ymd(1970, 1, 1).num_days_from_ce()`.
pub const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The date of a polars `Date` physical value.
pub fn date_from_epoch_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(EPOCH_DAYS_FROM_CE)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: i64 = 1_000_000_000_000;

    #[test]
    fn quantities_in_every_accepted_form() {
        for (text, expected) in [
            ("0", 0),
            ("1234", 1234),
            ("1 234", 1234),
            ("1\u{a0}234", 1234),
            ("1\u{202f}234\u{202f}567", 1_234_567),
            ("12,0", 12),
            ("12.00", 12),
            ("+7", 7),
            ("-0", 0),
        ] {
            assert_eq!(parse_quantity(text, MAX), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn quantity_errors_have_precise_codes() {
        assert_eq!(parse_quantity("-5", MAX), Err(LineCode::NombreNegatif));
        assert_eq!(parse_quantity("12,5", MAX), Err(LineCode::NombreNonEntier));
        assert_eq!(parse_quantity("1.234", MAX), Err(LineCode::NombreNonEntier));
        assert_eq!(
            parse_quantity("1 2,3,4", MAX),
            Err(LineCode::NombreInvalide)
        );
        assert_eq!(parse_quantity("douze", MAX), Err(LineCode::NombreInvalide));
        assert_eq!(parse_quantity("", MAX), Err(LineCode::NombreInvalide));
        assert_eq!(parse_quantity(",5", MAX), Err(LineCode::NombreInvalide));
        assert_eq!(parse_quantity("1e5", MAX), Err(LineCode::NombreInvalide));
        assert_eq!(
            parse_quantity("99999999999999999999999", MAX),
            Err(LineCode::NombreTropGrand)
        );
        assert_eq!(
            parse_quantity("1000000000001", MAX),
            Err(LineCode::NombreTropGrand)
        );
    }

    #[test]
    fn dates_in_both_forms() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        assert_eq!(parse_date("2026-03-09"), Some(d));
        assert_eq!(parse_date("09/03/2026"), Some(d));
        assert_eq!(parse_date("9/3/2026"), Some(d));
        assert_eq!(parse_date("2026-03-09 00:00:00"), Some(d));
        assert_eq!(parse_date("2026-03-09T00:00:00"), Some(d));
    }

    #[test]
    fn impossible_or_ambiguous_dates_are_refused() {
        for text in [
            "2026-02-30",
            "31/04/2026",
            "03/09/26",
            "2026/03/09",
            "20260309",
            "",
            "hier",
            "2026-3",
        ] {
            assert_eq!(parse_date(text), None, "{text:?}");
        }
    }

    #[test]
    fn excel_serials_become_dates() {
        assert_eq!(
            excel_serial_to_date(46000.0),
            NaiveDate::from_ymd_opt(2025, 12, 9)
        );
        assert_eq!(
            excel_serial_to_date(61.0),
            NaiveDate::from_ymd_opt(1900, 3, 1)
        );
        assert_eq!(excel_serial_to_date(-3.0), None);
        assert_eq!(excel_serial_to_date(f64::NAN), None);
    }

    #[test]
    fn epoch_days_round_trip() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(epoch_days(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()), 0);
        assert_eq!(date_from_epoch_days(epoch_days(d)), Some(d));
    }
}
