//! [`Core`]: one shard's durable registry: its log, the state machines on it, the one apply
//! path (open and live), commits, retirement and scheduled compaction.
//!
//! Invariants:
//! - Records are applied in log order, each once: at open by one scan of the log, live by
//!   [`Core::settle`] as soon as they are durable (called by whoever notices first: the
//!   committer, any later operation, or the shard's settler task).
//! - `pending` holds submitted records in position order; only its durable prefix is applied.
//! - Retirements are re-derived at every open from the machines' effects (one place for every
//!   component) and compaction runs whenever a segment rolled since the last one and retired
//!   records wait, so superseded records cannot grow the disk or the retired set unboundedly.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

use quark_log::{AppendError, Log, Record, Submitted};

use super::commit::{Commit, Ticket};
use super::kinds;
use super::machine::{Effects, StateMachine};

/// Why a core could not open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Reading the log back failed (corruption found by the scan).
    #[error("scanning the log: {0}")]
    Read(#[from] quark_log::ReadError),
    /// Two machines claim one namespace, a namespace is not registered, or a machine declares
    /// a kind outside its namespace: a programming error caught before anything is applied.
    #[error("state machine {namespace}: {reason}")]
    Machine {
        /// The offending machine's namespace.
        namespace: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// A machine shared between the core (which applies records to it) and its component (which
/// reads its state).
pub type Shared = Rc<RefCell<dyn StateMachine>>;

/// What one open's scan found, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Scanned {
    /// Records read.
    pub records: u64,
    /// Records dispatched to at least one machine.
    pub applied: u64,
    /// Records retired by the machines' effects.
    pub retired: u64,
}

struct Inner {
    log: Log,
    machines: Vec<Shared>,
    /// Namespace id → index into `machines` + 1 (0: nobody's).
    by_id: [u8; 256],
    pending: RefCell<VecDeque<Submitted>>,
    effects: RefCell<Effects>,
    /// The settler task, parked while nothing is pending.
    settler: RefCell<Option<Waker>>,
    /// The compactor task, parked until compaction is worth running.
    compactor: RefCell<Option<Waker>>,
    /// `segment_rolls` when compaction last ran.
    rolls_compacted: Cell<u64>,
    compactions: Cell<u64>,
}

/// One shard's durable core. Cheap to clone; lives on its shard (not `Send`).
///
/// Components register their [`StateMachine`] at [`Core::open`], stage entries into a
/// [`Commit`], and read their own machine's state; the core applies every durable record to
/// the machines owning its kinds, the same way at open and live.
///
/// ```no_run
/// # async fn demo(log: quark_log::Log) -> Result<(), Box<dyn std::error::Error>> {
/// use std::{cell::RefCell, rc::Rc};
/// use quark::durable::{Commit, Core, Effects, StateMachine, kinds};
///
/// const JOB: u16 = kinds::JOBS.kind(0);
/// #[derive(Default)]
/// struct Seen(u64);
/// impl StateMachine for Seen {
///     fn namespace(&self) -> kinds::Namespace { kinds::JOBS }
///     fn kinds(&self) -> &'static [u16] { &[JOB] }
///     fn apply(&mut self, _: &quark_log::Record, _: &mut Effects) { self.0 += 1; }
/// }
/// let seen = Rc::new(RefCell::new(Seen::default()));
/// let (core, _scanned) = Core::open(log, vec![seen.clone()])?;
/// let mut commit = Commit::new();
/// commit.push(JOB, b"job");
/// core.commit(commit).await?;
/// assert!(seen.borrow().0 >= 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Core {
    inner: Rc<Inner>,
}

