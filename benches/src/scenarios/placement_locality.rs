//! `placement.locality` {cut_reduction_pct, edge_cut_pct, moves, load_min_ratio,
//! converge_rounds, plan_ms}: the locality partitioner of `quark-placement` on the halo,
//! communities and random workloads, and one large plan; the workload is in each row's `load`.
//!
//! The peer is METIS 5.1 (`gpmetis`, see `peers::metis`), the reference graph partitioner: the
//! same graph and random start, k = shards, 10 % imbalance, its parts relabelled to the start
//! before its moves are counted. It partitions from scratch in one go, so it has no rounds;
//! its `plan_ms` is its own partitioning time. Orleans publishes no figure for its
//! repartitioner. Invariant: the work hash folds only seed-determined results (actors, edges,
//! moves, cuts), never timings; METIS's results are not hashed (another version may differ).
use super::RowSpec;
use crate::peers::PeerError;
use crate::peers::metis::{self, MetisRun};
use crate::report::{Better, Figure, Row};
use crate::scenario::{Ctx, Outcome, Scenario, Work};
use crate::size::Size;
use crate::work::WorkHash;
use quark_placement::workloads::{self, LocalityCase, LocalityWorkload, Quality};

/// The fixed seed: the same graphs every run.
const SEED: u64 = 42;

/// The scenario.
pub struct PlacementLocality;

/// Maps the harness's size to the placement crate's.
pub fn size(s: Size) -> workloads::Size {
    match s {
        Size::Tiny => workloads::Size::Tiny,
        Size::Quick => workloads::Size::Quick,
        Size::Full => workloads::Size::Full,
    }
}

fn figure_row(spec: &RowSpec<'_>, value: f64) -> Row {
    Row {
        scenario: spec.scenario.to_owned(),
        metric: spec.metric,
        ours: Figure::Value(value),
        target: spec.target,
        better: spec.better,
        durable: spec.durable,
        load: spec.load.to_owned(),
        peers: Vec::new(),
    }
}

/// What METIS reached on one case, measured as ours is.
struct Reference {
    quality: Quality,
    cut_before: f64,
    moves: usize,
    partition_ms: f64,
}

/// Runs METIS on `case` (from its random start).
fn reference(
    ctx: &Ctx<'_>,
    label: &str,
    case: Option<LocalityCase>,
) -> Result<Reference, PeerError> {
    ctx.progress.say("metis", &format!("{label}: gpmetis"));
    let case = case.ok_or_else(|| PeerError::Unavailable("workload generation failed".into()))?;
    let MetisRun {
        parts,
        partition_ms,
    } = metis::partition(&case.graph, case.layout.len(), &case.start)?;
    let moves = parts
        .iter()
        .zip(&case.start)
        .filter(|(a, b)| a != b)
        .count();
    Ok(Reference {
        quality: workloads::quality(&case.graph, &case.layout, &parts),
        cut_before: workloads::quality(&case.graph, &case.layout, &case.start).cut,
        moves,
        partition_ms,
    })
}

/// A row with METIS's figure beside ours (or why it has none).
fn compared_row(
    spec: &RowSpec<'_>,
    ours: f64,
    peer: &Result<Reference, PeerError>,
    theirs: impl Fn(&Reference) -> f64,
) -> Row {
    let mut row = figure_row(spec, ours);
    let figure = match peer {
        Ok(r) => Figure::Value(theirs(r)),
        Err(e) => Figure::Unavailable(e.to_string()),
    };
    row.peers.push(("metis".to_owned(), figure));
    row
}

/// The rows every case has: cut reduction, edge cut, moves, lightest shard and plan time.
struct Ours {
    cut_reduction_pct: f64,
    edge_cut_pct: f64,
    moves: usize,
    load_min_ratio: f64,
    plan_ms: f64,
}

fn compared_rows(
    load: &str,
    (ours, target): (&Ours, Option<f64>),
    peer: &Result<Reference, PeerError>,
    out: &mut Outcome,
) {
    let reduction = spec("cut_reduction_pct", target, Better::Higher, load);
    out.rows.push(compared_row(
        &reduction,
        ours.cut_reduction_pct,
        peer,
        |r| {
            let before = r.cut_before;
            if before > 0.0 {
                (before - r.quality.cut) / before * 100.0
            } else {
                0.0
            }
        },
    ));
    let edge_cut = spec("edge_cut_pct", None, Better::Lower, load);
    out.rows
        .push(compared_row(&edge_cut, ours.edge_cut_pct, peer, |r| {
            r.quality.edge_cut_pct
        }));
    let moves = spec("moves", None, Better::Lower, load);
    out.rows
        .push(compared_row(&moves, ours.moves as f64, peer, |r| {
            r.moves as f64
        }));
    let lightest = spec("load_min_ratio", Some(0.9), Better::Higher, load);
    out.rows
        .push(compared_row(&lightest, ours.load_min_ratio, peer, |r| {
            r.quality.load_min_ratio
        }));
    let plan = spec("plan_ms", None, Better::Lower, load);
    out.rows
        .push(compared_row(&plan, ours.plan_ms, peer, |r| r.partition_ms));
}

