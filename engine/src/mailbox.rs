//! The bounded mailbox of one actor key, shared by the activations that serve it.
//!
//! A stateful actor has one activation per key; a stateless worker type has a pool of up to
//! `max` activations per key and shard, all taking from the same mailbox.
//!
//! Invariants:
//! - the queue never holds more than `capacity` envelopes: a sender on this shard that
//!   finds it full registers its waker and waits (backpressure), nothing is dropped;
//! - a message that arrives from another shard or thread while the queue is full waits in
//!   the slot's overflow instead, so the receive loop that brought it never waits on one
//!   mailbox; the overflow is non-empty only while the queue is full, and refills the
//!   queue, oldest first, as turns take messages (its bound and the pause that enforces
//!   it are in `routing.rs`);
//! - messages leave in the order they entered (FIFO), so one sender's messages are handled
//!   in send order (an arrival goes behind any overflow);
//! - an idle activation is parked on the mailbox; a push wakes one (the most recently idle
//!   one for pools, so the oldest idle workers are the ones that scale down);
//! - all of this is shard-local (`Rc`, `Cell`, `RefCell`): no locks, no atomics.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::task::{Poll, Waker};

use crate::actor::Actor;
use crate::envelope::Envelope;

/// What an activation gets from its mailbox.
pub(crate) enum Next<A: Actor> {
    /// A message to handle.
    Msg(Box<dyn Envelope<A>>),
    /// Nothing to do and asked to deactivate.
    Stop,
}

/// One idle pool worker parked on the mailbox.
struct Idle {
    worker: u32,
    waker: Waker,
    since_epoch: u32,
}

/// The extra state of a stateless worker pool.
struct Pool {
    max: u16,
    next_worker: Cell<u32>,
    idle: RefCell<Vec<Idle>>,
    stop_requests: Cell<u16>,
}

/// What a slot needs only once its queue has been full: allocated then, so an idle slot
/// pays one pointer for it.
struct Backlog<A: Actor> {
    /// Senders on this shard waiting for room.
    senders: Vec<Waker>,
    /// Arrivals from other shards and threads that found the queue full, oldest first.
    overflow: VecDeque<Box<dyn Envelope<A>>>,
    /// The id peers were asked to hold back on, while they are.
    paused: Option<u64>,
    /// The overflow emptied while paused: the pause is to be lifted.
    lift: bool,
}

/// The mailbox and bookkeeping of one actor key on one shard.
pub(crate) struct Slot<A: Actor> {
    queue: RefCell<VecDeque<Box<dyn Envelope<A>>>>,
    capacity: u32,
    /// The table epoch of the last message a sender pushed (timers do not count).
    last_epoch: Cell<u32>,
    /// Stateful only: asked to deactivate once the queue is empty.
    stop: Cell<bool>,
    /// Live activations serving this key (including ones activating or deactivating).
    workers: Cell<u16>,
    /// Stateful only: the parked activation. (`Cell`s, not `RefCell`s, where a value is
    /// only ever swapped: every byte here is paid by every idle activation.)
    waiter: Cell<Option<Waker>>,
    /// Waiting senders and overflow, once the queue has been full.
    backlog: Cell<Option<Box<Backlog<A>>>>,
    pool: Option<Box<Pool>>,
}

impl<A: Actor> Slot<A> {
    /// A mailbox for a stateful actor (`pool_max == None`) or a worker pool.
    pub(crate) fn new(capacity: u32, pool_max: Option<u16>, epoch: u32) -> Self {
        Slot {
            // Most keys hold one message at a time: start with room for one, not four.
            queue: RefCell::new(VecDeque::with_capacity(1)),
            capacity: capacity.max(1),
            last_epoch: Cell::new(epoch),
            stop: Cell::new(false),
            workers: Cell::new(0),
            waiter: Cell::new(None),
            backlog: Cell::new(None),
            pool: pool_max.map(|max| {
                Box::new(Pool {
                    max: max.max(1),
                    next_worker: Cell::new(0),
                    idle: RefCell::new(Vec::new()),
                    stop_requests: Cell::new(0),
                })
            }),
        }
    }