impl Core {
    /// Registers `machines` on `log` and applies every durable record to them (one scan),
    /// then runs the effects (retirements) they asked for. Must run on the log's executor;
    /// starts the core's settler and compactor tasks there.
    pub fn open(log: Log, machines: Vec<Shared>) -> Result<(Core, Scanned), OpenError> {
        let by_id = index_machines(&machines)?;
        let inner = Rc::new(Inner {
            log,
            machines,
            by_id,
            pending: RefCell::new(VecDeque::new()),
            effects: RefCell::new(Effects::default()),
            settler: RefCell::new(None),
            compactor: RefCell::new(None),
            rolls_compacted: Cell::new(0),
            compactions: Cell::new(0),
        });
        let core = Core { inner };
        let mut scanned = Scanned::default();
        let snapshot = core.inner.log.snapshot();
        for record in snapshot.iter() {
            scanned.records += 1;
            scanned.applied += u64::from(core.dispatch(&record?));
        }
        scanned.retired = core.inner.effects.borrow().retired().len() as u64;
        core.run_effects();
        glommio::spawn_local(settle_loop(Rc::downgrade(&core.inner))).detach();
        glommio::spawn_local(compact_loop(Rc::downgrade(&core.inner))).detach();
        Ok((core, scanned))
    }

    /// The shard's log (for reads; every append goes through [`Core::submit`]).
    pub fn log(&self) -> &Log {
        &self.inner.log
    }

    /// Submits `commit` as one log record, synchronously (see [`Commit`]): the record will be
    /// applied once durable even if the returned [`Ticket`] is dropped. A refused commit runs
    /// its `on_refused` hooks and changes nothing.
    pub fn submit(&self, commit: Commit) -> Result<Ticket, AppendError> {
        match self.inner.log.submit(&commit.record) {
            Ok(submitted) => {
                self.inner.pending.borrow_mut().push_back(submitted);
                if let Some(waker) = self.inner.settler.borrow_mut().take() {
                    waker.wake();
                }
                Ok(Ticket {
                    core: self.clone(),
                    position: submitted.position,
                    end: submitted.end,
                })
            }
            Err(error) => {
                commit.refused();
                Err(error)
            }
        }
    }

    /// Submits `commit` and resolves with its position once it is durable and applied.
    pub async fn commit(&self, commit: Commit) -> Result<u64, AppendError> {
        self.submit(commit)?.durable().await
    }

    /// Applies every submitted record that became durable since the last call, in log order,
    /// then runs the effects. Cheap when there is nothing to do; components call it before
    /// reading their state so a cancelled committer's outcome is always visible.
    pub fn settle(&self) {
        let end = self.inner.log.durable_end();
        let mut applied = false;
        loop {
            let next = {
                let mut pending = self.inner.pending.borrow_mut();
                match pending.front() {
                    Some(s) if s.end <= end => pending.pop_front(),
                    _ => None,
                }
            };
            let Some(submitted) = next else { break };
            match self.inner.log.read(submitted.position) {
                Ok(record) => {
                    self.dispatch(&record);
                    applied = true;
                }
                // A durable record always reads back; if it does not, the log is broken and
                // its own errors will stop the shard's writes.
                Err(error) => tracing::error!(%error, "a durable record did not read back"),
            }
        }
        if applied {
            self.run_effects();
        }
    }

    /// Compactions run by this core.
    pub fn compactions(&self) -> u64 {
        self.inner.compactions.get()
    }

    /// Applies what is durable, then closes the log (which makes the rest durable) and
    /// applies that too.
    pub async fn close(&self) -> Result<(), quark_log::CloseError> {
        self.settle();
        let closed = self.inner.log.close().await;
        self.settle();
        if let Some(waker) = self.inner.compactor.borrow_mut().take() {
            waker.wake();
        }
        if let Some(waker) = self.inner.settler.borrow_mut().take() {
            waker.wake();
        }
        closed
    }

    /// Calls `apply` on each machine owning an entry of `record`; whether any did.
    fn dispatch(&self, record: &Record) -> bool {
        let mut owners = 0u64;
        for entry in record.entries() {
            let slot = self.inner.by_id[usize::from(entry.kind >> 8)];
            if slot > 0 {
                owners |= 1 << (slot - 1);
            }
        }
        if owners == 0 {
            return false;
        }
        let mut effects = self.inner.effects.borrow_mut();
        for (i, machine) in self.inner.machines.iter().enumerate() {
            if owners & (1 << i) != 0 {
                machine.borrow_mut().apply(record, &mut effects);
            }
        }
        true
    }

