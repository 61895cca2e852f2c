//! The library side of the `medistock` command: the demo data set with known truth and its
//! scoreboard, shared by the command and its tests.

pub mod demo;
