//! Locality partitioning: from a communication graph and the current assignment, a bounded
//! set of moves that lowers the cost-weighted cut while keeping shards balanced.
//!
//! A plan is built in three steps on a virtual copy of the assignment (see the crate docs for
//! why this mix): (1) communities found by label propagation move whole to the shard holding
//! most of them (`cluster`), (2) greedy single-vertex refinement (`refine`), then pairwise
//! exchanges between full shards (`exchange`), optionally refinement over coarsened graphs
//! (`multilevel`, off by default), (3) of the log of
//! moves, the prefix with the lowest cut that is at most `moves_max` long is kept (the
//! Fiduccia–Mattheyses "best prefix" rule), and moves of the same vertex are merged.
//!
//! Invariants of every [`Plan`]: no shard ends above its limit unless it already was (and then
//! no higher than before); no shard ends below its floor unless it already was (and then no
//! lower than before); no immovable vertex moves; at most `moves_max` moves; the cut after
//! is exactly `cut_after` and strictly lower than `cut_before`, or the plan is empty. The last
//! two make repeated rounds on a static graph converge: the cut strictly falls each round it
//! moves anything, and there are finitely many assignments. The same input gives the same plan.

mod cluster;
mod communities;
mod exchange;
mod multilevel;
mod refine;
mod state;

use crate::error::{Error, Result};
use crate::graph::CommGraph;
use crate::layout::{ShardId, ShardLayout};
use state::State;

/// Settings of [`plan`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// A shard may hold up to `(1 + balance_tolerance)` times its fair share of vertex weight.
    pub balance_tolerance: f64,
    /// No move takes a shard below `(1 - floor_tolerance)` times its fair share (a shard
    /// already below it may only gain): idle cores are as costly as an overloaded one.
    pub floor_tolerance: f64,
    /// Most moves in one plan (one round of migrations).
    pub moves_max: usize,
    /// Label-propagation passes for finding communities (0 turns the cluster stage off).
    pub cluster_passes: u32,
    /// Single-vertex refinement passes (on the graph and on every coarse level).
    pub refine_passes: u32,
    /// Whether to refine over coarsened graphs too (stage four, `multilevel`). Off by
    /// default: on the harness's graphs it lowered the cut by at most a point (communities,
    /// random) and not at all on Halo, for 3 to 4 times the plan time (benches/README.md).
    pub multilevel: bool,
    /// A plan that lowers the cut by less than this share of it (percent) is not worth its
    /// migrations and comes back empty: the stopping rule on graphs with little structure.
    pub improvement_min_pct: f64,
    /// Heaviest community, in vertex weight; `None` means a quarter of the average shard load,
    /// so communities stay small enough to pack into shards within the tolerance.
    pub cluster_weight_max: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            balance_tolerance: 0.10,
            floor_tolerance: 0.10,
            moves_max: 10_000,
            cluster_passes: 3,
            refine_passes: 2,
            multilevel: false,
            improvement_min_pct: 1.0,
            cluster_weight_max: None,
        }
    }
}

/// The input of one planning round.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    /// Who talks to whom, and each vertex's load.
    pub graph: &'a CommGraph,
    /// Current shard of every vertex.
    pub assignment: &'a [ShardId],
    /// The shards and the message costs between them.
    pub layout: &'a ShardLayout,
    /// `immovable[v]` pins vertex `v`; an empty slice pins nothing.
    pub immovable: &'a [bool],
    /// Relative capacity of every shard (fair shares follow it, and no shard's limit exceeds
    /// it); `None` gives every shard the same share.
    pub capacities: Option<&'a [u64]>,
}

/// One migration: vertex `vertex` goes from shard `from` to shard `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// The vertex (actor) index in the graph.
    pub vertex: u32,
    /// Its shard now.
    pub from: ShardId,
    /// Its shard after the move.
    pub to: ShardId,
}

/// The decision of one round: which vertices move where, and what it buys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The moves, at most `moves_max`, each vertex at most once.
    pub moves: Vec<Move>,
    /// Cost-weighted cut of the current assignment.
    pub cut_before: u64,
    /// Cost-weighted cut once every move is applied.
    pub cut_after: u64,
    /// Load of every shard after the moves.
    pub loads_after: Vec<u64>,
    /// The balance limit of every shard used for this plan.
    pub limits: Vec<u64>,
    /// The balance floor of every shard used for this plan.
    pub floors: Vec<u64>,
}

impl Plan {
    /// Applies the moves to an assignment (the one the plan was made from).
    pub fn apply(&self, assignment: &mut [ShardId]) {
        for m in &self.moves {
            if let Some(slot) = assignment.get_mut(m.vertex as usize) {
                *slot = m.to;
            }
        }
    }
}

