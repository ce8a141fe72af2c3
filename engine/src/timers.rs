//! Activation timers: shard-local tasks that push a message into their activation's own
//! mailbox; the [`Context`](crate::Context) owns them, so deactivation cancels them. (Call
//! deadlines are in `deadline.rs`.)
//!
//! Invariants: timer messages respect mailbox backpressure like any sender, do not count as
//! activity for idle deactivation (as in Orleans), and stop once the shard is closing.

use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

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
