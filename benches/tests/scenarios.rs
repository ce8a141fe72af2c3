//! Every scenario runs once at tiny size, so the benchmarks never rot.
//!
//! How: each test runs one scenario through the same runner as `main.rs`, against the real
//! PostgreSQL and Redis that CI starts, and checks the work, never a timing: every figure was
//! measured (an unavailable peer is a failure here, because the servers are up), every system
//! did a sane amount of work, and the work hash moved.
use quark_benches::report::Figure;
use quark_benches::runner;
use quark_benches::scenario::Endpoints;
use quark_benches::size::Size;
use std::sync::Mutex;

/// Scenarios whose Quark side is wired to a crate that exists in the tree.
const QUARK_WIRED: &[&str] = &[
    "log.append",
    "log.replay",
    "events.append",
    "events.read_stream_100",
    "events.replay",
    "actor.tell_one_shard",
    "actor.call_one_shard",
    "actor.call_cross_shard",
    "actor.activate",
    "placement.locality",
    "placement.memory",
];

/// `cargo test` runs tests on parallel threads of one process, and `actor.activate` counts
/// live heap bytes with a process-wide allocator counter: scenarios take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `name` at tiny size and checks its outcome; returns the ops per system.
fn check(name: &str) -> Vec<(String, u64)> {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let scenarios = runner::select(&[name.to_owned()]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenarios.len(), 1, "{name} selects exactly one scenario");
    let run = runner::run(&scenarios, Size::Tiny, &Endpoints::from_env());
    let (ran, outcome) = &run.outcomes[0];
    assert_eq!(*ran, name);
    assert!(!outcome.rows.is_empty(), "{name} produced no rows");
    for row in &outcome.rows {
        assert_eq!(row.scenario, name);
        // Quark's side is checked once its crate's API is wired in (see `ours`).
        let ours = QUARK_WIRED.contains(&name).then_some(("quark", &row.ours));
        let figures = ours
            .into_iter()
            .chain(row.peers.iter().map(|(n, f)| (n.as_str(), f)));
        for (system, figure) in figures {
            match figure {
                Figure::Value(v) => assert!(v.is_finite() && *v >= 0.0, "{system}: {v}"),
                Figure::Unavailable(why) => {
                    panic!("{name} {}: {system} unavailable: {why}", row.metric)
                }
            }
        }
    }
    assert!(!outcome.hash().is_empty());
    for w in &outcome.work {
        assert!(w.ops > 0, "{name}: {} did no work", w.system);
        assert!(!w.hash.is_empty(), "{name}: {} hashed nothing", w.system);
    }
    let text = runner::render(&run);
    assert!(text.contains(name), "the report names the scenario");
    outcome
        .work
        .iter()
        .map(|w| (w.system.clone(), w.ops))
        .collect()
}

/// The ops of `system` (or of its first load level, `system@N`).
fn ops(work: &[(String, u64)], system: &str) -> u64 {
    let named = |s: &str| s == system || s.starts_with(&format!("{system}@"));
    work.iter().find(|(s, _)| named(s)).map_or(0, |(_, n)| *n)
}

#[test]
fn log_append() {
    let work = check("log.append");
    for system in ["quark", "postgres", "redis"] {
        assert!(
            ops(&work, system) > 0,
            "{system} appended nothing: {work:?}"
        );
    }
}

#[test]
fn log_replay() {
    let work = check("log.replay");
    for system in ["quark", "postgres", "redis"] {
        assert_eq!(
            ops(&work, system),
            2_000,
            "{system} read back every record: {work:?}"
        );
    }
}

#[test]
fn events_append() {
    let work = check("events.append");
    for system in ["quark", "quark-parked", "postgres", "redis"] {
        assert!(
            ops(&work, system) > 0,
            "{system} appended nothing: {work:?}"
        );
    }
}

#[test]
fn events_read_stream_100() {
    let work = check("events.read_stream_100");
    for system in ["quark", "postgres", "redis"] {
        let events = ops(&work, system);
        assert!(events > 0, "{system} read nothing: {work:?}");
        assert_eq!(events % 100, 0, "{system} read whole streams: {work:?}");
    }
}

#[test]
fn events_replay() {
    let work = check("events.replay");
    for system in ["quark", "postgres", "redis"] {
        assert_eq!(
            ops(&work, system),
            6_400,
            "{system} read every event back: {work:?}"
        );
    }
}

#[test]
fn actor_tell_one_shard() {
    let work = check("actor.tell_one_shard");
    for system in ["quark", "actix", "ractor"] {
        assert_eq!(
            ops(&work, system),
            10_000,
            "{system} delivered every tell: {work:?}"
        );
    }
}

#[test]
fn actor_call_one_shard() {
    let work = check("actor.call_one_shard");
    for system in ["quark", "actix", "ractor"] {
        assert!(
            ops(&work, system) > 0,
            "{system} answered no call: {work:?}"
        );
    }
}

#[test]
fn actor_call_cross_shard() {
    let work = check("actor.call_cross_shard");
    for system in ["quark", "quark-parked", "actix", "ractor"] {
        assert!(
            ops(&work, system) > 0,
            "{system} answered no call: {work:?}"
        );
    }
}

#[test]
fn actor_activate() {
    let work = check("actor.activate");
    for system in ["quark", "actix", "ractor"] {
        assert_eq!(
            ops(&work, system),
            1_000,
            "{system} activated every actor: {work:?}"
        );
    }
}

#[test]
fn every_registered_scenario_has_a_test_here() {
    let source = include_str!("scenarios.rs");
    for s in runner::select(&[]).unwrap_or_else(|e| panic!("{e}")) {
        let call = format!("check(\"{}\")", s.name());
        assert!(source.contains(&call), "no tiny-size test calls {call}");
    }
}

#[test]
fn placement_locality() {
    let work = check("placement.locality");
    assert!(ops(&work, "quark") > 0, "{work:?}");
}

#[test]
fn placement_memory() {
    let work = check("placement.memory");
    assert!(ops(&work, "quark") > 0, "{work:?}");
}

#[test]
fn unreachable_peers_are_reported_and_the_run_goes_on() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Port 1 on localhost refuses connections: both peers must come back "unavailable".
    let nowhere = Endpoints {
        postgres: "postgres://quark:quark@127.0.0.1:1/quark".to_owned(),
        redis: "redis://127.0.0.1:1/".to_owned(),
    };
    let scenarios = runner::select(&["log.replay".to_owned()]).unwrap_or_else(|e| panic!("{e}"));
    let run = runner::run(&scenarios, Size::Tiny, &nowhere);
    let outcome = &run.outcomes[0].1;
    let row = &outcome.rows[0];
    assert!(
        matches!(row.ours, Figure::Value(_)),
        "quark still ran: {:?}",
        row.ours
    );
    for peer in ["postgres", "redis"] {
        let figure = row.peers.iter().find(|(n, _)| n == peer).map(|(_, f)| f);
        assert!(
            matches!(figure, Some(Figure::Unavailable(_))),
            "{peer}: {figure:?}"
        );
    }
    let text = runner::render(&run);
    assert!(
        text.contains("unavailable: connecting to PostgreSQL"),
        "{text}"
    );
    assert!(text.contains("unavailable: connecting to Redis"), "{text}");
    assert_eq!(
        outcome.unavailable().len(),
        2,
        "{:?}",
        outcome.unavailable()
    );
}
