//! Workloads and measuring runs for the benchmark harness (`placement.locality`,
//! `placement.memory`) and the example.
//!
//! This is the one module that reads a clock: `plan_ms` is a measurement of the policy, not
//! part of it, and is taken around each call with `std::time::Instant` (and `plan_cpu_ms`
//! with the probe module's thread CPU time, the fairer figure on a shared machine).
//! Everything else is generated from the seed, so two runs with the same seed and size differ
//! only in timings.
//! The policy modules never depend on this one.
//!
//! Invariants: a run never panics on its own data (generation errors would be bugs, and are
//! reported as an empty report with zero actors rather than a panic); rounds stop after the
//! first empty plan or `ROUNDS_MAX` rounds.

mod generate;

use std::time::Instant;

use crate::graph::CommGraph;
use crate::layout::{LayoutConfig, ShardId, ShardLayout};
use crate::memory::{self, ActorMemory, ShardLoad};
use crate::partition::{self, Config, Problem};
use crate::probe;
use crate::topology::Topology;
use generate::Rng;

/// How big a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// For `cargo test` (debug build, well under a second each).
    Tiny,
    /// For the harness's `--quick` (a few seconds in total, release build).
    Quick,
    /// The real run.
    Full,
}

/// The communication workloads of `placement.locality`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalityWorkload {
    /// Halo-Presence-like: games of 8 players, players moving between games.
    Halo,
    /// A planted-community social graph.
    Communities,
    /// A uniform random graph (no structure to find).
    Random,
}

/// The outcome of [`run_locality`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalityReport {
    /// Cost-weighted cut of the random initial placement.
    pub cut_before: f64,
    /// Cost-weighted cut after the last round.
    pub cut_after: f64,
    /// `(cut_before - cut_after) / cut_before × 100`.
    pub cut_reduction_pct: f64,
    /// Rounds that moved something before a round planned no move.
    pub converge_rounds: u32,
    /// Wall time of the slowest planning round, in milliseconds.
    pub plan_ms: f64,
    /// CPU time of that round's thread, in milliseconds (0 where it cannot be read): on a
    /// shared machine, what the round would take on a core of its own.
    pub plan_cpu_ms: f64,
    /// Moves over all rounds.
    pub moves: usize,
    /// Vertices (actors) of the graph.
    pub actors: usize,
    /// Edges of the graph.
    pub edges: usize,
    /// Shards (over all hosts).
    pub shards: usize,
    /// How far the fullest shard is above the mean at the end, in percent.
    pub imbalance_pct: f64,
    /// The plain cut (edge weight between different shards, costs ignored), before.
    pub edge_cut_before: f64,
    /// The plain cut after the last round.
    pub edge_cut_after: f64,
    /// The plain cut after the last round, in percent of all edge weight.
    pub edge_cut_pct: f64,
    /// The lightest shard's load over the mean load at the end (1 is perfectly even).
    pub load_min_ratio: f64,
}

/// The outcome of [`run_memory`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryReport {
    /// Imbalance of the skewed start, in percent.
    pub imbalance_before_pct: f64,
    /// Imbalance after the last round, in percent.
    pub imbalance_after_pct: f64,
    /// Moves over all rounds.
    pub moves: usize,
    /// Rounds that moved something.
    pub rounds: u32,
    /// Actors in the workload.
    pub actors: usize,
    /// Shards.
    pub shards: usize,
    /// Fewest moves any plan could need to bring the start within the policy's target, from
    /// the reported actors (each over-full shard shedding its largest movable actors first).
    pub moves_lower_bound: usize,
}

/// The outcome of [`run_large_plan`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LargePlanReport {
    /// Vertices of the graph.
    pub actors: usize,
    /// Edges of the graph.
    pub edges: usize,
    /// Wall time of one plan (from the CSR graph), in milliseconds: the fastest of 3 runs of
    /// the same deterministic plan.
    pub plan_ms: f64,
    /// CPU time of the planning thread for one plan, in milliseconds, fastest of the 3 runs
    /// (0 where unknown).
    pub plan_cpu_ms: f64,
    /// Wall time of generating the graph (edge list and CSR) and the random start, in
    /// milliseconds.
    pub build_ms: f64,
    /// Cut reduction of that one plan, in percent.
    pub cut_reduction_pct: f64,
    /// Moves of that one plan.
    pub moves: usize,
    /// The plain cut after that plan, in percent of all edge weight.
    pub edge_cut_pct: f64,
    /// The lightest shard's load over the mean load after that plan.
    pub load_min_ratio: f64,
}

