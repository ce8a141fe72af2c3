//! ractor 0.16 as the second actor peer: the same ping-pong and activation workloads.
//!
//! One core: the caller and the actor share one current-thread tokio runtime. Cross core: the
//! actor is spawned on a second current-thread runtime on its own thread (tokio does not pin
//! threads). Invariant: every runtime and actor this module starts is stopped before it returns.
use super::{
    ActivateLoad, ActivateRun, ActorPeer, CallLoad, MessageLoad, MessageRun, Peer, PeerError,
};
use super::{pingpong, tokio_thread};
use crate::alloc::Meter;
use crate::work::WorkHash;
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The ractor peer.
#[derive(Debug, Default)]
pub struct Ractor;

impl Peer for Ractor {
    fn name(&self) -> &'static str {
        "ractor"
    }
}

enum Msg {
    Ping(u64, RpcReplyPort<u64>),
    Tell(u64),
    Total(RpcReplyPort<u64>),
}

/// Echoes pings, sums tells; `activated` counts first messages for the activation run.
struct Echo {
    activated: Arc<AtomicU64>,
}

impl Actor for Echo {
    type Msg = Msg;
    type State = (u64, bool);
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Msg>, _: ()) -> Result<(u64, bool), ActorProcessingErr> {
        Ok((0, false))
    }

    async fn handle(
        &self,
        _: ActorRef<Msg>,
        msg: Msg,
        state: &mut (u64, bool),
    ) -> Result<(), ActorProcessingErr> {
        if !state.1 {
            state.1 = true;
            self.activated.fetch_add(1, Ordering::Relaxed);
        }
        match msg {
            Msg::Ping(i, port) => drop(port.send(i + 1)),
            Msg::Tell(i) => state.0 = state.0.wrapping_add(i),
            Msg::Total(port) => drop(port.send(state.0)),
        }
        Ok(())
    }
}

async fn spawn(activated: Arc<AtomicU64>) -> Result<ActorRef<Msg>, PeerError> {
    let (actor, _join) = Actor::spawn(None, Echo { activated }, ())
        .await
        .map_err(|e| PeerError::because("spawning a ractor actor", e))?;
    Ok(actor)
}

async fn call<T: Send + 'static>(
    actor: &ActorRef<Msg>,
    make: impl FnOnce(RpcReplyPort<T>) -> Msg,
) -> Result<T, PeerError> {
    match actor.call(make, None).await {
        Ok(CallResult::Success(v)) => Ok(v),
        Ok(_) => Err(PeerError::Unavailable(
            "a ractor call timed out or was dropped".into(),
        )),
        Err(e) => Err(PeerError::because("ractor call", e)),
    }
}

async fn activate(load: ActivateLoad) -> Result<ActivateRun, PeerError> {
    let n = load.actors;
    let activated = Arc::new(AtomicU64::new(0));
    let mut actors: Vec<ActorRef<Msg>> = Vec::with_capacity(n as usize);
    let meter = Meter::start();
    let started = Instant::now();
    for i in 0..n {
        let actor = spawn(activated.clone()).await?;
        actor
            .cast(Msg::Tell(i))
            .map_err(|e| PeerError::because("ractor cast", e))?;
        actors.push(actor);
    }
    while activated.load(Ordering::Relaxed) < n {
        tokio::task::yield_now().await;
    }
    let secs = started.elapsed().as_secs_f64();
    let bytes = meter.stop();
    let mut hash = WorkHash::default();
    hash.add(activated.load(Ordering::Relaxed));
    for actor in &actors {
        actor.stop(None);
    }
    Ok(ActivateRun {
        actors: n,
        secs,
        bytes_per_activation: Some(bytes as f64 / n as f64),
        hash,
    })
}

/// Starts a runtime on its own thread holding one actor; returns it and a stopper.
fn remote_actor() -> Result<(ActorRef<Msg>, std::thread::JoinHandle<()>), PeerError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("peer-ractor-remote".to_owned())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return drop(tx.send(Err(PeerError::because("tokio runtime", e)))),
            };
            rt.block_on(async move {
                match Actor::spawn(
                    None,
                    Echo {
                        activated: Arc::default(),
                    },
                    (),
                )
                .await
                {
                    Ok((actor, join)) => {
                        drop(tx.send(Ok(actor)));
                        drop(join.await);
                    }
                    Err(e) => drop(tx.send(Err(PeerError::because("spawning", e)))),
                }
            });
        })
        .map_err(|e| PeerError::because("spawning the ractor thread", e))?;
    let actor = rx
        .recv()
        .map_err(|_| PeerError::Unavailable("the ractor thread ended early".to_owned()))??;
    Ok((actor, thread))
}

impl ActorPeer for Ractor {
    fn tell_one_core(&self, load: &MessageLoad) -> Result<MessageRun, PeerError> {
        let load = load.clone();
        tokio_thread::run(self.name(), move || async move {
            let actor = spawn(Arc::default()).await?;
            let tell = async |i| {
                actor
                    .cast(Msg::Tell(i))
                    .map_err(|e| PeerError::because("cast", e))
            };
            let pause = async || tokio::task::yield_now().await;
            let total = async || call(&actor, Msg::Total).await;
            let run = pingpong::tells(&load, tell, pause, total).await;
            actor.stop(None);
            run
        })
    }

    fn call_one_core(&self, load: &CallLoad) -> Result<MessageRun, PeerError> {
        let load = load.clone();
        tokio_thread::run(self.name(), move || async move {
            let actor = spawn(Arc::default()).await?;
            let run = pingpong::calls(&load, async |i| call(&actor, |p| Msg::Ping(i, p)).await);
            let run = run.await;
            actor.stop(None);
            run
        })
    }

    fn call_cross_core(&self, load: &CallLoad) -> Result<MessageRun, PeerError> {
        let (actor, thread) = remote_actor()?;
        let load = load.clone();
        let caller = actor.clone();
        let run = tokio_thread::run(self.name(), move || async move {
            pingpong::calls(&load, async |i| call(&caller, |p| Msg::Ping(i, p)).await).await
        });
        actor.stop(None);
        thread
            .join()
            .map_err(|_| PeerError::Unavailable("the ractor thread panicked".to_owned()))?;
        run
    }

    fn activate(&self, load: &ActivateLoad) -> Result<ActivateRun, PeerError> {
        let load = load.clone();
        tokio_thread::run(self.name(), move || activate(load))
    }
}
