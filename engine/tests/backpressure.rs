//! Backpressure without deadlock: a full mailbox never stops a shard's receive path.
//!
//! The bug: a shard's receive loop for one peer waited while the mailbox it was delivering
//! to was full. With X and Z on shard 0 and Y on shard 1, X calling Y and Y calling Z,
//! another actor on shard 1 that filled X's mailbox left Y's call to Z queued behind
//! messages for X in the 1→0 channel: X waited for Y, Y for Z, Z's message for X's
//! mailbox. No call cycle, yet nothing moved again. The fix: an arrival that finds its
//! mailbox full waits in the actor's overflow and the receive loop goes on; peers hold
//! back further messages for that actor until its overflow empties, which keeps the
//! overflow bounded.

// Test code: a failed unwrap is a failed test (clippy.toml only covers #[test] bodies).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use quark::{Actor, ActorError, Builder, Context, Handler, Message};

/// Far more than a healthy run needs; reaching it means the engine hangs.
const HANG: Duration = Duration::from_secs(20);

/// A node of the call chain; counts the noise it got.
struct Node {
    noise: u64,
}

impl Actor for Node {
    type Key = u64;
    async fn on_activate(_: &mut Context<Self>) -> Result<Self, ActorError> {
        Ok(Node { noise: 0 })
    }
}

/// X: make `flood` flood X (this actor) with `noise` tells, then call `via`, which calls
/// `to`.
struct Start {
    flood: u64,
    via: u64,
    to: u64,
    noise: u32,
}
impl Message for Start {
    type Reply = ();
}

/// W: tell `to` `n` times.
struct Flood {
    to: u64,
    n: u32,
}
impl Message for Flood {
    type Reply = ();
}

/// Y: call `to`.
struct Relay {
    to: u64,
}
impl Message for Relay {
    type Reply = ();
}

struct Noise;
impl Message for Noise {
    type Reply = ();
}

struct Count;
impl Message for Count {
    type Reply = u64;
}

/// Opens [`Hold`]'s gate.
static GATE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Keeps the actor in this turn until [`GATE`] opens.
struct Hold;
impl Message for Hold {
    type Reply = ();
}

impl Handler<Hold> for Node {
    async fn handle(&mut self, _: Hold, _: &mut Context<Self>) -> Result<(), ActorError> {
        while !GATE.load(std::sync::atomic::Ordering::SeqCst) {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }
}

impl Handler<Start> for Node {
    async fn handle(&mut self, msg: Start, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let me = *ctx.key();
        let flood = Flood {
            to: me,
            n: msg.noise,
        };
        ctx.actor::<Node>(msg.flood).tell(flood).await.unwrap();
        let relay = Relay { to: msg.to };
        ctx.actor::<Node>(msg.via).call(relay).await.unwrap();
        Ok(())
    }
}

impl Handler<Flood> for Node {
    async fn handle(&mut self, msg: Flood, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let target = ctx.actor::<Node>(msg.to);
        for _ in 0..msg.n {
            target.tell(Noise).await.unwrap();
        }
        Ok(())
    }
}

impl Handler<Relay> for Node {
    async fn handle(&mut self, msg: Relay, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        ctx.actor::<Node>(msg.to).call(Noise).await.unwrap();
        Ok(())
    }
}

impl Handler<Noise> for Node {
    async fn handle(&mut self, _: Noise, _: &mut Context<Self>) -> Result<(), ActorError> {
        self.noise += 1;
        Ok(())
    }
}

impl Handler<Count> for Node {
    async fn handle(&mut self, _: Count, _: &mut Context<Self>) -> Result<u64, ActorError> {
        Ok(self.noise)
    }
}

/// Distinct keys homed on `shard`.
fn keys_on(engine: &quark::Engine, shard: usize, n: usize) -> Vec<u64> {
    (1000..)
        .filter(|key| engine.home_shard::<Node>(key) == Some(shard))
        .take(n)
        .collect()
}

fn engine(mailbox: usize, channel: usize) -> quark::Engine {
    Builder::new()
        .shards(2)
        .spin_before_park(None)
        .mailbox_capacity(mailbox)
        .channel_capacity(channel)
        .register::<Node>()
        .start()
        .unwrap()
}

#[test]
fn a_full_mailbox_does_not_stop_delivery_to_other_actors_of_its_shard() {
    let engine = engine(1, 2);
    let (on0, on1) = (keys_on(&engine, 0, 2), keys_on(&engine, 1, 2));
    let (x, z, y, w) = (on0[0], on0[1], on1[0], on1[1]);
    let noise = 200;
    let start = Start {
        flood: w,
        via: y,
        to: z,
        noise,
    };
    engine
        .actor::<Node>(x)
        .call_timeout_blocking(start, HANG)
        .expect("X -> Y -> Z must not wait behind the messages that fill X's mailbox");
    let z_noise = engine.actor::<Node>(z).call_timeout_blocking(Count, HANG);
    assert_eq!(z_noise.unwrap(), 1);
    // Every one of W's messages reached X, in the end: held back, never dropped.
    let deadline = std::time::Instant::now() + HANG;
    loop {
        let got = engine.actor::<Node>(x).call_timeout_blocking(Count, HANG);
        if got.unwrap() == u64::from(noise) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "X never got all its noise"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let overflowed: u64 = engine.stats().iter().map(|s| s.overflowed).sum();
    assert!(overflowed > 0, "X's mailbox was full: arrivals overflowed");
    // The pause held W back: X's overflow stayed within the arrival that paused it plus
    // what W can have had in flight (its channel, its outbound queue and the task its pump
    // holds), not all 200 messages.
    let peak = engine.stats()[0].overflow_peak;
    assert!((1..=1 + 2 * 2 + 1).contains(&peak), "overflow peak {peak}");
    engine.shutdown().unwrap();
}

#[test]
fn a_peer_held_back_before_it_reached_the_overflow_is_released_too() {
    // Outside threads fill X's overflow (X is held in a turn), which pauses X; then W on
    // the other shard sends to X and is held back without ever reaching the overflow. The
    // pause's lift must release W as well, or W waits forever.
    let engine = engine(1, 2);
    let (x, w) = (keys_on(&engine, 0, 1)[0], keys_on(&engine, 1, 1)[0]);
    let target = engine.actor::<Node>(x);
    target.tell_blocking(Hold).unwrap();
    for _ in 0..20 {
        target.tell_blocking(Noise).unwrap();
    }
    let deadline = std::time::Instant::now() + HANG;
    while engine.stats()[0].overflowed == 0 {
        assert!(std::time::Instant::now() < deadline, "X never overflowed");
        std::thread::sleep(Duration::from_millis(1));
    }
    let handle = engine.handle();
    let flood = std::thread::spawn(move || {
        let flood = Flood { to: x, n: 5 };
        handle.actor::<Node>(w).call_timeout_blocking(flood, HANG)
    });
    std::thread::sleep(Duration::from_millis(50)); // let W reach the pause (not required)
    GATE.store(true, std::sync::atomic::Ordering::SeqCst);
    flood
        .join()
        .unwrap()
        .expect("W is released when X's pause lifts");
    let deadline = std::time::Instant::now() + HANG;
    while target.call_timeout_blocking(Count, HANG).unwrap() != 25 {
        assert!(
            std::time::Instant::now() < deadline,
            "X never got all its noise"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    engine.shutdown().unwrap();
}