const NAME: &str = "placement.locality";

fn spec<'a>(
    metric: &'static str,
    target: Option<f64>,
    better: Better,
    load: &'a str,
) -> RowSpec<'a> {
    RowSpec {
        scenario: NAME,
        metric,
        target,
        better,
        durable: false,
        load,
    }
}

/// Rounds on one workload from a random placement: six rows (five beside METIS), a note,
/// and its work.
fn workload_case(
    ctx: &Ctx<'_>,
    (label, workload, target): (&str, LocalityWorkload, Option<f64>),
    out: &mut Outcome,
    hash: &mut WorkHash,
) -> u64 {
    ctx.progress
        .say("quark", &format!("{label}: planning rounds"));
    let r = workloads::run_locality(workload, size(ctx.size), SEED);
    let load = format!(
        "{label}: {} actors, {} edges, {} shards, 10 % balance",
        r.actors, r.edges, r.shards
    );
    let peer = reference(
        ctx,
        label,
        workloads::locality_case(workload, size(ctx.size), SEED),
    );
    let ours = Ours {
        cut_reduction_pct: r.cut_reduction_pct,
        edge_cut_pct: r.edge_cut_pct,
        moves: r.moves,
        load_min_ratio: r.load_min_ratio,
        plan_ms: r.plan_ms,
    };
    compared_rows(&load, (&ours, target), &peer, out);
    let rounds = spec("converge_rounds", Some(5.0), Better::Lower, &load);
    out.rows
        .push(figure_row(&rounds, f64::from(r.converge_rounds)));
    out.notes.push(format!(
        "{label}: cut {:.0} → {:.0} (cost-weighted), {} moves, final imbalance {:.1} %",
        r.cut_before, r.cut_after, r.moves, r.imbalance_pct
    ));
    for v in [
        r.actors as u64,
        r.edges as u64,
        r.moves as u64,
        r.cut_after.to_bits(),
    ] {
        hash.add(v);
    }
    r.moves as u64 + 1
}

/// One plan on the large graph: five rows beside METIS, a note, and its work.
fn large_case(ctx: &Ctx<'_>, out: &mut Outcome, hash: &mut WorkHash) -> u64 {
    ctx.progress.say("quark", "large: one plan");
    let r = workloads::run_large_plan(size(ctx.size), SEED);
    let load = format!("large: {} actors, {} edges, one plan", r.actors, r.edges);
    let peer = reference(ctx, "large", workloads::large_case(size(ctx.size), SEED));
    let ours = Ours {
        cut_reduction_pct: r.cut_reduction_pct,
        edge_cut_pct: r.edge_cut_pct,
        moves: r.moves,
        load_min_ratio: r.load_min_ratio,
        plan_ms: r.plan_ms,
    };
    compared_rows(&load, (&ours, None), &peer, out);
    if let Some(plan) = out.rows.last_mut() {
        // The bound on one plan of 1M actors / 10M edges.
        plan.target = Some(1000.0);
    }
    out.notes.push(format!(
        "large: CSR graph built in {:.0} ms (not in plan_ms), {} moves in one plan; targets: \
         > 60 % cut reduction on halo and communities, no harm (≥ 0 %) on random, ≤ 5 rounds \
         (issue 6), plan of 1M actors / 10M edges < 1 s (full size only)",
        r.build_ms, r.moves
    ));
    for v in [r.actors as u64, r.edges as u64, r.moves as u64] {
        hash.add(v);
    }
    r.moves as u64 + 1
}

impl Scenario for PlacementLocality {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "locality partitioning rounds from a random placement: halo, communities, random, large"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Outcome {
        let mut out = Outcome::default();
        let mut hash = WorkHash::default();
        let cases = [
            ("halo", LocalityWorkload::Halo, Some(60.0)),
            ("communities", LocalityWorkload::Communities, Some(60.0)),
            ("random", LocalityWorkload::Random, Some(0.0)),
        ];
        let mut ops = 0;
        for case in cases {
            ops += workload_case(ctx, case, &mut out, &mut hash);
        }
        ops += large_case(ctx, &mut out, &mut hash);
        out.work.push(Work {
            system: "quark".to_owned(),
            ops,
            hash,
        });
        out
    }
}
