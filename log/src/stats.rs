//! Counters a log keeps for the benchmark harness and operators.
//!
//! Invariant: counters only grow (except `segments`, `durable_end` and `retired_held`, which
//! are gauges), and `fsyncs` counts only `fdatasync` calls that completed successfully.

/// A copy of a log's counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Appends accepted (assigned a position).
    pub appends: u64,
    /// Records made durable (published to readers).
    pub records: u64,
    /// Bytes of records made durable, frame headers included.
    pub bytes: u64,
    /// Group commits (one write each).
    pub group_commits: u64,
    /// Completed `fdatasync` calls on segment files.
    pub fsyncs: u64,
    /// Sum of `fdatasync` latencies, microseconds.
    pub fsync_latency_us_total: u64,
    /// Largest `fdatasync` latency, microseconds.
    pub fsync_latency_us_max: u64,
    /// Median `fdatasync` latency since open, microseconds (3 significant digits).
    pub fsync_latency_us_p50: u64,
    /// 99th percentile `fdatasync` latency since open, microseconds (3 significant digits).
    pub fsync_latency_us_p99: u64,
    /// The durable end position.
    pub durable_end: u64,
    /// Segment files, active one included.
    pub segments: u64,
    /// Segments sealed and replaced by a new active segment.
    pub segment_rolls: u64,
    /// Rolls that found no prepared spare and zero-filled the new segment while appends waited.
    pub rolls_without_spare: u64,
    /// Records retired by the owner.
    pub retired: u64,
    /// Retired positions held in memory until compaction drops their segment or frames (a
    /// gauge: bounded as long as compaction runs).
    pub retired_held: u64,
    /// Segment files deleted because all their records were retired.
    pub segments_deleted: u64,
    /// Segment files rewritten by compaction.
    pub segments_rewritten: u64,
    /// Bytes freed on disk by retention and compaction.
    pub bytes_reclaimed: u64,
}
