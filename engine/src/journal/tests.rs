//! Unit tests of one shard's journal on a real log in a temporary directory: appends and
//! stream reads, expected versions, tombstones, snapshots, checkpoints, the global stream,
//! subscriptions, time travel, and the index rebuilt at reopen.
//!
//! How: each test runs on its own glommio executor with a fresh log; "restart" closes the
//! log and opens the same directory again, so the index is rebuilt from disk.

use std::future::Future;
use std::path::Path;

use quark_log::{Config, Log};

use super::*;
use codec::{KIND_EVENT, KIND_EVENTS};

fn config() -> Config {
    Config {
        segment_bytes: 64 << 10,
        record_bytes_max: 16 << 10,
        batch_bytes_max: 32 << 10,
        ..Config::default()
    }
}

async fn open(dir: &Path) -> Journal {
    let log = Log::open(dir, config()).await.unwrap();
    Journal::open(log, 0).unwrap()
}

fn run<F: Future<Output = ()> + 'static>(f: impl FnOnce(tempfile::TempDir) -> F + Send + 'static) {
    let dir = tempfile::tempdir().unwrap();
    glommio::LocalExecutorBuilder::default()
        .spawn(move || f(dir))
        .unwrap()
        .join()
        .unwrap();
}

fn ev<'a>(ty: &'a str, data: &'a [u8]) -> NewEvent<'a> {
    NewEvent {
        event_type: ty,
        data,
    }
}

fn versions(events: &[Event]) -> Vec<u64> {
    events.iter().map(Event::version).collect()
}

#[test]
fn appends_read_back_forwards_and_backwards_after_reopen() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        for i in 0..10u8 {
            let (one, two) = ([i], [i, i]);
            let batch = [ev("A", &one), ev("B", &two)];
            let done = j.append("s-1", ExpectedVersion::Any, &batch).await.unwrap();
            assert_eq!(done.last_version, u64::from(i) * 2 + 2);
            j.append("other", ExpectedVersion::Any, &[ev("C", b"x")])
                .await
                .unwrap();
        }
        let fwd = j.read_stream("s-1", 5, Direction::Forward, 4).unwrap();
        assert_eq!(versions(&fwd), vec![5, 6, 7, 8]);
        assert_eq!(fwd[0].event_type(), "A");
        assert_eq!(fwd[1].data(), &[2, 2]);
        let back = j
            .read_stream("s-1", u64::MAX, Direction::Backward, 3)
            .unwrap();
        assert_eq!(versions(&back), vec![20, 19, 18]);
        j.log().close().await.unwrap();
        let j = open(dir.path()).await;
        let all = j.read_stream("s-1", 1, Direction::Forward, 100).unwrap();
        assert_eq!(versions(&all), (1..=20).collect::<Vec<_>>());
        assert_eq!(j.stream_info("s-1").unwrap().version, 20);
        assert_eq!(j.event_count(), 30);
        assert!(
            j.read_stream("missing", 1, Direction::Forward, 10)
                .unwrap()
                .is_empty()
        );
        let names: Vec<String> = j.streams("").into_iter().map(|s| s.stream).collect();
        assert_eq!(names, vec!["other".to_string(), "s-1".to_string()]);
        assert_eq!(j.streams("s-").len(), 1);
    });
}

#[test]
fn expected_version_conflicts_write_nothing() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        j.append("s", ExpectedVersion::NoStream, &[ev("A", b"1")])
            .await
            .unwrap();
        let end = j.log().durable_end();
        let err = j
            .append("s", ExpectedVersion::NoStream, &[ev("A", b"2")])
            .await;
        assert_eq!(
            err.unwrap_err(),
            Error::Conflict {
                stream: "s".into(),
                expected: ExpectedVersion::NoStream,
                actual: 1
            }
        );
        let err = j
            .append("s", ExpectedVersion::Exact(5), &[ev("A", b"2")])
            .await;
        assert!(matches!(err, Err(Error::Conflict { actual: 1, .. })));
        assert_eq!(j.log().durable_end(), end, "a conflict appends nothing");
        j.append("s", ExpectedVersion::Exact(1), &[ev("A", b"2")])
            .await
            .unwrap();
        assert!(matches!(
            j.append("s", ExpectedVersion::Any, &[]).await,
            Err(Error::Empty)
        ));
        let big = vec![0u8; 20 << 10];
        let err = j
            .append("s", ExpectedVersion::Exact(2), &[ev("A", &big)])
            .await;
        assert!(matches!(err, Err(Error::TooLarge { .. })), "{err:?}");
        // The refused oversized append gave its version back.
        j.append("s", ExpectedVersion::Exact(2), &[ev("A", b"3")])
            .await
            .unwrap();
    });
}

