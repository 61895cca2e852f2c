//! Exit codes shared by the commands.

/// Some file has line errors but none is rejected.
pub const EXIT_LINE_ERRORS: u8 = 3;
/// Some file is rejected.
pub const EXIT_REJECTED: u8 = 4;
/// Usage error (as clap's).
pub const EXIT_USAGE: u8 = 2;
