//! Per-shard counters, written by their shard and readable from any thread.
//!
//! Invariants: each counter has exactly one writer (its shard thread), so increments are a
//! plain load and store, not a locked read-modify-write; the only exception is
//! `ingress_sent`, bumped by outside threads with `fetch_add`. Readers get a snapshot
//! ([`ShardStats`]) that may be a few operations stale.

use std::sync::atomic::{AtomicU64, Ordering};

/// The live counters of one shard.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counters {
    pub(crate) messages: AtomicU64,
    pub(crate) activations: AtomicU64,
    pub(crate) deactivations: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) active: AtomicU64,
    pub(crate) pushed: AtomicU64,
    pub(crate) inflight: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) ingress_sent: AtomicU64,
    pub(crate) overflowed: AtomicU64,
    pub(crate) overflow_peak: AtomicU64,
}

/// Adds one; only the owning shard calls this.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Release);
}

/// Raises a high-water mark to `value`; only the owning shard calls this.
pub(crate) fn raise(counter: &AtomicU64, value: u64) {
    if value > counter.load(Ordering::Relaxed) {
        counter.store(value, Ordering::Release);
    }
}

/// Subtracts one from a gauge; only the owning shard calls this.
pub(crate) fn drop_one(counter: &AtomicU64) {
    let value = counter.load(Ordering::Relaxed);
    debug_assert!(value > 0, "gauge below zero");
    counter.store(value.saturating_sub(1), Ordering::Release);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Acquire)
}

/// A snapshot of one shard's counters.
///
/// ```no_run
/// # fn demo(engine: &quark::Engine) {
/// for shard in engine.stats() {
///     println!("shard {}: {} messages, {} live", shard.shard, shard.messages, shard.active);
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardStats {
    /// The shard's index.
    pub shard: usize,
    /// Turns completed (handled messages, failed ones included).
    pub messages: u64,
    /// Activations created (`on_activate` succeeded).
    pub activations: u64,
    /// Activations ended (idle, error, panic, request or shutdown).
    pub deactivations: u64,
    /// Handler errors, panics and failed activations.
    pub failures: u64,
    /// Activations alive now.
    pub active: u64,
    /// Messages queued in mailboxes or being handled now.
    pub in_flight: u64,
    /// Messages and tasks this shard sent to other shards.
    pub sent: u64,
    /// Messages and tasks this shard took from other shards and outside threads.
    pub received: u64,
    /// Messages from other shards or threads that found their mailbox full and waited in
    /// the actor's overflow instead of stopping the receive loop.
    pub overflowed: u64,
    /// The most messages any one actor's overflow has held at once (bounded by what the
    /// peers can have in flight when it pauses them).
    pub overflow_peak: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self, shard: usize) -> ShardStats {
        ShardStats {
            shard,
            messages: read(&self.messages),
            activations: read(&self.activations),
            deactivations: read(&self.deactivations),
            failures: read(&self.failures),
            active: read(&self.active),
            in_flight: read(&self.inflight),
            sent: read(&self.sent),
            received: read(&self.received),
            overflowed: read(&self.overflowed),
            overflow_peak: read(&self.overflow_peak),
        }
    }

    /// Every monotonic counter plus the gauges, for quiescence detection.
    pub(crate) fn fingerprint(&self) -> [u64; 6] {
        [
            read(&self.pushed),
            read(&self.messages),
            read(&self.inflight),
            read(&self.sent),
            read(&self.received),
            read(&self.ingress_sent),
        ]
    }
}
