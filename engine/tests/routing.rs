//! Routing: cross-shard calls, calls from outside threads, stateless worker pools (scaling
//! up to the bound, spreading, scaling down).

// Test code: a failed unwrap is a failed test (clippy.toml only covers #[test] bodies).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{Add, Counter, Event, Forward, Probe, WhereAmI, builder, wait_for};
use quark::{Actor, ActorError, Context, Handler, Message};

/// The first key (from `start`) whose home is `shard`.
fn key_on(engine: &quark::Engine, shard: usize, start: u64) -> u64 {
    (start..)
        .find(|key| engine.home_shard::<Counter>(key) == Some(shard))
        .unwrap()
}

#[test]
fn actors_call_each_other_across_shards() {
    let (probe, _rx) = Probe::new();
    let engine = builder(probe).register::<Counter>().start().unwrap();
    let on0 = key_on(&engine, 0, 100);
    let on1 = key_on(&engine, 1, 100);
    assert_eq!(
        engine
            .actor::<Counter>(on0)
            .call_blocking(WhereAmI)
            .unwrap(),
        0
    );
    assert_eq!(
        engine
            .actor::<Counter>(on1)
            .call_blocking(WhereAmI)
            .unwrap(),
        1
    );
    // Shard 0 actor calls shard 1 actor and back, several times.
    for round in 1..=20u64 {
        let via0 = engine.actor::<Counter>(on0);
        assert_eq!(
            via0.call_blocking(Forward { to: on1, add: 1 }).unwrap(),
            2 * round - 1
        );
        let via1 = engine.actor::<Counter>(on1);
        assert_eq!(
            via1.call_blocking(Forward { to: on0, add: 2 }).unwrap(),
            2 * round
        );
        assert_eq!(
            via0.call_blocking(Forward { to: on1, add: 0 }).unwrap(),
            2 * round - 1
        );
        engine.actor::<Counter>(on1).call_blocking(Add(1)).unwrap();
    }
    let stats = engine.stats();
    assert!(
        stats.iter().all(|s| s.sent > 0 && s.received > 0),
        "{stats:?}"
    );
    engine.shutdown().unwrap();
}

#[test]
fn outside_threads_and_shard_tasks_share_actors() {
    let (probe, _rx) = Probe::new();
    let engine = builder(probe).register::<Counter>().start().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let handle = engine.handle();
            std::thread::spawn(move || {
                for key in 0..20u64 {
                    handle.actor::<Counter>(key).call_blocking(Add(1)).unwrap();
                }
            })
        })
        .collect();
    // Meanwhile both shards call the same keys with many calls in flight.
    let from_shards: Vec<_> = (0..2)
        .map(|shard| {
            engine.run_on(shard, |s| async move {
                let calls = (0..20u64).map(|key| {
                    let counter = s.actor::<Counter>(key);
                    async move { counter.call(Add(10)).await.unwrap() }
                });
                futures::future::join_all(calls).await;
            })
        })
        .collect();
    for done in futures_lite::future::block_on(futures::future::join_all(from_shards)) {
        done.unwrap();
    }
    for thread in threads {
        thread.join().unwrap();
    }
    for key in 0..20u64 {
        assert_eq!(
            engine.actor::<Counter>(key).call_blocking(Add(0)).unwrap(),
            4 + 20
        );
    }
    engine.shutdown().unwrap();
}

/// A stateless worker: reports its instance, shard and how many ran at once.
struct Worker {
    instance: u64,
}

static INSTANCES: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
struct Load {
    now: AtomicU64,
    max: AtomicU64,
}

struct Job(Duration);
impl Message for Job {
    type Reply = (u64, usize);
}

impl Actor for Worker {
    type Key = u32;
    async fn on_activate(_: &mut Context<Self>) -> Result<Self, ActorError> {
        Ok(Worker {
            instance: INSTANCES.fetch_add(1, Ordering::SeqCst),
        })
    }
    async fn on_deactivate(&mut self, ctx: &mut Context<Self>) {
        let probe = ctx.shard().extension::<Probe>().unwrap();
        probe.emit(Event::Worker(ctx.shard().id(), self.instance));
    }
}

