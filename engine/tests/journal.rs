//! Journaling through the engine: event-sourced actors persisting and recovering across
//! engine restarts, snapshots (and the fallback when one no longer decodes), expected-version
//! conflicts, tombstones, past states, and an actor whose history is on another shard
//! (adopted by its new home).
//!
//! How: every test uses a real engine with 2 shards and a data directory in a temporary
//! directory; a "restart" shuts the engine down and starts a new one on the same directory,
//! so all state comes back from the logs. The actors are in `journal_support`.

mod journal_support;

use std::sync::atomic::Ordering;

use journal_support::*;
use quark::Builder;
use quark::journal::{Direction, Error as JournalError, EventData, ExpectedVersion};

#[test]
fn persisted_events_survive_an_engine_restart() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    for (name, n) in [("alice", 10i64), ("bob", 20), ("carol", 30)] {
        let a = e.actor::<Account>(name);
        for i in 1..=n {
            let (v, b) = a.call_blocking(mv(Moved::In(i))).unwrap().unwrap();
            assert_eq!(v, i as u64);
            assert_eq!(b.cents, i * (i + 1) / 2);
        }
        let (_, b) = a.call_blocking(mv(Moved::Out(5))).unwrap().unwrap();
        assert_eq!(b.cents, n * (n + 1) / 2 - 5);
    }
    e.shutdown().unwrap();
    let e = engine(dir.path(), 64 << 20);
    for (name, n) in [("alice", 10i64), ("bob", 20), ("carol", 30)] {
        let a = e.actor::<Account>(name);
        let (v, b) = a.call_blocking(mv(Moved::In(0))).unwrap().unwrap();
        assert_eq!(v, n as u64 + 2, "{name} recovered its version");
        assert_eq!(b.cents, n * (n + 1) / 2 - 5, "{name} recovered its balance");
        assert_eq!(b.moves, n as u64 + 2);
    }
    let j = e.journal();
    let events = run(j.read_stream("account-bob", 1, Direction::Forward, 1000)).unwrap();
    assert_eq!(events.len(), 22);
    assert_eq!(events[20].deserialize::<Moved>().unwrap(), Moved::Out(5));
    assert_eq!(events[20].event_type, "Out");
    let back = run(j.read_stream("account-bob", u64::MAX, Direction::Backward, 2)).unwrap();
    assert_eq!(
        back.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![22, 21]
    );
    let info = run(j.stream_info("account-carol")).unwrap().unwrap();
    assert_eq!((info.version, info.deleted), (32, false));
    let names: Vec<String> = run(j.streams("account-"))
        .unwrap()
        .into_iter()
        .map(|s| s.stream)
        .collect();
    assert_eq!(names, vec!["account-alice", "account-bob", "account-carol"]);
    e.shutdown().unwrap();
}

#[test]
fn snapshot_plus_tail_equals_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let t = e.actor::<Tally>(7u64);
    let mut total = 0;
    for i in 1..=23u64 {
        total += i * i;
        assert_eq!(t.call_blocking(Add(i * i)).unwrap(), (i, total));
    }
    let j = e.journal();
    let info = run(j.stream_info("tally-7")).unwrap().unwrap();
    assert_eq!(info.snapshot_version, Some(20), "a snapshot every 5 events");
    e.shutdown().unwrap();

    let e = engine(dir.path(), 64 << 20);
    let before = TALLY_APPLIED.load(Ordering::SeqCst);
    let t = e.actor::<Tally>(7u64);
    assert_eq!(t.call_blocking(Total).unwrap(), (23, total));
    let replayed = TALLY_APPLIED.load(Ordering::SeqCst) - before;
    assert_eq!(
        replayed, 3,
        "recovery applied only the events after the snapshot"
    );
    // The full replay, folded outside the engine, gives the same state.
    let j = e.journal();
    let events = run(j.read_stream("tally-7", 1, Direction::Forward, 100));
    let full: u64 = events
        .unwrap()
        .iter()
        .map(|e| e.deserialize::<Added>().unwrap().0)
        .sum();
    assert_eq!(full, total);
    // A past state: from no snapshot (version 4) and from the snapshot (version 23).
    let at4 = run(j.state_at::<Tally>(7, 4)).unwrap();
    assert_eq!(at4.total, 1 + 4 + 9 + 16);
    let at23 = run(j.state_at::<Tally>(7, 23)).unwrap();
    assert_eq!(at23.total, total);
    // A state type that changed shape ignores the old snapshot and replays everything.
    let v2 = e.actor::<TallyV2>(7u64);
    assert_eq!(v2.call_blocking(Total).unwrap(), (23, 23));
    e.shutdown().unwrap();
}

#[test]
fn an_undecodable_snapshot_falls_back_to_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let t = e.actor::<Tally>(9u64);
    for i in 1..=3u64 {
        t.call_blocking(Add(i)).unwrap();
    }
    // A newer snapshot with the right schema but bytes that are not a `Sum` archive.
    let home = e.home_shard::<Tally>(&9).unwrap();
    e.run_on_blocking(home, |s| async move {
        let j = s.journal().unwrap().clone();
        let garbage = [0xffu8; 3];
        let schema = quark::journal::snapshot_schema::<Tally>();
        j.save_snapshot("tally-9", 3, schema, &garbage)
            .await
            .unwrap();
    })
    .unwrap();
    e.shutdown().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let t = e.actor::<Tally>(9u64);
    assert_eq!(
        t.call_blocking(Total).unwrap(),
        (3, 6),
        "the state comes from the events"
    );
    assert_eq!(t.call_blocking(Add(4)).unwrap(), (4, 10));
    e.shutdown().unwrap();
}

