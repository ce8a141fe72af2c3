//! Quark's placement policy: where shards run, where actors live, and which actors should move.
//!
//! This crate is pure policy: plain data in, decisions out. It knows nothing of glommio, does
//! no I/O and reads no clock; the only code that looks at the real machine lives in
//! [`probe`], apart from the policy, and the only code that reads a clock is the measuring
//! side of [`workloads`]. Everything else is deterministic: the same input gives the same
//! decision.
//!
//! # Map
//! - [`topology`]: hosts → NUMA nodes → physical cores → hardware threads, as data.
//! - [`layout`]: one shard per physical core (or thread), NUMA node by NUMA node, optionally
//!   restricted to a CPU set, and the hierarchical cost of a message between two shards.
//! - [`memory`]: where to activate a new actor and how to rebalance memory between shards
//!   (watermarks, hysteresis, bounded moves, immovable actors, a stopping rule).
//! - [`tracker`]: who talks to whom, in bounded memory (space-saving top-K with decay).
//! - [`graph`] and [`partition`]: the communication graph and the locality partitioner.
//! - [`probe`]: hwlocality topology, sysinfo memory, per-thread allocation counters.
//! - [`workloads`]: synthetic workloads and measuring runs for the benchmark harness.
//!
//! # The partitioning algorithm, and why
//! A plan is *community moves, then greedy refinement and pairwise exchange, cut at the best
//! prefix*, all on a virtual copy of the assignment:
//!
//! 1. **Communities by size-constrained label propagation** (as in the coarsening of
//!    KaHIP / Meyerhenke, Sanders and Schulz): each vertex takes the label most of its traffic
//!    goes to, with no community heavier than a quarter of a shard's fair share. It is seeded
//!    by a capped union-find over heaviest-neighbour links, which replaces the costliest first
//!    pass. Communities depend on the graph only, so rounds on a static graph agree on them.
//! 2. **Community moves**: each community moves whole to the shard that already holds most of
//!    it (communities mostly in place choose first), when that keeps the shard within its
//!    limit. The stage is priced as one block by recomputing the cut once.
//! 3. **Greedy refinement** (label propagation on shards): each vertex moves to the
//!    neighbouring shard with the best strictly positive gain that has room; vertices whose
//!    best shard is full leave a wish, and wishes between two full shards are **exchanged** in
//!    pairs, as Orleans' ActivationRepartitioner (after ActOp) does.
//! 4. Optionally (off by default), **refinement over coarsened graphs** (`multilevel`): the
//!    graph is coarsened by heavy-edge matching within shards, and refinement and exchange
//!    run on each level from the coarsest down; the result is one block of moves.
//! 5. **Best prefix** (Fiduccia–Mattheyses): every move or block is logged with its exact
//!    effect on the cut; the plan is the prefix of at most `moves_max` moves with the lowest
//!    cut, and it is empty unless it lowers the cut by `improvement_min_pct`.
//!
//! Why not pairwise exchange alone, as Orleans does? Exchange only swaps single actors between
//! two shards when both sides gain; a game of 8 players spread over 16 shards has no such move
//! until most of it is already together, so it converges slowly and stalls on ties. Why not
//! plain label propagation on shards? The same plateaus: a community split 4/4 gives no vertex
//! a positive gain. Moving communities whole removes those plateaus in one round; refinement
//! and exchange clean the borders; the best-prefix rule makes the mix safe: a plan never
//! raises the cut, and with integer weights the cut strictly falls each round that moves
//! anything, so rounds on a static graph converge instead of oscillating. Why not full
//! multilevel partitioning (METIS)? It partitions from scratch, ignoring where actors are, so
//! it moves nearly everything every time; ours starts from the current assignment and moves
//! only what pays.
//!
//! Cost: every stage is a few linear passes over a compact CSR graph (see [`graph`] for why
//! not petgraph on the hot path), the hierarchical topology cost is priced in O(1) per
//! candidate shard (see [`layout`]), random loads are issued in blocks so they overlap, and an
//! exact test (a vertex whose own shard or label holds half its traffic cannot gain) skips
//! most vertices.
//!
//! Balance has two bounds: no shard above `(1 + balance_tolerance)` nor below
//! `(1 - floor_tolerance)` times its fair share (both 10 % by default); a shard already outside
//! may only move toward its bound. The floor exists because, without it, refinement drained
//! shards to 0.2 to 0.7 of the mean whenever that lowered the cut: idle cores.
//!
//! Against METIS 5.1 (`gpmetis`, the `placement.locality` peer, which partitions from scratch
//! under the upper bound only), ours reaches 1.07x its edge cut on the random graph, 1.14x on
//! planted communities, 1.23x on the 1M-actor graph, and about 28x on the Halo-like graph:
//! games end up whole on one shard, but which games share a shard is never optimised. An
//! opt-in stage (`Config::multilevel`: refinement over same-shard heavy-edge coarsenings of the
//! current placement) did not close that gap, because coarse vertices spanning whole games
//! have no room to move under both bounds; a partitioner that coarsens across shards and
//! rebalances at the coarsest level is the next step (benches/README.md has the figures).
//!
//! Known gaps: costs are per level (core, NUMA node, host), not a full NUMA distance matrix;
//! a vertex only considers shards that already hold a neighbour; vertex weights balance one
//! resource (actor count by default), while memory is balanced by [`memory`] separately.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod graph;
pub mod layout;
pub mod memory;
pub mod partition;
pub mod probe;
pub mod topology;
pub mod tracker;
pub mod workloads;

pub use error::{Error, Result};
pub use layout::{ShardId, ShardLayout};
pub use partition::{Move, Plan};
pub use topology::Topology;
