//! Append, read, iterate, tail and reopen a log through its public API.

#![forbid(unsafe_code)]

mod common;

use common::{run, small, small_nosync};
use quark_log::{AppendError, Config, Log, OpenError, ReadError, RecordBuilder};

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, PartialEq)]
struct Event {
    id: u64,
    name: String,
}

#[test]
fn append_read_reopen() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    run(move || async move {
        let log = Log::open(&path, Config::default()).await.unwrap();
        let mut positions = Vec::new();
        for i in 0..10u64 {
            let p = log
                .append_value(
                    1,
                    &Event {
                        id: i,
                        name: format!("e{i}"),
                    },
                )
                .await
                .unwrap();
            positions.push(p);
        }
        assert!(positions.windows(2).all(|w| w[0] < w[1]));
        let stats = log.stats();
        assert_eq!(stats.records, 10);
        assert!(
            stats.fsyncs >= 10,
            "each sequential append is its own commit: {stats:?}"
        );
        assert!(log.durable_end() > *positions.last().unwrap());
        let r = log.read(positions[3]).unwrap();
        let e = r.entries().next().unwrap().access::<Event>().unwrap();
        assert_eq!(e.id, 3);
        assert_eq!(e.name.as_str(), "e3");
        log.close().await.unwrap();
        assert!(matches!(
            log.append_bytes(1, b"x").await,
            Err(AppendError::Closed)
        ));

        let log = Log::open(&path, Config::default()).await.unwrap();
        assert_eq!(log.recovery_report().tail_records, 10);
        assert_eq!(log.recovery_report().truncation, None);
        let all: Vec<_> = log.snapshot().iter().map(|r| r.unwrap()).collect();
        assert_eq!(all.len(), 10);
        for (i, r) in all.iter().enumerate() {
            assert_eq!(r.position(), positions[i]);
            let e: Event = r.entries().next().unwrap().deserialize().unwrap();
            assert_eq!(
                e,
                Event {
                    id: i as u64,
                    name: format!("e{i}")
                }
            );
        }
        let p = log.append_bytes(2, b"after reopen").await.unwrap();
        assert!(p > positions[9]);
        log.close().await.unwrap();
    });
}

