//! The systems a scenario compares: the [`Peer`] abstraction and the capability traits.
//!
//! Quark itself implements the same traits (in `crate::ours`), so a scenario runs one list of
//! systems through one code path, as redb's `BenchDatabase` does. Invariants: a peer never
//! panics on a failure of its server or library, it returns [`PeerError`]; a peer that has no
//! equivalent for a metric returns [`PeerError::NoEquivalent`] and is left out of that row.
use crate::latency::Latencies;
use crate::progress::Progress;
use crate::work::WorkHash;
use std::time::Duration;

pub mod actix;
pub mod events;
pub mod metis;
pub mod pingpong;
pub mod postgres;
pub mod ractor;
pub mod redis;
pub mod tokio_thread;

/// Why a system has no figure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The system could not run (server down, setup or run failed).
    #[error("{0}")]
    Unavailable(String),
    /// The system has nothing comparable for this metric.
    #[error("no equivalent")]
    NoEquivalent,
}

impl PeerError {
    /// A shorthand for `Unavailable(format!("{what}: {err}"))`.
    pub fn because(what: &str, err: impl std::fmt::Display) -> PeerError {
        PeerError::Unavailable(format!("{what}: {err}"))
    }
}

/// A system under comparison.
pub trait Peer {
    /// Its column name: `quark`, `postgres`, `redis`, `actix`, `ractor`.
    fn name(&self) -> &'static str;
}

/// The load of an append run.
#[derive(Clone, Debug)]
pub struct AppendLoad {
    /// Concurrent appenders, each with one append in flight.
    pub appenders: usize,
    /// Bytes per record payload.
    pub record_bytes: usize,
    /// Warm-up before recording.
    pub warmup: Duration,
    /// Steady-state window.
    pub measure: Duration,
}

/// What an append run measured.
#[derive(Clone, Debug)]
pub struct AppendRun {
    /// Appends acknowledged inside the steady-state window.
    pub appends: u64,
    /// The window's length in seconds.
    pub secs: f64,
    /// Latency of each append acknowledged inside the window.
    pub latencies: Latencies,
    /// Appends acknowledged in the whole run (warm-up included).
    pub total: u64,
    /// Digest of the positions/ids the system acknowledged.
    pub hash: WorkHash,
    /// Whether each acknowledgement implies durability (checked, see `durability`).
    pub durable: bool,
    /// How durability was checked, in a sentence.
    pub durability: String,
}

/// The load of a replay run.
#[derive(Clone, Debug)]
pub struct ReplayLoad {
    /// Records written before the timed read.
    pub records: u64,
    /// Bytes per record payload.
    pub record_bytes: usize,
}

/// What a replay run measured.
#[derive(Clone, Debug)]
pub struct ReplayRun {
    /// Records read back (must equal the load's `records`).
    pub records: u64,
    /// Seconds the full read took.
    pub secs: f64,
    /// Digest of what was read (`WorkHash::add_record` per record).
    pub hash: WorkHash,
    /// How the read was done, in a sentence.
    pub how: String,
}

/// A system that can append records durably and read them all back.
pub trait LogPeer: Peer {
    /// Durable appends from `load.appenders` concurrent appenders, timed over the window.
    fn append(&self, load: &AppendLoad, progress: &Progress) -> Result<AppendRun, PeerError>;
    /// Writes `load.records` records, then times one full read of them.
    fn replay(&self, load: &ReplayLoad, progress: &Progress) -> Result<ReplayRun, PeerError>;
}

/// The load of a messaging run.
#[derive(Clone, Debug)]
pub struct MessageLoad {
    /// Messages (tell) or calls (call) to time.
    pub messages: u64,
    /// Untimed messages/calls first.
    pub warmup: u64,
}

/// The load of a call run: sequential calls, one in flight, over a time window.
#[derive(Clone, Debug)]
pub struct CallLoad {
    /// Untimed calls first, for this long.
    pub warmup: Duration,
    /// Then the steady state, for this long.
    pub measure: Duration,
}

/// What a messaging run measured.
#[derive(Clone, Debug)]
pub struct MessageRun {
    /// Messages, or calls completed in the steady state.
    pub messages: u64,
    /// Seconds the timed part (the steady state) took.
    pub secs: f64,
    /// Per-call latency (empty for tells).
    pub latencies: Latencies,
    /// Digest of the replies (or of the receiver's final count for tells).
    pub hash: WorkHash,
}

/// The load of an activation run.
#[derive(Clone, Debug)]
pub struct ActivateLoad {
    /// Distinct actors to activate, each by one message.
    pub actors: u64,
}

/// What an activation run measured.
#[derive(Clone, Debug)]
pub struct ActivateRun {
    /// Actors activated and idle at the end.
    pub actors: u64,
    /// Seconds from the first activation to the last first-message handled.
    pub secs: f64,
    /// Live heap bytes per idle activation (counting allocator), if measured.
    pub bytes_per_activation: Option<f64>,
    /// Digest of the replies.
    pub hash: WorkHash,
}

/// A system that runs actors: the ping-pong and activation workloads.
pub trait ActorPeer: Peer {
    /// One-way messages from one sender to one actor on the same core.
    fn tell_one_core(&self, load: &MessageLoad) -> Result<MessageRun, PeerError>;
    /// Sequential request/response from one caller to one actor on the same core.
    fn call_one_core(&self, load: &CallLoad) -> Result<MessageRun, PeerError>;
    /// Sequential request/response from a caller on one core to an actor on another.
    fn call_cross_core(&self, load: &CallLoad) -> Result<MessageRun, PeerError>;
    /// Activates many distinct actors (one message each), then leaves them idle.
    fn activate(&self, load: &ActivateLoad) -> Result<ActivateRun, PeerError>;
}