/// How good a placement is, in the figures a reference partitioner is compared on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    /// Cost-weighted cut (the partitioner's objective).
    pub cut: f64,
    /// Plain edge cut: the weight of edges whose ends sit on different shards.
    pub edge_cut: f64,
    /// `edge_cut` in percent of all edge weight.
    pub edge_cut_pct: f64,
    /// The lightest shard's load over the mean load.
    pub load_min_ratio: f64,
    /// The heaviest shard's load over the mean load.
    pub load_max_ratio: f64,
}

/// Measures `assignment` of `graph` on `layout` (zeros if the assignment does not fit).
///
/// # Example
/// ```
/// use quark_placement::graph::CommGraph;
/// use quark_placement::layout::{ShardId, ShardLayout};
/// let graph = CommGraph::from_edges(vec![1; 4], &[(0, 1, 1), (2, 3, 3)]).unwrap();
/// let layout = ShardLayout::flat(2).unwrap();
/// let q = quark_placement::workloads::quality(&graph, &layout, &[0, 1, 1, 1].map(ShardId));
/// assert_eq!(q.edge_cut, 1.0);
/// assert_eq!(q.edge_cut_pct, 25.0);
/// assert_eq!(q.load_min_ratio, 0.5);
/// ```
pub fn quality(graph: &CommGraph, layout: &ShardLayout, assignment: &[ShardId]) -> Quality {
    let (cut, edge_cut) = cuts(graph, assignment, layout);
    let total = graph.total_edge_weight() as f64;
    let mut loads = vec![0u64; layout.len()];
    for (v, s) in assignment.iter().enumerate() {
        if let (Some(load), Some(&w)) = (loads.get_mut(s.index()), graph.vertex_weights().get(v)) {
            *load += u64::from(w);
        }
    }
    let mean = loads.iter().sum::<u64>() as f64 / loads.len().max(1) as f64;
    let ratio = |x: u64| if mean > 0.0 { x as f64 / mean } else { 0.0 };
    Quality {
        cut,
        edge_cut,
        edge_cut_pct: if total > 0.0 {
            edge_cut / total * 100.0
        } else {
            0.0
        },
        load_min_ratio: ratio(loads.iter().copied().min().unwrap_or(0)),
        load_max_ratio: ratio(loads.iter().copied().max().unwrap_or(0)),
    }
}

const ROUNDS_MAX: u32 = 20;

/// How many times [`run_large_plan`] times its plan (it reports the fastest).
const PLAN_REPEATS: usize = 3;

/// The layout a size runs on: several hosts, so cross-host moves matter.
fn layout_for(size: Size) -> Option<ShardLayout> {
    let (hosts, numa, cores) = match size {
        Size::Tiny => (2, 1, 2),
        Size::Quick => (2, 2, 2),
        Size::Full => (2, 2, 4),
    };
    let topology = Topology::uniform(hosts, numa, cores, 2, 16 << 30).ok()?;
    ShardLayout::new(&topology, &LayoutConfig::default()).ok()
}

fn locality_graph(w: LocalityWorkload, size: Size, rng: &mut Rng) -> Option<CommGraph> {
    let vertices = match size {
        Size::Tiny => 1_000,
        Size::Quick => 20_000,
        Size::Full => 200_000,
    };
    let graph = match w {
        LocalityWorkload::Halo => {
            let tracker_bytes = vertices * 64 * 100;
            let shape = generate::HaloShape {
                players: vertices,
                epochs: 6,
                churn: 0.05,
                tracker_bytes,
            };
            generate::halo(&shape, rng)
        }
        LocalityWorkload::Communities => generate::communities(vertices, 8, 2, rng),
        LocalityWorkload::Random => generate::random(vertices, 10, rng),
    };
    graph.ok()
}