#[test]
fn concurrent_appends_to_one_stream_never_share_a_version() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        let tasks: Vec<_> = (0..16u8)
            .map(|i| {
                let j = j.clone();
                glommio::spawn_local(async move {
                    j.append("hot", ExpectedVersion::Exact(0), &[ev("A", &[i])])
                        .await
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await {
                Ok(_) => ok += 1,
                Err(e) => assert!(matches!(e, Error::Conflict { .. })),
            }
        }
        assert_eq!(ok, 1, "exactly one appender saw version 0");
        let tasks: Vec<_> = (0..16u8)
            .map(|i| {
                let j = j.clone();
                glommio::spawn_local(async move {
                    j.append("hot", ExpectedVersion::Any, &[ev("A", &[i])])
                        .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let all = j.read_stream("hot", 1, Direction::Forward, 100).unwrap();
        assert_eq!(versions(&all), (1..=17).collect::<Vec<_>>());
    });
}

#[test]
fn tombstones_refuse_reads_and_appends_and_survive_reopen() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        j.append(
            "gone",
            ExpectedVersion::Any,
            &[ev("A", b"1"), ev("A", b"2")],
        )
        .await
        .unwrap();
        let err = j.delete_stream("gone", ExpectedVersion::Exact(1)).await;
        assert!(matches!(err, Err(Error::Conflict { actual: 2, .. })));
        assert_eq!(
            j.delete_stream("gone", ExpectedVersion::Exact(2))
                .await
                .unwrap(),
            2
        );
        let deleted = Error::StreamDeleted {
            stream: "gone".into(),
            version: 2,
        };
        let read = j.read_stream("gone", 1, Direction::Forward, 10);
        assert_eq!(read.unwrap_err(), deleted);
        let append = j
            .append("gone", ExpectedVersion::Any, &[ev("A", b"3")])
            .await;
        assert_eq!(append.unwrap_err(), deleted);
        j.log().close().await.unwrap();
        let j = open(dir.path()).await;
        let info = j.stream_info("gone").unwrap();
        assert!(info.deleted);
        assert_eq!(info.version, 2);
        let append = j
            .append("gone", ExpectedVersion::Any, &[ev("A", b"3")])
            .await;
        assert_eq!(append.unwrap_err(), deleted);
        // History is kept: the global stream still holds the two events.
        let global = j.read_global(Position::START, 10, &Filter::all()).unwrap();
        assert_eq!(global.events.len(), 2);
    });
}

#[test]
fn snapshots_and_checkpoints_keep_the_latest_and_retire_the_rest() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        j.append("s", ExpectedVersion::Any, &[ev("A", b"1")])
            .await
            .unwrap();
        j.save_snapshot("s", 1, 7, b"state-1").await.unwrap();
        j.save_snapshot("s", 3, 7, b"state-3").await.unwrap();
        j.save_checkpoint("p", Position { log: 5, event: 1 }, b"c1")
            .await
            .unwrap();
        j.save_checkpoint("p", Position { log: 9, event: 0 }, b"c2")
            .await
            .unwrap();
        assert_eq!(j.log().stats().retired, 2);
        j.log().close().await.unwrap();
        let j = open(dir.path()).await;
        let snap = j.snapshot("s").unwrap().unwrap();
        assert_eq!(
            (snap.version, snap.schema, &snap.data[..]),
            (3, 7, &b"state-3"[..])
        );
        let c = j.checkpoint("p").unwrap().unwrap();
        assert_eq!(c.next, Position { log: 9, event: 0 });
        assert_eq!(&c.state[..], b"c2");
        assert_eq!(
            j.log().stats().retired,
            2,
            "superseded records are retired again at open"
        );
        assert!(j.snapshot("none").unwrap().is_none());
        assert!(j.checkpoint("none").unwrap().is_none());
    });
}

#[test]
fn global_reads_filter_and_resume_inside_a_record() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        let three = [ev("A", b"1"), ev("B", b"2"), ev("A", b"3")];
        j.append("acc-1", ExpectedVersion::Any, &three)
            .await
            .unwrap();
        j.append("ord-1", ExpectedVersion::Any, &[ev("A", b"4")])
            .await
            .unwrap();
        j.append("acc-2", ExpectedVersion::Any, &[ev("B", b"5")])
            .await
            .unwrap();
        let first = j.read_global(Position::START, 2, &Filter::all()).unwrap();
        assert_eq!(first.events.len(), 2);
        let rest = j.read_global(first.next, 100, &Filter::all()).unwrap();
        let data: Vec<&[u8]> = rest.events.iter().map(Event::data).collect();
        assert_eq!(data, vec![&b"3"[..], b"4", b"5"]);
        let acc = Filter::all().stream_prefix("acc-");
        assert_eq!(
            j.read_global(Position::START, 100, &acc)
                .unwrap()
                .events
                .len(),
            4
        );
        let b = Filter::all().event_type("B");
        assert_eq!(
            j.read_global(Position::START, 100, &b)
                .unwrap()
                .events
                .len(),
            2
        );
        let (seen, next) = j.replay(Position::START, |_| true).unwrap();
        assert_eq!(seen, 5);
        assert_eq!(next.log, j.log().durable_end());
        let (seen, _) = j.replay(first.next, |_| true).unwrap();
        assert_eq!(seen, 3);
    });
}

