//! Groups of substitutable presentations (the BDPM generic group, or the group given in the
//! monitored references): the members pooled into one chain — their stocks, their demands and
//! their supplies — and assessed by the same rules as a reference. A group's level says
//! whether the alternatives together still cover the demand.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::assess::{Assessment, ReferenceInput, assess};
use super::config::RiskConfig;
use super::reliability::SupplyRecord;
use medistock_domain::Level;

/// The assessment of one group at one date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupAssessment {
    /// The group id.
    pub group: String,
    /// Its members' CIP13, in order.
    pub members: Vec<String>,
    /// Date of the assessment.
    pub as_of: NaiveDate,
    /// Level after hysteresis.
    pub level: Level,
    /// Pooled chain stock.
    pub chain_stock: f64,
    /// Pooled demand, units per day.
    pub demand: Option<f64>,
    /// Pooled stock over pooled demand, in days.
    pub coverage_days: Option<f64>,
    /// First day the pooled stock runs out, within the horizon.
    pub stockout_date: Option<NaiveDate>,
    /// Days from `as_of` to that date.
    pub days_to_stockout: Option<i64>,
    /// When the group's open alert episode holds its level at TENSION: the level its pooled
    /// figures give (VIGILANCE), as for a reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figures_level: Option<Level>,
}

/// Assesses every group with at least one member among `inputs`; `previous` holds the levels
/// of the groups by id, with the first day of their alert episode when at TENSION or worse.
/// The deployment's default thresholds (`RiskConfig::defaults`) apply to groups; the legal
/// safety stock is a manufacturer's obligation per reference and is not checked on a group.
pub fn assess_groups(
    inputs: &[ReferenceInput],
    config: &RiskConfig,
    previous: &BTreeMap<String, (Level, Option<NaiveDate>)>,
    as_of: NaiveDate,
) -> Vec<GroupAssessment> {
    let mut pooled: BTreeMap<&str, (Vec<String>, ReferenceInput)> = BTreeMap::new();
    for input in inputs {
        let Some(group) = config
            .references
            .get(&input.cip13)
            .and_then(|s| s.group.as_deref())
        else {
            continue;
        };
        let (members, pool) = pooled.entry(group).or_insert_with(|| {
            // The group's level held, with the first day of its alert episode.
            let held = previous.get(group);
            (
                Vec::new(),
                ReferenceInput {
                    cip13: input.cip13,
                    positions: Vec::new(),
                    demand_series: Vec::new(),
                    history: Default::default(),
                    options: input.options,
                    thresholds: *config.defaults(),
                    safety_stock_months: 0.0,
                    previous_level: held.map(|(level, _)| *level),
                    episode_since: held.and_then(|(_, since)| *since),
                    manufacturers_expected: input.manufacturers_expected,
                    manufacturers_starting: input.manufacturers_starting,
                    manufacturers_pending: input.manufacturers_pending,
                    // Awaited when every member is (below).
                    holder: input.holder.clone(),
                    // The members' manufacturers may differ: the model's default chances.
                    supply_record: SupplyRecord::default(),
                },
            )
        });
        if input.holder.is_none() {
            pool.holder = None;
        }
        members.push(input.cip13.to_string());
        pool.positions.extend(input.positions.iter().cloned());
        pool.demand_series
            .extend(input.demand_series.iter().copied());
    }
    pooled
        .into_iter()
        .map(|(group, (members, mut pool))| {
            pool.demand_series = sum_by_date(&pool.demand_series);
            group_of(group, members, &assess(&pool, as_of))
        })
        .collect()
}

/// The members' demand series added day by day.
fn sum_by_date(series: &[(NaiveDate, f64)]) -> Vec<(NaiveDate, f64)> {
    let mut by_date: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for (date, value) in series {
        *by_date.entry(*date).or_default() += value;
    }
    by_date.into_iter().collect()
}

