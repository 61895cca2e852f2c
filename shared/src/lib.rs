//! Medistock core: everything the Lambda functions and the `medistock` command share.
//!
//! - [`domain`]: values that cannot be built invalid (CIP13, declarant id).
//! - [`declaration`]: the declaration format, parsing CSV/XLSX, validation, receipts.
//! - [`catalogue`]: the reference catalogue from the public BDPM files.
//! - [`positions`]: per-reference figures aggregated from validated lines, and their Parquet form.

pub mod catalogue;
pub mod csv_cell;
pub mod declaration;
pub mod demo;
pub mod domain;
pub mod env;
pub mod ingest;
pub mod positions;
pub mod registry;
pub mod report;
pub mod risk;
pub mod sftp;
pub mod store;