#[test]
fn a_stream_as_of_a_time_and_across_segments() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        let payload = vec![7u8; 3000];
        let mut times = Vec::new();
        for i in 0..60u64 {
            j.append("long", ExpectedVersion::Exact(i), &[ev("A", &payload)])
                .await
                .unwrap();
            j.append("noise", ExpectedVersion::Any, &[ev("N", &payload)])
                .await
                .unwrap();
            let e = j.read_stream("long", i + 1, Direction::Forward, 1).unwrap();
            times.push(e[0].time_us());
        }
        assert!(
            j.log().stats().segments >= 4,
            "the stream spans several segments"
        );
        j.log().close().await.unwrap();
        let j = open(dir.path()).await;
        let all = j.read_stream("long", 1, Direction::Forward, 1000).unwrap();
        assert_eq!(versions(&all), (1..=60).collect::<Vec<_>>());
        assert!(all.iter().all(|e| e.data() == &payload[..]));
        let at = times[29];
        let v = j.version_at("long", at).unwrap();
        assert!(
            v >= 30,
            "every event appended at or before the time is included"
        );
        assert!(times[..v as usize].iter().all(|t| *t <= at));
        assert_eq!(j.read_stream_as_of("long", at).unwrap().len() as u64, v);
        assert_eq!(j.version_at("long", 0).unwrap(), 0);
    });
}

#[test]
fn subscriptions_resume_exactly_after_their_checkpoint() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        for i in 0..5u8 {
            let one = [i];
            let batch = [ev("A", &one), ev("B", &one)];
            j.append("acc-1", ExpectedVersion::Any, &batch)
                .await
                .unwrap();
        }
        let mut sub = j.subscribe("p", Filter::all().event_type("A")).unwrap();
        for want in 0..3u8 {
            assert_eq!(sub.next().await.unwrap().unwrap().data(), &[want]);
        }
        sub.commit_with(b"three").await.unwrap();
        // Delivered but not committed: delivered again after the restart.
        assert_eq!(sub.next().await.unwrap().unwrap().data(), &[3]);
        drop(sub);
        j.log().close().await.unwrap();
        let j = open(dir.path()).await;
        let mut sub = j.subscribe("p", Filter::all().event_type("A")).unwrap();
        assert_eq!(sub.resumed_state(), b"three");
        assert_eq!(sub.next().await.unwrap().unwrap().data(), &[3]);
        assert_eq!(sub.next().await.unwrap().unwrap().data(), &[4]);
        assert!(sub.caught_up().unwrap());
        // Live: an append made after catching up is delivered.
        let j2 = j.clone();
        glommio::spawn_local(async move {
            j2.append("acc-2", ExpectedVersion::Any, &[ev("A", &[9])])
                .await
                .unwrap();
        })
        .detach();
        let live = sub.next().await.unwrap().unwrap();
        assert_eq!((live.stream(), live.data()), ("acc-2", &[9][..]));
    });
}

#[test]
fn records_of_other_kinds_are_skipped_and_shared_records_still_index() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        j.append("s", ExpectedVersion::Any, &[ev("A", b"1")])
            .await
            .unwrap();
        // Another engine module's record, and a record mixing an outbox-like entry with
        // a batch of events (the layout `persist` writes, plus a foreign entry).
        j.log().append_bytes(7, b"a job").await.unwrap();
        let mut mixed = quark_log::RecordBuilder::new();
        let mut buf = Vec::new();
        codec::encode_events(&mut buf, 2, 1, "s");
        mixed.push_bytes(KIND_EVENTS, &buf);
        mixed.push_bytes(9, b"an outbox message");
        codec::encode_event(&mut buf, "B", b"2");
        mixed.push_bytes(KIND_EVENT, &buf);
        j.log().append(&mixed).await.unwrap();
        j.log().close().await.unwrap();
        let j = open(dir.path()).await;
        let all = j.read_stream("s", 1, Direction::Forward, 10).unwrap();
        assert_eq!(versions(&all), vec![1, 2]);
        assert_eq!(all[1].event_type(), "B");
        assert_eq!(all[1].data(), b"2");
        let (seen, _) = j.replay(Position::START, |_| true).unwrap();
        assert_eq!(seen, 2, "the foreign records carry no events");
        j.append("s", ExpectedVersion::Exact(2), &[ev("C", b"3")])
            .await
            .unwrap();
    });
}

/// A log failure reaches the caller typed (it used to be `Error::Append(String)`).
#[test]
fn an_append_to_a_closed_log_keeps_the_log_error() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        j.log().close().await.unwrap();
        let err = j.append("s", ExpectedVersion::Any, &[ev("A", b"1")]).await;
        let Err(Error::Log(crate::LogError::Append(inner))) = &err else {
            panic!("{err:?}");
        };
        assert!(matches!(**inner, quark_log::AppendError::Closed), "{inner}");
    });
}
