//! ANSM's measures and their impact: a subject's figures day by day from the daily risk
//! snapshots (`history.rs`), and for each measure the figures before its start and since
//! (`impact.rs`), shown by `medistock status`, in the alerts of the subject and in the weekly
//! synthesis. The records themselves are the domain's ([`medistock_domain::measure`]).

pub mod history;
pub mod impact;

pub use history::{DayFigures, SubjectHistory, impact_days, read_history};
pub use impact::{BEFORE_DAYS, Impact, MAX_SINCE_DAYS, Window, impact, impact_line, windows};
