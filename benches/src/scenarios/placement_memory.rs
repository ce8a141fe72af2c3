//! `placement.memory` {imbalance_after_pct, moves}: memory-aware rebalancing of
//! `quark-placement` on a skewed memory load, round after round until it stops.
//!
//! No peer publishes a comparable figure. Invariant: the work hash folds only seed-determined
//! results, never timings.
use super::placement_locality::size;
use crate::report::{Better, Figure, Row};
use crate::scenario::{Ctx, Outcome, Scenario, Work};
use crate::work::WorkHash;
use quark_placement::workloads;

/// The fixed seed: the same load every run.
const SEED: u64 = 42;

/// The scenario.
pub struct PlacementMemory;

impl Scenario for PlacementMemory {
    fn name(&self) -> &'static str {
        "placement.memory"
    }

    fn describe(&self) -> &'static str {
        "memory rebalancing rounds from a skewed load until the plan is empty"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Outcome {
        ctx.progress.say("quark", "skewed memory: planning rounds");
        let r = workloads::run_memory(size(ctx.size), SEED);
        let load = format!(
            "skewed memory: {} actors on {} shards, imbalance before {:.0} %",
            r.actors, r.shards, r.imbalance_before_pct
        );
        let row = |metric, target, better, value| Row {
            scenario: self.name().to_owned(),
            metric,
            ours: Figure::Value(value),
            target,
            better,
            durable: false,
            load: load.clone(),
            peers: Vec::new(),
        };
        let mut out = Outcome {
            rows: vec![
                row(
                    "imbalance_after_pct",
                    Some(10.0),
                    Better::Lower,
                    r.imbalance_after_pct,
                ),
                row("moves", None, Better::Lower, r.moves as f64),
            ],
            ..Outcome::default()
        };
        out.notes.push(format!(
            "rounds that moved something: {}; lower bound on the moves needed: {}",
            r.rounds, r.moves_lower_bound
        ));
        let mut hash = WorkHash::default();
        for v in [r.actors as u64, r.moves as u64, u64::from(r.rounds)] {
            hash.add(v);
        }
        hash.add(r.imbalance_after_pct.to_bits());
        out.work.push(Work {
            system: "quark".to_owned(),
            ops: r.moves as u64 + 1,
            hash,
        });
        out
    }
}
