//! The verdict on one file: what `medistock validate --json` prints and what the receipt renders.

use serde::Serialize;

use super::issues::{FileIssue, LineIssue};

/// The verdict on a whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every line accepted.
    Accepted,
    /// Valid lines accepted, others listed in the receipt.
    AcceptedWithErrors,
    /// Nothing from the file is applied.
    Rejected,
}

impl Status {
    /// The French label of receipts.
    pub fn label(self) -> &'static str {
        match self {
            Status::Accepted => "ACCEPTÉ",
            Status::AcceptedWithErrors => "ACCEPTÉ AVEC ERREURS",
            Status::Rejected => "REJETÉ",
        }
    }
}

/// Line counts of a file (data lines only: header and blank lines are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LineCounts {
    /// Data lines read.
    pub total: usize,
    /// Lines without error (exact duplicates included: their figures are kept once).
    pub accepted: usize,
    /// Lines with at least one error.
    pub rejected: usize,
}

/// Everything a declarant needs to know about one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationReport {
    /// File name as received.
    pub file: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Declarant the file was checked for, if known.
    pub declarant: Option<String>,
    /// The verdict.
    pub status: Status,
    /// Line counts.
    pub lines: LineCounts,
    /// Line errors, by line: the first [`crate::declaration::validate::MAX_ISSUES_KEPT`].
    pub errors: Vec<LineIssue>,
    /// Line errors found beyond those detailed (their lines are refused all the same).
    #[serde(default)]
    pub errors_omitted: usize,
    /// Line and header warnings, by line: the first
    /// [`crate::declaration::validate::MAX_ISSUES_KEPT`].
    pub warnings: Vec<LineIssue>,
    /// Warnings found beyond those detailed.
    #[serde(default)]
    pub warnings_omitted: usize,
    /// Reasons that reject the whole file.
    pub file_errors: Vec<FileIssue>,
    /// How the file was read (`CSV, UTF-8, séparateur « ; »`), when it could be read.
    #[serde(skip)]
    pub read_as: Option<String>,
}

impl ValidationReport {
    /// A report for a file not yet examined.
    pub fn new(file: &str, sha256: String, declarant: Option<String>) -> Self {
        Self {
            file: file.to_owned(),
            sha256,
            declarant,
            status: Status::Accepted,
            lines: LineCounts::default(),
            errors: Vec::new(),
            errors_omitted: 0,
            warnings: Vec::new(),
            warnings_omitted: 0,
            file_errors: Vec::new(),
            read_as: None,
        }
    }

    /// Rejects the whole file for this reason.
    pub fn reject(&mut self, issue: FileIssue) {
        self.file_errors.push(issue);
        self.status = Status::Rejected;
    }

    /// Whether the file's lines may be applied.
    pub fn is_rejected(&self) -> bool {
        self.status == Status::Rejected
    }
}
