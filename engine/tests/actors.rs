//! Virtual-actor semantics: activation and idle deactivation, per-sender ordering,
//! exclusive turns, and timers (fired, and cancelled by deactivation).

// Test code: a failed unwrap is a failed test (clippy.toml only covers #[test] bodies).
#![allow(clippy::unwrap_used)]

mod common;

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Add, Counter, Event, HANG, Probe, Record, Seen, SlowTurn, builder, wait_for};
use quark::{Actor, ActorError, Context, Handler, Message};

#[test]
fn activates_on_first_message_and_deactivates_when_idle() {
    let (probe, rx) = Probe::new();
    let engine = builder(probe)
        .idle_timeout(Duration::from_millis(40))
        .register::<Counter>()
        .start()
        .unwrap();
    assert_eq!(
        engine.active_activations(),
        0,
        "nothing is active before a message"
    );
    let counter = engine.actor::<Counter>(7u64);
    assert_eq!(counter.call_blocking(Add(2)).unwrap(), 2);
    assert_eq!(rx.recv_timeout(HANG).unwrap(), Event::Activated(7));

    // The same activation keeps its state, unless it was deactivated in between (then its
    // Deactivated event is already in the channel when the reply arrives).
    let total = counter.call_blocking(Add(3)).unwrap();
    let between: Vec<Event> = rx.try_iter().collect();
    let expected = if between.contains(&Event::Deactivated(7)) {
        3
    } else {
        5
    };
    assert_eq!(total, expected);

    let home = counter.home_shard().unwrap();
    let live = engine.run_on_blocking(home, |s| async move { s.live_keys::<Counter>() });
    assert!(live.unwrap() <= 1);
    wait_for(&rx, |e| *e == Event::Deactivated(7));
    assert_eq!(engine.active_activations(), 0, "idle activation is gone");
    let live = engine.run_on_blocking(home, |s| async move { s.live_keys::<Counter>() });
    assert_eq!(live.unwrap(), 0, "the key left the table");
    // A new message makes a fresh activation with fresh state.
    assert_eq!(counter.call_blocking(Add(1)).unwrap(), 1);
    wait_for(&rx, |e| *e == Event::Activated(7));
    let stats = engine.stats();
    let activations: u64 = stats.iter().map(|s| s.activations).sum();
    let deactivations: u64 = stats.iter().map(|s| s.deactivations).sum();
    assert!(activations >= 2, "{stats:?}");
    assert!(deactivations >= 1, "{stats:?}");
    engine.shutdown().unwrap();
}

#[test]
fn one_senders_messages_are_handled_in_send_order() {
    let (probe, _rx) = Probe::new();
    let engine = builder(probe)
        .mailbox_capacity(16) // small, so senders hit backpressure on the way
        .channel_capacity(8)
        .register::<Counter>()
        .start()
        .unwrap();
    let key = 11u64;
    let home = engine.home_shard::<Counter>(&key).unwrap();
    let counter = engine.actor::<Counter>(key);

    // From an outside thread.
    for n in 0..500 {
        counter.tell_blocking(Record(n)).unwrap();
    }
    // From the other shard (cross-shard channel) and from the home shard itself.
    for shard in [1 - home, home] {
        engine
            .run_on_blocking(shard, move |s| async move {
                let counter = s.actor::<Counter>(key);
                for n in 0..500 {
                    counter
                        .tell(Record(1000 * (shard as u64 + 1) + n))
                        .await
                        .unwrap();
                }
                // A tell resolves once queued on its path; this call on the same path
                // returns after all of them were handled.
                counter.call(Seen).await.unwrap();
            })
            .unwrap();
    }
    let seen = counter.call_blocking(Seen).unwrap();
    assert_eq!(seen.len(), 1500);
    let outside: Vec<u64> = seen.iter().copied().filter(|n| *n < 1000).collect();
    assert_eq!(outside, (0..500).collect::<Vec<_>>());
    for shard in [0u64, 1] {
        let base = 1000 * (shard + 1);
        let from: Vec<u64> = seen
            .iter()
            .copied()
            .filter(|n| (base..base + 1000).contains(n))
            .collect();
        assert_eq!(
            from,
            (base..base + 500).collect::<Vec<_>>(),
            "from shard {shard}"
        );
    }
    engine.shutdown().unwrap();
}

