//! Reading the journal through the engine: the global stream of all shards with filters,
//! time travel, projections (subscriptions) resuming exactly after a restart, and a stream
//! spread over several log segments.
//!
//! How: as `journal.rs` (real engines, 2 shards, restarts on the same directory); the actors
//! are in `journal_support`.

mod journal_support;

use std::time::Duration;

use journal_support::*;
use quark::Engine;
use quark::journal::{Direction, Filter, Position};

#[test]
fn global_reads_and_time_travel_from_outside() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let keys: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
    for k in &keys {
        for c in 1..=3 {
            e.actor::<Account>(k.as_str())
                .call_blocking(mv(Moved::In(c)))
                .unwrap()
                .unwrap();
        }
    }
    let j = e.journal();
    let mid = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    std::thread::sleep(Duration::from_millis(2));
    e.actor::<Account>("k0")
        .call_blocking(mv(Moved::Out(6)))
        .unwrap()
        .unwrap();
    let all = run(j.read_all(&[], 1000, Filter::all().stream_prefix("account-k"))).unwrap();
    assert_eq!(all.events.len(), 25);
    assert!(all.events.iter().any(|e| e.shard == 0) && all.events.iter().any(|e| e.shard == 1));
    let outs = run(j.read_all(&[], 1000, Filter::all().event_type("Out"))).unwrap();
    assert_eq!(outs.events.len(), 1);
    let more = run(j.read_all(&all.next, 1000, Filter::all())).unwrap();
    assert!(
        more.events.is_empty(),
        "the next positions are past everything read"
    );
    let then = run(j.read_stream_as_of("account-k0", mid)).unwrap();
    assert_eq!(then.len(), 3, "the withdrawal came after the point in time");
    let now = run(j.read_stream_as_of("account-k0", u64::MAX)).unwrap();
    assert_eq!(now.len(), 4);
    e.shutdown().unwrap();
}

/// Consumes up to `take` events of projection "audit" on `shard`, committing after
/// `commit_after` of them; returns the stream/version pairs delivered.
fn project(e: &Engine, shard: usize, take: usize, commit_after: usize) -> Vec<(String, u64)> {
    e.run_on_blocking(shard, move |s| async move {
        let journal = s.journal().expect("a journal").clone();
        let mut sub = journal
            .subscribe("audit", Filter::all().stream_prefix("account-"))
            .expect("subscribe");
        let mut seen = Vec::new();
        while seen.len() < take && !sub.caught_up().expect("caught_up") {
            let event = sub.next().await.expect("an event").expect("readable");
            seen.push((event.stream().to_owned(), event.version()));
            if seen.len() == commit_after {
                sub.commit().await.expect("commit");
            }
        }
        seen
    })
    .expect("run_on")
}

#[test]
fn projections_resume_exactly_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    for i in 0..24 {
        let a = e.actor::<Account>(format!("p{i}"));
        for c in 0..4 {
            a.call_blocking(mv(Moved::In(c))).unwrap().unwrap();
        }
    }
    // On each shard: deliver 10, commit after 6; the 4 uncommitted come again.
    let first: Vec<Vec<(String, u64)>> = (0..2).map(|s| project(&e, s, 10, 6)).collect();
    e.shutdown().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let j = e.journal();
    let cps = run(j.checkpoints("audit")).unwrap();
    assert!(cps.iter().all(|c| c.is_some_and(|p| p > Position::START)));
    let mut total = 0;
    for (shard, before) in first.iter().enumerate() {
        let after = project(&e, shard, usize::MAX, usize::MAX);
        assert_eq!(
            &after[..4],
            &before[6..10],
            "resumes right after the committed event"
        );
        let mut all: Vec<_> = before[..6].iter().chain(&after).cloned().collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "no committed event is delivered twice");
        total += n;
    }
    assert_eq!(total, 96, "every event delivered once over both shards");
    e.shutdown().unwrap();
}

#[test]
fn a_stream_spanning_several_segments_reads_whole() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 10);
    let t = e.actor::<Account>("long");
    let note = |i: i64| Moved::Note(format!("{i:>600}"));
    for i in 1..=400 {
        let event = if i % 2 == 0 { note(i) } else { Moved::In(i) };
        t.call_blocking(mv(event)).unwrap().unwrap();
    }
    let home = e.home_shard::<Account>(&"long".to_string()).unwrap();
    let segments = e
        .run_on_blocking(home, |s| async move { s.log().unwrap().stats().segments })
        .unwrap();
    assert!(segments >= 3, "{segments} segments");
    e.shutdown().unwrap();
    let e = engine(dir.path(), 64 << 10);
    let j = e.journal();
    let events = run(j.read_stream("account-long", 1, Direction::Forward, 1000));
    let events = events.unwrap();
    assert_eq!(events.len(), 400);
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(ev.version, i as u64 + 1);
        let i = i as i64 + 1;
        let want = if i % 2 == 0 { note(i) } else { Moved::In(i) };
        assert_eq!(ev.deserialize::<Moved>().unwrap(), want);
    }
    let (_, b) = e
        .actor::<Account>("long")
        .call_blocking(mv(Moved::In(0)))
        .unwrap()
        .unwrap();
    assert_eq!(b.cents, 200 * 200, "the sum of the odd numbers up to 399");
    assert_eq!(b.moves, 401);
    e.shutdown().unwrap();
}
