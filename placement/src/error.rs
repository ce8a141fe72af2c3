//! The crate's typed errors: one enum, `placement::Error`, for every bad input a policy can be
//! handed.
//!
//! Invariant: a function that returns an `Error` has changed nothing; policies are pure, so
//! there is never partial state to roll back.

use thiserror::Error as ThisError;

/// Everything that can go wrong when a policy is handed inconsistent data.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// A topology must hold at least one host, NUMA node, core and hardware thread.
    #[error("topology is empty: {0}")]
    EmptyTopology(&'static str),
    /// The same hardware thread appears twice on one host.
    #[error("cpu {cpu} appears twice on host {host}")]
    DuplicateCpu {
        /// Host index.
        host: usize,
        /// Operating-system CPU index.
        cpu: u32,
    },
    /// The CPU set left no core to run a shard on.
    #[error("the cpu set selects no cpu of the topology")]
    NoCpuSelected,
    /// Per-level costs must grow with distance (same core <= same NUMA <= same host <= other).
    #[error("topology costs must be non-decreasing with distance: {0:?}")]
    CostsNotMonotone([u32; 4]),
    /// A shard index is not in the layout.
    #[error("shard {shard} is out of range (layout has {shards} shards)")]
    ShardOutOfRange {
        /// The offending shard index.
        shard: u32,
        /// Number of shards in the layout.
        shards: usize,
    },
    /// A vertex index is not in the graph.
    #[error("vertex {vertex} is out of range (graph has {vertices} vertices)")]
    VertexOutOfRange {
        /// The offending vertex index.
        vertex: u32,
        /// Number of vertices in the graph.
        vertices: usize,
    },
    /// Two inputs that must describe the same set disagree in length.
    #[error("{what}: expected {expected} entries, got {actual}")]
    LengthMismatch {
        /// Which input.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        actual: usize,
    },
    /// A setting is outside its meaningful range.
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting {
        /// The setting's name.
        name: &'static str,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// The graph has more vertices or edges than the compact representation holds.
    #[error("graph too large: {0}")]
    GraphTooLarge(&'static str),
    /// The same actor is listed twice in one input (it could be planned to move twice).
    #[error("actor {0} is listed more than once")]
    DuplicateActor(u64),
    /// No shard has room under its high watermark for a new activation.
    #[error("no shard has headroom for {memory_bytes} bytes under its high watermark")]
    NoHeadroom {
        /// The estimate of the activation that could not be placed.
        memory_bytes: u64,
    },
    /// A probe of the real machine failed (hwloc or sysinfo).
    #[error("probe failed: {0}")]
    Probe(String),
}

/// Shorthand used across the crate.
pub type Result<T> = std::result::Result<T, Error>;
