//! Levels, thresholds and hysteresis: the one place where a threshold is decided.

use chrono::NaiveDate;
use medistock_domain::Level;
use serde::{Deserialize, Serialize};

/// Days to stock-out under which each level applies, and the hysteresis margin. Defaults
/// from ANSM practice (winter plan: act under about one month of cover); every value is
/// overridable per reference from the monitoring settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// VIGILANCE under this many days.
    pub vigilance_days: f64,
    /// TENSION under this many days.
    pub tension_days: f64,
    /// CRITIQUE under this many days.
    pub critique_days: f64,
    /// Leaving a level downward needs this much more room (0.10: 10 % above the threshold).
    pub hysteresis: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            vigilance_days: 60.0,
            tension_days: 30.0,
            critique_days: 7.0,
            hysteresis: 0.10,
        }
    }
}

impl Thresholds {
    /// The level for `days_to_stockout` (`None`: no stock-out within the horizon), with
    /// `chain_days` the chain stock in days of demand (`None`: no demand).
    pub fn level(
        &self,
        days_to_stockout: Option<f64>,
        chain_days: Option<f64>,
        below_safety_stock: bool,
    ) -> Level {
        self.level_with_margin(days_to_stockout, chain_days, below_safety_stock, 1.0)
    }

    fn level_with_margin(
        &self,
        days: Option<f64>,
        chain_days: Option<f64>,
        below_safety: bool,
        margin: f64,
    ) -> Level {
        if chain_days.is_some_and(|d| d < 1.0 * margin) {
            return Level::Rupture;
        }
        let under = |threshold: f64| days.is_some_and(|d| d < threshold * margin);
        if under(self.critique_days) {
            Level::Critique
        } else if under(self.tension_days) {
            Level::Tension
        } else if under(self.vigilance_days) || below_safety {
            Level::Vigilance
        } else {
            Level::Normal
        }
    }
}

/// The level to hold after a computation, given the level held before. Escalation is
/// immediate; going down needs the figures to clear the lower level's threshold by the
/// hysteresis margin, so that a reference hovering at a threshold does not flap.
pub fn level_after(
    previous: Option<Level>,
    thresholds: &Thresholds,
    days_to_stockout: Option<f64>,
    chain_days: Option<f64>,
    below_safety_stock: bool,
) -> Level {
    let raw = thresholds.level(days_to_stockout, chain_days, below_safety_stock);
    match previous {
        Some(held) if raw < held => {
            // The level the figures support with the margin applied, never above the one held.
            let with_margin = thresholds.level_with_margin(
                days_to_stockout,
                chain_days,
                below_safety_stock,
                1.0 + thresholds.hysteresis,
            );
            with_margin.min(held)
        }
        _ => raw,
    }
}

/// Days an alert episode may hold the level at TENSION on figures that give VIGILANCE,
/// counted from its first day: past them the level is the figures' own and the end of the
/// alert is announced ([`super::alert::is_announced`]), so that no reference stays at TENSION
/// for ever on VIGILANCE figures.
pub const EPISODE_HOLD_DAYS: i64 = 90;

/// The alert episode a subject may be in, for [`episode_level`].
#[derive(Debug, Clone, Copy)]
pub struct Episode {
    /// Level held before this computation.
    pub previous: Option<Level>,
    /// First day of its episode, when at TENSION or worse (`open_since` of its RISK item).
    pub since: Option<NaiveDate>,
    /// Date of this computation.
    pub as_of: NaiveDate,
}

/// The level of an open alert episode. ANSM is told when a subject escalates to TENSION or
/// worse and when its alert ends, not of a step down within it: for ANSM the alert is still
/// open. So a subject held at TENSION or worse before stays at TENSION while its figures give
/// VIGILANCE by its projection (`days_to_stockout` within the VIGILANCE threshold and its
/// hysteresis margin, not a safety stock or a local shortage alone), and the alert ends at
/// NORMAL — or, on VIGILANCE figures, once the episode is [`EPISODE_HOLD_DAYS`] old (its first
/// day unknown, or after `as_of` as in a recomputation of an earlier day, it holds), an end
/// announced as well. `None` for `episode`: the rule is off. Returns the level and, when it
/// holds, the level of the figures.
pub fn episode_level(
    episode: Option<Episode>,
    thresholds: &Thresholds,
    days_to_stockout: Option<f64>,
    level: Level,
) -> (Level, Option<Level>) {
    let Some(Episode {
        previous: Some(held),
        since,
        as_of,
    }) = episode
    else {
        return (level, None);
    };
    let projected =
        thresholds.level_with_margin(days_to_stockout, None, false, 1.0 + thresholds.hysteresis)
            >= Level::Vigilance;
    let young = since.is_none_or(|first| (as_of - first).num_days() < EPISODE_HOLD_DAYS);
    if held >= Level::Tension && level == Level::Vigilance && projected && young {
        (Level::Tension, Some(level))
    } else {
        (level, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        vigilance_days: 60.0,
        tension_days: 30.0,
        critique_days: 7.0,
        hysteresis: 0.10,
    };

    #[test]
    fn thresholds_are_strict_upper_bounds() {
        assert_eq!(T.level(Some(29.9), Some(40.0), false), Level::Tension);
        assert_eq!(
            T.level(Some(30.0), Some(40.0), false),
            Level::Vigilance,
            "exactly 30 days is not under 30"
        );
        assert_eq!(T.level(Some(6.99), Some(10.0), false), Level::Critique);
        assert_eq!(T.level(Some(60.0), Some(70.0), false), Level::Normal);
        assert_eq!(T.level(None, Some(500.0), false), Level::Normal);
        assert_eq!(
            T.level(None, Some(500.0), true),
            Level::Vigilance,
            "below the legal safety stock"
        );
    }

    #[test]
    fn less_than_one_day_of_chain_stock_is_a_rupture() {
        assert_eq!(T.level(Some(0.0), Some(0.5), false), Level::Rupture);
        assert_eq!(
            T.level(None, None, false),
            Level::Normal,
            "no demand: not computable, not an alert"
        );
    }

    #[test]
    fn escalation_is_immediate_and_recovery_needs_the_margin() {
        assert_eq!(
            level_after(Some(Level::Normal), &T, Some(29.0), Some(29.0), false),
            Level::Tension
        );
        // 31 days: above 30 but within 10 % (33): stays TENSION.
        assert_eq!(
            level_after(Some(Level::Tension), &T, Some(31.0), Some(31.0), false),
            Level::Tension
        );
        // 34 days: clears 33, goes down to VIGILANCE.
        assert_eq!(
            level_after(Some(Level::Tension), &T, Some(34.0), Some(34.0), false),
            Level::Vigilance
        );
        // From TENSION straight to NORMAL needs 66 days.
        assert_eq!(
            level_after(Some(Level::Tension), &T, Some(64.0), Some(64.0), false),
            Level::Vigilance
        );
        assert_eq!(
            level_after(Some(Level::Tension), &T, Some(67.0), Some(67.0), false),
            Level::Normal
        );
        assert_eq!(
            level_after(None, &T, Some(31.0), Some(31.0), false),
            Level::Vigilance
        );
    }
}
