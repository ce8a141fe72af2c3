//! Quark's engine as an [`ActorPeer`]: a fresh two-shard engine per run, the same ping-pong
//! and activation workloads as the peers, driven from inside a shard with `run_on`.
//!
//! One core: the driver runs on the actor's home shard. Cross core: the driver runs on the
//! other shard, so every call crosses cores through the engine's shard channels. The engine's
//! idle policy is a setting (`spin_before_park`); [`QuarkEngine::parked`] measures the
//! park-when-idle choice beside the latency-first default. Invariant: every engine this module
//! starts is shut down before the method returns.
use crate::alloc::Meter;
use crate::peers::{ActivateLoad, ActivateRun, ActorPeer, CallLoad, MessageLoad, MessageRun, Peer};
use crate::peers::{PeerError, pingpong};
use crate::work::WorkHash;
use quark::{Actor, ActorError, Builder, Context, Engine, Handler, Message};
use std::time::{Duration, Instant};

/// Shards of the engine under test: two, so that a cross-core call exists.
const SHARDS: usize = 2;

/// Quark's engine, two shards.
#[derive(Debug)]
pub struct QuarkEngine {
    /// `None`: the shards park when idle; `Some(d)`: they spin `d` first.
    spin: Option<Option<Duration>>,
}

impl Default for QuarkEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl QuarkEngine {
    /// The engine with its default (latency-first) idle policy.
    pub fn new() -> QuarkEngine {
        QuarkEngine { spin: None }
    }

    /// The engine with shards that park as soon as they are idle (`spin_before_park(None)`).
    pub fn parked() -> QuarkEngine {
        QuarkEngine { spin: Some(None) }
    }
}

impl Peer for QuarkEngine {
    fn name(&self) -> &'static str {
        "quark"
    }
}

struct Echo {
    sum: u64,
}

impl Actor for Echo {
    type Key = u64;
    async fn on_activate(_: &mut Context<Self>) -> Result<Self, ActorError> {
        Ok(Echo { sum: 0 })
    }
}

struct Ping(u64);
impl Message for Ping {
    type Reply = u64;
}

struct Tell(u64);
impl Message for Tell {
    type Reply = ();
}

struct Total;
impl Message for Total {
    type Reply = u64;
}

impl Handler<Ping> for Echo {
    async fn handle(&mut self, m: Ping, _: &mut Context<Self>) -> Result<u64, ActorError> {
        Ok(m.0 + 1)
    }
}

impl Handler<Tell> for Echo {
    async fn handle(&mut self, m: Tell, _: &mut Context<Self>) -> Result<(), ActorError> {
        self.sum = self.sum.wrapping_add(m.0);
        Ok(())
    }
}

impl Handler<Total> for Echo {
    async fn handle(&mut self, _: Total, _: &mut Context<Self>) -> Result<u64, ActorError> {
        Ok(self.sum)
    }
}

fn failed(what: &'static str) -> impl Fn(quark::Error) -> PeerError {
    move |e| PeerError::because(what, e)
}

impl QuarkEngine {
    /// Starts an engine, runs `f` with it, shuts it down.
    fn with_engine<T>(
        &self,
        f: impl FnOnce(&Engine) -> Result<T, PeerError>,
    ) -> Result<T, PeerError> {
        let mut builder = Builder::new()
            .shards(SHARDS)
            .idle_timeout(Duration::from_secs(600))
            .register::<Echo>();
        if let Some(spin) = self.spin {
            builder = builder.spin_before_park(spin);
        }
        let engine = builder.start().map_err(failed("starting the engine"))?;
        let out = f(&engine);
        engine
            .shutdown()
            .map_err(failed("shutting the engine down"))?;
        out
    }

    /// Runs the call loop from `driver(home)`'s shard against actor 0.
    fn calls(&self, load: &CallLoad, driver: fn(usize) -> usize) -> Result<MessageRun, PeerError> {
        self.with_engine(|engine| {
            let home = engine.home_shard::<Echo>(&0).ok_or_else(|| {
                PeerError::Unavailable("the engine has no home shard for Echo".to_owned())
            })?;
            let load = load.clone();
            engine
                .run_on_blocking(driver(home), move |shard| async move {
                    let actor = shard.actor::<Echo>(0u64);
                    let call = async |i| actor.call(Ping(i)).await.map_err(failed("call"));
                    pingpong::calls(&load, call).await
                })
                .map_err(failed("run_on"))?
        })
    }
}

async fn activate(shard: quark::Shard, keys: Vec<u64>) -> Result<ActivateRun, PeerError> {
    let n = keys.len() as u64;
    let base = shard.stats().messages;
    let meter = Meter::start();
    let started = Instant::now();
    for (i, key) in keys.iter().enumerate() {
        shard
            .actor::<Echo>(*key)
            .tell(Tell(i as u64))
            .await
            .map_err(failed("tell"))?;
    }
    while shard.stats().messages - base < n {
        futures_lite::future::yield_now().await;
    }
    let secs = started.elapsed().as_secs_f64();
    let bytes = meter.stop();
    let mut hash = WorkHash::default();
    hash.add(shard.stats().messages - base);
    hash.add(shard.stats().activations);
    Ok(ActivateRun {
        actors: n,
        secs,
        bytes_per_activation: Some(bytes as f64 / n as f64),
        hash,
    })
}

impl ActorPeer for QuarkEngine {
    fn tell_one_core(&self, load: &MessageLoad) -> Result<MessageRun, PeerError> {
        self.with_engine(|engine| {
            let home = engine.home_shard::<Echo>(&0).unwrap_or(0);
            let load = load.clone();
            engine
                .run_on_blocking(home, move |shard| async move {
                    let actor = shard.actor::<Echo>(0u64);
                    let tell = async |i| actor.tell(Tell(i)).await.map_err(failed("tell"));
                    let pause = async || futures_lite::future::yield_now().await;
                    let total = async || actor.call(Total).await.map_err(failed("call"));
                    pingpong::tells(&load, tell, pause, total).await
                })
                .map_err(failed("run_on"))?
        })
    }

    fn call_one_core(&self, load: &CallLoad) -> Result<MessageRun, PeerError> {
        self.calls(load, |home| home)
    }

    fn call_cross_core(&self, load: &CallLoad) -> Result<MessageRun, PeerError> {
        self.calls(load, |home| (home + 1) % SHARDS)
    }

    fn activate(&self, load: &ActivateLoad) -> Result<ActivateRun, PeerError> {
        self.with_engine(|engine| {
            // Keys homed on shard 0, activated from shard 0: activations on one core.
            let keys: Vec<u64> = (0..load.actors * 16)
                .filter(|k| engine.home_shard::<Echo>(k) == Some(0))
                .take(load.actors as usize)
                .collect();
            if (keys.len() as u64) < load.actors {
                return Err(PeerError::Unavailable(
                    "too few keys homed on shard 0".to_owned(),
                ));
            }
            engine
                .run_on_blocking(0, move |shard| activate(shard, keys))
                .map_err(failed("run_on"))?
        })
    }
}
