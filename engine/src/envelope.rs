//! Type-erased messages: what a mailbox holds and what crosses shards.
//!
//! Owns [`Envelope`] (a message for an activation of `A`, erased over the message type),
//! [`ShardTask`] (anything a shard runs on behalf of another thread), the reply sinks, and
//! [`Routed`] (an envelope plus the key it is for, which is both).
//!
//! Invariants: a message is boxed once when it is sent and the same box travels to the
//! mailbox, across shards included; every envelope answers its caller exactly once, either
//! through `handle` or through `fail` (dropping a reply sink answers "actor gone").

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;

use futures::channel::oneshot;
use futures_lite::FutureExt;
use tracing::Instrument;

use crate::actor::{Actor, Handler, Message};
use crate::context::Context;
use crate::error::{Error, panic_reason};
use crate::shard::ShardCore;

/// A future owned by one shard.
pub(crate) type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// How one turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// The handler returned `Ok`.
    Done,
    /// The handler returned `Err`.
    Failed,
    /// The handler panicked.
    Panicked,
}

/// A message for an activation of `A`, erased over the message type.
pub(crate) trait Envelope<A: Actor>: 'static {
    /// Runs the handler and answers the caller.
    fn handle<'a>(
        self: Box<Self>,
        actor: &'a mut A,
        ctx: &'a mut Context<A>,
    ) -> LocalFuture<'a, Turn>;

    /// Answers the caller with `error` without running the handler.
    fn fail(self: Box<Self>, error: Error);
}

/// Work a shard runs when it arrives from another shard or thread.
pub(crate) trait ShardTask: Send + 'static {
    /// Runs on the target shard; returns a future when it must wait (a full overflow).
    fn run(self: Box<Self>, shard: &Rc<ShardCore>) -> Option<LocalFuture<'static, ()>>;

    /// The id of the actor this is for (see `pause.rs`), if it is for one.
    fn target(&self, _shared: &crate::engine::Shared) -> Option<u64> {
        None
    }

    /// Gives up: the target cannot take it.
    fn fail(self: Box<Self>, error: Error);

    /// Erases the concrete type (the identity for `dyn ShardTask`).
    fn boxed(self: Box<Self>) -> Box<dyn ShardTask>;
}

/// Where a reply goes: nowhere (tell) or a oneshot back to the caller.
pub(crate) trait Reply<R>: Send + 'static {
    /// Delivers the outcome.
    fn send(self, outcome: Result<R, Error>);
}

impl<R: Send + 'static> Reply<R> for () {
    fn send(self, _outcome: Result<R, Error>) {}
}

/// The sending half of a call's reply.
pub(crate) type ReplyTx<R> = oneshot::Sender<Result<R, Error>>;

impl<R: Send + 'static> Reply<R> for ReplyTx<R> {
    fn send(self, outcome: Result<R, Error>) {
        // The caller may have given up (timeout, dropped future); that is not an error here.
        let _ = oneshot::Sender::send(self, outcome);
    }
}

/// A message, its reply sink, and the key of the activation it is for.
pub(crate) struct Routed<A: Actor, M, R> {
    pub(crate) key: A::Key,
    pub(crate) table: u32,
    pub(crate) msg: M,
    pub(crate) reply: R,
}

impl<A, M, R> Envelope<A> for Routed<A, M, R>
where
    A: Handler<M>,
    M: Message,
    R: Reply<M::Reply>,
{
    fn handle<'a>(
        self: Box<Self>,
        actor: &'a mut A,
        ctx: &'a mut Context<A>,
    ) -> LocalFuture<'a, Turn> {
        let Routed { msg, reply, .. } = *self;
        let span = tracing::trace_span!(
            "turn",
            actor = std::any::type_name::<A>(),
            key = ?ctx.key(),
            message = std::any::type_name::<M>()
        );
        let turn = async move {
            let outcome = AssertUnwindSafe(actor.handle(msg, ctx))
                .catch_unwind()
                .await;
            let name = std::any::type_name::<A>();
            match outcome {
                Ok(Ok(value)) => {
                    reply.send(Ok(value));
                    Turn::Done
                }
                Ok(Err(error)) => {
                    let reason = error.to_string();
                    tracing::warn!(actor = name, %reason, "handler failed; deactivating");
                    reply.send(Err(Error::Handler {
                        actor: name,
                        reason,
                    }));
                    Turn::Failed
                }
                Err(payload) => {
                    let reason = panic_reason(payload.as_ref());
                    tracing::error!(actor = name, %reason, "handler panicked; dropping activation");
                    reply.send(Err(Error::Panicked {
                        actor: name,
                        reason,
                    }));
                    Turn::Panicked
                }
            }
        };
        // Without a subscriber for it the span is disabled: skip the wrapper (a few percent
        // of a one-shard tell) and keep the boxed turn smaller.
        if span.is_disabled() {
            Box::pin(turn)
        } else {
            Box::pin(turn.instrument(span))
        }
    }

    fn fail(self: Box<Self>, error: Error) {
        self.reply.send(Err(error));
    }
}

impl<A, M, R> ShardTask for Routed<A, M, R>
where
    A: Handler<M>,
    M: Message,
    R: Reply<M::Reply>,
{
    fn run(self: Box<Self>, shard: &Rc<ShardCore>) -> Option<LocalFuture<'static, ()>> {
        crate::routing::deliver_arrived(shard, self)
    }

    fn target(&self, shared: &crate::engine::Shared) -> Option<u64> {
        Some(shared.target_id::<A>(self.table, &self.key))
    }

    fn fail(self: Box<Self>, error: Error) {
        self.reply.send(Err(error));
    }

    fn boxed(self: Box<Self>) -> Box<dyn ShardTask> {
        self
    }
}

/// Builds the envelope for `msg` to `key`.
pub(crate) fn routed<A, M, R>(key: A::Key, table: u32, msg: M, reply: R) -> Box<Routed<A, M, R>>
where
    A: Handler<M>,
    M: Message,
    R: Reply<M::Reply>,
{
    Box::new(Routed {
        key,
        table,
        msg,
        reply,
    })
}