#[test]
fn turns_of_one_activation_never_interleave() {
    let (probe, _rx) = Probe::new();
    let engine = builder(probe).register::<Counter>().start().unwrap();
    let key = 5u64;
    let handle = engine.handle();
    // Concurrent callers: both shards (many in-flight calls each) and two outside threads.
    let outside: Vec<_> = (0..2)
        .map(|_| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                let counter = handle.actor::<Counter>(key);
                for _ in 0..5 {
                    counter
                        .call_blocking(SlowTurn(Duration::from_millis(1)))
                        .unwrap();
                }
            })
        })
        .collect();
    for shard in 0..2 {
        engine
            .run_on_blocking(shard, move |s| async move {
                let counter = s.actor::<Counter>(key);
                let calls = (0..10).map(|_| counter.call(SlowTurn(Duration::from_millis(1))));
                for reply in futures::future::join_all(calls).await {
                    reply.unwrap();
                }
            })
            .unwrap();
    }
    for thread in outside {
        thread.join().unwrap();
    }
    let probe = engine.extension::<Probe>().unwrap();
    assert_eq!(
        probe.overlaps.load(Ordering::SeqCst),
        0,
        "two turns overlapped"
    );
    let total = engine.actor::<Counter>(key).call_blocking(Add(0)).unwrap();
    assert_eq!(
        total, 30,
        "every slow turn ran exactly once on one activation"
    );
    engine.shutdown().unwrap();
}

/// Ticks on a periodic timer, fires a one-shot timer, and deactivates itself on tick 3.
struct Ticker {
    ticks: u64,
}

#[derive(Clone)]
struct Tick;
impl Message for Tick {
    type Reply = ();
}

struct Once;
impl Message for Once {
    type Reply = ();
}

struct Start;
impl Message for Start {
    type Reply = usize;
}

impl Actor for Ticker {
    type Key = u64;
    async fn on_activate(_ctx: &mut Context<Self>) -> Result<Self, ActorError> {
        Ok(Ticker { ticks: 0 })
    }
    async fn on_deactivate(&mut self, ctx: &mut Context<Self>) {
        assert_eq!(
            ctx.timer_count(),
            0,
            "timers are cancelled before on_deactivate"
        );
        probe(ctx).emit(Event::Deactivated(*ctx.key()));
    }
}

fn probe<A: Actor>(ctx: &Context<A>) -> &Probe {
    ctx.shard().extension::<Probe>().unwrap()
}

impl Handler<Start> for Ticker {
    async fn handle(&mut self, _: Start, ctx: &mut Context<Self>) -> Result<usize, ActorError> {
        assert_eq!(ctx.myself().key(), ctx.key());
        ctx.set_interval(Duration::from_millis(5), Tick);
        ctx.set_timer(Duration::from_millis(1), Once);
        let doomed = ctx.set_timer(Duration::from_millis(2), Once);
        assert!(ctx.cancel_timer(doomed));
        Ok(ctx.timer_count())
    }
}

impl Handler<Tick> for Ticker {
    async fn handle(&mut self, _: Tick, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.ticks += 1;
        probe(ctx).emit(Event::Tick(self.ticks));
        if self.ticks == 3 {
            ctx.deactivate();
        }
        Ok(())
    }
}

impl Handler<Once> for Ticker {
    async fn handle(&mut self, _: Once, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        probe(ctx).emit(Event::Tick(1000));
        Ok(())
    }
}

