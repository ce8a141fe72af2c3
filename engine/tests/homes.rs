//! Data that outlives its host: one data directory started with 2, 3 and 4 shards in turn.
//!
//! The bug: a stream's writer was `hash mod shards`, and each shard checked expected versions
//! against its own log only. After a restart with another shard count, an append with
//! `ExpectedVersion::NoStream` to `order-N` succeeded a second time on the new home, and the
//! stream read back two events at version 1 (a fork); an event-sourced actor whose home moved
//! refused to activate (`Misplaced`), and a smaller shard count hid the higher shards' logs.
//! The fix: the data directory records its layout; a writer that meets a stream new to its
//! shard adopts it (the old part is sealed, the new writer continues at its version), reads
//! stitch the parts, and a start with fewer shards than logs is refused.
//!
//! How: real engines on one temporary directory, restarted with another shard count; every
//! read and every expected-version check is compared with what was acknowledged before.

mod journal_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use journal_support::{Account, Add, Moved, Tally, Total, mv, run};
use quark::journal::{Direction, Error as JournalError, Event, EventData, ExpectedVersion};
use quark::journal::{Filter, Projection};
use quark::{Builder, Engine};

fn engine(dir: &std::path::Path, shards: usize) -> Result<Engine, quark::Error> {
    let log = quark_log::Config {
        segment_bytes: 1 << 20,
        record_bytes_max: 16 << 10,
        ..quark_log::Config::default()
    };
    let engine = Builder::new()
        .shards(shards)
        .spin_before_park(None)
        .data_dir(dir)
        .log_config(log)
        .register::<Account>()
        .register::<Tally>()
        .start()?;
    run(engine.journal().start_projection::<PerStream>()).expect("projection starts");
    Ok(engine)
}

/// Events per stream, over every shard's global stream.
struct PerStream;

impl Projection for PerStream {
    type State = BTreeMap<String, u64>;
    const NAME: &'static str = "per-stream";
    fn filter() -> Filter {
        Filter::all()
    }
    fn apply(state: &mut Self::State, event: &Event) -> Result<(), JournalError> {
        *state.entry(event.stream().to_owned()).or_default() += 1;
        Ok(())
    }
    fn commit_every() -> u64 {
        5
    }
}

