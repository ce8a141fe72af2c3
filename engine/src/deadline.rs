//! Call deadlines: wake a waiting caller when its timeout expires, and forget the deadline
//! when the call ends first.
//!
//! On a shard, deadlines live in the shard's [`Deadlines`] (one ordered map and one glommio
//! timer task for all of them); elsewhere in one process-wide thread, since an outside
//! caller may not run on any executor we could borrow. Either way a finished call removes
//! its entry ([`Armed`]'s `Drop`), so a hot loop of timed calls with long timeouts keeps
//! memory flat instead of holding one timer per call until it expires.
//!
//! Invariants: an entry is removed exactly once (fired, or cancelled by its `Armed`);
//! a cancel that reaches the wrong place (a call future moved to another thread) is
//! harmless: the entry then fires a spurious wake-up at its deadline.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::task::{Poll, Waker};
use std::time::Instant;

use crate::shard::{self, ShardCore};

type Key = (Instant, u64);

static NEXT_SEQ: AtomicU64 = AtomicU64::new(1);

/// A shard's pending call deadlines.
#[derive(Default)]
pub(crate) struct Deadlines {
    pending: RefCell<BTreeMap<Key, Waker>>,
    /// The deadline the pump sleeps towards (`None`: it waits for the first one).
    sleeping_until: Cell<Option<Instant>>,
    /// An entry earlier than `sleeping_until` arrived.
    earlier: Cell<bool>,
    pump: RefCell<Option<Waker>>,
}

impl Deadlines {
    fn arm(&self, key: Key, waker: Waker) {
        self.pending.borrow_mut().insert(key, waker);
        if self.sleeping_until.get().is_none_or(|at| key.0 < at) {
            self.earlier.set(true);
            let pump = self.pump.borrow_mut().take();
            if let Some(pump) = pump {
                pump.wake();
            }
        }
    }

    fn cancel(&self, key: &Key) {
        self.pending.borrow_mut().remove(key);
    }

    /// Wakes every caller whose deadline passed; returns the next deadline.
    fn fire(&self, now: Instant) -> Option<Instant> {
        let mut expired = Vec::new();
        let next = {
            let mut pending = self.pending.borrow_mut();
            loop {
                match pending.first_entry() {
                    Some(entry) if entry.key().0 <= now => expired.push(entry.remove()),
                    Some(entry) => break Some(entry.key().0),
                    None => break None,
                }
            }
        };
        for waker in expired {
            waker.wake();
        }
        next
    }
}

/// The shard task that fires deadlines: sleeps until the earliest, or until an earlier
/// one is armed.
pub(crate) async fn pump(core: Rc<ShardCore>) {
    let deadlines = &core.deadlines;
    loop {
        let next = deadlines.fire(Instant::now());
        deadlines.sleeping_until.set(next);
        deadlines.earlier.set(false);
        let notified = futures_lite::future::poll_fn(|cx| {
            if deadlines.earlier.get() {
                return Poll::Ready(());
            }
            *deadlines.pump.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        });
        match next {
            Some(at) => {
                let sleep = glommio::timer::sleep(at.saturating_duration_since(Instant::now()));
                futures_lite::future::or(sleep, notified).await;
            }
            None => notified.await,
        }
    }
}

/// A deadline armed for one waiting call; dropping it forgets the deadline.
pub(crate) struct Armed {
    key: Key,
    place: Place,
}

enum Place {
    Shard { engine: u64, shard: usize },
    Thread,
}

impl Armed {
    /// Arms a wake-up of `waker` at `at`, on the calling shard of engine `engine` if the
    /// caller is on one, else on the deadline thread.
    pub(crate) fn new(engine: u64, at: Instant, waker: Waker) -> Armed {
        let key = (at, NEXT_SEQ.fetch_add(1, Ordering::Relaxed));
        if let Some(core) = shard::current(engine) {
            core.deadlines.arm(key, waker);
            let shard = core.id;
            return Armed {
                key,
                place: Place::Shard { engine, shard },
            };
        }
        thread_send(Command::Arm(key, waker));
        Armed {
            key,
            place: Place::Thread,
        }
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        match self.place {
            Place::Shard { engine, shard } => {
                if let Some(core) = shard::current(engine).filter(|core| core.id == shard) {
                    core.deadlines.cancel(&self.key);
                }
            }
            Place::Thread => thread_send(Command::Cancel(self.key)),
        }
    }
}

enum Command {
    Arm(Key, Waker),
    Cancel(Key),
}

fn thread_send(command: Command) {
    static TX: OnceLock<Option<mpsc::Sender<Command>>> = OnceLock::new();
    let tx = TX.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Command>();
        let spawned = std::thread::Builder::new()
            .name("quark-deadlines".into())
            .spawn(move || deadline_loop(rx));
        match spawned {
            Ok(_) => Some(tx),
            Err(error) => {
                tracing::error!(%error, "cannot start the deadline thread");
                None
            }
        }
    });
    // The thread lives as long as the process; without it a call waits for its reply
    // with no deadline, which is logged once above.
    if let Some(tx) = tx {
        let _ = tx.send(command);
    }
}

fn deadline_loop(rx: mpsc::Receiver<Command>) {
    let mut pending: BTreeMap<Key, Waker> = BTreeMap::new();
    loop {
        let now = Instant::now();
        while let Some(entry) = pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            entry.remove().wake();
        }
        let next = match pending.keys().next() {
            Some((at, _)) => rx.recv_timeout(at.saturating_duration_since(now)),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(Command::Arm(key, waker)) => {
                pending.insert(key, waker);
            }
            Ok(Command::Cancel(key)) => {
                pending.remove(&key);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{Actor, ActorError, Builder, Context, Handler, Message};

    struct Echo;
    impl Actor for Echo {
        type Key = u8;
        async fn on_activate(_: &mut Context<Self>) -> Result<Self, ActorError> {
            Ok(Echo)
        }
    }
    struct Ping;
    impl Message for Ping {
        type Reply = ();
    }
    impl Handler<Ping> for Echo {
        async fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ActorError> {
            glommio::timer::sleep(Duration::from_micros(50)).await;
            Ok(())
        }
    }

    #[test]
    fn finished_timed_calls_leave_no_deadline_behind() {
        let engine = Builder::new()
            .shards(2)
            .spin_before_park(None)
            .register::<Echo>()
            .start()
            .unwrap();
        let left = engine
            .run_on_blocking(0, |shard| async move {
                let echo = shard.actor::<Echo>(1u8);
                for _ in 0..200 {
                    echo.call_timeout(Ping, Duration::from_secs(3600))
                        .await
                        .unwrap();
                }
                shard.core().deadlines.pending.borrow().len()
            })
            .unwrap();
        assert_eq!(left, 0);
        engine.shutdown().unwrap();
    }
}
