//! ISO weeks (`2026-W48`): the period of a weekly synthesis, Monday to Sunday.

use std::fmt;

use chrono::{Datelike, Days, IsoWeek, NaiveDate, Weekday};

/// An ISO 8601 week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Week {
    monday: NaiveDate,
}

/// A week label that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("semaine « {0} » illisible : attendu AAAA-Wss, par exemple 2026-W48")]
pub struct WeekError(pub String);

impl Week {
    /// The week holding `date`.
    pub fn of(date: NaiveDate) -> Week {
        let back = u64::from(date.weekday().num_days_from_monday());
        Week {
            monday: date.checked_sub_days(Days::new(back)).unwrap_or(date),
        }
    }

    /// Reads `2026-W48` (or `2026-w48`, `2026W48`).
    pub fn parse(text: &str) -> Result<Week, WeekError> {
        let error = || WeekError(text.to_owned());
        let upper = text.trim().to_ascii_uppercase();
        let (year, week) = upper.split_once('W').ok_or_else(error)?;
        let year: i32 = year.trim_end_matches('-').parse().map_err(|_| error())?;
        let week: u32 = week.parse().map_err(|_| error())?;
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)
            .map(|monday| Week { monday })
            .ok_or_else(error)
    }

    /// Its Monday.
    pub fn start(self) -> NaiveDate {
        self.monday
    }

    /// Its Sunday.
    pub fn end(self) -> NaiveDate {
        self.monday
            .checked_add_days(Days::new(6))
            .unwrap_or(self.monday)
    }

    /// The week before.
    pub fn previous(self) -> Week {
        Week::of(self.monday.pred_opt().unwrap_or(self.monday))
    }

    fn iso(self) -> IsoWeek {
        self.monday.iso_week()
    }
}

impl fmt::Display for Week {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-W{:02}", self.iso().year(), self.iso().week())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn weeks_run_monday_to_sunday_with_iso_numbers() {
        let w = Week::of(d(2026, 11, 26));
        assert_eq!(w.to_string(), "2026-W48");
        assert_eq!((w.start(), w.end()), (d(2026, 11, 23), d(2026, 11, 29)));
        assert_eq!(Week::parse("2026-W48"), Ok(w));
        assert_eq!(Week::parse("2026w48"), Ok(w));
        assert_eq!(w.previous().to_string(), "2026-W47");
        // 1 January 2027 is a Friday: it belongs to the last week of 2026.
        assert_eq!(Week::of(d(2027, 1, 1)).to_string(), "2026-W53");
        assert!(Week::parse("2026-W54").is_err());
        assert!(Week::parse("semaine 48").is_err());
    }
}
