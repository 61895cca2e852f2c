//! The analytics crate's integration tests, one binary (a test binary links polars once):
//! each module is a specification of one part, read top to bottom.

mod bdpm_snapshot;
mod declaration_corpus;
mod declaration_direct;
mod declaration_xlsx;
mod hostile_files;
mod ingest_pipeline;
mod lifecycle;
mod never_panics;
mod risk_run;
mod throttling;
mod weekly_report;

/// Every state port at once: what a whole pipeline (ingest, then risk, then report) runs on.
pub trait State:
    medistock_domain::store::FileLedger
    + medistock_domain::store::AccountStore
    + medistock_domain::store::PositionStore
    + medistock_domain::store::RiskStore
    + medistock_domain::store::AlertOutbox
    + medistock_domain::store::AlertStateStore
    + medistock_domain::store::MeasureStore
{
}

impl<T> State for T where
    T: medistock_domain::store::FileLedger
        + medistock_domain::store::AccountStore
        + medistock_domain::store::PositionStore
        + medistock_domain::store::RiskStore
        + medistock_domain::store::AlertOutbox
        + medistock_domain::store::AlertStateStore
        + medistock_domain::store::MeasureStore
{
}
