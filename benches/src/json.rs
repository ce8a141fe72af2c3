//! The JSON report, in the shape the harness issue fixes (other tools read it), plus the
//! repeats' spreads and the run's conditions:
//! `{"date", "quick", "repeat", "machine": {"cores", "memory_gib", "kernel"}, "conditions",
//! "results": [{"scenario", "metric", "value", "spread": {"min", "max"}, "target", "better",
//! "durable", "load", "peers": {name: value}, "peer_spreads": {name: {"min", "max"}}}]}`.
//!
//! Invariants: `value` and each peer's figure are medians of the repeats, `spread` their min and
//! max; a peer without a figure (no equivalent, or unavailable in this run) is absent from
//! `peers`; our own figure and its spread are `null` when it could not be measured; `target` is
//! `null` when none is stated. Reasons for unavailability are in the printed report.
use crate::machine::Machine;
use crate::quiet::Conditions;
use crate::repeat::{RowSpread, Spread};
use crate::report::Row;
use crate::runner::Run;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// When the run started, RFC 3339 UTC.
    pub date: String,
    /// Whether `--quick` was given.
    pub quick: bool,
    /// How many times each scenario ran (figures are medians).
    pub repeat: usize,
    /// The machine.
    pub machine: Machine,
    /// What could have disturbed the run (`null` when not recorded).
    pub conditions: Option<Conditions>,
    /// One entry per row.
    pub results: Vec<Result>,
}

/// One row.
#[derive(Debug, Serialize)]
pub struct Result {
    /// Scenario name.
    pub scenario: String,
    /// Metric name.
    pub metric: String,
    /// Quark's figure (the median of the repeats).
    pub value: Option<f64>,
    /// The smallest and largest of Quark's repeats.
    pub spread: Option<Spread>,
    /// The target, if stated.
    pub target: Option<f64>,
    /// "higher" or "lower".
    pub better: &'static str,
    /// Whether the figures are for durable work.
    pub durable: bool,
    /// The stated load.
    pub load: String,
    /// Peers' figures from the same run (medians of the repeats).
    pub peers: BTreeMap<String, f64>,
    /// Each measured peer's smallest and largest repeat.
    pub peer_spreads: BTreeMap<String, Spread>,
}

impl Report {
    /// The report of a finished run.
    pub fn of(run: &Run, quick: bool) -> Report {
        let mut report = Report::new(
            run.date.clone(),
            quick,
            run.machine.clone(),
            &run.rows(),
            &run.spreads(),
        );
        report.repeat = run.repeat;
        report.conditions = Some(run.conditions.clone());
        report
    }

    /// Builds the report from rows and their spreads (aligned; missing means one run).
    pub fn new(
        date: String,
        quick: bool,
        machine: Machine,
        rows: &[Row],
        spreads: &[RowSpread],
    ) -> Report {
        let none = RowSpread::default();
        let results = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let spread = spreads.get(i).unwrap_or(&none);
                Result {
                    scenario: r.scenario.clone(),
                    metric: r.metric.to_owned(),
                    value: r.ours.value(),
                    spread: r.ours.value().and(spread.ours),
                    target: r.target,
                    better: r.better.as_str(),
                    durable: r.durable,
                    load: r.load.clone(),
                    peers: r
                        .peers
                        .iter()
                        .filter_map(|(n, f)| f.value().map(|v| (n.clone(), v)))
                        .collect(),
                    peer_spreads: r
                        .peers
                        .iter()
                        .filter(|(_, f)| f.value().is_some())
                        .filter_map(|(n, _)| spread.peer(n).map(|s| (n.clone(), s)))
                        .collect(),
                }
            })
            .collect();
        Report {
            date,
            quick,
            repeat: 1,
            machine,
            conditions: None,
            results,
        }
    }
}

/// `t` as RFC 3339 UTC with seconds, e.g. `2026-11-27T12:00:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::{Report, rfc3339};
    use crate::machine::Machine;
    use crate::repeat::{RowSpread, Spread};
    use crate::report::{Better, Figure, Row};
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_737_600 + 3661);
        assert_eq!(rfc3339(t), "2026-11-27T01:01:01Z");
    }

    #[test]
    fn shape_matches_the_issue() {
        let row = Row {
            scenario: "log.append".into(),
            metric: "p99_us",
            ours: Figure::Value(812.0),
            target: Some(2000.0),
            better: Better::Lower,
            durable: true,
            load: "64 appenders, 128 B records".into(),
            peers: vec![
                ("postgres".into(), Figure::Value(4100.0)),
                ("redis".into(), Figure::Unavailable("down".into())),
            ],
        };
        let machine = Machine {
            cores: 2,
            memory_gib: 23.4,
            kernel: "6.x".into(),
        };
        let spread = RowSpread {
            ours: Some(Spread {
                min: 700.0,
                max: 900.0,
            }),
            peers: vec![(
                "postgres".into(),
                Spread {
                    min: 4000.0,
                    max: 4500.0,
                },
            )],
        };
        let date = "2026-11-27T12:00:00Z".to_owned();
        let report = Report::new(date, false, machine, &[row], &[spread]);
        let v = serde_json::to_value(&report).unwrap();
        let expected = serde_json::json!({"date": "2026-11-27T12:00:00Z", "quick": false,
            "repeat": 1, "machine": {"cores": 2, "memory_gib": 23.4, "kernel": "6.x"},
            "conditions": null,
            "results": [{"scenario": "log.append", "metric": "p99_us", "value": 812.0,
                "spread": {"min": 700.0, "max": 900.0},
                "target": 2000.0, "better": "lower", "durable": true,
                "load": "64 appenders, 128 B records", "peers": {"postgres": 4100.0},
                "peer_spreads": {"postgres": {"min": 4000.0, "max": 4500.0}}}]});
        assert_eq!(v, expected);
    }
}
