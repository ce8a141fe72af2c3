//! Runs the selected scenarios in order, each `repeat` times, and renders what they found.
//!
//! A scenario runs its whole system list (Quark, then each peer) once per repeat, and the
//! repeats follow each other (Quark, peers, Quark, peers …), so drift on the machine hits every
//! system alike; [`crate::repeat::fold`] then turns the repeats into medians with spreads.
//! Invariants: one scenario's unavailable peers never stop the run; the run hash folds every
//! scenario's work hash in report order; the machine's conditions are read outside every timed
//! section (before and after each repeat).
use crate::error::Error;
use crate::machine::Machine;
use crate::progress::Progress;
use crate::quiet::{Conditions, Disturbance, OTHERS_PCT_MAX, Snapshot};
use crate::repeat::{RowSpread, fold};
use crate::report::{Row, table};
use crate::scenario::{Ctx, Endpoints, Outcome, Scenario};
use crate::scenarios::registry;
use crate::size::Size;
use crate::work::WorkHash;
use std::fmt::Write as _;
use std::time::{Instant, SystemTime};

/// A finished run.
#[derive(Debug)]
pub struct Run {
    /// When it started (RFC 3339 UTC).
    pub date: String,
    /// The machine.
    pub machine: Machine,
    /// The size.
    pub size: Size,
    /// How many times each scenario ran.
    pub repeat: usize,
    /// Each scenario's name and outcome (medians of its repeats), in order.
    pub outcomes: Vec<(&'static str, Outcome)>,
    /// Each scenario's rows' spreads, aligned with `outcomes` and their rows.
    pub spreads: Vec<Vec<RowSpread>>,
    /// What could have disturbed the run.
    pub conditions: Conditions,
}

impl Run {
    /// All rows, in order.
    pub fn rows(&self) -> Vec<Row> {
        self.outcomes
            .iter()
            .flat_map(|(_, o)| o.rows.iter().cloned())
            .collect()
    }

    /// All rows' spreads, aligned with [`Run::rows`].
    pub fn spreads(&self) -> Vec<RowSpread> {
        self.spreads.iter().flatten().cloned().collect()
    }

