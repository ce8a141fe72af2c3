//! Failures and shutdown: handler errors and panics are isolated, bad calls get typed
//! errors, timeouts fire, and shutdown drains in-flight messages and closes the logs.

// Test code: a failed unwrap is a failed test (clippy.toml only covers #[test] bodies).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Add, Break, Counter, Event, Probe, builder, wait_for};
use quark::{Actor, ActorError, Context, Error, Handler, Message};

#[test]
fn a_panicking_handler_fails_its_call_and_nothing_else() {
    let (probe, rx) = Probe::new();
    let engine = builder(probe).register::<Counter>().start().unwrap();
    let victim = engine.actor::<Counter>(1u64);
    let home = victim.home_shard().unwrap();
    let neighbour = (2u64..)
        .find(|k| engine.home_shard::<Counter>(k) == Some(home))
        .unwrap();
    let neighbour = engine.actor::<Counter>(neighbour);
    assert_eq!(victim.call_blocking(Add(5)).unwrap(), 5);
    assert_eq!(neighbour.call_blocking(Add(1)).unwrap(), 1);

    let error = victim.call_blocking(Break::Panic).unwrap_err();
    assert!(
        matches!(&error, Error::Panicked { reason, .. } if reason == "asked to panic"),
        "{error}"
    );
    // The shard and its other actor kept running, with their state.
    assert_eq!(neighbour.call_blocking(Add(1)).unwrap(), 2);
    // The panicked activation was dropped (no on_deactivate); the next message reactivates.
    assert_eq!(victim.call_blocking(Add(1)).unwrap(), 1);
    let events: Vec<Event> = rx.try_iter().collect();
    assert!(!events.contains(&Event::Deactivated(1)), "{events:?}");
    assert_eq!(
        events.iter().filter(|e| **e == Event::Activated(1)).count(),
        2
    );
    assert!(engine.stats()[home].failures >= 1);
    engine.shutdown().unwrap();
}

#[test]
fn a_failing_handler_deactivates_its_activation() {
    let (probe, rx) = Probe::new();
    let engine = builder(probe).register::<Counter>().start().unwrap();
    let counter = engine.actor::<Counter>(9u64);
    assert_eq!(counter.call_blocking(Add(3)).unwrap(), 3);
    let error = counter.call_blocking(Break::Fail).unwrap_err();
    assert!(matches!(&error, Error::Handler { reason, .. } if reason == "asked to fail"));
    assert!(!error.is_retryable());
    wait_for(&rx, |e| *e == Event::Deactivated(9));
    assert_eq!(
        counter.call_blocking(Add(1)).unwrap(),
        1,
        "fresh state after the failure"
    );
    engine.shutdown().unwrap();
}

#[test]
fn bad_calls_get_typed_errors() {
    let (probe, _rx) = Probe::new();
    let engine = builder(probe).register::<Counter>().start().unwrap();

    // A failing on_activate: the call fails, retryable; the engine carries on.
    let refuses = engine.actor::<Counter>(u64::MAX);
    let error = refuses.call_blocking(Add(1)).unwrap_err();
    assert!(matches!(error, Error::Activation { .. }), "{error}");
    assert!(error.is_retryable());

    // An unregistered type.
    let stranger = engine.actor::<Unregistered>(1u8);
    let error = stranger.call_blocking(Ping).unwrap_err();
    assert!(matches!(error, Error::Unregistered { .. }), "{error}");

    // A bad shard index, and a blocking call from a shard thread.
    let error = engine.run_on_blocking(7, |_| async {}).unwrap_err();
    assert_eq!(
        error,
        Error::NoSuchShard {
            shard: 7,
            shards: 2
        }
    );
    let nested = engine
        .run_on_blocking(0, |s| async move {
            s.actor::<Counter>(1u64).call_blocking(Add(1))
        })
        .unwrap();
    assert_eq!(nested.unwrap_err(), Error::BlockingOnShard);

    // After shutdown, every path refuses with ShutDown.
    let handle = engine.handle();
    engine.shutdown().unwrap();
    let counter = handle.actor::<Counter>(1u64);
    assert_eq!(counter.call_blocking(Add(1)).unwrap_err(), Error::ShutDown);
    assert_eq!(counter.tell_blocking(Add(1)).unwrap_err(), Error::ShutDown);
    assert_eq!(
        handle.run_on_blocking(0, |_| async {}).unwrap_err(),
        Error::ShutDown
    );
}

