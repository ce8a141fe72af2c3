//! Routing: the one place that decides where a message or task goes and puts it there.
//!
//! A send is resolved on every poll from the calling thread: on the target's home shard it
//! goes straight into the mailbox; on another shard of the same engine it goes through that
//! shard's bounded outbound channel; on any other thread through the home shard's bounded
//! ingress queue. The home comes from [`Placement`](crate::Placement) (stateful actors) or is
//! the calling shard (stateless workers; round-robin from outside threads). This module is
//! the one owner of the (type, key) → shard and stream → shard decisions (`placed_home`,
//! `stream_home`): references, `EngineHandle::home_shard` and the journal all ask it.
//!
//! Invariants: every path is bounded and waits rather than drops; nothing is taken out of
//! the caller's future until the path has room, so a pending send still owns its message
//! and stays `Send`; no lock is taken on a shard-to-shard or in-shard path.

use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

use crate::activation;
use crate::actor::{Actor, Handler, Message};
use crate::engine::{IngressTx, Shared};
use crate::envelope::{Envelope, LocalFuture, Reply, Routed, ShardTask};
use crate::error::Error;
use crate::mailbox::Slot;
use crate::shard::{self, ShardCore};
use crate::stats::{bump, raise};
use crate::table::Table;

/// Queues `env` into `slot` (the caller checked there is room) and starts an activation
/// when the slot needs one. The key is cloned only then: once per activation, not per
/// message.
///
/// The push comes first, so the activation finds its message however soon it runs.
pub(crate) fn enqueue<A: Actor>(
    core: &Rc<ShardCore>,
    slot: &Rc<Slot<A>>,
    key: &A::Key,
    table: u32,
    env: Box<dyn Envelope<A>>,
) {
    let start = slot.needs_worker().then(|| key.clone());
    push(core, slot, table, env, start);
}

/// [`enqueue`] for an envelope that owns the key.
fn enqueue_routed<A, M, R>(core: &Rc<ShardCore>, slot: &Rc<Slot<A>>, routed: Box<Routed<A, M, R>>)
where
    A: Handler<M>,
    M: Message,
    R: Reply<M::Reply>,
{
    let start = slot.needs_worker().then(|| routed.key.clone());
    let table = routed.table;
    push(core, slot, table, routed, start);
}

fn push<A: Actor>(
    core: &Rc<ShardCore>,
    slot: &Rc<Slot<A>>,
    table: u32,
    env: Box<dyn Envelope<A>>,
    start: Option<A::Key>,
) {
    slot.push(env);
    bump(&core.counters.pushed);
    bump(&core.counters.inflight);
    if let Some(key) = start {
        activation::spawn::<A>(core, table, slot.clone(), key);
    }
}

/// A message's mailbox on this shard and its table's current epoch.
type Target<A> = (Rc<Slot<A>>, u32);

/// The mailbox on this shard that the message in `env` is for, with its table's current
/// epoch: `Ok(None)` once the message has left `env`; an error when the shard is closing or
/// the actor type is not registered here.
fn target_slot<A, M, R>(
    core: &Rc<ShardCore>,
    env: &Option<Box<Routed<A, M, R>>>,
) -> Result<Option<Target<A>>, Error>
where
    A: Handler<M>,
    M: Message,
    R: Reply<M::Reply>,
{
    if core.is_closing() {
        return Err(Error::ShutDown);
    }
    let Some(routed) = env.as_ref() else {
        return Ok(None);
    };
    let Some(table) = core.table::<A>(routed.table) else {
        return Err(Error::Unregistered {
            actor: std::any::type_name::<A>(),
        });
    };
    Ok(Some((table.slot(&routed.key), table.epoch())))
}

/// Puts a routed message into its mailbox on this shard, or registers to wait for room.
pub(crate) fn poll_local<A, M, R>(
    core: &Rc<ShardCore>,
    env: &mut Option<Box<Routed<A, M, R>>>,
    waker: &Waker,
) -> Poll<Result<(), Error>>
where
    A: Handler<M>,
    M: Message,
    R: Reply<M::Reply>,
{
    let (slot, epoch) = match target_slot(core, env) {
        Ok(Some(target)) => target,
        Ok(None) => return Poll::Ready(Ok(())),
        Err(e) => return Poll::Ready(Err(e)),
    };
    if slot.is_full() {
        slot.wait_for_room(waker);
        return Poll::Pending;
    }
    slot.touch(epoch);
    if let Some(routed) = env.take() {
        enqueue_routed(core, &slot, routed);
    }
    Poll::Ready(Ok(()))
}

