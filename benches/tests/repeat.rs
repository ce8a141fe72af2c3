//! `--repeat N`: figures are medians of N repeats with their min–max spread, and the systems take
//! turns (Quark, peer, Quark, peer …) so drift on the machine hits them alike.
//!
//! How: a fake scenario hands the runner known figures and records the order in which it
//! "measured" each system; the tests check the order, the medians, the spreads, that a failure in
//! any repeat is never hidden by a median, and that the table, the JSON and the run's conditions
//! carry what they should. No server, no timing.
use quark_benches::json::Report;
use quark_benches::peers::PeerError;
use quark_benches::repeat::{Spread, fold, median};
use quark_benches::report::{Better, Figure};
use quark_benches::runner;
use quark_benches::scenario::{Ctx, Endpoints, Outcome, Scenario, Work};
use quark_benches::scenarios::{Measured, RowSpec, row};
use quark_benches::size::Size;
use quark_benches::work::WorkHash;
use std::sync::{Arc, Mutex};

/// A scenario whose systems return the next figures from fixed lists, logging each turn.
struct Fake {
    /// Quark's figure in each repeat.
    ours: Vec<f64>,
    /// The peer's figure in each repeat (`None`: unavailable that time).
    peer: Vec<Option<f64>>,
    /// The systems in the order they ran, over all repeats.
    turns: Mutex<Vec<&'static str>>,
}

impl Fake {
    fn new(ours: &[f64], peer: &[Option<f64>]) -> Fake {
        Fake {
            ours: ours.to_vec(),
            peer: peer.to_vec(),
            turns: Mutex::new(Vec::new()),
        }
    }

    fn turns(&self) -> Vec<&'static str> {
        self.turns.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The runner owns its scenarios; the test keeps a second handle on the fake to read its turns.
struct Shared(Arc<Fake>);

impl Scenario for Shared {
    fn name(&self) -> &'static str {
        "fake.scenario"
    }

    fn describe(&self) -> &'static str {
        "a scenario with known figures"
    }

    fn run(&self, _ctx: &Ctx<'_>) -> Outcome {
        let fake = &self.0;
        let mut turns = fake.turns.lock().unwrap_or_else(|p| p.into_inner());
        let repeat = turns.iter().filter(|t| **t == "quark").count();
        turns.push("quark");
        let ours = Measured {
            system: "quark",
            result: Ok::<f64, PeerError>(fake.ours[repeat]),
        };
        turns.push("peer");
        let peer = Measured {
            system: "peer",
            result: fake.peer[repeat].ok_or_else(|| PeerError::Unavailable("down".to_owned())),
        };
        let spec = RowSpec {
            scenario: "fake.scenario",
            metric: "ops_per_s",
            target: Some(10.0),
            better: Better::Higher,
            durable: true,
            load: "one load",
        };
        let mut hash = WorkHash::default();
        hash.add(repeat as u64 + 1);
        Outcome {
            rows: vec![row(&spec, &ours, &[peer], |v| Some(*v))],
            work: vec![Work {
                system: "quark".to_owned(),
                ops: 1,
                hash,
            }],
            notes: vec![
                "same every time".to_owned(),
                format!("repeat {repeat} said"),
            ],
        }
    }
}

fn run(fake: Fake, repeat: usize) -> (runner::Run, Vec<&'static str>) {
    let fake = Arc::new(fake);
    let scenarios: Vec<Box<dyn Scenario>> = vec![Box::new(Shared(fake.clone()))];
    let run = runner::run_repeated(&scenarios, Size::Tiny, repeat, &Endpoints::from_env());
    (run, fake.turns())
}

#[test]
fn systems_take_turns_across_repeats() {
    let (_, turns) = run(Fake::new(&[1.0, 2.0, 3.0], &[Some(1.0); 3]), 3);
    assert_eq!(turns, ["quark", "peer", "quark", "peer", "quark", "peer"]);
}

