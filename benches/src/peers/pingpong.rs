//! The ping-pong loops every actor system runs, written once: timed sequential calls and timed
//! one-way sends. Each system supplies only how to send.
//!
//! Invariants: warm-up calls are never timed or counted; every reply is checked and folded
//! into the work hash, so a call that did not really go through the actor fails or shows.
use super::{CallLoad, MessageLoad, MessageRun, PeerError};
use crate::latency::Latencies;
use crate::size::Window;
use crate::work::WorkHash;
use std::time::Instant;

/// One-way sends between yields: bounds what a sender queues before the receiver runs.
pub const TELL_BATCH: u64 = 1024;

/// Sequential calls for `load.warmup`, then for `load.measure`; only calls completing in the
/// steady state are counted and timed. `call(i)` must return `i + 1`.
pub async fn calls(
    load: &CallLoad,
    mut call: impl AsyncFnMut(u64) -> Result<u64, PeerError>,
) -> Result<MessageRun, PeerError> {
    let window = Window::starting_now(load.warmup, load.measure);
    let mut latencies = Latencies::new();
    let mut hash = WorkHash::default();
    let (mut i, mut messages) = (0u64, 0u64);
    let mut now = Instant::now();
    while now < window.end {
        let started = now;
        let reply = call(i).await?;
        now = Instant::now();
        if reply != i + 1 {
            return Err(PeerError::Unavailable(format!("call {i} replied {reply}")));
        }
        hash.add(reply);
        if window.counts(now) {
            latencies.record(now - started);
            messages += 1;
        }
        i += 1;
    }
    Ok(MessageRun {
        messages,
        secs: window.measure_secs(),
        latencies,
        hash,
    })
}

/// `load.warmup` then `load.messages` one-way sends of `0..n` (yielding every [`TELL_BATCH`]),
/// timed until `total()` — a call queued behind them — returns the receiver's sum.
pub async fn tells(
    load: &MessageLoad,
    mut tell: impl AsyncFnMut(u64) -> Result<(), PeerError>,
    mut pause: impl AsyncFnMut(),
    mut total: impl AsyncFnMut() -> Result<u64, PeerError>,
) -> Result<MessageRun, PeerError> {
    for i in 0..load.warmup {
        tell(i).await?;
        if i % TELL_BATCH == TELL_BATCH - 1 {
            pause().await;
        }
    }
    let before = total().await?;
    let started = Instant::now();
    for i in 0..load.messages {
        tell(i).await?;
        if i % TELL_BATCH == TELL_BATCH - 1 {
            pause().await;
        }
    }
    let after = total().await?;
    let secs = started.elapsed().as_secs_f64();
    let expected = load.messages * load.messages.saturating_sub(1) / 2;
    if after.wrapping_sub(before) != expected {
        return Err(PeerError::Unavailable(format!(
            "the receiver summed {} instead of {expected}",
            after.wrapping_sub(before)
        )));
    }
    let mut hash = WorkHash::default();
    hash.add(after);
    Ok(MessageRun {
        messages: load.messages,
        secs,
        latencies: Latencies::new(),
        hash,
    })
}