    /// Whether a push would have to wait.
    pub(crate) fn is_full(&self) -> bool {
        self.queue.borrow().len() >= self.capacity as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.borrow().is_empty()
    }

    /// Records sender activity for idle deactivation.
    pub(crate) fn touch(&self, epoch: u32) {
        self.last_epoch.set(epoch);
    }

    /// Runs `f` on the backlog, allocating it on first use.
    fn with_backlog<T>(&self, f: impl FnOnce(&mut Backlog<A>) -> T) -> T {
        let mut backlog = self.backlog.take().unwrap_or_else(|| {
            Box::new(Backlog {
                senders: Vec::new(),
                overflow: VecDeque::new(),
                paused: None,
                lift: false,
            })
        });
        let out = f(&mut backlog);
        self.backlog.set(Some(backlog));
        out
    }

    /// Parks a sender until there is room.
    pub(crate) fn wait_for_room(&self, waker: &Waker) {
        self.with_backlog(|backlog| {
            if !backlog.senders.iter().any(|w| w.will_wake(waker)) {
                backlog.senders.push(waker.clone());
            }
        });
    }

    /// Arrivals waiting in the overflow.
    pub(crate) fn overflow_len(&self) -> usize {
        let backlog = self.backlog.take();
        let len = backlog.as_ref().map_or(0, |b| b.overflow.len());
        self.backlog.set(backlog);
        len
    }

    /// Queues an arrival from another shard or thread behind the overflow (the caller
    /// found the queue full or the overflow non-empty); returns whether the slot is
    /// paused, so the caller knows whether to ask for a pause.
    pub(crate) fn push_overflow(&self, env: Box<dyn Envelope<A>>) -> bool {
        self.with_backlog(|backlog| {
            backlog.overflow.push_back(env);
            backlog.paused.is_some()
        })
    }

    /// Records that peers were asked to hold back on `id`.
    pub(crate) fn set_paused(&self, id: u64) {
        self.with_backlog(|backlog| {
            backlog.paused = Some(id);
            backlog.lift = false;
        });
    }

    /// The id whose pause is to be lifted now that the overflow emptied, if any.
    pub(crate) fn take_lift(&self) -> Option<u64> {
        let mut backlog = self.backlog.take()?;
        let lift = if backlog.lift {
            backlog.lift = false;
            backlog.paused.take()
        } else {
            None
        };
        self.backlog.set(Some(backlog));
        lift
    }

    /// Whether a push now should start a new activation: none is live (stateful), or no
    /// pool worker is idle and the pool is below its bound.
    pub(crate) fn needs_worker(&self) -> bool {
        match &self.pool {
            None => self.workers.get() == 0,
            Some(pool) => pool.idle.borrow().is_empty() && self.workers.get() < pool.max,
        }
    }

    /// Enqueues `env` (the caller checked `is_full`) and wakes an idle activation.
    pub(crate) fn push(&self, env: Box<dyn Envelope<A>>) {
        debug_assert!(!self.is_full(), "push into a full mailbox");
        self.queue.borrow_mut().push_back(env);
        self.wake_one();
    }

    /// Wakes the parked activation (stateful) or the most recently idle worker.
    fn wake_one(&self) {
        match &self.pool {
            None => {
                self.stop.set(false);
                if let Some(waker) = self.waiter.take() {
                    waker.wake();
                }
            }
            Some(pool) => {
                if let Some(idle) = pool.idle.borrow_mut().pop() {
                    idle.waker.wake();
                }
            }
        }
    }

    /// Registers a new activation and returns its id within this slot.
    pub(crate) fn add_worker(&self) -> u32 {
        self.workers.set(self.workers.get() + 1);
        let Some(pool) = &self.pool else {
            return 0;
        };
        let id = pool.next_worker.get();
        pool.next_worker.set(id.wrapping_add(1));
        id
    }

    /// Unregisters an activation; returns how many remain.
    pub(crate) fn remove_worker(&self, worker: u32) -> u16 {
        if let Some(pool) = &self.pool {
            pool.idle.borrow_mut().retain(|idle| idle.worker != worker);
        }
        let left = self.workers.get().saturating_sub(1);
        self.workers.set(left);
        left
    }

