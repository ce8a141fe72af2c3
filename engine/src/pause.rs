//! The actors a shard has asked its peers to hold messages back for: the sender-side half
//! of the backpressure that keeps one full mailbox from stopping a shard's receive loop.
//!
//! When a message from another shard finds its mailbox full, the receiving shard keeps it
//! in the actor's overflow (`mailbox.rs`) and adds the actor's id to its [`PauseSet`].
//! Before a shard hands a message to a peer it checks the peer's set (one atomic load
//! while nothing is paused); a sender whose target is paused waits on its own shard, still
//! holding its message, until the receiving shard lifts the pause with a `Lift` task.
//!
//! Invariants: one writer per set (its shard thread), any number of readers (the peer
//! shards); an id is in the set only while its actor's overflow is non-empty; the set
//! holds at most [`PAUSES_MAX`] ids, and a shard that cannot pause falls back to waiting
//! in its receive loop (bounded memory before liveness); no lock anywhere.

use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::Waker;

use crate::envelope::ShardTask;
use crate::error::Error;
use crate::shard::ShardCore;

/// Actors one shard can hold paused at once.
pub(crate) const PAUSES_MAX: usize = 256;

/// The ids of the actors a shard asked its peers to hold back for (0 marks a free entry).
pub(crate) struct PauseSet {
    count: AtomicUsize,
    ids: Box<[AtomicU64]>,
}

impl Default for PauseSet {
    fn default() -> Self {
        PauseSet {
            count: AtomicUsize::new(0),
            ids: (0..PAUSES_MAX).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// Ids are never 0 (the free marker).
fn stored(id: u64) -> u64 {
    id.max(1)
}

impl PauseSet {
    /// Adds `id`; false when the set is full. Only the owning shard calls this.
    pub(crate) fn insert(&self, id: u64) -> bool {
        let id = stored(id);
        let Some(free) = self.ids.iter().find(|e| e.load(Ordering::Relaxed) == 0) else {
            return false;
        };
        free.store(id, Ordering::Release);
        self.count.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// Removes `id`. Only the owning shard calls this.
    pub(crate) fn remove(&self, id: u64) {
        let id = stored(id);
        if let Some(entry) = self.ids.iter().find(|e| e.load(Ordering::Relaxed) == id) {
            entry.store(0, Ordering::Release);
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Whether anything is paused (the cheap check every cross-shard send makes).
    pub(crate) fn any(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    /// Whether `id` is paused.
    pub(crate) fn contains(&self, id: u64) -> bool {
        let id = stored(id);
        self.any() && self.ids.iter().any(|e| e.load(Ordering::Acquire) == id)
    }
}

impl ShardCore {
    /// Whether a send of `task` to `peer` must hold back (its actor is paused there); then
    /// parks `waker` until the pause lifts.
    pub(crate) fn held_back<T: ShardTask + ?Sized>(
        &self,
        peer: usize,
        task: &T,
        waker: &Waker,
    ) -> bool {
        let Some(pauses) = self.shared.pauses.get(peer) else {
            return false;
        };
        if !pauses.any() {
            return false;
        }
        let Some(id) = task.target(&self.shared) else {
            return false;
        };
        if !pauses.contains(id) {
            return false;
        }
        let mut held = self.held.borrow_mut();
        if !held.iter().any(|(i, w)| *i == id && w.will_wake(waker)) {
            held.push((id, waker.clone()));
        }
        true
    }

    /// Wakes the senders held back for `id`.
    pub(crate) fn release(&self, id: u64) {
        let mut woken = Vec::new();
        self.held.borrow_mut().retain(|(i, waker)| {
            if *i == id {
                woken.push(waker.clone());
            }
            *i != id
        });
        for waker in woken {
            waker.wake();
        }
    }
}

/// Tells a shard that a peer lifted the pause of actor `.0`.
pub(crate) struct Lifted(pub(crate) u64);

impl ShardTask for Lifted {
    fn run(
        self: Box<Self>,
        core: &Rc<ShardCore>,
    ) -> Option<crate::envelope::LocalFuture<'static, ()>> {
        core.release(self.0);
        None
    }
    fn fail(self: Box<Self>, _error: Error) {}
    fn boxed(self: Box<Self>) -> Box<dyn ShardTask> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_ids_until_removed_and_refuses_when_full() {
        let set = PauseSet::default();
        assert!(!set.any());
        assert!(set.insert(7));
        assert!(set.contains(7) && !set.contains(8));
        set.remove(7);
        assert!(!set.any() && !set.contains(7));
        for id in 1..=PAUSES_MAX as u64 {
            assert!(set.insert(id));
        }
        assert!(!set.insert(9_999), "full");
        set.remove(3);
        assert!(set.insert(9_999));
    }
}
