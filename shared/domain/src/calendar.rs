//! The French calendar day. Declarations are dated in Paris time: a file sent at 00:30 in Paris
//! is dated that day, although it is still the day before in UTC (and on Lambda, whose clock is
//! UTC). The EU summer-time rule is fixed by directive 2000/84/EC, so it is computed here
//! rather than pulling in a time-zone database.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

/// The date in Paris at instant `now`.
pub fn paris_date(now: DateTime<Utc>) -> NaiveDate {
    let year = now.year();
    let summer_start = last_sunday_at_1h_utc(year, 3);
    let summer_end = last_sunday_at_1h_utc(year, 10);
    let offset = if now >= summer_start && now < summer_end {
        2
    } else {
        1
    };
    (now + Duration::hours(offset)).date_naive()
}

/// Today's date in Paris.
pub fn paris_today() -> NaiveDate {
    paris_date(Utc::now())
}

/// 01:00 UTC on the last Sunday of `month`: when EU clocks change.
fn last_sunday_at_1h_utc(year: i32, month: u32) -> DateTime<Utc> {
    let last_day = NaiveDate::from_ymd_opt(year, month + 1, 1)
        .and_then(|d| d.pred_opt())
        .unwrap_or_default();
    let back = last_day.weekday().num_days_from_sunday();
    let sunday = last_day - Duration::days(i64::from(back));
    debug_assert_eq!(sunday.weekday(), Weekday::Sun);
    Utc.from_utc_datetime(&sunday.and_hms_opt(1, 0, 0).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn winter_is_utc_plus_one() {
        assert_eq!(
            paris_date(utc("2026-11-23T22:59:59Z")),
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
        );
        assert_eq!(
            paris_date(utc("2026-11-23T23:00:00Z")),
            NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
        );
    }

    #[test]
    fn summer_is_utc_plus_two_between_the_last_sundays_of_march_and_october() {
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(
            paris_date(utc("2026-07-01T22:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 7, 2).unwrap()
        );
        assert_eq!(
            paris_date(utc("2026-03-29T00:59:00Z")),
            NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()
        );
        assert_eq!(
            paris_date(utc("2026-03-28T22:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 3, 28).unwrap()
        );
        assert_eq!(
            paris_date(utc("2026-10-24T22:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 10, 25).unwrap()
        );
        assert_eq!(
            paris_date(utc("2026-10-25T22:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 10, 25).unwrap()
        );
    }
}