    pub(crate) fn workers(&self) -> u16 {
        self.workers.get()
    }

    /// The next message for activation `worker`, or `Stop`, or parks it.
    pub(crate) fn poll_next(&self, worker: u32, epoch: u32, waker: &Waker) -> Poll<Next<A>> {
        let popped = self.queue.borrow_mut().pop_front();
        if let Some(env) = popped {
            self.refill();
            self.wake_senders();
            if let Some(pool) = &self.pool {
                pool.idle.borrow_mut().retain(|idle| idle.worker != worker);
            }
            return Poll::Ready(Next::Msg(env));
        }
        match &self.pool {
            None => {
                if self.stop.get() {
                    return Poll::Ready(Next::Stop);
                }
                self.waiter.set(Some(waker.clone()));
            }
            Some(pool) => {
                let requests = pool.stop_requests.get();
                if self.stop.get() || requests > 0 {
                    pool.stop_requests.set(requests.saturating_sub(1));
                    pool.idle.borrow_mut().retain(|idle| idle.worker != worker);
                    return Poll::Ready(Next::Stop);
                }
                let mut idle = pool.idle.borrow_mut();
                match idle.iter_mut().find(|idle| idle.worker == worker) {
                    Some(entry) => entry.waker.clone_from(waker),
                    None => idle.push(Idle {
                        worker,
                        waker: waker.clone(),
                        since_epoch: epoch,
                    }),
                }
            }
        }
        Poll::Pending
    }

    /// Moves the oldest overflowed arrival into the room a turn just made.
    fn refill(&self) {
        let Some(mut backlog) = self.backlog.take() else {
            return;
        };
        if let Some(env) = backlog.overflow.pop_front() {
            self.queue.borrow_mut().push_back(env);
            if backlog.overflow.is_empty() && backlog.paused.is_some() {
                backlog.lift = true;
            }
        }
        self.backlog.set(Some(backlog));
    }

    fn wake_senders(&self) {
        let Some(mut backlog) = self.backlog.take() else {
            return;
        };
        let senders = std::mem::take(&mut backlog.senders);
        // Keep the allocation only while it holds something.
        if !backlog.overflow.is_empty() || backlog.paused.is_some() {
            self.backlog.set(Some(backlog));
        }
        for waker in senders {
            waker.wake();
        }
    }

    /// Takes every queued envelope, overflow included (to fail them).
    pub(crate) fn drain(&self) -> Vec<Box<dyn Envelope<A>>> {
        let mut drained: Vec<_> = self.queue.borrow_mut().drain(..).collect();
        if let Some(mut backlog) = self.backlog.take() {
            drained.extend(backlog.overflow.drain(..));
            backlog.lift = backlog.paused.is_some();
            self.backlog.set(Some(backlog));
        }
        self.wake_senders();
        drained
    }