#[test]
fn concurrent_appends_share_fsyncs() {
    let dir = common::tempdir();
    let path = dir.path().to_path_buf();
    run(move || async move {
        let log = Log::open(&path, Config::default()).await.unwrap();
        let tasks: Vec<_> = (0..64u64)
            .map(|t| {
                let log = log.clone();
                glommio::spawn_local(async move {
                    let mut out = Vec::new();
                    for i in 0..20u64 {
                        let mut r = RecordBuilder::new();
                        r.push_bytes(1, &(t * 1000 + i).to_le_bytes());
                        out.push((log.append(&r).await.unwrap(), t * 1000 + i));
                        assert!(log.durable_end() > out.last().unwrap().0);
                    }
                    out
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await);
        }
        let stats = log.stats();
        assert_eq!(stats.records, 64 * 20);
        assert!(
            stats.fsyncs < 64 * 20 / 2,
            "group commit must batch: {stats:?}"
        );
        assert_eq!(stats.fsyncs, stats.group_commits + stats.segments - 1);
        assert!(stats.fsync_latency_us_p50 > 0, "{stats:?}");
        assert!(
            stats.fsync_latency_us_p50 <= stats.fsync_latency_us_p99,
            "{stats:?}"
        );
        // The histogram keeps 3 significant digits, so p99 may round slightly above the max.
        assert!(stats.fsync_latency_us_p99 <= stats.fsync_latency_us_max * 1001 / 1000 + 1);
        for (p, v) in &all {
            let r = log.read(*p).unwrap();
            assert_eq!(r.entries().next().unwrap().payload, &v.to_le_bytes());
        }
        log.close().await.unwrap();
    });
}

#[test]
fn multi_entry_records_and_segment_rolls() {
    let dir = common::tempdir();
    let path = dir.path().to_path_buf();
    run(move || async move {
        let log = Log::open(&path, small_nosync()).await.unwrap();
        let mut expect = Vec::new();
        for i in 0..400u32 {
            let mut r = RecordBuilder::new();
            let a = vec![i as u8; (i as usize * 37) % 700];
            r.push_bytes(1, &a).push_bytes(2, &i.to_le_bytes());
            expect.push((log.append(&r).await.unwrap(), a, i));
        }
        assert!(log.stats().segments >= 3, "{:?}", log.stats());
        let check = |log: &Log| {
            let got: Vec<_> = log.snapshot().iter().map(|r| r.unwrap()).collect();
            assert_eq!(got.len(), expect.len());
            for (r, (p, a, i)) in got.iter().zip(&expect) {
                assert_eq!(r.position(), *p);
                let e: Vec<_> = r.entries().collect();
                assert_eq!(e.len(), 2);
                assert_eq!((e[0].kind, e[0].payload), (1, &a[..]));
                assert_eq!((e[1].kind, e[1].payload), (2, &i.to_le_bytes()[..]));
                assert_eq!(log.read(*p).unwrap().position(), *p);
            }
            let mid = expect[200].0;
            let from: Vec<_> = log.snapshot().iter_from(mid).map(|r| r.unwrap()).collect();
            assert_eq!(from.len(), 200);
        };
        check(&log);
        log.close().await.unwrap();
        let log = Log::open(&path, small_nosync()).await.unwrap();
        check(&log);
        log.close().await.unwrap();
    });
}

#[test]
fn tail_reader_waits_for_new_records() {
    let dir = common::tempdir();
    let path = dir.path().to_path_buf();
    run(move || async move {
        let log = Log::open(&path, small()).await.unwrap();
        log.append_bytes(1, b"before").await.unwrap();
        let mut tail = log.tail(0);
        let reader = glommio::spawn_local(async move {
            let mut got = Vec::new();
            while let Some(r) = tail.next().await {
                let r = r.unwrap();
                got.push(r.entries().next().unwrap().payload.to_vec());
            }
            got
        });
        let mut want = vec![b"before".to_vec()];
        for i in 0..300u32 {
            let payload = format!("record {i}").into_bytes();
            log.append_bytes(1, &payload).await.unwrap();
            want.push(payload);
        }
        log.close().await.unwrap();
        assert_eq!(reader.await, want);
    });
}

#[test]
fn bad_input_gives_typed_errors() {
    let dir = common::tempdir();
    let path = dir.path().to_path_buf();
    run(move || async move {
        let log = Log::open(path.join("log"), small()).await.unwrap();
        let too_big = vec![0u8; 17 << 10];
        let r = log.append_bytes(1, &too_big).await;
        assert!(matches!(r, Err(AppendError::TooLarge { .. })), "{r:?}");
        assert!(matches!(
            log.append(&RecordBuilder::new()).await,
            Err(AppendError::Empty)
        ));
        assert_eq!(log.durable_end(), 0, "rejected appends change nothing");
        let p = log.append_bytes(1, b"ok").await.unwrap();
        let end = log.durable_end();
        assert!(matches!(log.read(end), Err(ReadError::PastEnd { .. })));
        assert!(matches!(log.read(p + 16), Err(ReadError::NoRecord(_))));
        let snapshot = log.snapshot();
        assert!(matches!(snapshot.read(p + 16), Err(ReadError::NoRecord(_))));
        assert_eq!(snapshot.read(p).unwrap().position(), p);
        assert!(matches!(snapshot.read(end), Err(ReadError::PastEnd { .. })));
        // A second open of the same directory is refused while the first holds it.
        let second = Log::open(path.join("log"), small()).await;
        assert!(
            matches!(second, Err(OpenError::Locked(_))),
            "{:?}",
            second.err()
        );
        log.close().await.unwrap();

        std::fs::write(path.join("notes.txt"), b"hello").unwrap();
        let r = Log::open(&path, small()).await;
        assert!(matches!(r, Err(OpenError::NotALog(..))), "{:?}", r.err());
        assert_eq!(
            std::fs::read_dir(&path).unwrap().count(),
            2,
            "nothing was created"
        );
        let bad = Config {
            segment_bytes: 1000,
            ..Config::default()
        };
        assert!(matches!(
            Log::open(path.join("x"), bad).await,
            Err(OpenError::Config(_))
        ));
        let missing = Config {
            create_if_missing: false,
            ..Config::default()
        };
        assert!(matches!(
            Log::open(path.join("y"), missing).await,
            Err(OpenError::Missing(_))
        ));
    });
}

#[test]
fn nosync_mode_never_fsyncs_and_still_reads_back() {
    let dir = common::tempdir();
    let path = dir.path().to_path_buf();
    run(move || async move {
        let log = Log::open(&path, small_nosync()).await.unwrap();
        assert!(!log.is_durable());
        let mut positions = Vec::new();
        for i in 0..500u32 {
            positions.push(log.append_bytes(3, &i.to_le_bytes()).await.unwrap());
        }
        let stats = log.stats();
        assert_eq!(stats.fsyncs, 0, "{stats:?}");
        assert!(stats.group_commits > 0);
        log.close().await.unwrap();
        let log = Log::open(&path, small_nosync()).await.unwrap();
        for (i, p) in positions.iter().enumerate() {
            let r = log.read(*p).unwrap();
            assert_eq!(
                r.entries().next().unwrap().payload,
                (i as u32).to_le_bytes()
            );
        }
        log.close().await.unwrap();
    });
}

#[test]
fn spare_segments_and_leftovers_are_cleaned_up() {
    let dir = common::tempdir();
    let path = dir.path().to_path_buf();
    run(move || async move {
        let names = |p: &std::path::Path| {
            let mut v: Vec<String> = std::fs::read_dir(p)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        let log = Log::open(&path, small()).await.unwrap();
        let mut appended = 0u64;
        while log.stats().segments < 4 {
            log.append_bytes(1, &[7u8; 1000]).await.unwrap();
            appended += 1;
        }
        let stats = log.stats();
        assert_eq!(stats.segment_rolls, 3, "{stats:?}");
        assert!(stats.rolls_without_spare <= stats.segment_rolls);
        log.close().await.unwrap();
        let files = names(&path);
        assert!(
            !files.iter().any(|f| f.ends_with(".tmp")),
            "close removes the spare: {files:?}"
        );
        assert_eq!(
            files.iter().filter(|f| f.ends_with(".seg")).count(),
            4,
            "{files:?}"
        );

        // Leftovers of an interrupted run are removed and reported, and change no record.
        std::fs::write(path.join("next-segment.tmp"), [1u8; 4096]).unwrap();
        std::fs::write(path.join("00000000000000000000.compact"), [2u8; 4096]).unwrap();
        let log = Log::open(&path, small()).await.unwrap();
        assert_eq!(log.recovery_report().removed_leftovers.len(), 2);
        let records: Vec<_> = log.snapshot().iter().collect::<Result<_, _>>().unwrap();
        let count = records.len() as u64;
        assert_eq!(count, appended);
        log.close().await.unwrap();
        assert_eq!(names(&path), files);
    });
}

#[test]
fn append_batch_is_all_checked_then_durable_together() {
    let dir = common::tempdir();
    let path = dir.path().to_path_buf();
    run(move || async move {
        let log = Log::open(&path, small()).await.unwrap();
        let mut records: Vec<RecordBuilder> = (0..10u8)
            .map(|i| {
                let mut r = RecordBuilder::new();
                r.push_bytes(1, &[i; 10]);
                r
            })
            .collect();
        let fsyncs = log.stats().fsyncs;
        let positions = log.append_batch(&records).await.unwrap();
        assert_eq!(log.stats().fsyncs - fsyncs, 1, "one commit for the batch");
        for (i, p) in positions.iter().enumerate() {
            assert_eq!(
                log.read(*p).unwrap().entries().next().unwrap().payload,
                [i as u8; 10]
            );
        }
        records[5] = RecordBuilder::new();
        let end = log.durable_end();
        let r = log.append_batch(&records).await;
        assert!(matches!(r, Err(AppendError::Empty)));
        assert_eq!(log.durable_end(), end, "a refused batch appends nothing");
        log.close().await.unwrap();
    });
}

/// Bug: recovery computed the reach of a torn write as `batch_bytes_max + 4096`, which
/// overflowed for a `batch_bytes_max` near `usize::MAX` ("no limit"): `open` panicked in debug
/// builds and in release wrapped to a reach of a few bytes, refusing a plain torn tail as
/// corruption. Fix: the sum saturates, and the torn tail is cut as usual.
#[test]
fn a_huge_batch_bytes_max_still_recovers_a_torn_tail() {
    let dir = common::tempdir();
    let path = dir.path().to_path_buf();
    let p = path.clone();
    run(move || async move {
        let log = Log::open(&p, small_nosync()).await.unwrap();
        log.append_bytes(1, b"kept").await.unwrap();
        log.close().await.unwrap();
    });
    let segment = path.join("00000000000000000000.seg");
    let mut b = std::fs::read(&segment).unwrap();
    let end = b.iter().rposition(|&x| x != 0).unwrap();
    b[end + 100] = 0xee;
    std::fs::write(&segment, &b).unwrap();
    run(move || async move {
        let config = Config {
            batch_bytes_max: usize::MAX,
            ..small_nosync()
        };
        let log = Log::open(&path, config).await.unwrap();
        assert!(log.recovery_report().truncation.is_some());
        let all: Vec<_> = log.snapshot().iter().collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 1);
        log.close().await.unwrap();
    });
}
