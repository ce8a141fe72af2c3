//! Retention and compaction: disk use stays bounded while 1,000,000 short-lived records are
//! appended and retired, kept records survive compaction at their positions (also across
//! reopen), and snapshots taken before a compaction keep reading what they saw.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use quark_log::{Config, Durability, Log, ReadError, RetireError};

/// Bytes the directory's files occupy on disk (allocated blocks, so pre-allocation counts).
fn disk_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

fn config() -> Config {
    Config {
        segment_bytes: 1 << 20,
        record_bytes_max: 4 << 10,
        batch_bytes_max: 256 << 10,
        durability: Durability::NoSyncUnsafe,
        ..Config::default()
    }
}

#[test]
fn a_million_short_lived_records_keep_disk_bounded() {
    const TASKS: u64 = 50;
    const PER_TASK: u64 = 20_000; // 1,000,000 records in all.
    const KEEP_EVERY: u64 = 1000; // One record in 1000 stays live, like an event.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let (max_disk, kept, total_bytes) = common::run(move || async move {
        let log = Log::open(&path, config()).await.expect("open");
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let log = log.clone();
                glommio::spawn_local(async move {
                    let mut kept = Vec::new();
                    for i in 0..PER_TASK {
                        let n = t * PER_TASK + i;
                        let p = log.append_bytes(4, &n.to_le_bytes()).await.expect("append");
                        if n.is_multiple_of(KEEP_EVERY) {
                            kept.push((p, n));
                        } else {
                            log.retire(p).expect("retire");
                        }
                    }
                    kept
                })
            })
            .collect();
        // The owner compacts every time the log grew by a couple of segments.
        let compactor = {
            let log = log.clone();
            let path = path.clone();
            glommio::spawn_local(async move {
                let mut max_disk = 0u64;
                let mut last = 0u64;
                while log.stats().records < TASKS * PER_TASK {
                    if log.durable_end() >= last + (2 << 20) {
                        last = log.durable_end();
                        log.compact().await.expect("compact");
                        max_disk = max_disk.max(disk_bytes(&path));
                    }
                    glommio::yield_if_needed().await;
                    glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
                }
                max_disk
            })
        };
        let mut kept = Vec::new();
        for t in tasks {
            kept.extend(t.await);
        }
        let max_disk = compactor.await;
        log.compact().await.expect("final compact");
        let stats = log.stats();
        assert_eq!(stats.records, TASKS * PER_TASK);
        assert!(
            stats.segments_deleted + stats.segments_rewritten > 10,
            "{stats:?}"
        );
        for &(p, n) in &kept {
            let r = log.read(p).expect("kept record readable after compaction");
            assert_eq!(r.entries().next().expect("entry").payload, n.to_le_bytes());
        }
        log.close().await.expect("close");
        (max_disk, kept, stats.bytes)
    });
    assert_eq!(kept.len() as u64, TASKS * PER_TASK / KEEP_EVERY);
    let mut kept = kept;
    kept.sort_unstable();
    eprintln!("1,000,000 records, {total_bytes} bytes appended, disk use at most {max_disk}");
    // 1,000,000 records are ~64 MB of frames; disk use must stay a few segments wide.
    assert!(total_bytes > 60 << 20, "{total_bytes}");
    assert!(max_disk < 8 << 20, "disk use grew to {max_disk} bytes");
    let final_disk = disk_bytes(dir.path());
    assert!(final_disk < 8 << 20, "final disk use {final_disk}");

    // Compacted segments reopen with their records at the same positions.
    let path = dir.path().to_path_buf();
    common::run(move || async move {
        let log = Log::open(&path, config()).await.expect("reopen");
        // Retirements are not persisted: records of the (never compacted) active segment that
        // were retired come back until the owner retires them again. Every kept record must be
        // there, at its position.
        let all: Vec<_> = log.snapshot().iter().map(|r| r.expect("intact")).collect();
        assert!(
            all.len() <= kept.len() + (1 << 20) / 64,
            "{} records",
            all.len()
        );
        let mut it = all.iter();
        for (p, n) in &kept {
            let r = it
                .find(|r| r.position() == *p)
                .expect("kept record after reopen");
            assert_eq!(r.entries().next().expect("entry").payload, n.to_le_bytes());
        }
        log.close().await.expect("close");
    });
}

#[test]
fn retire_and_compact_semantics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    common::run(move || async move {
        let config = Config {
            segment_bytes: 64 << 10,
            ..config()
        };
        let log = Log::open(&path, config).await.expect("open");
        let mut positions = Vec::new();
        for i in 0..3000u32 {
            positions.push(log.append_bytes(1, &i.to_le_bytes()).await.expect("append"));
        }
        assert!(log.stats().segments >= 3);
        // Bad positions are refused and change nothing.
        let bad = log.retire(positions[5] + 16);
        assert!(
            matches!(bad, Err(RetireError::Read(ReadError::NoRecord(_)))),
            "{bad:?}"
        );
        let past = log.retire(log.durable_end());
        assert!(matches!(
            past,
            Err(RetireError::Read(ReadError::PastEnd { .. }))
        ));
        assert_eq!(log.stats().retired, 0);

        let before = log.snapshot();
        // Retire everything in the first segment.
        let mut bases: Vec<u64> = std::fs::read_dir(&path)
            .expect("read dir")
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_suffix(".seg")?
                    .parse()
                    .ok()
            })
            .collect();
        bases.sort();
        let first: Vec<u64> = positions
            .iter()
            .copied()
            .filter(|&p| p < bases[1])
            .collect();
        assert!(first.len() > 100 && first.len() < positions.len());
        for &p in &first {
            log.retire(p).expect("retire");
            log.retire(p).expect("retiring twice is a no-op");
        }
        for (i, &p) in positions.iter().enumerate().skip(first.len()) {
            if i % 4 != 0 {
                log.retire(p).expect("retire");
            }
        }
        let report = log.compact().await.expect("compact");
        assert!(report.segments_deleted >= 1, "{report:?}");
        assert!(report.segments_rewritten >= 1, "{report:?}");
        assert!(report.bytes_reclaimed > 0);
        assert_eq!(log.first_position(), bases[1]);

        // The old snapshot still reads every record it saw.
        assert_eq!(before.iter().count(), 3000);
        assert_eq!(
            before.read(positions[0]).expect("old view").position(),
            positions[0]
        );
        // The live view has the kept records only, at the same positions; the active segment
        // is never compacted, so its retired records are still there.
        let now: Vec<u64> = log
            .snapshot()
            .iter()
            .map(|r| r.expect("ok").position())
            .collect();
        for (i, &p) in positions.iter().enumerate().skip(first.len()) {
            if i % 4 == 0 {
                assert!(now.binary_search(&p).is_ok(), "kept record {p} missing");
                assert_eq!(log.read(p).expect("kept").position(), p);
            }
        }
        assert!(now.len() < 3000 - first.len());
        assert!(matches!(
            log.read(positions[0]),
            Err(ReadError::NoRecord(_))
        ));
        // Iteration from a position inside a deleted segment starts at the next record.
        let from = log
            .snapshot()
            .iter_from(positions[1])
            .next()
            .expect("some")
            .expect("ok");
        let first_kept = (first.len()..positions.len())
            .find(|i| i % 4 == 0)
            .expect("kept");
        assert_eq!(from.position(), positions[first_kept]);
        log.close().await.expect("close");
    });
}