    /// Asks activations idle for `ticks` epochs or more (before `epoch`) to deactivate;
    /// `all` asks every activation, after its queue drains (shutdown).
    pub(crate) fn sweep(&self, epoch: u32, ticks: u32, all: bool) {
        match &self.pool {
            None => {
                let waiter = self.waiter.take();
                let parked = waiter.is_some();
                self.waiter.set(waiter);
                let idle = parked && epoch.wrapping_sub(self.last_epoch.get()) >= ticks;
                if all || (idle && self.is_empty()) {
                    self.stop.set(true);
                    if let Some(waker) = self.waiter.take() {
                        waker.wake();
                    }
                }
            }
            Some(pool) => {
                if all {
                    self.stop.set(true);
                }
                let mut idle = pool.idle.borrow_mut();
                let mut stopped = 0u16;
                idle.retain(|entry| {
                    let old = all || epoch.wrapping_sub(entry.since_epoch) >= ticks;
                    if old {
                        entry.waker.wake_by_ref();
                        stopped += 1;
                    }
                    !old
                });
                pool.stop_requests.set(pool.stop_requests.get() + stopped);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;
    use crate::actor::{Handler, Message};
    use crate::context::Context;
    use crate::envelope::routed;
    use crate::error::ActorError;

    struct Dummy;
    impl Actor for Dummy {
        type Key = u8;
        async fn on_activate(_: &mut Context<Self>) -> Result<Self, ActorError> {
            Ok(Dummy)
        }
    }
    struct Nop;
    impl Message for Nop {
        type Reply = ();
    }
    impl Handler<Nop> for Dummy {
        async fn handle(&mut self, _: Nop, _: &mut Context<Self>) -> Result<(), ActorError> {
            Ok(())
        }
    }

    /// Counts wake-ups.
    struct Counting(AtomicUsize);
    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Counting>, Waker) {
        let counter = Arc::new(Counting(AtomicUsize::new(0)));
        (counter.clone(), Waker::from(counter))
    }

    fn env(key: u8) -> Box<dyn Envelope<Dummy>> {
        routed::<Dummy, Nop, ()>(key, 0, Nop, ())
    }

    fn next(slot: &Slot<Dummy>, worker: u32, waker: &Waker) -> Option<bool> {
        match slot.poll_next(worker, 0, waker) {
            Poll::Ready(Next::Msg(_)) => Some(true),
            Poll::Ready(Next::Stop) => Some(false),
            Poll::Pending => None,
        }
    }

    #[test]
    fn a_slot_stays_small() {
        // Paid by every idle activation: with the Rc header it fits a 128-byte malloc chunk.
        assert!(std::mem::size_of::<Slot<Dummy>>() <= 104);
    }

    #[test]
    fn is_bounded_and_wakes_waiting_senders_when_room_frees() {
        let slot = Slot::<Dummy>::new(2, None, 0);
        assert!(slot.needs_worker());
        slot.push(env(1));
        slot.push(env(1));
        assert!(slot.is_full());
        let (woken, sender) = counting();
        slot.wait_for_room(&sender);
        slot.wait_for_room(&sender); // registering twice wakes once
        assert_eq!(next(&slot, 0, Waker::noop()), Some(true));
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        assert!(!slot.is_full());
    }

    #[test]
    fn a_parked_activation_is_woken_by_a_push_and_stopped_by_a_sweep() {
        let slot = Slot::<Dummy>::new(8, None, 0);
        slot.add_worker();
        assert!(!slot.needs_worker());
        let (woken, activation) = counting();
        assert_eq!(
            next(&slot, 0, &activation),
            None,
            "parks on an empty mailbox"
        );
        slot.push(env(1));
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        assert_eq!(next(&slot, 0, &activation), Some(true));
        assert_eq!(next(&slot, 0, &activation), None);
        slot.sweep(3, 5, false);
        assert_eq!(next(&slot, 0, &activation), None, "not idle long enough");
        slot.sweep(5, 5, false);
        assert_eq!(woken.0.load(Ordering::SeqCst), 2);
        assert_eq!(next(&slot, 0, &activation), Some(false), "asked to stop");
    }

    #[test]
    fn a_pool_grows_to_its_bound_and_hands_work_to_the_latest_idle_worker() {
        let slot = Slot::<Dummy>::new(8, Some(2), 0);
        assert!(slot.needs_worker());
        let first = slot.add_worker();
        assert!(slot.needs_worker(), "no worker idle and below the bound");
        let second = slot.add_worker();
        assert!(!slot.needs_worker(), "at the bound");
        let (old, old_waker) = counting();
        let (new, new_waker) = counting();
        assert_eq!(next(&slot, first, &old_waker), None);
        assert_eq!(next(&slot, second, &new_waker), None);
        slot.push(env(1));
        assert_eq!(
            new.0.load(Ordering::SeqCst),
            1,
            "the most recently idle one"
        );
        assert_eq!(old.0.load(Ordering::SeqCst), 0);
        assert_eq!(next(&slot, second, &new_waker), Some(true));
        // Only the worker idle for 5 epochs is asked to stop.
        slot.sweep(5, 5, false);
        assert_eq!(old.0.load(Ordering::SeqCst), 1);
        assert_eq!(next(&slot, first, &old_waker), Some(false));
        assert_eq!(slot.remove_worker(first), 1);
        assert_eq!(next(&slot, second, &new_waker), None, "still serving");
    }
}