impl Handler<Job> for Worker {
    async fn handle(
        &mut self,
        job: Job,
        ctx: &mut Context<Self>,
    ) -> Result<(u64, usize), ActorError> {
        let load = ctx.shard().extension::<Load>().unwrap();
        let now = load.now.fetch_add(1, Ordering::SeqCst) + 1;
        load.max.fetch_max(now, Ordering::SeqCst);
        glommio::timer::sleep(job.0).await;
        load.now.fetch_sub(1, Ordering::SeqCst);
        Ok((self.instance, ctx.shard().id()))
    }
}

#[test]
fn stateless_workers_scale_up_to_the_bound_spread_and_scale_down() {
    let (probe, rx) = Probe::new();
    let engine = builder(probe)
        .extension(Load::default())
        .register_with::<Worker>(
            quark::ActorOptions::stateless(4).idle_timeout(Duration::from_millis(40)),
        )
        .start()
        .unwrap();
    // 16 concurrent jobs on shard 0: served there, by exactly 4 activations at most.
    let (instances, shards, live) = engine
        .run_on_blocking(0, |s| async move {
            let worker = s.actor::<Worker>(1u32);
            let jobs = (0..16).map(|_| worker.call(Job(Duration::from_millis(5))));
            let replies = futures::future::join_all(jobs).await;
            let replies: Vec<(u64, usize)> = replies.into_iter().map(Result::unwrap).collect();
            let instances: HashSet<u64> = replies.iter().map(|r| r.0).collect();
            let shards: HashSet<usize> = replies.iter().map(|r| r.1).collect();
            (instances, shards, s.activations_of::<Worker>(&1))
        })
        .unwrap();
    assert_eq!(
        instances.len(),
        4,
        "the pool grew to its bound and no further"
    );
    assert_eq!(
        shards,
        HashSet::from([0]),
        "a shard's calls are served on that shard"
    );
    assert!(live <= 4);
    let load = engine.extension::<Load>().unwrap();
    assert_eq!(
        load.max.load(Ordering::SeqCst),
        4,
        "4 jobs ran concurrently, never more"
    );

    // Idle workers scale down: all four deactivate.
    for _ in 0..4 {
        wait_for(&rx, |e| matches!(e, Event::Worker(0, _)));
    }
    let live = engine.run_on_blocking(0, |s| async move { s.activations_of::<Worker>(&1) });
    assert_eq!(live.unwrap(), 0);

    // From an outside thread, calls spread over the shards.
    let worker = engine.actor::<Worker>(1u32);
    let shards: HashSet<usize> = (0..8)
        .map(|_| worker.call_blocking(Job(Duration::ZERO)).unwrap().1)
        .collect();
    assert_eq!(shards, HashSet::from([0, 1]));
    engine.shutdown().unwrap();
}

#[test]
fn futures_are_send_and_engines_stay_apart() {
    let (probe_a, _rx) = Probe::new();
    let (probe_b, _rx) = Probe::new();
    // Engine A spins before parking (the default policy), B parks at once.
    let a = builder(probe_a)
        .spin_before_park(Some(Duration::from_millis(1)))
        .register::<Counter>()
        .start()
        .unwrap();
    let b = builder(probe_b)
        .pin_to_cores(false)
        .register::<Counter>()
        .start()
        .unwrap();
    let in_a = a.actor::<Counter>(1u64);

    // A call future made here is awaited on another thread.
    let call = in_a.call(Add(5));
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&call);
    let total = std::thread::scope(|s| s.spawn(|| futures_lite::future::block_on(call)).join());
    assert_eq!(total.unwrap().unwrap(), 5);

    // A reference to A used on a shard of B goes to A, not to B's actor of the same key.
    let from_b = b
        .run_on_blocking(0, move |_| async move { in_a.call(Add(1)).await.unwrap() })
        .unwrap();
    assert_eq!(from_b, 6);
    assert_eq!(b.actor::<Counter>(1u64).call_blocking(Add(0)).unwrap(), 0);
    a.shutdown().unwrap();
    b.shutdown().unwrap();
}