#[test]
fn timers_fire_and_die_with_their_activation() {
    let (probe, rx) = Probe::new();
    let engine = builder(probe).register::<Ticker>().start().unwrap();
    let ticker = engine.actor::<Ticker>(1u64);
    assert_eq!(
        ticker.call_blocking(Start).unwrap(),
        2,
        "the cancelled timer is gone"
    );
    let mut events = Vec::new();
    loop {
        let event = rx.recv_timeout(HANG).unwrap();
        events.push(event.clone());
        if event == Event::Deactivated(1) {
            break;
        }
    }
    assert_eq!(
        events.iter().filter(|e| **e == Event::Tick(1000)).count(),
        1,
        "{events:?}"
    );
    let ticks: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::Tick(n) if *n < 1000))
        .collect();
    assert_eq!(ticks, [&Event::Tick(1), &Event::Tick(2), &Event::Tick(3)]);

    // Had the 5 ms interval survived deactivation, it would fire on the home shard before
    // this 60 ms sleep on the same shard ends.
    let home = ticker.home_shard().unwrap();
    engine
        .run_on_blocking(home, |_| async {
            glommio::timer::sleep(Duration::from_millis(60)).await;
        })
        .unwrap();
    let late: Vec<Event> = rx.try_iter().collect();
    assert!(late.is_empty(), "timer fired after deactivation: {late:?}");
    engine.shutdown().unwrap();
}

#[test]
fn shard_tasks_reach_actors_without_crossing_threads() {
    let (probe, _rx) = Probe::new();
    let engine = builder(probe).register::<Counter>().start().unwrap();
    let key = 3u64;
    let home = engine.home_shard::<Counter>(&key).unwrap();
    let (shard, handled_on, thread_same) = engine
        .run_on_blocking(home, move |s| async move {
            let here = std::thread::current().id();
            let counter = s.actor::<Counter>(key);
            let handled_on = counter.call(common::WhereAmI).await.unwrap();
            // Rc state may live in a shard task: it never leaves this thread.
            let local = Rc::new(here);
            (s.id(), handled_on, *local == std::thread::current().id())
        })
        .unwrap();
    assert_eq!(shard, home);
    assert_eq!(handled_on, home);
    assert!(thread_same);
    engine.shutdown().unwrap();
}

/// Everything on shard 0, so a chain of first messages stays on one thread.
struct OneShard;
impl quark::Placement for OneShard {
    fn home(&self, _: &quark::ActorId, _: usize) -> usize {
        0
    }
}

/// Passes a countdown to the next key: each hop activates a new actor.
struct Chain(u64);
impl Message for Chain {
    type Reply = ();
}

impl Handler<Chain> for Counter {
    async fn handle(&mut self, msg: Chain, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let probe = probe(ctx);
        probe.handled.fetch_add(1, Ordering::SeqCst);
        if msg.0 == 0 {
            probe.emit(Event::Tick(*ctx.key()));
            return Ok(());
        }
        ctx.actor::<Counter>(ctx.key() + 1)
            .tell(Chain(msg.0 - 1))
            .await?;
        Ok(())
    }
}

#[test]
fn a_long_chain_of_first_activations_does_not_grow_the_stack() {
    // Regression: glommio polls a spawned task at once, so each new activation used to run
    // inside its sender's turn; a chain of first messages nested one stack frame set per
    // hop and overflowed the shard thread's stack. Activations are now scheduled instead.
    let (probe, rx) = Probe::new();
    let engine = builder(probe)
        .placement(OneShard)
        .register::<Counter>()
        .start()
        .unwrap();
    let hops = 20_000u64;
    engine
        .actor::<Counter>(1u64)
        .tell_blocking(Chain(hops))
        .unwrap();
    assert_eq!(
        wait_for(&rx, |e| matches!(e, Event::Tick(_))),
        Event::Tick(1 + hops)
    );
    let probe = engine.extension::<Probe>().unwrap();
    assert_eq!(probe.handled.load(Ordering::SeqCst), hops + 1);
    assert_eq!(engine.stats()[0].active, hops + 1);
    engine.shutdown().unwrap();
}