/// A generated graph with its layout and the random placement runs start from: what a
/// reference partitioner is given to compare with [`run_locality`] and [`run_large_plan`].
#[derive(Debug, Clone)]
pub struct LocalityCase {
    /// The communication graph.
    pub graph: CommGraph,
    /// The shards (several hosts, so costs differ between shard pairs).
    pub layout: ShardLayout,
    /// The starting placement, uniform at random.
    pub start: Vec<ShardId>,
}

/// The graph, layout and starting placement [`run_locality`] uses for `w` at `size` and
/// `seed` (`None` only if generation fails, which would be a bug).
///
/// # Example
/// ```
/// use quark_placement::workloads::{locality_case, LocalityWorkload, Size};
/// let case = locality_case(LocalityWorkload::Random, Size::Tiny, 1).unwrap();
/// assert_eq!(case.start.len(), case.graph.vertex_count());
/// ```
pub fn locality_case(w: LocalityWorkload, size: Size, seed: u64) -> Option<LocalityCase> {
    let mut rng = Rng::new(seed);
    let layout = layout_for(size)?;
    let graph = locality_graph(w, size, &mut rng)?;
    let start = random_start(graph.vertex_count(), layout.len(), &mut rng);
    Some(LocalityCase {
        graph,
        layout,
        start,
    })
}

fn random_start(vertices: usize, shards: usize, rng: &mut Rng) -> Vec<ShardId> {
    (0..vertices)
        .map(|_| ShardId(rng.below(shards as u64) as u32))
        .collect()
}

