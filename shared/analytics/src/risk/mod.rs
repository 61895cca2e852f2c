//! Risk of shortage per reference: demand estimate, chain stock, coverage, day-by-day
//! projection with expected supplies, predicted stock-out date, data-quality flags, and the
//! level with its hysteresis. Pure and deterministic: same inputs and `as_of`, same output.
//! The model and its defaults: `docs/risk-model.md`.

pub mod alert;
mod assess;
pub mod calibration;
pub mod config;
mod demand;
mod group;
mod history_cache;
mod level;
pub mod lifecycle;
mod outbox;
pub mod probability;
mod reliability;
mod run;

pub use assess::{Assessment, PROBABILITY_WITHHELD, QualityFlag, ReferenceInput, assess};
pub use demand::{DailyFile, DemandEstimate, DemandSeries, estimate_demand};
pub use group::{GroupAssessment, assess_groups};
pub use history_cache::HistoryCache;
pub use level::{EPISODE_HOLD_DAYS, Thresholds, level_after};
pub use outbox::{Alternatives, OutboxExtras, RunChanges, outbox_records};
pub use reliability::SupplyRecord;
pub use run::{
    GroupTransition, RiskError, RiskOutcome, RiskRun, RunSummary, Scope, Transition, run_risk,
    subject_members,
};
