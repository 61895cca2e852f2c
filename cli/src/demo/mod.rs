//! A realistic data set with known truth, for `medistock demo` and the backtest: references
//! in groups of substitutable presentations, manufacturers and wholesalers with depots, months
//! of weekly declarations, and scenarios (stable, winter peak, epidemic spike, production stop,
//! late supply, missing declarations). Seeded: the same seed gives the same files.

mod backtest;
mod simulate;

pub use backtest::{
    BrierRow, Calibration, CalibrationRow, EscalationReasons, FileCounts, ReferenceScore,
    Scoreboard, StockoutPeriods, details_csv, escalation_reason, is_escalation, score,
    score_reference, score_references, scoreboard, single_days, unknown_after_first,
};
pub use simulate::{DemoSpec, generate};