/// Generates workload `w`, places it at random, and plans rounds (10 % balance tolerance, at
/// most a quarter of the actors moved per round) until a round plans nothing.
///
/// # Example
/// ```
/// use quark_placement::workloads::{run_locality, LocalityWorkload, Size};
/// let report = run_locality(LocalityWorkload::Halo, Size::Tiny, 1);
/// assert!(report.cut_after < report.cut_before);
/// assert!(report.imbalance_pct <= 10.0 + 1e-9);
/// ```
pub fn run_locality(w: LocalityWorkload, size: Size, seed: u64) -> LocalityReport {
    let Some(LocalityCase {
        graph,
        layout,
        start: mut assignment,
    }) = locality_case(w, size, seed)
    else {
        return empty_locality();
    };
    let config = Config {
        moves_max: graph.vertex_count() / 4,
        ..Config::default()
    };
    let (cut_before, edge_cut_before) = cuts(&graph, &assignment, &layout);
    let (mut rounds, mut moves, mut plan_ms, mut plan_cpu_ms) = (0, 0, 0.0f64, 0.0);
    let mut loads = Vec::new();
    for _ in 0..ROUNDS_MAX {
        let problem = Problem {
            graph: &graph,
            assignment: &assignment,
            layout: &layout,
            immovable: &[],
            capacities: None,
        };
        let (started, cpu_started) = (Instant::now(), probe::thread_cpu_ns());
        let Ok(plan) = partition::plan(&problem, &config) else {
            break;
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        if elapsed_ms > plan_ms {
            plan_ms = elapsed_ms;
            plan_cpu_ms = cpu_ms_since(cpu_started);
        }
        loads = plan.loads_after.clone();
        if plan.moves.is_empty() {
            break;
        }
        plan.apply(&mut assignment);
        rounds += 1;
        moves += plan.moves.len();
    }
    let after = quality(&graph, &layout, &assignment);
    let (cut_after, edge_cut_after) = (after.cut, after.edge_cut);
    LocalityReport {
        cut_before,
        cut_after,
        cut_reduction_pct: reduction_pct(cut_before, cut_after),
        converge_rounds: rounds,
        plan_ms,
        plan_cpu_ms,
        moves,
        actors: graph.vertex_count(),
        edges: graph.edge_count(),
        shards: layout.len(),
        imbalance_pct: load_imbalance_pct(&loads),
        edge_cut_before,
        edge_cut_after,
        edge_cut_pct: after.edge_cut_pct,
        load_min_ratio: after.load_min_ratio,
    }
}

/// Generates a skewed memory load (heavy-tailed actor sizes spread evenly, plus a hot
/// tenant's big caches crowded on two shards; every 50th actor pinned) and runs rebalance
/// rounds (default policy, at most 256 moves a round) until one plans nothing. Only
/// the largest tenth of each shard's actors is reported to the policy, as the engine would.
///
/// # Example
/// ```
/// let report = quark_placement::workloads::run_memory(quark_placement::workloads::Size::Tiny, 2);
/// assert!(report.imbalance_after_pct < report.imbalance_before_pct);
/// ```
pub fn run_memory(size: Size, seed: u64) -> MemoryReport {
    let mut rng = Rng::new(seed);
    let Some(layout) = layout_for(size) else {
        return MemoryReport {
            imbalance_before_pct: 0.0,
            imbalance_after_pct: 0.0,
            moves: 0,
            rounds: 0,
            actors: 0,
            shards: 0,
            moves_lower_bound: 0,
        };
    };
    let actors_count = match size {
        Size::Tiny => 2_000,
        Size::Quick => 20_000,
        Size::Full => 200_000,
    };
    let shards = layout.len();
    let (mut actors, mut loads) = generate::memory_load(actors_count, shards, &mut rng);
    let before = memory::imbalance_pct(&loads);
    let policy = memory::Policy {
        moves_max: 256,
        ..memory::Policy::default()
    };
    let moves_lower_bound = lower_bound(&loads, &largest_tenth(&actors, shards), &policy);
    let (mut rounds, mut moves) = (0, 0);
    for _ in 0..ROUNDS_MAX {
        let reported = largest_tenth(&actors, shards);
        let Ok(plan) = memory::rebalance(&loads, &reported, &layout, &policy) else {
            break;
        };
        if plan.moves.is_empty() {
            break;
        }
        for m in &plan.moves {
            loads[m.from.index()].memory_bytes_used -= m.memory_bytes;
            loads[m.to.index()].memory_bytes_used += m.memory_bytes;
            if let Some(a) = actors.get_mut(m.actor as usize) {
                a.shard = m.to;
            }
        }
        rounds += 1;
        moves += plan.moves.len();
    }
    MemoryReport {
        imbalance_before_pct: before,
        imbalance_after_pct: memory::imbalance_pct(&loads),
        moves,
        rounds,
        actors: actors_count,
        shards,
        moves_lower_bound,
    }
}

/// See [`MemoryReport::moves_lower_bound`]: with equal limits the mean level is fixed, so a
/// shard above the target level must shed at least its excess, at best with its largest
/// actors.
fn lower_bound(loads: &[ShardLoad], actors: &[ActorMemory], policy: &memory::Policy) -> usize {
    let levels: Vec<f64> = loads
        .iter()
        .map(|l| l.memory_bytes_used as f64 / l.memory_bytes_limit as f64)
        .collect();
    let mean = levels.iter().sum::<f64>() / levels.len().max(1) as f64;
    let target = mean * (1.0 + policy.imbalance_target_pct / 100.0);
    let mut moves = 0;
    for (shard, load) in loads.iter().enumerate() {
        let mut excess = (levels[shard] - target) * load.memory_bytes_limit as f64;
        let mut sizes: Vec<u64> = actors
            .iter()
            .filter(|a| a.shard.index() == shard && !a.immovable)
            .map(|a| a.memory_bytes)
            .collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        for size in sizes {
            if excess <= 0.0 {
                break;
            }
            excess -= size as f64;
            moves += 1;
        }
    }
    moves
}

/// The graph, layout and starting placement [`run_large_plan`] uses (`None` only if
/// generation fails, which would be a bug).
pub fn large_case(size: Size, seed: u64) -> Option<LocalityCase> {
    let mut rng = Rng::new(seed);
    let vertices = match size {
        Size::Tiny => 2_000,
        Size::Quick => 100_000,
        Size::Full => 1_000_000,
    };
    let layout = layout_for(Size::Full)?;
    let graph = generate::communities(vertices, 8, 2, &mut rng).ok()?;
    let start = random_start(vertices, layout.len(), &mut rng);
    Some(LocalityCase {
        graph,
        layout,
        start,
    })
}

/// Builds a planted-community graph (`Full`: 1,000,000 vertices, 10,000,000 edges) on 16
/// shards at random and times one plan with no bound on moves (fastest of 3 identical runs).
///
/// # Example
/// ```
/// use quark_placement::workloads::{run_large_plan, Size};
/// let report = run_large_plan(Size::Tiny, 1);
/// assert_eq!(report.actors, 2_000);
/// ```
pub fn run_large_plan(size: Size, seed: u64) -> LargePlanReport {
    let started = Instant::now();
    let Some(LocalityCase {
        graph,
        layout,
        start: assignment,
    }) = large_case(size, seed)
    else {
        return LargePlanReport {
            actors: 0,
            edges: 0,
            plan_ms: 0.0,
            plan_cpu_ms: 0.0,
            build_ms: 0.0,
            cut_reduction_pct: 0.0,
            moves: 0,
            edge_cut_pct: 0.0,
            load_min_ratio: 0.0,
        };
    };
    let build_ms = started.elapsed().as_secs_f64() * 1e3;
    let vertices = graph.vertex_count();
    let config = Config {
        moves_max: vertices,
        ..Config::default()
    };
    let problem = Problem {
        graph: &graph,
        assignment: &assignment,
        layout: &layout,
        immovable: &[],
        capacities: None,
    };
    // The same deterministic plan, timed `PLAN_REPEATS` times: the fastest run is the one
    // least disturbed by other work on the machine.
    let (mut plan_ms, mut plan_cpu_ms, mut plan) = (f64::MAX, f64::MAX, None);
    for _ in 0..PLAN_REPEATS {
        let (started, cpu_started) = (Instant::now(), probe::thread_cpu_ns());
        let result = partition::plan(&problem, &config);
        plan_ms = plan_ms.min(started.elapsed().as_secs_f64() * 1e3);
        plan_cpu_ms = plan_cpu_ms.min(cpu_ms_since(cpu_started));
        plan = Some(result);
    }
    let (cut_reduction_pct, moves, after) = match plan {
        Some(Ok(plan)) => {
            let mut placed = assignment.clone();
            plan.apply(&mut placed);
            (
                reduction_pct(plan.cut_before as f64, plan.cut_after as f64),
                plan.moves.len(),
                quality(&graph, &layout, &placed),
            )
        }
        _ => (0.0, 0, quality(&graph, &layout, &assignment)),
    };
    LargePlanReport {
        actors: graph.vertex_count(),
        edges: graph.edge_count(),
        plan_ms,
        plan_cpu_ms,
        build_ms,
        cut_reduction_pct,
        moves,
        edge_cut_pct: after.edge_cut_pct,
        load_min_ratio: after.load_min_ratio,
    }
}

fn largest_tenth(actors: &[ActorMemory], shards: usize) -> Vec<ActorMemory> {
    let mut per_shard: Vec<Vec<ActorMemory>> = vec![Vec::new(); shards];
    for a in actors {
        per_shard[a.shard.index()].push(*a);
    }
    let mut reported = Vec::new();
    for mut list in per_shard {
        list.sort_unstable_by_key(|a| (std::cmp::Reverse(a.memory_bytes), a.actor));
        let keep = list.len().div_ceil(10);
        reported.extend_from_slice(&list[..keep]);
    }
    reported
}

fn cuts(graph: &CommGraph, assignment: &[ShardId], layout: &ShardLayout) -> (f64, f64) {
    let weighted = partition::cut(graph, assignment, layout).unwrap_or(0) as f64;
    let mut doubled = 0u64;
    for v in 0..graph.vertex_count() as u32 {
        for (u, w) in graph.neighbors(v) {
            if assignment[v as usize] != assignment[u as usize] {
                doubled += u64::from(w);
            }
        }
    }
    (weighted, doubled as f64 / 2.0)
}

fn cpu_ms_since(started_ns: Option<u64>) -> f64 {
    match (started_ns, probe::thread_cpu_ns()) {
        (Some(start), Some(now)) => now.saturating_sub(start) as f64 / 1e6,
        _ => 0.0,
    }
}

fn reduction_pct(before: f64, after: f64) -> f64 {
    if before <= 0.0 {
        0.0
    } else {
        (before - after) / before * 100.0
    }
}

fn load_imbalance_pct(loads: &[u64]) -> f64 {
    let mean = loads.iter().sum::<u64>() as f64 / loads.len().max(1) as f64;
    let max = loads.iter().copied().max().unwrap_or(0) as f64;
    if mean <= 0.0 {
        0.0
    } else {
        (max - mean) / mean * 100.0
    }
}

fn empty_locality() -> LocalityReport {
    LocalityReport {
        cut_before: 0.0,
        cut_after: 0.0,
        cut_reduction_pct: 0.0,
        converge_rounds: 0,
        plan_ms: 0.0,
        plan_cpu_ms: 0.0,
        moves: 0,
        actors: 0,
        edges: 0,
        shards: 0,
        imbalance_pct: 0.0,
        edge_cut_before: 0.0,
        edge_cut_after: 0.0,
        edge_cut_pct: 0.0,
        load_min_ratio: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_but_time(mut a: LocalityReport, mut b: LocalityReport) {
        (a.plan_ms, b.plan_ms, a.plan_cpu_ms, b.plan_cpu_ms) = (0.0, 0.0, 0.0, 0.0);
        assert_eq!(a, b);
    }

    #[test]
    fn clustered_workloads_meet_the_targets_at_tiny_size() {
        for w in [LocalityWorkload::Halo, LocalityWorkload::Communities] {
            let report = run_locality(w, Size::Tiny, 7);
            assert!(report.cut_reduction_pct > 60.0, "{w:?}: {report:?}");
            assert!(report.converge_rounds <= 5, "{w:?}: {report:?}");
            assert!(report.imbalance_pct <= 10.0 + 1e-9, "{w:?}: {report:?}");
            assert!(report.actors > 0 && report.edges > 0 && report.shards == 4);
            same_but_time(report, run_locality(w, Size::Tiny, 7));
        }
    }

    #[test]
    fn random_graph_is_not_harmed() {
        let report = run_locality(LocalityWorkload::Random, Size::Tiny, 3);
        assert!(report.cut_after <= report.cut_before);
        assert!(report.imbalance_pct <= 10.0 + 1e-9);
        assert!(report.converge_rounds < ROUNDS_MAX);
    }

    #[test]
    fn memory_rebalance_ends_balanced_near_the_fewest_moves() {
        let report = run_memory(Size::Tiny, 11);
        assert!(report.imbalance_before_pct > 20.0, "{report:?}");
        assert!(report.imbalance_after_pct < 10.0, "{report:?}");
        assert!(report.moves >= report.moves_lower_bound);
        assert!(
            report.moves <= 4 * report.moves_lower_bound.max(5),
            "{report:?}"
        );
        assert_eq!(report, run_memory(Size::Tiny, 11));
    }

    /// Incrementality: after convergence, scattering 5 % of the actors costs a plan of about
    /// that many moves (not a reshuffle), and the cut comes back.
    #[test]
    fn a_converged_placement_repairs_with_few_moves() {
        let mut rng = Rng::new(21);
        let graph = generate::communities(3_000, 8, 2, &mut rng).unwrap();
        let layout = layout_for(Size::Tiny).unwrap();
        let mut assignment: Vec<ShardId> =
            (0..3_000).map(|_| ShardId(rng.below(4) as u32)).collect();
        let config = Config {
            moves_max: 3_000,
            ..Config::default()
        };
        let round = |assignment: &[ShardId]| {
            let problem = Problem {
                graph: &graph,
                assignment,
                layout: &layout,
                immovable: &[],
                capacities: None,
            };
            partition::plan(&problem, &config).unwrap()
        };
        for _ in 0..ROUNDS_MAX {
            let plan = round(&assignment);
            if plan.moves.is_empty() {
                break;
            }
            plan.apply(&mut assignment);
        }
        let converged = partition::cut(&graph, &assignment, &layout).unwrap();
        for v in (0..3_000).step_by(20) {
            assignment[v] = ShardId((assignment[v].0 + 1) % 4);
        }
        let scattered = partition::cut(&graph, &assignment, &layout).unwrap();
        let plan = round(&assignment);
        assert!(scattered > converged);
        assert!(plan.moves.len() <= 2 * 150, "{} moves", plan.moves.len());
        assert!(plan.cut_after as f64 <= converged as f64 * 1.02, "{plan:?}");
    }

    #[test]
    fn large_plan_runs_at_tiny_size() {
        let report = run_large_plan(Size::Tiny, 5);
        assert_eq!(report.actors, 2_000);
        assert!(report.edges > 19_000 && report.edges <= 20_000);
        assert!(
            report.moves > 0 && report.cut_reduction_pct > 30.0,
            "{report:?}"
        );
    }
}
