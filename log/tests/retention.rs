//! Retention and compaction: disk use stays bounded while 1,000,000 short-lived records are
//! appended and retired, kept records survive compaction at their positions (also across
//! reopen), and snapshots taken before a compaction keep reading what they saw.

#![forbid(unsafe_code)]

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

const TASKS: u64 = 50;
const PER_TASK: u64 = 20_000; // 1,000,000 records in all.
const KEEP_EVERY: u64 = 1000; // One record in 1000 stays live, like an event.

/// One appender: appends its share of records, retires all but one in `KEEP_EVERY` at once.
async fn append_and_retire(log: Log, task: u64) -> Vec<(u64, u64)> {
    let mut kept = Vec::new();
    for i in 0..PER_TASK {
        let n = task * PER_TASK + i;
        let p = log.append_bytes(4, &n.to_le_bytes()).await.expect("append");
        if n.is_multiple_of(KEEP_EVERY) {
            kept.push((p, n));
        } else {
            log.retire(p).expect("retire");
        }
    }
    kept
}

/// The owner's compaction loop: compacts each time the log grew by two segments and returns
/// the largest disk use it saw right after a compaction.
async fn compact_while_appending(log: Log, path: std::path::PathBuf) -> u64 {
    let mut max_disk = 0u64;
    let mut last = 0u64;
    while log.stats().records < TASKS * PER_TASK {
        if log.durable_end() >= last + (2 << 20) {
            last = log.durable_end();
            log.compact().await.expect("compact");
            max_disk = max_disk.max(disk_bytes(&path));
        }
        glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
    }
    max_disk
}

#[test]
fn a_million_short_lived_records_keep_disk_bounded() {
    let dir = common::tempdir();
    let path = dir.path().to_path_buf();
    let (max_disk, mut kept, total_bytes) = common::run(move || async move {
        let log = Log::open(&path, config()).await.expect("open");
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| glommio::spawn_local(append_and_retire(log.clone(), t)))
            .collect();
        let compactor = glommio::spawn_local(compact_while_appending(log.clone(), path.clone()));
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
    kept.sort_unstable();
    eprintln!("1,000,000 records, {total_bytes} bytes appended, disk use at most {max_disk}");
    // 1,000,000 records are ~64 MB of frames; disk use must stay a few segments wide.
    assert!(total_bytes > 60 << 20, "{total_bytes}");
    assert!(max_disk < 8 << 20, "disk use grew to {max_disk} bytes");
    let final_disk = disk_bytes(dir.path());
    assert!(final_disk < 8 << 20, "final disk use {final_disk}");
    reopen_keeps_positions(dir.path(), kept);
}

/// Compacted segments reopen with their records at the same positions.
fn reopen_keeps_positions(path: &std::path::Path, kept: Vec<(u64, u64)>) {
    let path = path.to_path_buf();
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
    let dir = common::tempdir();
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
        let bases = segment_bases(&path);
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
        // Two compactions at once: one does the work, the other returns an empty report.
        let (a, b) = futures_lite::future::zip(log.compact(), log.compact()).await;
        let (a, b) = (a.expect("compact"), b.expect("compact"));
        assert!(
            a == Default::default() || b == Default::default(),
            "{a:?} {b:?}"
        );
        let report = if a == Default::default() { b } else { a };
        assert!(report.segments_deleted >= 1, "{report:?}");
        assert!(report.segments_rewritten >= 1, "{report:?}");
        assert!(report.bytes_reclaimed > 0);
        assert_eq!(log.first_position(), bases[1]);

        check_after_compaction(&log, &before, &positions, first.len());
        log.close().await.expect("close");
    });
}

/// Bases of the segment files in `path`, sorted.
fn segment_bases(path: &std::path::Path) -> Vec<u64> {
    let mut bases: Vec<u64> = std::fs::read_dir(path)
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
    bases
}

/// After the first segment was deleted and 3 in 4 later records retired and compacted.
fn check_after_compaction(
    log: &Log,
    before: &quark_log::Snapshot,
    positions: &[u64],
    first: usize,
) {
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
    for (i, &p) in positions.iter().enumerate().skip(first) {
        if i % 4 == 0 {
            assert!(now.binary_search(&p).is_ok(), "kept record {p} missing");
            assert_eq!(log.read(p).expect("kept").position(), p);
        }
    }
    assert!(now.len() < 3000 - first);
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
    let first_kept = (first..positions.len()).find(|i| i % 4 == 0).expect("kept");
    assert_eq!(from.position(), positions[first_kept]);
}
