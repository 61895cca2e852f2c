//! The French calendar of the chain: public holidays, the days pharmacies open (Monday to
//! Saturday; Sundays and holidays only the pharmacies on duty), the days wholesalers deliver
//! (Monday to Saturday) and the working days on which declarations are sent (Monday to Friday).

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// Easter Sunday of `year` (anonymous Gregorian algorithm).
fn easter(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

/// French public holidays (the eleven national ones).
pub fn is_holiday(date: NaiveDate) -> bool {
    let fixed = matches!(
        (date.month(), date.day()),
        (1, 1) | (5, 1) | (5, 8) | (7, 14) | (8, 15) | (11, 1) | (11, 11) | (12, 25)
    );
    if fixed {
        return true;
    }
    let Some(easter) = easter(date.year()) else {
        return false;
    };
    [1u64, 39, 50]
        .iter()
        .any(|offset| easter.checked_add_days(Days::new(*offset)) == Some(date))
}

/// Monday to Friday, not a holiday: declarations are sent, manufacturers ship.
pub fn is_working_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(date)
}

/// Monday to Saturday, not a holiday: pharmacies open and order, depots deliver.
pub fn is_trading_day(date: NaiveDate) -> bool {
    date.weekday() != Weekday::Sun && !is_holiday(date)
}

/// Relative patient demand of the day, of mean 1 over an ordinary week: Monday's catch-up, a
/// quieter Saturday, none on Sundays and holidays (pharmacies are closed; the few on duty are
/// not modelled: their patients come the next day).
pub fn demand_factor(date: NaiveDate) -> f64 {
    // Mean of the seven weekday factors below: 6.1 / 7.
    const MEAN: f64 = 6.1 / 7.0;
    if is_holiday(date) {
        return 0.0;
    }
    let f = match date.weekday() {
        Weekday::Mon => 1.20,
        Weekday::Tue => 1.05,
        Weekday::Wed | Weekday::Thu => 1.0,
        Weekday::Fri => 1.10,
        Weekday::Sat => 0.75,
        Weekday::Sun => 0.0,
    };
    f / MEAN
}

/// Winter seasonality: 1 + `amplitude` in mid-January, 1 − `amplitude` in mid-July.
pub fn winter_factor(date: NaiveDate, amplitude: f64) -> f64 {
    let phase = f64::from(date.ordinal0()) - 14.0;
    1.0 + amplitude * (std::f64::consts::TAU * phase / 365.25).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn french_holidays() {
        assert_eq!(easter(2026), Some(d(2026, 4, 5)));
        assert!(is_holiday(d(2026, 4, 6))); // Easter Monday
        assert!(is_holiday(d(2026, 5, 14))); // Ascension
        assert!(is_holiday(d(2026, 5, 25))); // Whit Monday
        assert!(is_holiday(d(2026, 7, 14)));
        assert!(!is_holiday(d(2026, 4, 7)));
        assert!(!is_working_day(d(2026, 11, 21))); // Saturday
        assert!(is_trading_day(d(2026, 11, 21)));
        assert!(!is_trading_day(d(2026, 11, 22))); // Sunday
    }
}