#[test]
fn the_median_and_spread_of_the_repeats_are_reported() {
    let fake = Fake::new(&[30.0, 10.0, 20.0], &[Some(4.0), Some(6.0), Some(5.0)]);
    let (run, _) = run(fake, 3);
    let rows = run.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].ours, Figure::Value(20.0));
    assert_eq!(rows[0].peers, vec![("peer".to_owned(), Figure::Value(5.0))]);
    let spreads = run.spreads();
    assert_eq!(
        spreads[0].ours,
        Some(Spread {
            min: 10.0,
            max: 30.0
        })
    );
    assert_eq!(spreads[0].peer("peer"), Some(Spread { min: 4.0, max: 6.0 }));
    // `meets` is judged on the median: 20 ≥ 10, and the ratio is of medians (20 / 5).
    assert_eq!(rows[0].meets_target(), Some(true));
    assert_eq!(rows[0].ratio(&rows[0].peers[0].1), Some(4.0));
    let text = runner::render(&run);
    assert!(text.contains("20.0 [10.0–30.0]"), "{text}");
    assert!(text.contains("5.00 [4.00–6.00] (×4.00)"), "{text}");
    assert!(text.contains("median of 3 repeats"), "{text}");
    // Every repeat's work is kept; a note every repeat wrote appears once, the others by repeat.
    assert_eq!(run.outcomes[0].1.work.len(), 3);
    let notes = &run.outcomes[0].1.notes;
    assert_eq!(notes.iter().filter(|n| *n == "same every time").count(), 1);
    assert!(
        notes.contains(&"[repeat 2/3] repeat 1 said".to_owned()),
        "{notes:?}"
    );
}

#[test]
fn json_carries_the_spread_beside_the_value() {
    let fake = Fake::new(&[1.0, 3.0], &[Some(8.0), Some(2.0)]);
    let (run, _) = run(fake, 2);
    let v = serde_json::to_value(Report::of(&run, false)).unwrap();
    let r = &v["results"][0];
    // An even count: the mean of the two middle values.
    assert_eq!(r["value"], 2.0);
    assert_eq!(r["spread"], serde_json::json!({"min": 1.0, "max": 3.0}));
    assert_eq!(r["peers"]["peer"], 5.0);
    assert_eq!(
        r["peer_spreads"]["peer"],
        serde_json::json!({"min": 2.0, "max": 8.0})
    );
    assert_eq!(v["repeat"], 2);
    assert!(v["conditions"]["quiet"].is_boolean(), "{v}");
}

#[test]
fn a_failed_repeat_is_never_hidden_by_a_median() {
    let fake = Fake::new(&[1.0, 2.0, 3.0], &[Some(1.0), None, Some(1.0)]);
    let (run, _) = run(fake, 3);
    let peer = &run.rows()[0].peers[0].1;
    assert_eq!(
        peer,
        &Figure::Unavailable("down (repeat 2 of 3)".to_owned())
    );
    assert_eq!(run.spreads()[0].peer("peer"), None);
    assert_eq!(run.rows()[0].ours, Figure::Value(2.0));
}

#[test]
fn one_repeat_is_the_figure_itself() {
    let (run, turns) = run(Fake::new(&[7.0], &[Some(3.0)]), 1);
    assert_eq!(turns, ["quark", "peer"]);
    assert_eq!(run.rows()[0].ours, Figure::Value(7.0));
    let text = runner::render(&run);
    assert!(text.contains("7.00  "), "no spread for one run: {text}");
    assert!(!text.contains("median of"), "{text}");
}

#[test]
fn median_math() {
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[5.0]), Some((5.0, Spread { min: 5.0, max: 5.0 })));
    assert_eq!(
        median(&[4.0, 1.0]),
        Some((2.5, Spread { min: 1.0, max: 4.0 }))
    );
    assert_eq!(
        median(&[9.0, 1.0, 5.0, 7.0, 3.0]),
        Some((5.0, Spread { min: 1.0, max: 9.0 }))
    );
    assert_eq!(
        median(&[4.0, 100.0, 1.0, 2.0]),
        Some((
            3.0,
            Spread {
                min: 1.0,
                max: 100.0
            }
        ))
    );
}

#[test]
fn repeats_with_different_rows_are_not_mixed() {
    let outcome = |load: &str, v: f64| {
        let spec = RowSpec {
            scenario: "s",
            metric: "m",
            target: None,
            better: Better::Lower,
            durable: false,
            load,
        };
        let ours = Measured {
            system: "quark",
            result: Ok::<f64, PeerError>(v),
        };
        Outcome {
            rows: vec![row(&spec, &ours, &[], |v| Some(*v))],
            ..Outcome::default()
        }
    };
    let (folded, spreads) = fold(vec![outcome("a", 1.0), outcome("b", 9.0)]);
    assert_eq!(folded.rows[0].ours, Figure::Value(1.0));
    assert_eq!(spreads[0].ours, None);
    assert!(folded.notes.iter().any(|n| n.contains("different rows")));
}
