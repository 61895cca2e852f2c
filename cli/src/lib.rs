//! The library side of the `medistock` command: the demo data set with known truth and its
//! scoreboard, shared by the command and its tests; and the independent supply-chain simulator
//! (`simulate`) that writes a data set to replay; and the national data set (`national`) that
//! measures Medistock at the scale of France.

pub mod demo;
pub mod national;
pub mod simulate;
