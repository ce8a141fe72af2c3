//! Quark: a thread-per-core virtual-actor engine whose own log is its database.
//!
//! This crate (published as `quark`) is what applications embed. It owns the shards (one
//! pinned glommio executor per core), virtual actors and stateless workers on top of them,
//! and the routing between shards and from outside threads.
//!
//! # A first actor
//!
//! ```
//! use quark::{Actor, ActorError, Builder, Context, Handler, Message};
//!
//! struct Account { balance: u64 }
//!
//! impl Actor for Account {
//!     type Key = String;
//!     async fn on_activate(_ctx: &mut Context<Self>) -> Result<Self, ActorError> {
//!         Ok(Account { balance: 0 })
//!     }
//! }
//!
//! struct Deposit(u64);
//! impl Message for Deposit { type Reply = u64; }
//!
//! impl Handler<Deposit> for Account {
//!     async fn handle(&mut self, m: Deposit, _: &mut Context<Self>) -> Result<u64, ActorError> {
//!         self.balance += m.0;
//!         Ok(self.balance)
//!     }
//! }
//!
//! let engine = Builder::new().shards(2).spin_before_park(None).register::<Account>().start()?;
//! let alice = engine.actor::<Account>("alice");
//! assert_eq!(alice.call_blocking(Deposit(5))?, 5);
//! assert_eq!(alice.call_blocking(Deposit(7))?, 12);
//! engine.shutdown()?;
//! # Ok::<(), quark::Error>(())
//! ```
//!
//! # Decisions (for ARCHITECTURE.md)
//!
//! - **Shards.** One glommio `LocalExecutor` per shard on its own thread, belonging to the
//!   n-th online CPU (wrapping, so several engines in one process and shared cores never
//!   fail to start). By default ([`Pinning::NumaNode`]) a shard is fenced to its CPU's NUMA
//!   node rather than pinned to the CPU: pinned, a spinning shard starved the kernel's
//!   io_uring workers completing its `fdatasync`s (durable append p99 3.3 ms instead of
//!   0.87 ms). `Pinning::Core` pins, `Pinning::None` leaves threads unbound. Default shard
//!   count: available parallelism.
//! - **Idle policy.** Executors spin 10 ms before parking by default (latency first: a
//!   parked executor costs ~90 µs per cross-core round trip here, a spinning one ~8 µs);
//!   `spin_before_park(None)` trades latency for idle CPU.
//! - **Actors are shard-local.** An activation lives on one shard and is never `Send`
//!   (its state may hold `Rc`); messages, replies and keys are `Send + 'static`. Handlers
//!   are statically registered (`Handler<M>` impls, `Builder::register::<A>()`), dispatched
//!   through one boxed envelope per message; no string dispatch, no reflection. A remote
//!   transport (rkyv) can add bounds to messages later without changing these traits.
//! - **One task per activation.** It runs `on_activate`, then one turn at a time with
//!   `&mut self` (no reentrancy), yields every 64 consecutive turns, and ends with
//!   `on_deactivate`. Messages that arrive while it deactivates are served by a fresh
//!   activation of the same task, so a key never has two live activations.
//! - **Idle deactivation** is a per-type sweeper that advances an epoch every quarter of
//!   the idle timeout; a send stamps the epoch (no clock read per message); an activation
//!   idle for five epochs is asked to stop: it goes between 1 and 1.25 idle timeouts after
//!   its last message. Timer messages do not keep an activation alive (as in Orleans).
//! - **Stateless workers** (`register_stateless::<A>(max)`) share one mailbox per key and
//!   shard; a push wakes the most recently idle worker or, when none is idle, starts a new
//!   one up to `max`; the longest-idle workers are the ones swept. A call made on a shard is
//!   served on that shard; calls from outside threads are spread round-robin over shards.
//! - **Routing** lives in `routing.rs`: on the home shard a send goes straight into the
//!   mailbox; from another shard through a bounded glommio shared channel (a full mesh,
//!   one SPSC channel per ordered pair, with a per-peer overflow queue and pump so senders
//!   never overtake each other); from any other thread through the home shard's bounded
//!   futures `mpsc` ingress (its receiver is a shard task; glommio handles foreign wakes
//!   through its eventfd). Replies travel on a `futures` oneshot. No lock on these paths.
//! - **Backpressure** (the contract users can rely on). Mailboxes, channels and ingress
//!   are bounded; a full path makes the sender's future wait, holding its message; nothing
//!   is dropped. A sender on the actor's own shard waits for room in its mailbox. A
//!   message from another shard or thread never waits in the receive loop that brought
//!   it: if the mailbox is full it joins the actor's overflow (in order, refilling the
//!   mailbox as turns free room), and the receiving shard pauses that actor for its peers
//!   (`pause.rs`): their next sends to it wait on their own shard until the overflow has
//!   emptied. So one full mailbox never delays messages for other actors of its shard (no
//!   head-of-line blocking), and an overflow holds at most what each peer had in flight
//!   when the pause reached it (its channel, its outbound queue, its pump's task). If a
//!   shard has `PAUSES_MAX` (256) actors paused at once, or an overflow reaches that bound
//!   anyway, the receive loop waits as before (bounded memory before liveness).
//!   `ShardStats::overflowed` and `overflow_peak` show how often and how far this went.
//! - **Futures are `Send`.** `call`, `tell` and `run_on` return hand-written futures that
//!   hold only the message, the reply receiver and thread-safe handles; the route is
//!   resolved through a thread-local "current shard" at each poll. They can be awaited on a
//!   shard, in tokio or with `block_on` (the `*_blocking` helpers refuse to run on a shard).
//! - **Actor tables** are per type and shard `HashMap`s with a seeded multiply-fold hasher
//!   (`hash.rs`): SipHash was a sixth of a one-shard tell; a random seed per table keeps
//!   outsiders from aiming keys at one bucket.
//! - **Placement** is a small trait (`home(actor, shards)`); the default hashes the type's
//!   declared `Actor::NAME` and the key's `StableKey` bytes with XXH64 (`xxh64-v1`, pinned
//!   by golden tests), so homes survive compiler upgrades and type renames. An `ActorRef`
//!   caches its home at creation; `routing` owns every home decision.
//! - **Failures.** A handler error fails that call (`Error::Handler`) and deactivates the
//!   activation (`on_deactivate` runs); a panic fails it (`Error::Panicked`) and drops the
//!   activation without `on_deactivate`. A failed `on_activate` fails the queued messages
//!   (`Error::Activation`, retryable). Every `Error` says whether it is retryable.
//! - **Timeouts.** `call_timeout` covers queueing and handling. On a shard the deadline
//!   goes into the shard's ordered deadline map, fired by one timer task; elsewhere into
//!   one process-wide deadline thread. A call that ends first removes its entry, so timed
//!   calls in a hot loop keep memory flat.
//! - **Shutdown** refuses outside work, stops timers, waits for quiescence (no message
//!   queued, handled or in a channel, seen twice with identical counters), deactivates
//!   everything, closes logs and joins threads, within `shutdown_timeout`. Actor-to-actor
//!   messages keep flowing during the drain.
//! - **Counters** per shard are atomics with a single writer (load + store, no locked
//!   instruction), read by `EngineHandle::stats()`.
//! - **Activations are scheduled, not run at once.** glommio's `spawn_local` polls a new
//!   task before returning; an activation spawned that way runs inside its sender's turn,
//!   and a chain of first messages nests one turn per hop until the stack overflows (a
//!   regression test covers 20,000 hops). Activations are spawned into the current task
//!   queue instead, which only schedules them; and no `RefCell` borrow is held across a
//!   spawn.
//! - **Memory per idle activation** is one table entry, one `Rc<Slot>` (mailbox, ≤ 104 B,
//!   checked by a test) and one glommio task holding the actor and its `Context`; no span,
//!   timer list or clock is kept per activation. `examples/perf.rs` measures ~480 B.
//! - **Running code on a shard.** `EngineHandle::run_on(shard, |shard| async move { .. })`
//!   (and `run_on_blocking`) runs a future on a chosen shard and returns its output; there,
//!   `shard.actor::<A>(key)` gives references whose calls stay on the thread when the
//!   target is homed there.
//! - **Journaling** ([`journal`]): event-sourced actors (`EventSourced`, `ctx.recover`,
//!   `ctx.persist`), stream reads, replay, projections and stream metadata, all stored as
//!   records of kinds `0x01xx` in each shard's log; the design is in the module's docs.
//!
//! # Known limits
//!
//! - A shard with more than 256 actors overflowing at once pauses no more; its receive
//!   loops then wait on the next full mailbox (head-of-line blocking) until one lifts.
//! - Bounded mailboxes can deadlock a cycle: if A's handler calls B while B's handler
//!   waits for room in A's full mailbox, neither turn ends. Calls in cycles should carry a
//!   timeout (Orleans avoids this with unbounded queues; the issue asks for bounds).
//! - `ActorRef` caches the home shard; when placement starts moving actors, the old home
//!   must forward (the migration design already requires that callers see no error).
//! - A turn still running when the shutdown timeout expires is abandoned with its shard's
//!   executor: the messages queued behind it fail with `ShutDown`, but its own caller gets
//!   no answer unless the call carried a timeout.
//! - Shutdown waits for actor messages, not for futures started with `run_on`: those are
//!   abandoned with their shard, and their calls after the drain fail with `ShutDown`.
//! - Stateless calls made on a shard stay on that shard (no spreading to idle shards).
//! - A data directory cannot be started with fewer shards than it has shard logs (refused
//!   at start); growing is fine (streams are adopted by their new homes).
//! - After the shard count, the hash or an undeclared actor type's name changed, the first
//!   write of each stream on its new home costs a cross-shard round trip (adoption), and
//!   adoptions arbitrated by one shard run one at a time.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod activation;
mod actor;
mod actor_ref;
mod builder;
mod context;
mod deadline;
pub mod durable;
mod engine;
mod envelope;
mod error;
mod hash;
pub mod journal;
mod layout;
mod lifecycle;
mod log_error;
mod mailbox;
mod pause;
mod placement;
mod routing;
mod shard;
mod stable_hash;
mod stable_key;
mod stats;
mod table;
mod timers;

pub use actor::{Actor, Handler, Key, Message};
pub use actor_ref::{ActorRef, Call, Tell};
pub use builder::{ActorOptions, Builder, Pinning};
pub use context::Context;
pub use engine::{Engine, EngineHandle, RunOn};
pub use error::{ActorError, Error};
pub use layout::LayoutError;
pub use log_error::LogError;
pub use placement::{ActorId, HashPlacement, Placement};
pub use shard::Shard;
pub use stable_hash::{HASH_VERSION, xxh64};
pub use stable_key::StableKey;
pub use stats::ShardStats;
pub use timers::TimerId;
