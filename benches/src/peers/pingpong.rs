//! The ping-pong loops every actor system runs, written once: timed sequential calls and timed
//! one-way sends. Each system supplies only how to send.
//!
//! Invariants: warm-up calls are never timed; every reply is folded into the work hash, so a
//! call that did not really go through the actor would change it.
use super::{MessageLoad, MessageRun, PeerError};
use crate::latency::Latencies;
use crate::work::WorkHash;
use std::time::Instant;

/// One-way sends between yields: bounds what a sender queues before the receiver runs.
pub const TELL_BATCH: u64 = 1024;

/// `load.warmup` untimed calls, then `load.messages` timed ones; `call(i)` must return `i + 1`.
pub async fn calls(
    load: &MessageLoad,
    mut call: impl AsyncFnMut(u64) -> Result<u64, PeerError>,
) -> Result<MessageRun, PeerError> {
    for i in 0..load.warmup {
        call(i).await?;
    }
    let mut latencies = Latencies::new();
    let mut hash = WorkHash::default();
    let started = Instant::now();
    for i in 0..load.messages {
        let t0 = Instant::now();
        let reply = call(i).await?;
        latencies.record(t0.elapsed());
        if reply != i + 1 {
            return Err(PeerError::Unavailable(format!("call {i} replied {reply}")));
        }
        hash.add(reply);
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(MessageRun {
        messages: load.messages,
        secs,
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