    /// The digest of all the work in the run.
    pub fn hash(&self) -> WorkHash {
        let mut h = WorkHash::default();
        for (name, o) in &self.outcomes {
            h.add_bytes(name.as_bytes());
            h.add(o.hash().value());
        }
        h
    }
}

/// The scenarios matching `names` (exact names, or prefixes followed by a dot); all if empty.
pub fn select(names: &[String]) -> Result<Vec<Box<dyn Scenario>>, Error> {
    let all = registry();
    if names.is_empty() {
        return Ok(all);
    }
    let matches = |name: &str, s: &dyn Scenario| {
        s.name() == name
            || s.name()
                .starts_with(&format!("{}.", name.trim_end_matches('.')))
    };
    for name in names {
        if !all.iter().any(|s| matches(name, s.as_ref())) {
            let known = all.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ");
            return Err(Error::UnknownScenario {
                name: name.clone(),
                known,
            });
        }
    }
    Ok(all
        .into_iter()
        .filter(|s| names.iter().any(|n| matches(n, s.as_ref())))
        .collect())
}

/// Runs `scenarios` once each at `size` against the peers at `endpoints`.
pub fn run(scenarios: &[Box<dyn Scenario>], size: Size, endpoints: &Endpoints) -> Run {
    run_repeated(scenarios, size, 1, endpoints)
}

/// Runs each of `scenarios` `repeat` times in a row (at least once) at `size` against the peers
/// at `endpoints`, and folds the repeats into medians.
pub fn run_repeated(
    scenarios: &[Box<dyn Scenario>],
    size: Size,
    repeat: usize,
    endpoints: &Endpoints,
) -> Run {
    let repeat = repeat.max(1);
    let date = crate::json::rfc3339(SystemTime::now());
    let machine = Machine::probe();
    let started = Instant::now();
    let first = Snapshot::take();
    let mut seen = Disturbance::default();
    let mut outcomes = Vec::with_capacity(scenarios.len());
    let mut spreads = Vec::with_capacity(scenarios.len());
    for (i, s) in scenarios.iter().enumerate() {
        let progress = Progress::new(started, i + 1, scenarios.len(), s.name());
        progress.say("harness", s.describe());
        let mut here = Disturbance::default();
        let mut repeats = Vec::with_capacity(repeat);
        for r in 0..repeat {
            if repeat > 1 {
                progress.say("harness", &format!("repeat {} of {repeat}", r + 1));
            }
            let before = Snapshot::take();
            repeats.push(s.run(&Ctx {
                size,
                endpoints,
                progress: &progress,
            }));
            let after = Snapshot::take();
            here.add(&before, &after);
            seen.add(&before, &after);
        }
        let (mut outcome, spread) = fold(repeats);
        outcome
            .notes
            .insert(0, where_note(s.as_ref(), &outcome, endpoints));
        if here.others_pct() > OTHERS_PCT_MAX {
            outcome.notes.push(format!(
                "not quiet: while this scenario ran, other processes used {:.0} % of a core \
                 ({})",
                here.others_pct(),
                here.describe()
            ));
        }
        progress.say(
            "harness",
            &format!("done, work hash {}", outcome.hash().short()),
        );
        outcomes.push((s.name(), outcome));
        spreads.push(spread);
    }
    let conditions = Conditions::quiet_for(machine.cores, &first, &Snapshot::take(), &seen);
    if !conditions.quiet {
        eprintln!("[bench] {}", conditions.describe().trim_end());
    }
    Run {
        date,
        machine,
        size,
        repeat,
        outcomes,
        spreads,
        conditions,
    }
}

/// "where: quark …; postgres …" for every system with a figure in `outcome`'s rows.
pub fn where_note(scenario: &dyn Scenario, outcome: &Outcome, endpoints: &Endpoints) -> String {
    let mut peers: Vec<&str> = Vec::new();
    for (name, _) in outcome.rows.iter().flat_map(|r| r.peers.iter()) {
        if !peers.contains(&name.as_str()) {
            peers.push(name);
        }
    }
    let mut parts = vec![format!("quark {}", scenario.quark_runs())];
    parts.extend(
        peers
            .iter()
            .map(|p| format!("{p} {}", endpoints.where_runs(p))),
    );
    format!("where: {}", parts.join("; "))
}

/// The printed report: header, table, notes, unavailable peers, work hashes.
pub fn render(run: &Run) -> String {
    let m = &run.machine;
    let mut out = format!(
        "Quark benchmark harness · {} · {} cores, {} GiB, kernel {} · size {:?} · repeat {}\n",
        run.date, m.cores, m.memory_gib, m.kernel, run.size, run.repeat
    );
    let rows = run.rows();
    let has = |peer: &str| rows.iter().any(|r| r.peers.iter().any(|(n, _)| n == peer));
    out.push_str(
        "Every peer figure below was measured in this run (its clients in this process).\n",
    );
    if has("postgres") || has("redis") {
        out.push_str(
            "PostgreSQL runs with its defaults (fsync on, synchronous commit) and Redis with \
             appendonly yes + appendfsync always: both durable like Quark (settings read back, \
             see the notes).\n",
        );
    }
    out.push_str(
        "In a peer's column, (×r) is Quark's ratio to that peer, oriented so that > 1 means \
         Quark is better (↑ higher is better, ↓ lower is better).\n\n",
    );
    if run.repeat > 1 {
        let _ = writeln!(
            out,
            "Each figure is the median of {} repeats (Quark and the peers taking turns), with \
             the min–max spread in brackets.",
            run.repeat
        );
    }
    out.push_str(&run.conditions.describe());
    out.push('\n');
    out.push_str(&table(&rows, &run.spreads()));
    out.push_str("\nNotes:\n");
    for (name, o) in &run.outcomes {
        for note in &o.notes {
            let _ = writeln!(out, "  {name}: {note}");
        }
    }
    let unavailable: Vec<_> = run
        .outcomes
        .iter()
        .flat_map(|(n, o)| o.unavailable().into_iter().map(move |(s, w)| (*n, s, w)))
        .collect();
    if !unavailable.is_empty() {
        out.push_str("Unavailable:\n");
        for (name, system, why) in unavailable {
            let _ = writeln!(out, "  {name}: {system}: {why}");
        }
    }
    out.push_str("Work:\n");
    for (name, o) in &run.outcomes {
        let systems: Vec<String> = o
            .work
            .iter()
            .map(|w| format!("{} {} ops", w.system, w.ops))
            .collect();
        let _ = writeln!(
            out,
            "  {name}: hash {} ({})",
            o.hash().short(),
            systems.join(", ")
        );
    }
    let _ = writeln!(out, "Run work hash: {}", run.hash().short());
    out
}

#[cfg(test)]
mod tests {
    use super::select;

    fn names(args: &[&str]) -> Vec<&'static str> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        select(&args).unwrap().iter().map(|s| s.name()).collect()
    }

    #[test]
    fn names_and_prefixes_select_in_registry_order() {
        assert_eq!(
            names(&["log.replay", "log.append"]),
            vec!["log.append", "log.replay"]
        );
        let actors = names(&["actor"]);
        assert_eq!(actors.len(), 4, "{actors:?}");
        assert!(actors.iter().all(|n| n.starts_with("actor.")));
        assert!(names(&[]).len() >= 8);
        assert!(
            select(&["act".to_owned()]).is_err(),
            "a prefix must end at a dot"
        );
        assert!(select(&["nope".to_owned()]).is_err());
    }
}