struct Unregistered;
struct Ping;
impl Message for Ping {
    type Reply = ();
}
impl Actor for Unregistered {
    type Key = u8;
    async fn on_activate(_: &mut Context<Self>) -> Result<Self, ActorError> {
        Ok(Unregistered)
    }
}
impl Handler<Ping> for Unregistered {
    async fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ActorError> {
        Ok(())
    }
}

/// Blocks its activation until the test opens the gate.
struct Gate;
impl Message for Gate {
    type Reply = ();
}
impl Handler<Gate> for Counter {
    async fn handle(&mut self, _: Gate, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let probe = ctx.shard().extension::<Probe>().unwrap();
        while !probe.gate_open.load(Ordering::SeqCst) {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }
}

#[test]
fn calls_time_out_from_threads_and_shards() {
    let (probe, _rx) = Probe::new();
    probe.gate_open.store(false, Ordering::SeqCst);
    let engine = builder(probe).register::<Counter>().start().unwrap();
    let stuck = engine.actor::<Counter>(4u64);
    stuck.tell_blocking(Gate).unwrap();
    let after = Duration::from_millis(20);
    let error = stuck.call_timeout_blocking(Add(1), after).unwrap_err();
    assert_eq!(error, Error::Timeout { after });
    assert!(error.is_retryable());
    for shard in 0..2 {
        let outcome = engine
            .run_on_blocking(shard, move |s| async move {
                s.actor::<Counter>(4u64).call_timeout(Add(1), after).await
            })
            .unwrap();
        assert_eq!(
            outcome.unwrap_err(),
            Error::Timeout { after },
            "from shard {shard}"
        );
    }
    engine
        .extension::<Probe>()
        .unwrap()
        .gate_open
        .store(true, Ordering::SeqCst);
    // The timed-out messages were still queued: they run once the gate opens.
    assert_eq!(stuck.call_blocking(Add(0)).unwrap(), 3);
    engine.shutdown().unwrap();
}

#[test]
fn shutdown_drains_messages_in_flight() {
    let (probe, rx) = Probe::new();
    let engine = builder(probe)
        .mailbox_capacity(64)
        .register::<Counter>()
        .start()
        .unwrap();
    // Outside threads queue tells; actors forward across shards while we shut down.
    for key in 0..8u64 {
        let counter = engine.actor::<Counter>(key);
        for _ in 0..250 {
            counter.tell_blocking(Add(1)).unwrap();
        }
    }
    let forwarding = engine.actor::<Counter>(100u64);
    for n in 0..50 {
        forwarding
            .tell_blocking(common::Forward { to: n % 8, add: 1 })
            .unwrap();
    }
    let handle = engine.handle();
    engine.shutdown().unwrap();
    let probe = handle.extension::<Probe>().unwrap();
    assert_eq!(
        probe.handled.load(Ordering::SeqCst),
        8 * 250 + 50,
        "every message handled"
    );
    let events: Vec<Event> = rx.try_iter().collect();
    let activated = events
        .iter()
        .filter(|e| matches!(e, Event::Activated(_)))
        .count();
    let deactivated = events
        .iter()
        .filter(|e| matches!(e, Event::Deactivated(_)))
        .count();
    assert_eq!(activated, 9);
    assert_eq!(deactivated, activated, "every activation ran on_deactivate");
    assert!(
        handle
            .stats()
            .iter()
            .all(|s| s.active == 0 && s.in_flight == 0)
    );
}

#[test]
fn each_shard_opens_its_log_and_closes_it_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let config = quark_log::Config {
        segment_bytes: 1 << 20,
        record_bytes_max: 64 << 10,
        batch_bytes_max: 256 << 10,
        ..quark_log::Config::default()
    };
    let start = || {
        let (probe, _rx) = Probe::new();
        builder(probe)
            .data_dir(dir.path())
            .log_config(config.clone())
            .start()
            .unwrap()
    };
    let engine = start();
    let mut positions = Vec::new();
    for shard in 0..2 {
        let position = engine
            .run_on_blocking(shard, move |s| async move {
                let log = s.log().expect("a log with a data dir");
                log.append_bytes(7, format!("shard {shard}").as_bytes())
                    .await
                    .unwrap()
            })
            .unwrap();
        positions.push(position);
    }
    engine.shutdown().unwrap();
    assert!(dir.path().join("shard-0").is_dir() && dir.path().join("shard-1").is_dir());

