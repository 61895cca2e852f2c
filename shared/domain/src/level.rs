//! Risk levels: the scale every assessment, alert and report speaks in. Where a level is
//! decided lives with the risk model; the scale itself is a value every crate shares.

use serde::{Deserialize, Serialize};

/// Risk levels, from best to worst (the order is the severity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    /// Nothing to report.
    Normal,
    /// Stock-out predicted within the vigilance horizon, or a manufacturer below its safety stock.
    Vigilance,
    /// Stock-out predicted within the tension horizon.
    Tension,
    /// Stock-out predicted within the critical horizon.
    Critique,
    /// The chain holds less than one day of demand.
    Rupture,
}

impl Level {
    /// Every level, from best to worst.
    pub const ALL: [Level; 5] = [
        Level::Normal,
        Level::Vigilance,
        Level::Tension,
        Level::Critique,
        Level::Rupture,
    ];

    /// The level of a label written by [`Level::as_str`].
    pub fn parse(label: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == label)
    }

    /// The label used in alerts and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Normal => "NORMAL",
            Level::Vigilance => "VIGILANCE",
            Level::Tension => "TENSION",
            Level::Critique => "CRITIQUE",
            Level::Rupture => "RUPTURE",
        }
    }
}
