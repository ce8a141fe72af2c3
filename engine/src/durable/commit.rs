//! [`Commit`]: entries of one or more components staged into one log record, and the
//! [`Ticket`] of a submitted commit.
//!
//! Invariants:
//! - One commit is one log record: after a crash either every component's entries of it are
//!   there or none are (the log's record atomicity), so "state change + outgoing message +
//!   timer" cannot be half applied.
//! - Submitting is synchronous: staging (checks, reservations) and the log's position
//!   assignment happen in one step with no await, so no other commit interleaves.
//! - A submitted commit is applied to every machine once durable, whether or not its
//!   [`Ticket`] is awaited (cancel safety); a refused one runs its `on_refused` hooks and
//!   leaves the log untouched.

use quark_log::{AppendError, RecordBuilder};

use super::core::Core;

/// Entries staged for one atomic log record.
///
/// ```no_run
/// # async fn demo(core: quark::durable::Core) -> Result<(), quark_log::AppendError> {
/// use quark::durable::{Commit, kinds};
/// let mut commit = Commit::new();
/// commit.push(kinds::JOBS.kind(0), b"enqueue job 7");
/// commit.push(kinds::TIMERS.kind(0), b"wake job 7 at 12:00");
/// let position = core.commit(commit).await?; // both entries, one record
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct Commit {
    pub(crate) record: RecordBuilder,
    undo: Vec<Box<dyn FnOnce()>>,
}

impl Commit {
    /// An empty commit.
    pub fn new() -> Commit {
        Commit::default()
    }

    /// Stages one entry of `kind` (inside its component's namespace) with `payload`.
    pub fn push(&mut self, kind: u16, payload: &[u8]) -> &mut Commit {
        debug_assert!(
            super::kinds::of(kind).is_some(),
            "kind {kind:#06x} is in no namespace"
        );
        self.record.push_bytes(kind, payload);
        self
    }

    /// Runs `undo` if the log refuses the commit (too large, log closed or failed): a
    /// component that reserved something while staging gives it back here.
    pub fn on_refused(&mut self, undo: impl FnOnce() + 'static) -> &mut Commit {
        self.undo.push(Box::new(undo));
        self
    }

    /// The record's size in bytes (compare with the log's `record_bytes_max`).
    pub fn size(&self) -> usize {
        self.record.size()
    }

    /// Entries staged.
    pub fn entry_count(&self) -> usize {
        self.record.entry_count()
    }

    pub(crate) fn refused(self) {
        for undo in self.undo.into_iter().rev() {
            undo();
        }
    }
}

/// A submitted commit: its record has a position and becomes durable (and applied) whether
/// or not this is awaited.
#[must_use = "await `durable()` to learn that the commit is durable"]
pub struct Ticket {
    pub(crate) core: Core,
    pub(crate) position: u64,
    pub(crate) end: u64,
}

impl Ticket {
    /// The record's position.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Resolves with the record's position once it is durable and every machine applied it.
    pub async fn durable(self) -> Result<u64, AppendError> {
        self.core.log().wait_durable(self.end).await?;
        self.core.settle();
        Ok(self.position)
    }
}
