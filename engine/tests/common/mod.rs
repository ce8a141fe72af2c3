//! Test actors and helpers shared by the engine's integration tests.
//!
//! Every engine here has 2 shards (the machine has 2 cores), parks when idle (tests share
//! the cores with each other) and gets its own [`Probe`] as an extension, so tests running
//! in parallel threads never see each other's events. Waits are event-driven: a test blocks
//! on the probe's channel with a generous bound that only a hang would reach.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use quark::{Actor, ActorError, Builder, Context, Handler, Message};

/// A bound no healthy test gets near; reaching it means something hangs.
pub const HANG: Duration = Duration::from_secs(30);

/// Something an actor did, reported to the test thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Activated(u64),
    Deactivated(u64),
    Tick(u64),
    Worker(usize, u64),
}

/// Shared by the test and its actors.
pub struct Probe {
    events: Mutex<mpsc::Sender<Event>>,
    busy: Mutex<HashMap<u64, bool>>,
    pub overlaps: AtomicU64,
    pub handled: AtomicU64,
    pub gate_open: AtomicBool,
    pub holding: AtomicBool,
}

impl Probe {
    pub fn new() -> (Probe, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel();
        let probe = Probe {
            events: Mutex::new(tx),
            busy: Mutex::new(HashMap::new()),
            overlaps: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            gate_open: AtomicBool::new(true),
            holding: AtomicBool::new(false),
        };
        (probe, rx)
    }

    pub fn emit(&self, event: Event) {
        let _ = self.events.lock().unwrap().send(event);
    }

    /// Marks `key` as in a turn; counts an overlap if it already was.
    fn enter(&self, key: u64) {
        let mut busy = self.busy.lock().unwrap();
        let was = busy.insert(key, true).unwrap_or(false);
        if was {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn leave(&self, key: u64) {
        self.busy.lock().unwrap().insert(key, false);
    }
}

/// A builder with test settings: 2 shards, parking executors, the probe as an extension.
pub fn builder(probe: Probe) -> Builder {
    Builder::new()
        .shards(2)
        .spin_before_park(None)
        .shutdown_timeout(HANG)
        .extension(probe)
}

/// Waits for the next event matching `want`, skipping others; panics on a hang.
pub fn wait_for(rx: &mpsc::Receiver<Event>, want: impl Fn(&Event) -> bool) -> Event {
    loop {
        let event = rx.recv_timeout(HANG).expect("no event: the engine hangs");
        if want(&event) {
            return event;
        }
    }
}

fn probe<A: Actor>(ctx: &Context<A>) -> &Probe {
    ctx.shard()
        .extension::<Probe>()
        .expect("the probe extension")
}

/// A stateful counter that also records the order of what it was sent.
pub struct Counter {
    pub total: u64,
    pub seen: Vec<u64>,
}

impl Actor for Counter {
    type Key = u64;

    async fn on_activate(ctx: &mut Context<Self>) -> Result<Self, ActorError> {
        if *ctx.key() == u64::MAX {
            return Err(ActorError::msg("key u64::MAX refuses to activate"));
        }
        probe(ctx).emit(Event::Activated(*ctx.key()));
        Ok(Counter {
            total: 0,
            seen: Vec::new(),
        })
    }

    async fn on_deactivate(&mut self, ctx: &mut Context<Self>) {
        probe(ctx).emit(Event::Deactivated(*ctx.key()));
    }
}

/// Adds to the total; replies with the new total.
pub struct Add(pub u64);
impl Message for Add {
    type Reply = u64;
}

impl Handler<Add> for Counter {
    async fn handle(&mut self, msg: Add, ctx: &mut Context<Self>) -> Result<u64, ActorError> {
        self.total += msg.0;
        probe(ctx).handled.fetch_add(1, Ordering::SeqCst);
        Ok(self.total)
    }
}

/// Records a sequence number (tell-only); `Seen` returns them.
pub struct Record(pub u64);
impl Message for Record {
    type Reply = ();
}

impl Handler<Record> for Counter {
    async fn handle(&mut self, msg: Record, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.seen.push(msg.0);
        probe(ctx).handled.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

pub struct Seen;
impl Message for Seen {
    type Reply = Vec<u64>;
}

impl Handler<Seen> for Counter {
    async fn handle(&mut self, _: Seen, _: &mut Context<Self>) -> Result<Vec<u64>, ActorError> {
        Ok(self.seen.clone())
    }
}

/// A turn that awaits in the middle (a timer), to expose interleaving.
pub struct SlowTurn(pub Duration);
impl Message for SlowTurn {
    type Reply = u64;
}

impl Handler<SlowTurn> for Counter {
    async fn handle(&mut self, msg: SlowTurn, ctx: &mut Context<Self>) -> Result<u64, ActorError> {
        let key = *ctx.key();
        probe(ctx).enter(key);
        glommio::timer::sleep(msg.0).await;
        probe(ctx).leave(key);
        self.total += 1;
        Ok(self.total)
    }
}

/// Fails (returns an error) or panics.
pub enum Break {
    Fail,
    Panic,
}
impl Message for Break {
    type Reply = u64;
}

impl Handler<Break> for Counter {
    async fn handle(&mut self, msg: Break, _: &mut Context<Self>) -> Result<u64, ActorError> {
        match msg {
            Break::Fail => Err(ActorError::msg("asked to fail")),
            Break::Panic => panic!("asked to panic"),
        }
    }
}

/// Which shard handled it.
pub struct WhereAmI;
impl Message for WhereAmI {
    type Reply = usize;
}

impl Handler<WhereAmI> for Counter {
    async fn handle(&mut self, _: WhereAmI, ctx: &mut Context<Self>) -> Result<usize, ActorError> {
        Ok(ctx.shard().id())
    }
}

/// Calls another counter (actor to actor, possibly across shards) and returns its reply.
pub struct Forward {
    pub to: u64,
    pub add: u64,
}
impl Message for Forward {
    type Reply = u64;
}

impl Handler<Forward> for Counter {
    async fn handle(&mut self, msg: Forward, ctx: &mut Context<Self>) -> Result<u64, ActorError> {
        let other = ctx.actor::<Counter>(msg.to);
        Ok(other.call(Add(msg.add)).await?)
    }
}
