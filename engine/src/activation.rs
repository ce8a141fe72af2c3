//! The life of one activation: activate, take turns, deactivate, and maybe start over.
//!
//! Each activation is one shard-local task. It builds the actor with `on_activate`, handles
//! messages from its slot's mailbox one at a time, and ends when the slot asks it to stop
//! (idle, shutdown), when `ctx.deactivate()` was called, or when a handler fails or panics.
//! If messages arrived meanwhile it activates afresh for them (stateful actors keep their
//! single-activation guarantee because the same task does it).
//!
//! Invariants: a turn never overlaps another turn of the same activation; timers are
//! cancelled before `on_deactivate`; when the last activation of a key exits, the queued
//! messages have been handled or failed and the key's slot leaves the table; panics in
//! hooks and handlers are caught here and never reach the executor.

use std::any::type_name;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use futures_lite::FutureExt;

use crate::actor::Actor;
use crate::context::Context;
use crate::envelope::Turn;
use crate::error::{Error, panic_reason};
use crate::mailbox::{Next, Slot};
use crate::shard::{Shard, ShardCore};
use crate::stats::{bump, drop_one};
use crate::table::Table;

/// Consecutive turns an activation takes before yielding to other tasks.
const TURN_BUDGET: u32 = 64;

/// Why the turn loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Idle,
    Requested,
    Failed,
    Panicked,
}

/// Starts an activation task for `key`, registered with `slot` before this returns.
pub(crate) fn spawn<A: Actor>(core: &Rc<ShardCore>, table: u32, slot: Rc<Slot<A>>, key: A::Key) {
    let Some(table) = core.typed_table::<A>(table) else {
        return;
    };
    let worker = slot.add_worker();
    core.live_add();
    let ctx = Context::new(key, Shard::new(core.clone()), slot.clone(), table.index);
    // No span is attached to the task: it would cost every idle activation its size; the
    // life-cycle events and per-turn spans carry shard, type and key instead.
    let task = run(ctx, table, worker);
    // `spawn_local` would poll the activation at once, inside its sender's turn: a chain
    // of first messages would then nest one turn per hop on the stack. Spawning into the
    // current task queue schedules it instead.
    let queue = glommio::executor().current_task_queue();
    match glommio::spawn_local_into(task, queue) {
        Ok(task) => {
            task.detach();
        }
        Err(error) => {
            // The current queue exists while a task runs in it, so this should not happen;
            // if it does, answer what waits instead of leaving it queued forever.
            tracing::error!(%error, "cannot schedule an activation");
            slot.remove_worker(worker);
            core.live_remove();
            let reason = format!("cannot schedule the activation: {error}");
            for env in slot.drain() {
                env.fail(Error::Activation {
                    actor: type_name::<A>(),
                    reason: reason.clone(),
                });
                drop_one(&core.counters.inflight);
            }
        }
    }
}

async fn run<A: Actor>(mut ctx: Context<A>, table: Rc<Table<A>>, worker: u32) {
    // Computed after the loop, so it takes no room in the idle task.
    let failure = loop {
        let mut actor = match activate(&mut ctx).await {
            Ok(actor) => actor,
            Err(reason) => break Some(reason),
        };
        let end = turns(&table, worker, &mut actor, &mut ctx).await;
        deactivate(actor, &mut ctx, end).await;
        if ctx.core().is_closing() || ctx.slot().is_empty() {
            break None;
        }
        // Messages came in while we were deactivating: serve them with a fresh activation.
        ctx.reset();
    };
    exit(&table, &ctx, worker, failure);
}

async fn activate<A: Actor>(ctx: &mut Context<A>) -> Result<A, String> {
    let core = ctx.core().clone();
    let outcome = AssertUnwindSafe(Box::pin(A::on_activate(ctx)))
        .catch_unwind()
        .await;
    let reason = match outcome {
        Ok(Ok(actor)) => {
            let key = ctx.key();
            tracing::debug!(shard = core.id, actor = type_name::<A>(), ?key, "activated");
            bump(&core.counters.activations);
            bump(&core.counters.active);
            return Ok(actor);
        }
        Ok(Err(error)) => error.to_string(),
        Err(payload) => panic_reason(payload.as_ref()),
    };
    tracing::warn!(actor = type_name::<A>(), key = ?ctx.key(), %reason, "on_activate failed");
    bump(&core.counters.failures);
    ctx.cancel_timers();
    Err(reason)
}

async fn turns<A: Actor>(
    table: &Table<A>,
    worker: u32,
    actor: &mut A,
    ctx: &mut Context<A>,
) -> End {
    let mut budget = TURN_BUDGET;
    loop {
        let slot = ctx.slot();
        let next =
            futures_lite::future::poll_fn(|cx| slot.poll_next(worker, table.epoch(), cx.waker()))
                .await;
        let env = match next {
            Next::Msg(env) => env,
            Next::Stop => return End::Idle,
        };
        crate::routing::settle(ctx.core(), slot);
        let turn = env.handle(actor, ctx).await;
        let counters = &ctx.core().counters;
        bump(&counters.messages);
        drop_one(&counters.inflight);
        match turn {
            Turn::Done => {}
            Turn::Failed => return End::Failed,
            Turn::Panicked => return End::Panicked,
        }
        if ctx.deactivate_requested() {
            return End::Requested;
        }
        budget -= 1;
        if budget == 0 {
            budget = TURN_BUDGET;
            futures_lite::future::yield_now().await;
        }
    }
}

async fn deactivate<A: Actor>(mut actor: A, ctx: &mut Context<A>, end: End) {
    let core = ctx.core().clone();
    let key = ctx.key();
    tracing::debug!(
        shard = core.id,
        actor = type_name::<A>(),
        ?key,
        ?end,
        "deactivating"
    );
    ctx.cancel_timers();
    // Counted when deactivation begins, so whoever sees `on_deactivate` sees the counters.
    bump(&core.counters.deactivations);
    drop_one(&core.counters.active);
    if matches!(end, End::Failed | End::Panicked) {
        bump(&core.counters.failures);
    }
    if end != End::Panicked {
        let outcome = AssertUnwindSafe(Box::pin(actor.on_deactivate(ctx)))
            .catch_unwind()
            .await;
        if let Err(payload) = outcome {
            let reason = panic_reason(payload.as_ref());
            tracing::warn!(%reason, "on_deactivate panicked");
            bump(&core.counters.failures);
        }
    }
    // A panicking Drop must not take the shard down either.
    if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(move || drop(actor))) {
        tracing::warn!(reason = %panic_reason(payload.as_ref()), "actor drop panicked");
    }
}

/// Unregisters the activation; the last one out fails what is left and frees the key.
fn exit<A: Actor>(table: &Table<A>, ctx: &Context<A>, worker: u32, failure: Option<String>) {
    let (core, slot, key) = (ctx.core(), ctx.slot(), ctx.key());
    let left = slot.remove_worker(worker);
    if left == 0 {
        let error = match failure {
            Some(reason) => Error::Activation {
                actor: type_name::<A>(),
                reason,
            },
            None => Error::ShutDown,
        };
        for env in slot.drain() {
            env.fail(error.clone());
            drop_one(&core.counters.inflight);
        }
        crate::routing::settle(core, slot);
        table.remove(key, slot);
    }
    core.live_remove();
}
