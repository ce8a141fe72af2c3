//! The [`StateMachine`] trait every durable component implements, and the [`Effects`] its
//! `apply` returns instead of acting.
//!
//! Invariants: a machine's state is a pure function of the durable records of its namespace,
//! applied in log order; `apply` does no I/O, reads no clock and calls no other component, so
//! replaying a log at open is side-effect free and yields the state the live shard had.

use std::task::Waker;

use quark_log::Record;

use super::kinds::Namespace;

/// A component whose in-memory state is derived from records of its own kinds.
///
/// The contract:
/// 1. The core calls [`apply`](Self::apply) once per durable record holding at least one
///    entry of [`namespace`](Self::namespace), in log order, both at open (one scan of the
///    shard's log, dispatched by kind) and live (after the record is durable). There is no
///    second replay path: whatever a component knows about its records, it learned here.
/// 2. `apply` sees only durable records, and sees each one exactly once per open.
/// 3. `apply` must be deterministic and side-effect free: what should happen next (retire a
///    superseded record, wake the component's runner) goes into [`Effects`], which the core
///    runs after applying (after the whole scan, at open).
/// 4. A record may hold other components' entries too (one commit across components); a
///    machine skips kinds outside its namespace.
/// 5. Every kind in [`kinds`](Self::kinds) lies inside the namespace (checked at open).
///
/// ```
/// use quark::durable::{Effects, StateMachine, kinds};
/// use quark_log::Record;
///
/// const TICK: u16 = kinds::TIMERS.kind(0);
///
/// /// Counts the entries of kind `TICK` it has seen.
/// struct Counter { seen: u64 }
/// impl StateMachine for Counter {
///     fn namespace(&self) -> kinds::Namespace { kinds::TIMERS }
///     fn kinds(&self) -> &'static [u16] { &[TICK] }
///     fn apply(&mut self, record: &Record, _effects: &mut Effects) {
///         let mine = record.entries().filter(|e| e.kind == TICK);
///         self.seen += mine.count() as u64;
///     }
/// }
/// ```
pub trait StateMachine: 'static {
    /// The namespace whose records this machine applies.
    fn namespace(&self) -> Namespace;

    /// Every kind this machine writes and reads (all inside [`namespace`](Self::namespace)).
    fn kinds(&self) -> &'static [u16];

    /// Applies one durable record (see the trait's contract).
    fn apply(&mut self, record: &Record, effects: &mut Effects);
}

/// What applying records asks the shard to do next. Collected during `apply`, run by the
/// core afterwards (at open: once the whole log was scanned).
///
/// ```
/// let mut effects = quark::durable::Effects::default();
/// effects.retire(4096); // the record at 4096 was superseded
/// assert_eq!(effects.retired(), &[4096]);
/// ```
#[derive(Default, Debug)]
pub struct Effects {
    retire: Vec<u64>,
    wake: Vec<Waker>,
}

impl Effects {
    /// The record at `position` no longer matters: compaction may drop it. The core marks it
    /// retired in the log (in memory; every open re-derives retirements from the records, in
    /// this one place for every component).
    pub fn retire(&mut self, position: u64) {
        self.retire.push(position);
    }

    /// Wakes a component's runner (a new timer is due earlier, a job became ready).
    pub fn wake(&mut self, waker: Waker) {
        self.wake.push(waker);
    }

    /// The positions asked to be retired so far.
    pub fn retired(&self) -> &[u64] {
        &self.retire
    }

    /// Whether there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.retire.is_empty() && self.wake.is_empty()
    }

    pub(crate) fn take(&mut self) -> (Vec<u64>, Vec<Waker>) {
        (
            std::mem::take(&mut self.retire),
            std::mem::take(&mut self.wake),
        )
    }
}
