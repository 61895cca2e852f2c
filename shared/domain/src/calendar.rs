//! The French calendar day. Declarations are dated in Paris time: a file sent at 00:30 in Paris
//! is dated that day, although it is still the day before in UTC (and on Lambda, whose clock is
//! UTC). The EU summer-time rule is fixed by directive 2000/84/EC, so it is computed here
//! rather than pulling in a time-zone database.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

/// The date in Paris at instant `now`.
pub fn paris_date(now: DateTime<Utc>) -> NaiveDate {
    paris_time(now).date()
}

/// The wall-clock time in Paris at instant `now`.
pub fn paris_time(now: DateTime<Utc>) -> chrono::NaiveDateTime {
    (now + Duration::hours(paris_offset_hours(now))).naive_utc()
}

/// The instant of a Paris wall-clock time. In the hour repeated when clocks go back, the first
/// one; a time skipped when clocks go forward is read in winter time (an hour later in summer).
pub fn paris_instant(local: chrono::NaiveDateTime) -> DateTime<Utc> {
    let summer = Utc.from_utc_datetime(&local) - Duration::hours(2);
    if paris_offset_hours(summer) == 2 {
        summer
    } else {
        Utc.from_utc_datetime(&local) - Duration::hours(1)
    }
}

/// Hours Paris is ahead of UTC at `now`: 2 in summer time, 1 otherwise.
fn paris_offset_hours(now: DateTime<Utc>) -> i64 {
    let year = now.year();
    let summer_start = last_sunday_at_1h_utc(year, 3);
    let summer_end = last_sunday_at_1h_utc(year, 10);
    if now >= summer_start && now < summer_end {
        2
    } else {
        1
    }
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
    fn a_paris_wall_clock_time_and_its_instant_agree_in_both_seasons() {
        let local = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(
            paris_instant(local("2026-11-24 08:00")),
            utc("2026-11-24T07:00:00Z")
        );
        assert_eq!(
            paris_instant(local("2026-07-14 08:00")),
            utc("2026-07-14T06:00:00Z")
        );
        for instant in [
            "2026-11-24T07:00:00Z",
            "2026-07-14T06:00:00Z",
            "2026-03-29T00:30:00Z",
        ] {
            assert_eq!(paris_instant(paris_time(utc(instant))), utc(instant));
        }
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
