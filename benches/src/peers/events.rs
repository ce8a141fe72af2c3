//! Event stores compared: the [`EventStorePeer`] capability and its loads and results.
//!
//! The workloads are the same for every system: each appender owns one stream and appends one
//! 128 B event at a time with its expected version (a unique (stream, version) key in
//! PostgreSQL, an explicit increasing entry id in Redis, `ExpectedVersion::Exact` in Quark);
//! a stream read fetches a whole 100-event stream; a replay reads every event once in the
//! store's global order. Invariant: a system reports only what it measured in this run, and a
//! read that returned fewer events than written is an error, not a figure.
use super::{AppendLoad, AppendRun, Peer, PeerError, ReplayLoad, ReplayRun};
use crate::latency::Latencies;
use crate::progress::Progress;
use crate::work::WorkHash;
use std::time::Duration;

pub mod postgres;
pub mod redis;

/// The event type name every system stores with each event.
pub const EVENT_TYPE: &str = "BenchEvent";

/// The load of a stream-read run.
#[derive(Clone, Debug)]
pub struct StreamReadLoad {
    /// Streams written before the timed reads.
    pub streams: u64,
    /// Events per stream (appended round-robin over the streams, so a stream's events are
    /// spread over the whole store).
    pub events_per_stream: u64,
    /// Bytes per event.
    pub event_bytes: usize,
    /// Untimed reads first, for this long.
    pub warmup: Duration,
    /// Then timed reads for this long.
    pub measure: Duration,
}

/// What a stream-read run measured.
#[derive(Clone, Debug)]
pub struct StreamReadRun {
    /// Whole-stream reads completed in the steady state.
    pub reads: u64,
    /// Latency of each of those reads.
    pub latencies: Latencies,
    /// Events read in the whole run (warm-up included).
    pub events: u64,
    /// Digest of what was read.
    pub hash: WorkHash,
    /// How the read was done, in a sentence.
    pub how: String,
}

/// A system that stores events in streams.
pub trait EventStorePeer: Peer {
    /// One-event appends with expected version from `load.appenders` appenders, each owning
    /// a stream; durable; timed over the window.
    fn append_events(&self, load: &AppendLoad, progress: &Progress)
    -> Result<AppendRun, PeerError>;
    /// Writes the streams, then reads whole streams one at a time (a pseudo-random stream
    /// each time) for the window, timing each read.
    fn read_streams(
        &self,
        load: &StreamReadLoad,
        progress: &Progress,
    ) -> Result<StreamReadRun, PeerError>;
    /// Writes `load.records` events over 64 streams, then times one full read of them all.
    fn replay_events(&self, load: &ReplayLoad, progress: &Progress)
    -> Result<ReplayRun, PeerError>;
}

/// Streams the replay load is spread over.
pub const REPLAY_STREAMS: u64 = 64;

/// A deterministic pseudo-random sequence (xorshift64*), so every system reads the same
/// streams in the same order.
#[derive(Clone, Debug)]
pub struct Picker(u64);

impl Picker {
    /// A fresh sequence.
    pub fn new() -> Picker {
        Picker(0x9e37_79b9_7f4a_7c15)
    }

    /// The next stream index below `n`.
    pub fn next_below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

impl Default for Picker {
    fn default() -> Self {
        Picker::new()
    }
}

/// The payload of event `version` of stream `stream`: `bytes` bytes, deterministic.
pub fn payload(stream: u64, version: u64, bytes: usize) -> Vec<u8> {
    let mut p = vec![(stream as u8) ^ 0x5a; bytes];
    let head = [stream.to_le_bytes(), version.to_le_bytes()].concat();
    let n = head.len().min(p.len());
    p[..n].copy_from_slice(&head[..n]);
    p
}