    // Reopened, each shard finds its own record (closing released the directory lock).
    let engine = start();
    for (shard, position) in positions.into_iter().enumerate() {
        let payload = engine
            .run_on_blocking(shard, move |s| async move {
                let record = s.log().unwrap().read(position).unwrap();
                record.entries().next().unwrap().payload.to_vec()
            })
            .unwrap();
        assert_eq!(payload, format!("shard {shard}").into_bytes());
    }
    engine.shutdown().unwrap();
}

#[test]
fn shutdown_gives_up_at_its_timeout_and_fails_what_is_left() {
    let (probe, _rx) = Probe::new();
    probe.gate_open.store(false, Ordering::SeqCst);
    let engine = builder(probe)
        .shutdown_timeout(Duration::from_millis(50))
        .register::<Counter>()
        .start()
        .unwrap();
    let stuck = engine.actor::<Counter>(8u64);
    stuck.tell_blocking(Gate).unwrap(); // never finishes: the gate stays shut
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let handle = engine.handle();
            std::thread::spawn(move || handle.actor::<Counter>(8u64).call_blocking(Add(1)))
        })
        .collect();
    // Wait until the three calls are queued behind the stuck turn.
    let home = stuck.home_shard().unwrap();
    while engine.stats()[home].in_flight < 4 {
        std::thread::yield_now();
    }
    engine.shutdown().unwrap();
    // The stuck turn is abandoned; the calls queued behind it are failed, not left hanging.
    for caller in waiting {
        let error = caller.join().unwrap().unwrap_err();
        assert!(
            matches!(error, Error::ActorGone { .. } | Error::ShutDown),
            "{error}"
        );
    }
}

#[test]
fn a_shard_that_cannot_open_its_log_fails_the_start_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let config = quark_log::Config {
        segment_bytes: 1 << 20,
        record_bytes_max: 64 << 10,
        batch_bytes_max: 256 << 10,
        ..quark_log::Config::default()
    };
    let start = || {
        let (probe, _rx) = Probe::new();
        builder(probe)
            .data_dir(dir.path())
            .log_config(config.clone())
            .register::<Counter>()
            .start()
    };
    let first = start().unwrap();
    // The logs are locked by the running engine: a second one on the same directory fails.
    let error = start().err().unwrap();
    // The log's own error is kept, typed: a locked directory can be told apart.
    assert!(
        matches!(&error, Error::Log { source, .. } if source.is_locked()),
        "{error:?}"
    );
    assert!(error.to_string().contains("locked"), "{error}");
    // The first engine is untouched.
    assert_eq!(
        first.actor::<Counter>(1u64).call_blocking(Add(2)).unwrap(),
        2
    );
    first.shutdown().unwrap();
    // Once it closed its logs, the directory opens again.
    start().unwrap().shutdown().unwrap();
}

/// Damage in front of acknowledged records fails the start with the log's typed corruption:
/// the file, the offset and the position survive the trip through the shard and the engine
/// (they used to be rendered into `Error::Start { reason }`).
#[test]
fn a_corrupt_log_fails_the_start_with_file_offset_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let config = quark_log::Config {
        segment_bytes: 1 << 20,
        record_bytes_max: 64 << 10,
        batch_bytes_max: 256 << 10,
        ..quark_log::Config::default()
    };
    let start = || {
        quark::Builder::new()
            .shards(1)
            .spin_before_park(None)
            .data_dir(dir.path())
            .log_config(config.clone())
            .start()
    };
    let engine = start().unwrap();
    let journal = engine.journal();
    // More than one group commit can hold (batch_bytes_max) follows the damaged frame.
    for i in 0..40u8 {
        let e = quark::journal::EventData {
            event_type: "E".into(),
            data: vec![i; 12 << 10],
        };
        let append = journal.append("s", quark::journal::ExpectedVersion::Any, vec![e]);
        futures_lite::future::block_on(append).unwrap();
    }
    engine.shutdown().unwrap();
    // Flip a byte of the first frame: the later commits prove it is not a torn tail.
    let segment = dir.path().join("shard-0").join(format!("{:020}.seg", 0));
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[4096 + 8] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();
    let error = start().err().unwrap();
    let Error::Log {
        shard: 0, source, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    let corruption = source.corruption().expect("a corruption");
    assert_eq!(corruption.path, segment);
    assert_eq!(corruption.position, 0, "{corruption}");
    assert!(corruption.offset >= 4096, "{corruption}");
}
