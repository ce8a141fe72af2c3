//! The registry of scenarios, and the helpers that turn per-system results into report rows
//! (the full-replay check and outcome shared by `log.replay` and `events.replay` among them).
//!
//! Adding a scenario is one module here and one line in [`registry`]. Invariants: the registry's
//! order is the report's order; names are stable (tools read them) and unique.
use crate::peers::{PeerError, ReplayLoad, ReplayRun};
use crate::report::{Better, Figure, Row};
use crate::scenario::{Outcome, Scenario, Work};
use crate::work::WorkHash;

pub mod actor;
pub mod events;
pub mod log_append;
pub mod log_replay;
pub mod placement_locality;
pub mod placement_memory;

/// Every scenario that exists, in report order.
pub fn registry() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(log_append::LogAppend),
        Box::new(log_replay::LogReplay),
        Box::new(events::EventsAppend),
        Box::new(events::EventsReadStream),
        Box::new(events::EventsReplay),
        Box::new(actor::TellOneShard),
        Box::new(actor::CallOneShard),
        Box::new(actor::CallCrossShard),
        Box::new(actor::Activate),
        Box::new(placement_locality::PlacementLocality),
        Box::new(placement_memory::PlacementMemory),
    ]
}

/// One system's result in a scenario: its name and what it measured (or why it could not).
pub struct Measured<T> {
    /// The system's column name; the first system of a scenario is Quark.
    pub system: &'static str,
    /// What it measured.
    pub result: Result<T, PeerError>,
}

/// The fixed part of a row.
pub struct RowSpec<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// Metric name.
    pub metric: &'static str,
    /// The target, if stated.
    pub target: Option<f64>,
    /// Which direction is better.
    pub better: Better,
    /// Whether the figures are for durable work.
    pub durable: bool,
    /// The stated load.
    pub load: &'a str,
}

/// Builds a row from Quark's result (`ours`) and the peers', reading the metric with `get`.
/// A peer with no equivalent (or no value for this metric) is left out of the row.
pub fn row<T>(
    spec: &RowSpec<'_>,
    ours: &Measured<T>,
    peers: &[Measured<T>],
    get: impl Fn(&T) -> Option<f64>,
) -> Row {
    let figure = |m: &Measured<T>| match &m.result {
        Ok(v) => get(v).map(Figure::Value),
        Err(PeerError::Unavailable(why)) => Some(Figure::Unavailable(why.clone())),
        Err(PeerError::NoEquivalent) => None,
    };
    Row {
        scenario: spec.scenario.to_owned(),
        metric: spec.metric,
        ours: figure(ours).unwrap_or_else(|| Figure::Unavailable("not measured".to_owned())),
        target: spec.target,
        better: spec.better,
        durable: spec.durable,
        load: spec.load.to_owned(),
        peers: peers
            .iter()
            .filter_map(|m| figure(m).map(|f| (m.system.to_owned(), f)))
            .collect(),
    }
}

/// The work entry of one system's result (nothing if it did not run).
pub fn work<T>(m: &Measured<T>, get: impl Fn(&T) -> (u64, WorkHash)) -> Option<Work> {
    let (ops, hash) = get(m.result.as_ref().ok()?);
    Some(Work {
        system: m.system.to_owned(),
        ops,
        hash,
    })
}

/// A replay counts only if it read back exactly the `load.records` written (`what`: "records",
/// "events").
pub fn read_all_back(r: ReplayRun, load: &ReplayLoad, what: &str) -> Result<ReplayRun, PeerError> {
    if r.records == load.records {
        Ok(r)
    } else {
        Err(PeerError::Unavailable(format!(
            "read {} {what} back, {} were written",
            r.records, load.records
        )))
    }
}

/// A replay scenario's outcome: one row of `spec.metric` = records read per second, each
/// system's work (records, hash) and its note of how it read.
pub fn replay_outcome(
    spec: &RowSpec<'_>,
    ours: &Measured<ReplayRun>,
    peers: &[Measured<ReplayRun>],
) -> Outcome {
    let rows = vec![row(spec, ours, peers, |r| Some(r.records as f64 / r.secs))];
    let mut out = Outcome {
        rows,
        ..Outcome::default()
    };
    for m in std::iter::once(ours).chain(peers) {
        out.work.extend(work(m, |r| (r.records, r.hash)));
        if let Ok(r) = &m.result {
            out.notes.push(r.how.clone());
        }
    }
    out
}
