//! Declarations: the format (columns, limits), reading CSV and XLSX, validating every line with
//! a precise French reason, and the receipt sent back to the declarant.

pub mod cells;
pub mod decode;
mod direct;
pub mod format;
pub mod issues;
pub mod receipt;
mod scan;
pub mod table;
pub mod validate;
pub mod verdict;

pub use format::{Column, Limits};
pub use issues::{FileCode, FileIssue, LineCode, LineIssue};
pub use validate::{
    Validation, ValidationContext, ValidationError, oversized, validate, validate_hashed,
    validate_owned,
};
pub use verdict::{LineCounts, Status, ValidationReport};
