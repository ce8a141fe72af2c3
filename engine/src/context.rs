//! The context a handler gets beside `&mut self`: its key, its shard, references to other
//! actors, its timers, and the request to deactivate.
//!
//! Invariants: a context belongs to exactly one activation and lives on its shard; dropping
//! it (deactivation) cancels every timer it started.

use std::rc::Rc;
use std::time::Duration;

use crate::actor::{Actor, Handler, Message};
use crate::actor_ref::ActorRef;
use crate::mailbox::Slot;
use crate::shard::Shard;
use crate::timers::{self, TimerId};

/// The timers of one activation; dropping a task cancels it.
#[derive(Default)]
struct Timers {
    live: Vec<(TimerId, glommio::Task<()>)>,
    next: u64,
}

/// What a handler can reach besides its own state.
///
/// ```
/// use quark::{Actor, ActorError, Context, Handler, Message};
/// use std::time::Duration;
///
/// struct Ticker { ticks: u32 }
/// #[derive(Clone)]
/// struct Tick;
/// impl Message for Tick { type Reply = (); }
///
/// impl Actor for Ticker {
///     type Key = u32;
///     async fn on_activate(ctx: &mut Context<Self>) -> Result<Self, ActorError> {
///         ctx.set_interval(Duration::from_millis(10), Tick);
///         Ok(Ticker { ticks: 0 })
///     }
/// }
/// impl Handler<Tick> for Ticker {
///     async fn handle(&mut self, _: Tick, ctx: &mut Context<Self>) -> Result<(), ActorError> {
///         self.ticks += 1;
///         if self.ticks == 3 {
///             ctx.deactivate();
///         }
///         Ok(())
///     }
/// }
/// ```
pub struct Context<A: Actor> {
    key: A::Key,
    shard: Shard,
    slot: Rc<Slot<A>>,
    table: u32,
    /// Boxed on first use: most activations never start a timer, and an idle activation
    /// should not pay for an empty list.
    timers: Option<Box<Timers>>,
    deactivate: bool,
    /// Where an event-sourced activation stands in its stream (boxed: most actors have none).
    pub(crate) journal_cursor: Option<Box<crate::journal::Cursor>>,
}

impl<A: Actor> Context<A> {
    pub(crate) fn new(key: A::Key, shard: Shard, slot: Rc<Slot<A>>, table: u32) -> Self {
        Context {
            key,
            shard,
            slot,
            table,
            timers: None,
            deactivate: false,
            journal_cursor: None,
        }
    }

    /// The key of this activation.
    pub fn key(&self) -> &A::Key {
        &self.key
    }

    /// The shard this activation lives on (its log, its id, its counters).
    pub fn shard(&self) -> &Shard {
        &self.shard
    }

    /// A reference to another actor; calls through it from here never cross threads when
    /// the target lives on this shard.
    pub fn actor<B: Actor>(&self, key: impl Into<B::Key>) -> ActorRef<B> {
        self.shard.actor::<B>(key)
    }

    /// A reference to this very actor (to hand to others; calling it from its own handler
    /// would wait for itself).
    pub fn myself(&self) -> ActorRef<A> {
        self.shard.actor::<A>(self.key.clone())
    }

    /// Deactivate after the current turn (queued messages then go to a fresh activation).
    pub fn deactivate(&mut self) {
        self.deactivate = true;
    }

    pub(crate) fn core(&self) -> &Rc<crate::shard::ShardCore> {
        self.shard.core()
    }

    pub(crate) fn slot(&self) -> &Rc<Slot<A>> {
        &self.slot
    }

    /// Fresh per-activation state for the next activation of the same key.
    pub(crate) fn reset(&mut self) {
        self.timers = None;
        self.deactivate = false;
    }

    pub(crate) fn deactivate_requested(&self) -> bool {
        self.deactivate
    }

    /// Sends `msg` to this activation once, after `delay`. Timer messages do not keep the
    /// activation alive, and the timer dies with the activation.
    pub fn set_timer<M>(&mut self, delay: Duration, msg: M) -> TimerId
    where
        A: Handler<M>,
        M: Message,
    {
        let task = timers::spawn_once::<A, M>(self.timer_target(), delay, msg);
        self.add_timer(task)
    }

    /// Sends a clone of `msg` to this activation every `period`, until cancelled or the
    /// activation deactivates.
    pub fn set_interval<M>(&mut self, period: Duration, msg: M) -> TimerId
    where
        A: Handler<M>,
        M: Message + Clone,
    {
        let task = timers::spawn_every::<A, M>(self.timer_target(), period, msg);
        self.add_timer(task)
    }

    /// Cancels a timer; false when it was unknown (already fired once-timers are dropped
    /// only at deactivation, so they still count as known).
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        let Some(timers) = self.timers.as_mut() else {
            return false;
        };
        let before = timers.live.len();
        timers.live.retain(|(timer, _)| *timer != id);
        before != timers.live.len()
    }

    /// Timers started and not cancelled.
    pub fn timer_count(&self) -> usize {
        self.timers.as_ref().map_or(0, |timers| timers.live.len())
    }

    pub(crate) fn cancel_timers(&mut self) {
        if let Some(timers) = self.timers.as_mut() {
            timers.live.clear();
        }
    }

    fn add_timer(&mut self, task: glommio::Task<()>) -> TimerId {
        let timers = self.timers.get_or_insert_with(Box::default);
        timers.next += 1;
        let id = TimerId(timers.next);
        timers.live.push((id, task));
        id
    }

    fn timer_target(&self) -> timers::Target<A> {
        timers::Target {
            core: self.shard.core().clone(),
            slot: self.slot.clone(),
            key: self.key.clone(),
            table: self.table,
        }
    }
}
