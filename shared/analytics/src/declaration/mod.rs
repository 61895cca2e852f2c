//! Declarations: the format (columns, limits), reading CSV and XLSX, validating every line with
//! a precise French reason, and the receipt sent back to the declarant.

pub mod cells;
pub mod decode;
pub mod format;
pub mod issues;
pub mod receipt;
pub mod report;
pub mod table;
pub mod validate;

pub use format::{Column, Limits};
pub use issues::{FileCode, FileIssue, LineCode, LineIssue};
pub use report::{LineCounts, Status, ValidationReport};
pub use validate::{Validation, ValidationContext, ValidationError, oversized, validate};