/// Delivers a message that arrived from another shard or an outside thread. A full
/// mailbox does not stop the receive loop: the message waits in the slot's overflow, and
/// peers are asked to hold back further messages for that actor (see
/// [`ShardCore::pause`]). Only when an overflow reaches its hard bound (which the pause
/// keeps it from reaching) does this return a future that waits for room. Failures answer
/// the caller through the envelope.
pub(crate) fn deliver_arrived<A, M, R>(
    core: &Rc<ShardCore>,
    env: Box<Routed<A, M, R>>,
) -> Option<LocalFuture<'static, ()>>
where
    A: Handler<M>,
    M: Message,
    R: Reply<M::Reply>,
{
    let mut env = Some(env);
    if poll_arrived(core, &mut env, Waker::noop()).is_ready() {
        return None;
    }
    let core = core.clone();
    Some(Box::pin(futures_lite::future::poll_fn(move |cx| {
        poll_arrived(&core, &mut env, cx.waker())
    })))
}

fn poll_arrived<A, M, R>(
    core: &Rc<ShardCore>,
    env: &mut Option<Box<Routed<A, M, R>>>,
    waker: &Waker,
) -> Poll<()>
where
    A: Handler<M>,
    M: Message,
    R: Reply<M::Reply>,
{
    match place_arrived(core, env, waker) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(Ok(())) => Poll::Ready(()),
        Poll::Ready(Err(error)) => {
            if let Some(env) = env.take() {
                Envelope::fail(env, error);
            }
            Poll::Ready(())
        }
    }
}

fn place_arrived<A, M, R>(
    core: &Rc<ShardCore>,
    env: &mut Option<Box<Routed<A, M, R>>>,
    waker: &Waker,
) -> Poll<Result<(), Error>>
where
    A: Handler<M>,
    M: Message,
    R: Reply<M::Reply>,
{
    let (slot, epoch) = match target_slot(core, env) {
        Ok(Some(target)) => target,
        Ok(None) => return Poll::Ready(Ok(())),
        Err(e) => return Poll::Ready(Err(e)),
    };
    slot.touch(epoch);
    let overflow = slot.overflow_len();
    if overflow == 0 && !slot.is_full() {
        if let Some(routed) = env.take() {
            enqueue_routed(core, &slot, routed);
        }
        return Poll::Ready(Ok(()));
    }
    if overflow >= core.overflow_max() {
        slot.wait_for_room(waker);
        return Poll::Pending;
    }
    let Some(routed) = env.take() else {
        return Poll::Ready(Ok(()));
    };
    let id = core.shared.target_id::<A>(routed.table, &routed.key);
    bump(&core.counters.pushed);
    bump(&core.counters.inflight);
    bump(&core.counters.overflowed);
    raise(&core.counters.overflow_peak, overflow as u64 + 1);
    let paused = slot.push_overflow(routed);
    if !paused && core.pause(id) {
        slot.set_paused(id);
    }
    Poll::Ready(Ok(()))
}

/// Lifts the pause of `slot` once its overflow emptied: peers may send again.
pub(crate) fn settle<A: Actor>(core: &ShardCore, slot: &Slot<A>) {
    if let Some(id) = slot.take_lift() {
        core.lift(id);
    }
}

/// The home shard of `key` of type `A` as seen from `here` (the calling shard, if any).
pub(crate) fn home<A: Actor>(
    shared: &Shared,
    table: u32,
    key: &A::Key,
    here: Option<usize>,
    spread: &mut Option<usize>,
) -> usize {
    if shared.registry.is_stateless(table) {
        if let Some(here) = here {
            return here;
        }
        return *spread.get_or_insert_with(|| shared.next_spread());
    }
    placed_home::<A>(shared, key)
}

