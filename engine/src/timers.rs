//! Activation timers and call deadlines.
//!
//! Activation timers are shard-local tasks that push a message into their activation's own
//! mailbox; the [`Context`](crate::Context) owns them, so deactivation cancels them.
//! Call deadlines wake a waiting caller: on a shard with a glommio timer, elsewhere with one
//! process-wide timer thread (outside callers are not on any executor we could borrow).
//!
//! Invariants: timer messages respect mailbox backpressure like any sender, do not count as
//! activity for idle deactivation (as in Orleans), and stop once the shard is closing.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::OnceLock;
use std::sync::mpsc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use crate::actor::{Actor, Handler, Message};
use crate::envelope::routed;
use crate::mailbox::Slot;
use crate::shard::ShardCore;

/// Names a timer of one activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(pub(crate) u64);

/// Where a timer delivers.
pub(crate) struct Target<A: Actor> {
    pub(crate) core: Rc<ShardCore>,
    pub(crate) slot: Rc<Slot<A>>,
    pub(crate) key: A::Key,
    pub(crate) table: u32,
}

impl<A: Actor> Target<A> {
    /// Pushes `msg` once there is room; false when the shard is closing.
    async fn deliver<M>(&self, msg: M) -> bool
    where
        A: Handler<M>,
        M: Message,
    {
        let mut env = Some(routed::<A, M, ()>(self.key.clone(), self.table, msg, ()));
        futures_lite::future::poll_fn(|cx| {
            if self.core.timers_stopped() {
                return Poll::Ready(false);
            }
            if self.slot.is_full() {
                self.slot.wait_for_room(cx.waker());
                return Poll::Pending;
            }
            if let Some(env) = env.take() {
                crate::routing::enqueue(&self.core, &self.slot, &self.key, self.table, env);
            }
            Poll::Ready(true)
        })
        .await
    }
}

pub(crate) fn spawn_once<A, M>(target: Target<A>, delay: Duration, msg: M) -> glommio::Task<()>
where
    A: Handler<M>,
    M: Message,
{
    glommio::spawn_local(async move {
        glommio::timer::sleep(delay).await;
        target.deliver(msg).await;
    })
}

pub(crate) fn spawn_every<A, M>(target: Target<A>, period: Duration, msg: M) -> glommio::Task<()>
where
    A: Handler<M>,
    M: Message + Clone,
{
    let period = period.max(Duration::from_micros(100));
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(period).await;
            if !target.deliver(msg.clone()).await {
                return;
            }
        }
    })
}

/// Arranges for `waker` to be woken at `deadline`; `on_shard` picks the mechanism.
pub(crate) fn wake_at(deadline: Instant, waker: Waker, on_shard: bool) {
    if on_shard {
        let wait = deadline.saturating_duration_since(Instant::now());
        glommio::spawn_local(async move {
            glommio::timer::sleep(wait).await;
            waker.wake();
        })
        .detach();
    } else if let Some(tx) = timer_thread() {
        // The thread only stops with the process; a failed send means it is gone, and the
        // caller then waits for its reply without a deadline (logged).
        if tx.send((deadline, waker)).is_err() {
            tracing::error!("deadline thread is gone; call timeout not armed");
        }
    }
}

type DeadlineTx = mpsc::Sender<(Instant, Waker)>;

fn timer_thread() -> Option<&'static DeadlineTx> {
    static TX: OnceLock<Option<DeadlineTx>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<(Instant, Waker)>();
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
    })
    .as_ref()
}

fn deadline_loop(rx: mpsc::Receiver<(Instant, Waker)>) {
    let mut pending: BTreeMap<(Instant, u64), Waker> = BTreeMap::new();
    let mut seq = 0u64;
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
            Ok((at, waker)) => {
                seq += 1;
                pending.insert((at, seq), waker);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}