    fn run_effects(&self) {
        let (retire, wake) = self.inner.effects.borrow_mut().take();
        for position in &retire {
            if let Err(error) = self.inner.log.retire(*position) {
                tracing::warn!(%error, position, "retiring a superseded record");
            }
        }
        for waker in wake {
            waker.wake();
        }
        if !retire.is_empty()
            && self.compaction_due()
            && let Some(waker) = self.inner.compactor.borrow_mut().take()
        {
            waker.wake();
        }
    }

    /// A segment rolled since the last compaction and retired records wait.
    fn compaction_due(&self) -> bool {
        let stats = self.inner.log.stats();
        stats.segment_rolls > self.inner.rolls_compacted.get() && stats.retired_held > 0
    }
}

/// Checks the machines' namespaces and kinds; maps namespace ids to machine slots.
fn index_machines(machines: &[Shared]) -> Result<[u8; 256], OpenError> {
    let mut by_id = [0u8; 256];
    if machines.len() > 64 {
        return Err(OpenError::Machine {
            namespace: "*",
            reason: format!("{} machines, at most 64", machines.len()),
        });
    }
    for (i, machine) in machines.iter().enumerate() {
        let machine = machine.borrow();
        let namespace = machine.namespace();
        let bad = |reason: String| OpenError::Machine {
            namespace: namespace.name,
            reason,
        };
        if !kinds::REGISTRY.contains(&namespace) {
            return Err(bad("namespace not in the kind registry".into()));
        }
        let slot = &mut by_id[usize::from(namespace.id)];
        if *slot != 0 {
            return Err(bad("two machines claim the namespace".into()));
        }
        *slot = (i + 1) as u8;
        if let Some(kind) = machine.kinds().iter().find(|k| !namespace.contains(**k)) {
            return Err(bad(format!("kind {kind:#06x} lies outside the namespace")));
        }
    }
    Ok(by_id)
}

/// Applies durable records nobody is waiting for (their committer was cancelled), so effects
/// such as wakes run promptly.
async fn settle_loop(inner: Weak<Inner>) {
    loop {
        let end = std::future::poll_fn(|cx| {
            let Some(inner) = inner.upgrade() else {
                return Poll::Ready(None);
            };
            match inner.pending.borrow().back() {
                Some(s) => Poll::Ready(Some((s.end, inner.log.clone()))),
                None => {
                    *inner.settler.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await;
        let Some((end, log)) = end else { return };
        let durable = log.wait_durable(end).await;
        let Some(inner) = inner.upgrade() else { return };
        Core { inner }.settle();
        if durable.is_err() {
            return; // closed or failed: nothing more becomes durable
        }
    }
}

/// Compacts the log whenever [`Core::compaction_due`] says so.
async fn compact_loop(inner: Weak<Inner>) {
    loop {
        let due = std::future::poll_fn(|cx| {
            let Some(inner) = inner.upgrade() else {
                return Poll::Ready(None);
            };
            let core = Core { inner };
            if core.inner.log.is_closed() {
                return Poll::Ready(None);
            }
            if core.compaction_due() {
                return Poll::Ready(Some(core.inner.log.clone()));
            }
            *core.inner.compactor.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        let Some(log) = due else { return };
        let rolls = log.stats().segment_rolls;
        let result = log.compact().await;
        let Some(inner) = inner.upgrade() else { return };
        inner.rolls_compacted.set(rolls);
        inner.compactions.set(inner.compactions.get() + 1);
        match result {
            Ok(_) => {}
            Err(quark_log::CompactError::Closed) => return,
            Err(error) => tracing::warn!(%error, "scheduled compaction failed"),
        }
    }
}
