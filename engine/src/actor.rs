//! The traits a user implements: [`Actor`], [`Message`], [`Handler`], and the [`Key`] bound.
//!
//! Invariants: an actor type is registered statically (generics, no string dispatch); the
//! actor value itself never leaves its shard, so it need not be `Send`; messages, replies and
//! keys cross shards and threads, so they must be `Send + 'static`. Nothing here precludes
//! serializing messages (rkyv) later: a remote transport would add bounds, not change these.

use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;

use crate::context::Context;
use crate::error::ActorError;
use crate::stable_key::StableKey;

/// What identifies an activation within its actor type: a string, a number, a tuple...
///
/// Blanket-implemented for every type with the listed bounds. [`StableKey`] gives the
/// specified encodings the key's home and its stream name are derived from.
///
/// ```
/// fn is_key<K: quark::Key>() {}
/// is_key::<String>();
/// is_key::<(u32, u64)>();
/// ```
pub trait Key: Clone + Eq + Hash + Debug + StableKey + Send + Sync + 'static {}

impl<T: Clone + Eq + Hash + Debug + StableKey + Send + Sync + 'static> Key for T {}

/// A virtual actor type: one activation per key on its home shard, created on the first
/// message, deactivated when idle.
///
/// Contract:
/// 1. `on_activate` runs before any message of an activation and may await (load state).
///    If it fails, the messages queued for that activation fail with
///    [`Error::Activation`](crate::Error::Activation) and the next message tries again.
/// 2. Handlers of one activation run one at a time with `&mut self` (no reentrancy): a
///    handler that awaits blocks only its own activation.
/// 3. `on_deactivate` runs after the last message, when the activation has been idle for the
///    configured time, when a handler returned an error, or at shutdown; it does not run
///    after a panic (the state may be broken).
/// 4. Timers are cancelled before `on_deactivate` runs.
///
/// ```
/// use quark::{Actor, ActorError, Context};
///
/// struct Counter { count: u64 }
///
/// impl Actor for Counter {
///     type Key = String;
///     async fn on_activate(_ctx: &mut Context<Self>) -> Result<Self, ActorError> {
///         Ok(Counter { count: 0 })
///     }
/// }
/// ```
pub trait Actor: Sized + 'static {
    /// The key type that names an activation.
    type Key: Key;

    /// The type's stable name: with the key, it decides the home shard of every activation
    /// (see [`HashPlacement`](crate::HashPlacement)). Declare it (say `"bank.account"`) and
    /// never change it: renaming the Rust type then changes nothing. Left empty, the Rust
    /// type's path (`std::any::type_name`) stands in, and renaming or moving the type moves
    /// its homes; event-sourced data stays reachable then (a stream is adopted by its new
    /// home, see [`journal`](crate::journal)), at the cost of one cross-shard round trip per
    /// stream on its first activation.
    const NAME: &'static str = "";

    /// Builds the activation for `ctx.key()`.
    fn on_activate(ctx: &mut Context<Self>) -> impl Future<Output = Result<Self, ActorError>>;

    /// Called once before the activation is dropped (not after a panic).
    fn on_deactivate(&mut self, ctx: &mut Context<Self>) -> impl Future<Output = ()> {
        let _ = ctx;
        async {}
    }
}

/// The name homes of `A` are derived from: [`Actor::NAME`], or the Rust type's path when the
/// type declares none.
pub(crate) fn name_of<A: Actor>() -> &'static str {
    if A::NAME.is_empty() {
        std::any::type_name::<A>()
    } else {
        A::NAME
    }
}

/// A message type and the type of its reply.
///
/// ```
/// struct Deposit(u64);
/// impl quark::Message for Deposit {
///     type Reply = u64;
/// }
/// ```
pub trait Message: Send + 'static {
    /// What `call` returns for this message (`()` for tell-only messages).
    type Reply: Send + 'static;
}

/// An actor's handler for one message type.
///
/// Returning `Err` fails this call with [`Error::Handler`](crate::Error::Handler) and
/// deactivates the activation; a panic fails it with
/// [`Error::Panicked`](crate::Error::Panicked) and drops the activation. The shard and other
/// actors keep running either way.
///
/// ```
/// use quark::{Actor, ActorError, Context, Handler, Message};
///
/// struct Counter { count: u64 }
/// impl Actor for Counter {
///     type Key = u64;
///     async fn on_activate(_ctx: &mut Context<Self>) -> Result<Self, ActorError> {
///         Ok(Counter { count: 0 })
///     }
/// }
///
/// struct Add(u64);
/// impl Message for Add { type Reply = u64; }
///
/// impl Handler<Add> for Counter {
///     async fn handle(&mut self, msg: Add, _ctx: &mut Context<Self>) -> Result<u64, ActorError> {
///         self.count += msg.0;
///         Ok(self.count)
///     }
/// }
/// ```
pub trait Handler<M: Message>: Actor {
    /// Handles one message with exclusive access to the activation.
    fn handle(
        &mut self,
        msg: M,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<M::Reply, ActorError>>;
}
