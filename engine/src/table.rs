//! The per-shard directory of one actor type's live keys, and its idle sweeper.
//!
//! Invariants: a key has at most one [`Slot`] per shard, created by the first message and
//! removed by its last activation on exit; the epoch advances every quarter of the idle
//! timeout, so a key is deactivated between 1 and 1.25 idle timeouts after its last message
//! (a clock read per message would cost more than a counter per sweep).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use crate::actor::Actor;
use crate::hash::SeededState;
use crate::mailbox::Slot;

/// Ticks of idleness after which an activation is asked to deactivate.
const IDLE_TICKS: u32 = 5;

/// The resolved settings of one registered actor type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TypeConfig {
    pub(crate) idle_timeout: Duration,
    pub(crate) mailbox_capacity: u32,
    /// `Some(max)` for stateless workers: up to `max` activations per key and shard.
    pub(crate) pool_max: Option<u16>,
}

/// The live keys of actor type `A` on one shard.
pub(crate) struct Table<A: Actor> {
    pub(crate) index: u32,
    pub(crate) config: TypeConfig,
    entries: RefCell<HashMap<A::Key, Rc<Slot<A>>, SeededState>>,
    epoch: Cell<u32>,
}

impl<A: Actor> Table<A> {
    pub(crate) fn new(index: u32, config: TypeConfig) -> Self {
        Table {
            index,
            config,
            entries: RefCell::new(HashMap::with_hasher(SeededState::new())),
            epoch: Cell::new(0),
        }
    }

    pub(crate) fn epoch(&self) -> u32 {
        self.epoch.get()
    }

    /// The slot of `key`, created empty when absent (no activation is started here).
    pub(crate) fn slot(&self, key: &A::Key) -> Rc<Slot<A>> {
        if let Some(slot) = self.entries.borrow().get(key) {
            return slot.clone();
        }
        let slot = Rc::new(Slot::new(
            self.config.mailbox_capacity,
            self.config.pool_max,
            self.epoch.get(),
        ));
        self.entries.borrow_mut().insert(key.clone(), slot.clone());
        slot
    }

    /// Live activations of `key` on this shard.
    pub(crate) fn workers(&self, key: &A::Key) -> u16 {
        self.entries
            .borrow()
            .get(key)
            .map_or(0, |slot| slot.workers())
    }

    /// Removes `key` if it still maps to `slot` (a newer slot is left alone).
    pub(crate) fn remove(&self, key: &A::Key, slot: &Rc<Slot<A>>) {
        let mut entries = self.entries.borrow_mut();
        if entries.get(key).is_some_and(|live| Rc::ptr_eq(live, slot)) {
            entries.remove(key);
        }
    }
}

/// What a shard needs from a table without knowing its actor type.
pub(crate) trait AnyTable {
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Rc<Self>) -> Rc<dyn Any>;
    /// Advances the epoch and asks long-idle activations to deactivate.
    fn tick(&self);
    /// Asks every activation to deactivate once its queue is empty (shutdown).
    fn stop_all(&self);
    /// Fails every queued message with `error` and forgets every key (end of a shutdown
    /// that ran out of time); returns how many messages it failed.
    fn abandon(&self, error: &crate::error::Error) -> u64;
    /// How often `tick` should run.
    fn tick_period(&self) -> Duration;
    /// Keys with a slot.
    fn len(&self) -> usize;
}

impl<A: Actor> AnyTable for Table<A> {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Rc<Self>) -> Rc<dyn Any> {
        self
    }

    fn tick(&self) {
        let epoch = self.epoch.get().wrapping_add(1);
        self.epoch.set(epoch);
        // Waking is deferred by the executor, so sweeping while borrowed is safe.
        for slot in self.entries.borrow().values() {
            slot.sweep(epoch, IDLE_TICKS, false);
        }
    }

    fn stop_all(&self) {
        for slot in self.entries.borrow().values() {
            slot.sweep(0, IDLE_TICKS, true);
        }
    }

    fn abandon(&self, error: &crate::error::Error) -> u64 {
        let slots: Vec<Rc<Slot<A>>> = self.entries.borrow_mut().drain().map(|(_, s)| s).collect();
        let mut failed = 0;
        for slot in slots {
            for env in slot.drain() {
                env.fail(error.clone());
                failed += 1;
            }
        }
        failed
    }

    fn tick_period(&self) -> Duration {
        (self.config.idle_timeout / 4).max(Duration::from_millis(1))
    }

    fn len(&self) -> usize {
        self.entries.borrow().len()
    }
}
