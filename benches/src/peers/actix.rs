//! actix 0.13 as the actor peer: the same ping-pong and activation workloads as Quark's.
//!
//! One core: the caller and the actor share one actix `System` (a current-thread runtime).
//! Cross core: the actor runs in its own `Arbiter` thread (actix does not pin threads).
//! Invariant: everything runs on threads this module starts and stops; nothing leaks between runs.
use super::pingpong;
use super::{
    ActivateLoad, ActivateRun, ActorPeer, CallLoad, MessageLoad, MessageRun, Peer, PeerError,
};
use crate::alloc::Meter;
use crate::work::WorkHash;
use actix::prelude::*;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

/// The actix peer.
#[derive(Debug, Default)]
pub struct Actix;

impl Peer for Actix {
    fn name(&self) -> &'static str {
        "actix"
    }
}

struct Echo {
    sum: u64,
}

impl Actor for Echo {
    type Context = Context<Self>;
}

struct Ping(u64);
impl Message for Ping {
    type Result = u64;
}

struct Tell(u64);
impl Message for Tell {
    type Result = ();
}

struct Total;
impl Message for Total {
    type Result = u64;
}

impl Handler<Ping> for Echo {
    type Result = u64;
    fn handle(&mut self, msg: Ping, _: &mut Context<Self>) -> u64 {
        msg.0 + 1
    }
}

impl Handler<Tell> for Echo {
    type Result = ();
    fn handle(&mut self, msg: Tell, _: &mut Context<Self>) {
        self.sum = self.sum.wrapping_add(msg.0);
    }
}

impl Handler<Total> for Echo {
    type Result = u64;
    fn handle(&mut self, _: Total, _: &mut Context<Self>) -> u64 {
        self.sum
    }
}

fn mailbox(e: MailboxError) -> PeerError {
    PeerError::because("actix mailbox", e)
}

/// Runs `make()` inside a fresh actix System on a fresh thread.
fn in_system<T: Send + 'static, Fut: Future<Output = Result<T, PeerError>>>(
    make: impl FnOnce() -> Fut + Send + 'static,
) -> Result<T, PeerError> {
    std::thread::Builder::new()
        .name("peer-actix".to_owned())
        .spawn(move || System::new().block_on(make()))
        .map_err(|e| PeerError::because("spawning the actix thread", e))?
        .join()
        .map_err(|_| PeerError::Unavailable("the actix thread panicked".to_owned()))?
}

/// An actor whose first message marks it activated.
struct Idle {
    activated: Rc<Cell<u64>>,
}

impl Actor for Idle {
    type Context = Context<Self>;
}

impl Handler<Ping> for Idle {
    type Result = u64;
    fn handle(&mut self, msg: Ping, _: &mut Context<Self>) -> u64 {
        self.activated.set(self.activated.get() + 1);
        msg.0 + 1
    }
}

async fn activate(load: ActivateLoad) -> Result<ActivateRun, PeerError> {
    let n = load.actors;
    let activated = Rc::new(Cell::new(0u64));
    let mut addrs: Vec<Addr<Idle>> = Vec::with_capacity(n as usize);
    let meter = Meter::start();
    let started = Instant::now();
    for i in 0..n {
        let addr = Idle {
            activated: activated.clone(),
        }
        .start();
        addr.do_send(Ping(i));
        addrs.push(addr);
        if i % pingpong::TELL_BATCH == 0 {
            tokio::task::yield_now().await;
        }
    }
    while activated.get() < n {
        tokio::task::yield_now().await;
    }
    let secs = started.elapsed().as_secs_f64();
    let bytes = meter.stop();
    let mut hash = WorkHash::default();
    hash.add(activated.get());
    drop(addrs);
    Ok(ActivateRun {
        actors: n,
        secs,
        bytes_per_activation: Some(bytes as f64 / n as f64),
        hash,
    })
}

impl ActorPeer for Actix {
    fn tell_one_core(&self, load: &MessageLoad) -> Result<MessageRun, PeerError> {
        let load = load.clone();
        in_system(move || async move {
            let addr = Echo { sum: 0 }.start();
            let tell = async |i| {
                addr.do_send(Tell(i));
                Ok(())
            };
            let pause = async || tokio::task::yield_now().await;
            let total = async || addr.send(Total).await.map_err(mailbox);
            pingpong::tells(&load, tell, pause, total).await
        })
    }

    fn call_one_core(&self, load: &CallLoad) -> Result<MessageRun, PeerError> {
        let load = load.clone();
        in_system(move || async move {
            let addr = Echo { sum: 0 }.start();
            pingpong::calls(&load, async |i| addr.send(Ping(i)).await.map_err(mailbox)).await
        })
    }

    fn call_cross_core(&self, load: &CallLoad) -> Result<MessageRun, PeerError> {
        let load = load.clone();
        in_system(move || async move {
            let arbiter = Arbiter::new();
            let addr = Echo::start_in_arbiter(&arbiter.handle(), |_| Echo { sum: 0 });
            let run =
                pingpong::calls(&load, async |i| addr.send(Ping(i)).await.map_err(mailbox)).await;
            arbiter.stop();
            drop(addr);
            arbiter
                .join()
                .map_err(|_| PeerError::Unavailable("the actix arbiter panicked".to_owned()))?;
            run
        })
    }

    fn activate(&self, load: &ActivateLoad) -> Result<ActivateRun, PeerError> {
        let load = load.clone();
        in_system(move || activate(load))
    }
}
