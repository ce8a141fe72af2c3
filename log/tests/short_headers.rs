//! Probing a position whose offset leaves fewer than a frame header's 32 bytes: the last bytes
//! of the durable tail, or the end of a truncated compacted segment. Both used to panic in
//! `frame::read_frame_header` (a debug assertion, then an out-of-range slice); now the reader
//! answers `NoRecord` and `open` reports the corruption.

#![forbid(unsafe_code)]

mod common;

use quark_log::{Config, Durability, Log, ReadError};

/// Bug: `read` (and `Snapshot::read`) of a position in the last 31 bytes of the durable end
/// panicked the shard's executor thread instead of returning an error, so a caller holding a
/// bad position (off by one, from another log) took the shard down. Fix: a header probe on
/// fewer than 32 bytes reads as "no header here", and the read is `NoRecord`.
#[test]
fn reads_near_the_durable_end_are_no_record_not_a_panic() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    common::run(move || async move {
        let log = Log::open(&path, common::small_nosync())
            .await
            .expect("open");
        log.append_bytes(1, b"x").await.expect("append");
        let end = log.durable_end();
        for position in [end - 1, end - 16, end - 31] {
            let read = log.read(position);
            assert!(
                matches!(read, Err(ReadError::NoRecord(p)) if p == position),
                "{position}: {:?}",
                read.err()
            );
            let read = log.snapshot().read(position);
            assert!(
                matches!(read, Err(ReadError::NoRecord(p)) if p == position),
                "{position}: {:?}",
                read.err()
            );
        }
        log.close().await.expect("close");
    });
}

/// Bug: opening a log whose compacted segment was truncated 16 bytes past a frame boundary
/// (a partial copy, a full disk during a backup) panicked while indexing the segment; then it
/// made the whole log unopenable (defect 10), while the same damage in a plain sealed segment
/// is reported where it lies and the rest stays readable. Fix: both alike: open succeeds, the
/// frames before the damage read back, and reading on reports `Corrupt` naming the file and
/// the offset; nothing is changed.
#[test]
fn a_truncated_compacted_segment_is_corruption_not_a_panic() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    let p = path.clone();
    let config = Config {
        durability: Durability::NoSyncUnsafe,
        ..common::small()
    };
    let c = config.clone();
    common::run(move || async move {
        let log = Log::open(&p, c).await.expect("open");
        let mut positions = Vec::new();
        for i in 0..1000u32 {
            positions.push(log.append_bytes(1, &i.to_le_bytes()).await.expect("append"));
        }
        // Retire three records in four of the first segment, so compaction rewrites it.
        for (i, &q) in positions.iter().enumerate() {
            if i % 4 != 0 && q < 60_000 {
                log.retire(q).expect("retire");
            }
        }
        let report = log.compact().await.expect("compact");
        assert_eq!(report.segments_rewritten, 1, "{report:?}");
        log.close().await.expect("close");
    });
    let segment = path.join("00000000000000000000.seg");
    // Frames of 80 bytes (48 header, 16 entry header, 16 payload) after the 4096-byte header.
    let cut = 4096 + 80 * 3 + 16;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .expect("open segment");
    file.set_len(cut).expect("truncate");
    drop(file);
    let read = common::run(move || async move {
        let log = Log::open(&path, config)
            .await
            .expect("damage in a compacted segment");
        let mut ok = 0;
        let mut err = None;
        for r in log.snapshot().iter() {
            match r {
                Ok(_) => ok += 1,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        log.close().await.expect("close");
        (ok, err)
    });
    match read {
        (3, Some(ReadError::Corrupt(c))) => {
            assert_eq!(c.path, segment);
            assert_eq!(c.offset, cut - 16);
        }
        other => panic!("expected 3 records then corruption, got {other:?}"),
    }
    assert_eq!(
        std::fs::metadata(&segment).expect("stat").len(),
        cut,
        "changed nothing"
    );
}