/// Holds its activation until the probe's gate opens.
struct Hold;
impl Message for Hold {
    type Reply = ();
}
impl Handler<Hold> for Counter {
    async fn handle(&mut self, _: Hold, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let probe = ctx.shard().extension::<Probe>().unwrap();
        probe.holding.store(true, Ordering::SeqCst);
        while !probe.gate_open.load(Ordering::SeqCst) {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }
}

#[test]
fn a_full_mailbox_makes_senders_wait_and_loses_nothing() {
    let (probe, _rx) = Probe::new();
    probe
        .gate_open
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let engine = builder(probe)
        .mailbox_capacity(4)
        .register::<Counter>()
        .start()
        .unwrap();
    let key = 21u64;
    let home = engine.home_shard::<Counter>(&key).unwrap();
    let blocked_at = engine
        .run_on_blocking(home, move |s| async move {
            let counter = s.actor::<Counter>(key);
            counter.tell(Hold).await.unwrap();
            // Let the activation start the Hold turn, which keeps it busy.
            let probe = s.extension::<Probe>().unwrap();
            while !probe.holding.load(Ordering::SeqCst) {
                futures_lite::future::yield_now().await;
            }
            let mut queued = 0;
            loop {
                let tell = counter.tell(Add(1));
                match futures_lite::future::poll_once(tell).await {
                    Some(sent) => {
                        sent.unwrap();
                        queued += 1;
                    }
                    None => break queued,
                }
                assert!(queued <= 4, "the mailbox grew past its bound");
            }
        })
        .unwrap();
    assert_eq!(blocked_at, 4, "the fifth tell waits");
    // A waiting sender completes once the gate opens; nothing was dropped.
    let waiter = {
        let handle = engine.handle();
        std::thread::spawn(move || handle.actor::<Counter>(key).call_blocking(Add(1)))
    };
    engine
        .extension::<Probe>()
        .unwrap()
        .gate_open
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let total = waiter.join().unwrap().unwrap();
    assert_eq!(total, 5);
    engine.shutdown().unwrap();
}

/// Fails on request, to check that a broken worker leaves its pool serving.
struct Crash;
impl Message for Crash {
    type Reply = (u64, usize);
}

impl Handler<Crash> for Worker {
    async fn handle(
        &mut self,
        _: Crash,
        _: &mut Context<Self>,
    ) -> Result<(u64, usize), ActorError> {
        Err(ActorError::msg("worker asked to fail"))
    }
}

#[test]
fn a_failing_stateless_worker_leaves_the_pool_serving() {
    let (probe, _rx) = Probe::new();
    let engine = builder(probe)
        .extension(Load::default())
        .register_stateless::<Worker>(2)
        .start()
        .unwrap();
    let outcome = engine
        .run_on_blocking(1, |s| async move {
            let pool = s.actor::<Worker>(9u32);
            let failed = pool.call(Crash).await.unwrap_err();
            let mut served = Vec::new();
            for _ in 0..10 {
                served.push(pool.call(Job(Duration::ZERO)).await.unwrap().1);
            }
            (failed, served, s.activations_of::<Worker>(&9))
        })
        .unwrap();
    let (failed, served, live) = outcome;
    assert!(matches!(failed, quark::Error::Handler { .. }), "{failed}");
    assert_eq!(
        served,
        vec![1; 10],
        "served on the calling shard after the failure"
    );
    assert!((1..=2).contains(&live), "{live} live workers");
    assert!(engine.stats()[1].failures >= 1);
    engine.shutdown().unwrap();
}
