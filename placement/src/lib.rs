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
//! A plan is *community moves, then greedy refinement, cut at the best prefix*:
//!
//! 1. **Communities by size-constrained label propagation** (as in the coarsening of
//!    KaHIP/Meyerhenke et al.): each vertex takes the label most of its traffic goes to, with
//!    no community heavier than a fraction of a shard. Every community then moves whole to
//!    the shard that already holds most of it, when that keeps the shard within its limit.
//! 2. **Greedy single-vertex refinement** (label propagation on shards): each vertex moves to
//!    the neighbouring shard with the best strictly positive gain that has room.
//! 3. **Best prefix** (Fiduccia–Mattheyses): every move is logged with its exact effect on the
//!    cut; the plan is the prefix of at most `moves_max` moves with the lowest cut.
//!
//! Why not pairwise exchange alone, as Orleans' ActivationRepartitioner (after ActOp) does?
//! Exchange only swaps single actors between two shards when both sides gain; a game of 8
//! players spread over 8 shards has no such move until most of it is already together, so it
//! converges slowly and stalls on ties. Why not plain label propagation? The same tie problem:
//! a community split 4/4 gives no vertex a positive gain. Moving communities whole removes
//! those plateaus in one round; refinement cleans the border; the best-prefix rule makes the
//! combination safe: a plan never raises the cut, and with integer weights the cut strictly
//! falls each round that moves anything, so rounds on a static graph converge instead of
//! oscillating. Why not full multilevel partitioning (METIS)? It recomputes a partition from
//! scratch, ignoring where actors are, so it moves nearly everything; ours starts from the
//! current assignment and moves only what pays. Every stage is linear in the edges per pass,
//! on a compact CSR graph (see [`graph`] for why not petgraph on the hot path), with the
//! hierarchical topology cost priced in O(1) per candidate shard (see [`layout`]).
//!
//! Known gaps: costs are per level (core, NUMA node, host), not a full NUMA distance matrix;
//! a vertex only considers shards that already hold a neighbour.
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
