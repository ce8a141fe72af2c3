//! The durable core: what every component whose state must survive a crash is built on
//! (journal, timers, jobs, outbox/inbox, durable tasks, directory, feed checkpoints).
//!
//! # Design (for ARCHITECTURE.md)
//!
//! - **Log-backed state machines.** A component owns a namespace of record kinds
//!   ([`kinds`], the one registry) and implements [`StateMachine`]: its in-memory state is a
//!   pure function of its durable records. The shard's [`Core`] applies records by one path:
//!   at open, one scan of the log dispatched by kind; live, each record once it is durable.
//! - **One commit.** Components stage entries into one [`Commit`] (events + a timer + an
//!   outgoing message ...): one log record, so all of them survive a crash or none does.
//!   After durability every owning machine applies its part.
//! - **Effects, not calls.** `apply` returns [`Effects`] (retire a record, wake a runner);
//!   the core runs them afterwards, so replaying a log is side-effect free.
//! - **Cancel safety.** [`Core::submit`] is synchronous; the record is applied when durable
//!   whether or not anyone awaits its [`Ticket`] (the committer, any later operation through
//!   [`Core::settle`], or the core's settler task notices).
//! - **Retirement and compaction.** Machines retire superseded records through effects; at
//!   every open the scan re-derives them (one place for all components, nothing else to
//!   persist). The core compacts the log whenever a segment rolled since its last compaction
//!   and retired records wait, so superseded records do not grow disk or memory unboundedly.
//!
//! # Using it (for component authors)
//!
//! 1. Take a namespace from [`kinds::REGISTRY`] and name its kinds with
//!    [`Namespace::kind`](kinds::Namespace::kind).
//! 2. Put the state in a struct implementing [`StateMachine`]; share it as
//!    `Rc<RefCell<..>>` with the core (register it where the shard opens its core).
//! 3. To change state: check and reserve synchronously, stage entries into a [`Commit`]
//!    (register `on_refused` to give reservations back), [`Core::submit`], await
//!    [`Ticket::durable`]. Never change the state anywhere but in `apply`.
//! 4. Before reading state that a cancelled commit may have changed, call [`Core::settle`].

mod commit;
mod core;
pub mod kinds;
mod machine;

pub use commit::{Commit, Ticket};
pub use core::{Core, OpenError, Scanned, Shared};
pub use machine::{Effects, StateMachine};

#[cfg(test)]
mod tests;