/// The projection's counts merged over shards, once they equal `want` (bounded wait).
fn projected(e: &Engine, want: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let states = run(e.journal().projection_state::<PerStream>()).expect("state");
        let mut merged = BTreeMap::new();
        for (stream, n) in states.into_iter().flatten().flatten() {
            *merged.entry(stream).or_default() += n;
        }
        if &merged == want || Instant::now() > deadline {
            return merged;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn data(tag: &str) -> Vec<EventData> {
    vec![EventData {
        event_type: "Noted".into(),
        data: tag.as_bytes().to_vec(),
    }]
}

/// A stream name whose home (`xxh64-v1` of the name) differs between 2 and 3 shards.
fn moving_stream() -> String {
    (0..)
        .map(|i| format!("order-{i}"))
        .find(|n| quark::xxh64(n.as_bytes(), 0) % 2 != quark::xxh64(n.as_bytes(), 0) % 3)
        .expect("some name moves")
}

fn versions_of(e: &Engine, stream: &str) -> Vec<u64> {
    let events = run(e.journal().read_stream(stream, 1, Direction::Forward, 1000)).expect("read");
    events.iter().map(|e| e.version).collect()
}

#[test]
fn a_new_shard_count_does_not_fork_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    let stream = moving_stream();
    let e = engine(dir.path(), 2).unwrap();
    let first = run(e
        .journal()
        .append(&stream, ExpectedVersion::NoStream, data("a")));
    assert_eq!(first.unwrap().last_version, 1);
    let old_home = e.journal().stream_shard(&stream);
    e.shutdown().unwrap();

    let e = engine(dir.path(), 3).unwrap();
    assert_ne!(
        e.journal().stream_shard(&stream),
        old_home,
        "the home moved"
    );
    let again = run(e
        .journal()
        .append(&stream, ExpectedVersion::NoStream, data("b")));
    assert!(
        matches!(again, Err(JournalError::Conflict { actual: 1, .. })),
        "{again:?}"
    );
    assert_eq!(versions_of(&e, &stream), [1], "one event, no fork");
    let next = run(e
        .journal()
        .append(&stream, ExpectedVersion::Exact(1), data("c")));
    assert_eq!(next.unwrap().last_version, 2);
    e.shutdown().unwrap();

    let e = engine(dir.path(), 4).unwrap();
    let stale = run(e
        .journal()
        .append(&stream, ExpectedVersion::Exact(1), data("d")));
    assert!(matches!(
        stale,
        Err(JournalError::Conflict { actual: 2, .. })
    ));
    let next = run(e
        .journal()
        .append(&stream, ExpectedVersion::Exact(2), data("e")));
    assert_eq!(next.unwrap().last_version, 3);
    let events = run(e.journal().read_stream(&stream, 1, Direction::Forward, 10)).unwrap();
    let tags: Vec<&[u8]> = events.iter().map(|e| e.data.as_slice()).collect();
    assert_eq!(tags, [b"a", b"c", b"e"]);
    let back = run(e
        .journal()
        .read_stream(&stream, u64::MAX, Direction::Backward, 2));
    let back: Vec<u64> = back.unwrap().iter().map(|e| e.version).collect();
    assert_eq!(back, [3, 2]);
    let info = run(e.journal().stream_info(&stream)).unwrap().unwrap();
    assert_eq!(info.version, 3);
    e.shutdown().unwrap();

    // Fewer shards than logs would hide history: refused, and nothing changes.
    let shrunk = engine(dir.path(), 2);
    let Err(quark::Error::Layout(layout)) = &shrunk else {
        panic!("{:?}", shrunk.as_ref().err());
    };
    assert!(matches!(
        **layout,
        quark::LayoutError::Shrunk { logs: 4, shards: 2 }
    ));
    let e = engine(dir.path(), 4).unwrap();
    assert_eq!(versions_of(&e, &stream), [1, 2, 3]);
    e.shutdown().unwrap();
}

#[test]
fn actors_snapshots_appends_and_projections_survive_growing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let accounts: Vec<String> = (0..12).map(|i| format!("acct{i}")).collect();
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    let mut balances: BTreeMap<String, i64> = BTreeMap::new();
    let mut tallies = [0u64; 6];
    for (round, shards) in [2usize, 3, 4].into_iter().enumerate() {
        let e = engine(dir.path(), shards).unwrap();
        // What was acknowledged before is all there, counted once by the projection.
        assert_eq!(
            projected(&e, &want),
            want,
            "{shards} shards, before writing"
        );
        for (i, key) in accounts.iter().enumerate() {
            let amount = (round * 100 + i) as i64;
            let reply = e
                .actor::<Account>(key.as_str())
                .call_blocking(mv(Moved::In(amount)));
            let (version, balance) = reply.unwrap().unwrap();
            let stream = format!("account-{key}");
            let count = want.entry(stream.clone()).or_default();
            *count += 1;
            assert_eq!(
                version, *count,
                "{key} continues its version on {shards} shards"
            );
            *balances.entry(key.clone()).or_default() += amount;
            assert_eq!(balance.cents, balances[key]);
            assert_eq!(versions_of(&e, &stream), (1..=*count).collect::<Vec<_>>());
        }
        for (key, total) in tallies.iter_mut().enumerate() {
            let tally = e.actor::<Tally>(key as u64);
            let (version, sum) = tally.call_blocking(Total).unwrap();
            assert_eq!(sum, *total, "tally {key} recovered (snapshot + events)");
            let stream = format!("tally-{key}");
            assert_eq!(version, want.get(&stream).copied().unwrap_or(0));
            for n in 0..7u64 {
                let (v, sum) = tally.call_blocking(Add(n)).unwrap();
                *total += n;
                assert_eq!((v, sum), (version + n + 1, *total));
            }
            *want.entry(stream).or_default() += 7;
        }
        for s in 0..8 {
            let stream = format!("ext-{s}");
            let version = want.get(&stream).copied().unwrap_or(0);
            let expected = if version == 0 {
                ExpectedVersion::NoStream
            } else {
                ExpectedVersion::Exact(version)
            };
            let wrong = ExpectedVersion::Exact(version + 1);
            let refused = run(e.journal().append(&stream, wrong, data("x")));
            assert!(
                matches!(refused, Err(JournalError::Conflict { .. })),
                "{refused:?}"
            );
            let done = run(e.journal().append(&stream, expected, data("y"))).unwrap();
            assert_eq!(done.last_version, version + 1);
            want.insert(stream, version + 1);
        }
        assert_eq!(projected(&e, &want), want, "{shards} shards, after writing");
        e.shutdown().unwrap();
    }
    // Every activation recovers its whole state after the last restart too.
    let e = engine(dir.path(), 4).unwrap();
    for key in &accounts {
        let (_, balance) = e
            .actor::<Account>(key.as_str())
            .call_blocking(mv(Moved::In(0)))
            .unwrap()
            .unwrap();
        assert_eq!(balance.cents, balances[key], "{key}");
    }
    e.shutdown().unwrap();
}