fn group_of(group: &str, members: Vec<String>, a: &Assessment) -> GroupAssessment {
    GroupAssessment {
        group: group.to_owned(),
        members,
        as_of: a.as_of,
        level: a.level,
        chain_stock: a.chain_stock,
        demand: a.demand,
        coverage_days: a.coverage_days,
        stockout_date: a.stockout_date,
        days_to_stockout: a.days_to_stockout,
        figures_level: a.figures_level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use crate::risk::level::Thresholds;
    use medistock_domain::position::Position;
    use medistock_domain::{Cip13, DeclarantId, DeclarantType};

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    fn input(cip: &str, stock: i64, outflow: f64) -> ReferenceInput {
        let cip13 = Cip13::parse(cip).unwrap();
        ReferenceInput {
            cip13,
            history: Default::default(),
            options: Default::default(),
            positions: vec![(
                Position {
                    cip13,
                    declarant: DeclarantId::parse("gr-b").unwrap(),
                    as_of: d(20),
                    stock,
                    stock_bloque: 0,
                    daily_outflow: Some(outflow),
                    sites: 1,
                    supplies: Vec::new(),
                    source_sha256: "x".into(),
                    site_figures: Vec::new(),
                },
                DeclarantType::Grossiste,
            )],
            demand_series: vec![(d(19), outflow), (d(20), outflow)],
            thresholds: Thresholds::default(),
            safety_stock_months: 2.0,
            previous_level: None,
            episode_since: None,
            manufacturers_expected: false,
            manufacturers_starting: false,
            manufacturers_pending: false,
            holder: None,
            supply_record: Default::default(),
        }
    }

    fn config() -> RiskConfig {
        RiskConfig::new(
            &Registry::parse("declarant;nom;type\ngr-b;B;grossiste\n").unwrap(),
            &crate::catalogue::Catalogue::from_settings_csv(
                "cip13;denomination;groupe\n3400949497294;A x30;12\n3400949497706;A x90;12\n3400930000007;Seul;\n",
            )
            .unwrap(),
        )
    }

    #[test]
    fn a_group_pools_stock_and_demand_of_its_members() {
        // 500 + 2500 units for 50 + 50 a day: 30 days of pooled cover, TENSION is under 30.
        let inputs = [
            input("3400949497294", 500, 50.0),
            input("3400949497706", 2500, 50.0),
            input("3400930000007", 10, 50.0),
        ];
        let groups = assess_groups(&inputs, &config(), &BTreeMap::new(), d(20));
        assert_eq!(groups.len(), 1, "a reference without group is not a group");
        let g = &groups[0];
        assert_eq!(g.members, ["3400949497294", "3400949497706"]);
        assert_eq!(
            (g.chain_stock, g.demand, g.coverage_days, g.days_to_stockout),
            (3000.0, Some(100.0), Some(30.0), Some(30))
        );
        assert_eq!(g.level, Level::Vigilance);
        let single = assess(&inputs[0], d(20));
        assert_eq!(single.level, Level::Tension, "the member alone is worse");
    }

    #[test]
    fn a_group_keeps_its_level_within_the_hysteresis_margin() {
        let inputs = [
            input("3400949497294", 1500, 50.0),
            input("3400949497706", 1500, 50.0),
        ];
        // 30 days: out of TENSION (under 30) but not by the 10 % margin (33 days).
        let previous = BTreeMap::from([("12".to_owned(), (Level::Tension, Some(d(20))))]);
        let groups = assess_groups(&inputs, &config(), &previous, d(20));
        assert_eq!(groups[0].level, Level::Tension);
        let fresh = assess_groups(&inputs, &config(), &BTreeMap::new(), d(20));
        assert_eq!(fresh[0].level, Level::Vigilance);
        // 45 days: VIGILANCE figures, held at TENSION by the group's open episode.
        let recovered = [
            input("3400949497294", 2250, 50.0),
            input("3400949497706", 2250, 50.0),
        ];
        let groups = assess_groups(&recovered, &config(), &previous, d(20));
        assert_eq!(
            (groups[0].level, groups[0].figures_level),
            (Level::Tension, Some(Level::Vigilance))
        );
        let fresh = assess_groups(&recovered, &config(), &BTreeMap::new(), d(20));
        assert_eq!(fresh[0].level, Level::Vigilance);
    }

    #[test]
    fn a_group_takes_the_deployment_s_default_thresholds() {
        let inputs = [
            input("3400949497294", 500, 50.0),
            input("3400949497706", 2500, 50.0),
        ];
        let config = RiskConfig::with_defaults(
            &Registry::parse("declarant;nom;type\ngr-b;B;grossiste\n").unwrap(),
            &crate::catalogue::Catalogue::from_settings_csv(
                "cip13;denomination;groupe\n3400949497294;A x30;12\n3400949497706;A x90;12\n",
            )
            .unwrap(),
            Thresholds {
                tension_days: 40.0,
                ..Thresholds::default()
            },
        );
        // 30 days of pooled cover: VIGILANCE under the model's 30 days, TENSION under 40.
        let groups = assess_groups(&inputs, &config, &BTreeMap::new(), d(20));
        assert_eq!(groups[0].level, Level::Tension);
    }
}