/// Plans one round of moves. See the module docs for the guarantees.
///
/// # Example
/// ```
/// use quark_placement::graph::CommGraph;
/// use quark_placement::layout::{ShardId, ShardLayout};
/// use quark_placement::partition::{plan, Config, Problem};
/// // Two pairs of chatty actors, each pair split over two shards.
/// let graph = CommGraph::from_edges(vec![1; 4], &[(0, 1, 10), (2, 3, 10)]).unwrap();
/// let layout = ShardLayout::flat(2).unwrap();
/// let assignment = [ShardId(0), ShardId(1), ShardId(0), ShardId(1)];
/// let problem =
///     Problem { graph: &graph, assignment: &assignment, layout: &layout, immovable: &[],
///               capacities: None };
/// let plan = plan(&problem, &Config::default()).unwrap();
/// assert_eq!(plan.cut_after, 0);
/// assert_eq!(plan.moves.len(), 2);
/// ```
pub fn plan(problem: &Problem<'_>, config: &Config) -> Result<Plan> {
    let (limits, floors) = validate(problem, config)?;
    let assignment: Vec<u32> = problem.assignment.iter().map(|s| s.0).collect();
    let mut state = State::new(
        problem.graph,
        problem.layout,
        assignment,
        limits,
        problem.immovable,
    );
    state.floors = floors;
    let cut_before = state.cut();
    let loads_before = state.loads.clone();
    let weight_max = community_weight_max(problem, config);
    if config.cluster_passes > 0 && config.moves_max > 0 {
        let labels = communities::communities(&state, config.cluster_passes, weight_max);
        let groups = cluster::group(&labels);
        cluster::move_communities(&mut state, &groups, config.moves_max, cut_before);
    }
    let wishes = refine::refine(&mut state, config.refine_passes, config.moves_max);
    exchange::exchange(&mut state, wishes, config.moves_max);
    // A log already at its bound leaves no room for the block: skip the coarsening.
    if config.multilevel && state.log.len() < config.moves_max {
        let passes = config.refine_passes;
        multilevel::multilevel(&mut state, passes, weight_max, config.moves_max);
    }
    let (mut length, mut delta) = best_prefix(&state);
    if (-delta) as f64 * 100.0 < config.improvement_min_pct * cut_before as f64 {
        (length, delta) = (0, 0);
    }
    let moves = merge(&state, length);
    let mut loads_after = loads_before;
    let weights = problem.graph.vertex_weights();
    for m in &moves {
        let weight = u64::from(weights[m.vertex as usize]);
        loads_after[m.from.index()] -= weight;
        loads_after[m.to.index()] += weight;
    }
    let cut_after = cut_before.checked_add_signed(delta).unwrap_or(cut_before);
    Ok(Plan {
        moves,
        cut_before,
        cut_after,
        loads_after,
        limits: state.limits,
        floors: state.floors,
    })
}

/// Heaviest community or coarse vertex: `cluster_weight_max`, or a quarter of the average
/// shard load, and never below the heaviest vertex.
fn community_weight_max(problem: &Problem<'_>, config: &Config) -> u64 {
    let shards = problem.layout.len() as u64;
    let fair = problem.graph.total_vertex_weight() / shards;
    let heaviest = problem
        .graph
        .vertex_weights()
        .iter()
        .copied()
        .max()
        .unwrap_or(1);
    config
        .cluster_weight_max
        .unwrap_or(fair / 4)
        .max(u64::from(heaviest))
}

/// The cost-weighted cut: the sum over edges of weight × cost between the two ends' shards.
///
/// # Example
/// ```
/// use quark_placement::graph::CommGraph;
/// use quark_placement::layout::{ShardId, ShardLayout};
/// let graph = CommGraph::from_edges(vec![1; 2], &[(0, 1, 3)]).unwrap();
/// let layout = ShardLayout::flat(2).unwrap(); // same NUMA node: cost 2 by default
/// let cut = quark_placement::partition::cut(&graph, &[ShardId(0), ShardId(1)], &layout);
/// assert_eq!(cut.unwrap(), 6);
/// ```
pub fn cut(graph: &CommGraph, assignment: &[ShardId], layout: &ShardLayout) -> Result<u64> {
    check_assignment(graph, assignment, layout)?;
    let raw: Vec<u32> = assignment.iter().map(|s| s.0).collect();
    let limits = vec![u64::MAX; layout.len()];
    Ok(State::new(graph, layout, raw, limits, &[]).cut())
}

/// Balance limits: `(1 + tolerance)` times each shard's fair share, never below the fair share
/// rounded up, never above the shard's capacity when one is given.
pub fn balance_limits(
    total_weight: u64,
    shards: usize,
    capacities: Option<&[u64]>,
    tolerance: f64,
) -> Result<Vec<u64>> {
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        let reason = "must be finite and not negative";
        return Err(Error::InvalidSetting {
            name: "balance_tolerance",
            reason,
        });
    }
    let equal = vec![1u64; shards];
    let (capacities, capped) = match capacities {
        Some(given) => (given, true),
        None => (&equal[..], false),
    };
    if capacities.len() != shards {
        let actual = capacities.len();
        return Err(Error::LengthMismatch {
            what: "capacities",
            expected: shards,
            actual,
        });
    }
    let Some(capacity_total) = capacities.iter().try_fold(0u64, |t, &c| t.checked_add(c)) else {
        return Err(Error::InvalidSetting {
            name: "capacities",
            reason: "sum overflows u64",
        });
    };
    if capacity_total == 0 {
        return Err(Error::InvalidSetting {
            name: "capacities",
            reason: "all zero",
        });
    }
    Ok(capacities
        .iter()
        .map(|&capacity| {
            let fair = total_weight as f64 * capacity as f64 / capacity_total as f64;
            let limit = ((fair * (1.0 + tolerance)).floor() as u64).max(fair.ceil() as u64);
            if capped { limit.min(capacity) } else { limit }
        })
        .collect())
}