/// The home shard of stateful actor `key` of type `A`: the one answer `ActorRef`s,
/// `EngineHandle::home_shard` and sends use. Placement is asked; its answer is reduced
/// modulo the shard count, so it never names a shard outside the engine.
pub(crate) fn placed_home<A: Actor>(shared: &Shared, key: &A::Key) -> usize {
    let id = crate::placement::ActorId::of::<A>(key);
    shared.placement.home(&id, shared.shards) % shared.shards.max(1)
}

/// [`placed_home`] for a registered stateful type; `None` for unregistered or stateless
/// types, whose calls are served where they are made.
pub(crate) fn stateful_home<A: Actor>(shared: &Shared, key: &A::Key) -> Option<usize> {
    let table = shared.registry.index_of::<A>()?;
    (!shared.registry.is_stateless(table)).then(|| placed_home::<A>(shared, key))
}

/// The home shard of a journal stream appended from outside the engine: the specified
/// `xxh64-v1` hash of its name (see `stable_hash.rs`), modulo the shard count.
pub(crate) fn stream_home(shared: &Shared, stream: &str) -> usize {
    crate::stable_hash::reduce(crate::stable_hash::stream_hash(stream), shared.shards)
}

/// Where a send to `target` must go from the calling thread.
pub(crate) enum Route {
    /// The calling shard is the target.
    Here(Rc<ShardCore>),
    /// Another shard of the same engine.
    Peer(Rc<ShardCore>, usize),
    /// Not on a shard of this engine.
    Outside(usize),
}

pub(crate) fn route(shared: &Shared, target: impl FnOnce(Option<usize>) -> usize) -> Route {
    match shard::current(shared.id) {
        Some(core) => {
            let home = target(Some(core.id));
            if home == core.id {
                Route::Here(core)
            } else {
                Route::Peer(core, home)
            }
        }
        None => Route::Outside(target(None)),
    }
}

/// Sends `task` to shard `target` from another shard or thread, once there is room.
pub(crate) fn poll_remote<T: ShardTask + ?Sized>(
    shared: &Arc<Shared>,
    from: Option<&Rc<ShardCore>>,
    target: usize,
    task: &mut Option<Box<T>>,
    ingress: &mut Option<IngressTx>,
    cx: &mut TaskContext<'_>,
) -> Poll<Result<(), Error>> {
    if let Some(core) = from {
        if core.is_closing() {
            return Poll::Ready(Err(Error::ShutDown));
        }
        if let Some(task) = task.as_ref()
            && core.held_back(target, &**task, cx.waker())
        {
            return Poll::Pending;
        }
        if !core.peer_has_room(target, cx.waker()) {
            return Poll::Pending;
        }
        if let Some(task) = task.take() {
            return Poll::Ready(core.submit_to_peer(target, task.boxed()));
        }
        return Poll::Ready(Ok(()));
    }
    if !shared.accepts_outside_work() {
        return Poll::Ready(Err(Error::ShutDown));
    }
    let Some(tx) = shared.ingress.get(target) else {
        return Poll::Ready(Err(Error::NoSuchShard {
            shard: target,
            shards: shared.shards,
        }));
    };
    let tx = ingress.get_or_insert_with(|| tx.clone());
    match tx.poll_ready(cx) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(Err(_)) => Poll::Ready(Err(Error::ShutDown)),
        Poll::Ready(Ok(())) => {
            let Some(task) = task.take() else {
                return Poll::Ready(Ok(()));
            };
            // Counted before the hand-over, so shutdown never sees a queued task as done.
            let sent = &shared.counters[target].ingress_sent;
            sent.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            if tx.start_send(task.boxed()).is_err() {
                sent.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
                return Poll::Ready(Err(Error::ShutDown));
            }
            Poll::Ready(Ok(()))
        }
    }
}

/// The typed table `index` of this shard, for actor type `A`.
impl ShardCore {
    pub(crate) fn table<A: Actor>(&self, index: u32) -> Option<&Table<A>> {
        self.tables
            .get(index as usize)
            .and_then(|table| table.as_any().downcast_ref::<Table<A>>())
    }
}