#[test]
fn conflicts_are_typed_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let a = e.actor::<Account>("dave");
    a.call_blocking(mv(Moved::In(100))).unwrap().unwrap();
    let stale = Move {
        event: Moved::Out(50),
        expected: Some(0),
    };
    let err = a.call_blocking(stale).unwrap().unwrap_err();
    assert_eq!(
        err,
        JournalError::Conflict {
            stream: "account-dave".into(),
            expected: ExpectedVersion::Exact(0),
            actual: 1
        }
    );
    assert!(!err.is_retryable());
    let fresh = Move {
        event: Moved::Out(50),
        expected: Some(1),
    };
    assert_eq!(a.call_blocking(fresh).unwrap().unwrap().1.cents, 50);
    let j = e.journal();
    assert_eq!(
        run(j.stream_info("account-dave")).unwrap().unwrap().version,
        2
    );
    let data = |t: &str| {
        vec![EventData {
            event_type: t.into(),
            data: b"x".to_vec(),
        }]
    };
    run(j.append("order-1", ExpectedVersion::NoStream, data("Opened"))).unwrap();
    let again = run(j.append("order-1", ExpectedVersion::NoStream, data("Opened")));
    assert!(matches!(
        again,
        Err(JournalError::Conflict { actual: 1, .. })
    ));
    assert_eq!(run(j.stream_info("order-1")).unwrap().unwrap().version, 1);
    e.shutdown().unwrap();
}

#[test]
fn a_deleted_stream_stays_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let a = e.actor::<Account>("erin");
    a.call_blocking(mv(Moved::In(1))).unwrap().unwrap();
    let j = e.journal();
    let err = run(j.delete_stream("account-erin", ExpectedVersion::Exact(0)));
    assert!(matches!(err, Err(JournalError::Conflict { .. })));
    assert_eq!(
        run(j.delete_stream("account-erin", ExpectedVersion::Exact(1))).unwrap(),
        1
    );
    let read = run(j.read_stream("account-erin", 1, Direction::Forward, 10));
    assert!(matches!(
        read,
        Err(JournalError::StreamDeleted { version: 1, .. })
    ));
    // The live activation's next persist is refused.
    let refused = a.call_blocking(mv(Moved::In(1))).unwrap();
    assert!(matches!(refused, Err(JournalError::StreamDeleted { .. })));
    e.shutdown().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let a = e.actor::<Account>("erin");
    let activation = a.call_blocking(mv(Moved::In(1)));
    assert!(
        matches!(activation, Err(quark::Error::Activation { .. })),
        "{activation:?}"
    );
    let info = run(e.journal().stream_info("account-erin"))
        .unwrap()
        .unwrap();
    assert!(info.deleted);
    e.shutdown().unwrap();
}

#[test]
fn an_actor_whose_history_is_on_another_shard_adopts_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let keys: Vec<String> = (0..16).map(|i| format!("m{i}")).collect();
    for k in &keys {
        e.actor::<Account>(k.as_str())
            .call_blocking(mv(Moved::In(1)))
            .unwrap()
            .unwrap();
    }
    let by_key: Vec<usize> = keys
        .iter()
        .map(|k| e.home_shard::<Account>(k).unwrap())
        .collect();
    e.shutdown().unwrap();
    // The same data under the default placement: some homes move to the other shard.
    let e = Builder::new()
        .shards(2)
        .spin_before_park(None)
        .data_dir(dir.path())
        .register::<Account>()
        .start()
        .unwrap();
    let (mut moved, mut stayed) = (0, 0);
    for (k, old) in keys.iter().zip(by_key) {
        let reply = e
            .actor::<Account>(k.as_str())
            .call_blocking(mv(Moved::In(1)));
        let (version, balance) = reply.unwrap().unwrap();
        assert_eq!((version, balance.cents), (2, 2), "{k} kept its history");
        if e.home_shard::<Account>(k) == Some(old) {
            stayed += 1;
        } else {
            moved += 1;
            // The old part is sealed: a direct write there is refused, not forked.
            let stream = format!("account-{k}");
            let direct = e.run_on_blocking(old, move |shard| async move {
                let journal = shard.journal().cloned().expect("journal");
                let e = quark::journal::NewEvent {
                    event_type: "In",
                    data: b"",
                };
                journal.append(&stream, ExpectedVersion::Any, &[e]).await
            });
            let direct = direct.unwrap();
            assert!(
                matches!(direct, Err(JournalError::Moved { .. })),
                "{direct:?}"
            );
        }
        let stream = format!("account-{k}");
        let events = run(e.journal().read_stream(&stream, 1, Direction::Forward, 10)).unwrap();
        assert_eq!(events.iter().map(|e| e.version).collect::<Vec<_>>(), [1, 2]);
    }
    assert!(moved > 0 && stayed > 0, "moved {moved}, stayed {stayed}");
    e.shutdown().unwrap();
}