/// Balance floors: `(1 - tolerance)` times each shard's fair share (by capacity when given),
/// rounded up but never above the fair share rounded down.
///
/// # Example
/// ```
/// let floors = quark_placement::partition::balance_floors(100, 4, None, 0.10).unwrap();
/// assert_eq!(floors, vec![23; 4]); // 0.9 × 25 = 22.5, rounded up
/// assert_eq!(quark_placement::partition::balance_floors(3, 4, None, 0.10).unwrap(), vec![0; 4]);
/// ```
pub fn balance_floors(
    total_weight: u64,
    shards: usize,
    capacities: Option<&[u64]>,
    tolerance: f64,
) -> Result<Vec<u64>> {
    if !(tolerance.is_finite() && (0.0..=1.0).contains(&tolerance)) {
        let reason = "must be finite, from 0 to 1";
        return Err(Error::InvalidSetting {
            name: "floor_tolerance",
            reason,
        });
    }
    // The limits with no tolerance are exactly the fair shares, rounded up; recomputed here
    // unrounded so that the floor is never above the fair share.
    balance_limits(total_weight, shards, capacities, 0.0)?;
    let equal = vec![1u64; shards];
    let capacities = capacities.unwrap_or(&equal);
    let capacity_total: u64 = capacities.iter().sum();
    Ok(capacities
        .iter()
        .map(|&capacity| {
            let fair = total_weight as f64 * capacity as f64 / capacity_total as f64;
            ((fair * (1.0 - tolerance)).ceil() as u64).min(fair.floor() as u64)
        })
        .collect())
}

fn validate(problem: &Problem<'_>, config: &Config) -> Result<(Vec<u64>, Vec<u64>)> {
    let graph = problem.graph;
    check_assignment(graph, problem.assignment, problem.layout)?;
    let vertices = graph.vertex_count();
    if !problem.immovable.is_empty() && problem.immovable.len() != vertices {
        let actual = problem.immovable.len();
        return Err(Error::LengthMismatch {
            what: "immovable",
            expected: vertices,
            actual,
        });
    }
    if !(config.improvement_min_pct.is_finite() && config.improvement_min_pct >= 0.0) {
        let reason = "must be finite and not negative";
        return Err(Error::InvalidSetting {
            name: "improvement_min_pct",
            reason,
        });
    }
    let total = graph.total_vertex_weight();
    let (shards, capacities) = (problem.layout.len(), problem.capacities);
    let limits = balance_limits(total, shards, capacities, config.balance_tolerance)?;
    let floors = balance_floors(total, shards, capacities, config.floor_tolerance)?;
    // A capacity below the fair share caps the limit under the floor: the limit wins.
    let floors = floors
        .iter()
        .zip(&limits)
        .map(|(&f, &l)| f.min(l))
        .collect();
    Ok((limits, floors))
}

fn check_assignment(graph: &CommGraph, assignment: &[ShardId], layout: &ShardLayout) -> Result<()> {
    let vertices = graph.vertex_count();
    if assignment.len() != vertices {
        let actual = assignment.len();
        return Err(Error::LengthMismatch {
            what: "assignment",
            expected: vertices,
            actual,
        });
    }
    let shards = layout.len();
    match assignment.iter().find(|s| s.index() >= shards) {
        Some(bad) => Err(Error::ShardOutOfRange {
            shard: bad.0,
            shards,
        }),
        None => Ok(()),
    }
}

/// The length of the log prefix with the lowest cut (shortest among equals) and its delta.
fn best_prefix(state: &State<'_>) -> (usize, i64) {
    let (mut best_length, mut best_delta, mut running) = (0usize, 0i64, 0i64);
    for (index, logged) in state.log.iter().enumerate() {
        running += logged.delta;
        if logged.closes && running < best_delta {
            best_length = index + 1;
            best_delta = running;
        }
    }
    (best_length, best_delta)
}

/// The moves of the first `length` log entries, one per vertex (first `from`, last `to`),
/// in order of first appearance; vertices back where they started are dropped.
fn merge(state: &State<'_>, length: usize) -> Vec<Move> {
    const NONE: u32 = u32::MAX;
    let mut slot = vec![NONE; state.graph.vertex_count()];
    let mut moves: Vec<Move> = Vec::new();
    for logged in &state.log[..length] {
        let to = ShardId(logged.to);
        match slot[logged.vertex as usize] {
            NONE => {
                slot[logged.vertex as usize] = moves.len() as u32;
                let from = ShardId(logged.from);
                moves.push(Move {
                    vertex: logged.vertex,
                    from,
                    to,
                });
            }
            index => moves[index as usize].to = to,
        }
    }
    moves.retain(|m| m.from != m.to);
    moves
}

#[cfg(test)]
mod tests;
