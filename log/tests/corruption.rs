//! Corruption tests: flip bytes and truncate files at random offsets of the tail segment and of
//! sealed segments, then check the documented outcome (`docs/log-format.md`, "Recovery rules"):
//! - damage in the tail's last group commit (the only write a crash can tear): open cuts from
//!   the damaged frame on, reports it, keeps every earlier record, and the log is appendable;
//! - tail damage with a frame of a later commit, or a valid seal, behind it: open fails with a
//!   corruption error naming the file, offset and position, and the files are left untouched
//!   (before format version 2 such damage was cut whenever a valid frame lay within one
//!   write's reach: one flipped byte silently dropped up to `batch_bytes_max` of acknowledged
//!   records and let new appends reuse their positions);
//! - a tail file shorter than it was created: corruption, whatever the frames say;
//! - damage in a sealed segment: open succeeds, reading reaches the damaged frame and returns a
//!   corruption error naming that segment and the damaged frame's position; `verify` agrees.

#![forbid(unsafe_code)]

mod common;

use std::path::{Path, PathBuf};

use quark_log::{Config, CorruptReason, Durability, Inspector, Log, OpenError, ReadError};
use rand::Rng;

const SEGMENT: u64 = 64 << 10;
const HEADER: u64 = 4096;

fn config() -> Config {
    Config {
        segment_bytes: SEGMENT,
        record_bytes_max: 8 << 10,
        batch_bytes_max: 16 << 10,
        durability: Durability::NoSyncUnsafe,
        ..Config::default()
    }
}

/// A reference log: `(position, size)` of every record and the segment files by base.
struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    records: Vec<(u64, u64)>,
    segments: Vec<(u64, PathBuf)>,
}

fn fixture(tail_records: usize) -> Fixture {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    let p = path.clone();
    let records = common::run(move || async move {
        let log = Log::open(&p, config()).await.expect("open");
        let mut out = Vec::new();
        let mut i = 0u64;
        // Fill two sealed segments, then `tail_records` records in the tail segment.
        loop {
            let len = 10 + (i * 7919 % 600) as usize;
            let pos = log
                .append_bytes(1, &vec![i as u8; len])
                .await
                .expect("append");
            out.push(pos);
            i += 1;
            if log.stats().segments >= 3 {
                break;
            }
        }
        for j in 0..tail_records as u64 {
            let pos = log
                .append_bytes(1, &vec![j as u8; 50 + (j % 100) as usize])
                .await
                .expect("append");
            out.push(pos);
        }
        let sizes: Vec<_> = log.snapshot().iter().map(|r| r.expect("valid")).collect();
        log.close().await.expect("close");
        sizes
            .iter()
            .map(|r| (r.position(), r.size() as u64))
            .collect::<Vec<_>>()
    });
    let mut segments: Vec<(u64, PathBuf)> = std::fs::read_dir(&path)
        .expect("read dir")
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            Some((name.strip_suffix(".seg")?.parse().ok()?, e.path()))
        })
        .collect();
    segments.sort();
    Fixture {
        _dir: dir,
        path,
        records,
        segments,
    }
}

/// Copies the fixture's directory to a fresh one.
fn copy(f: &Fixture) -> (tempfile::TempDir, PathBuf) {
    let dir = common::tempdir();
    let to = dir.path().join("log");
    std::fs::create_dir(&to).expect("mkdir");
    for e in std::fs::read_dir(&f.path).expect("read dir") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
    (dir, to)
}

fn in_segment(f: &Fixture, seg: usize) -> Vec<(u64, u64)> {
    let base = f.segments[seg].0;
    let next = f.segments.get(seg + 1).map_or(u64::MAX, |s| s.0);
    f.records
        .iter()
        .copied()
        .filter(|&(p, _)| p >= base && p < next)
        .collect()
}

fn flip(path: &Path, offset: u64) {
    let mut b = std::fs::read(path).expect("read");
    b[offset as usize] ^= 0x5a;
    std::fs::write(path, b).expect("write");
}

fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open")
        .set_len(len)
        .expect("cut");
}

/// Opens the damaged copy; returns the open error, or the readable records and durable end.
fn reopen(path: &Path) -> Result<(Vec<u64>, u64, Option<u64>), OpenError> {
    let p = path.to_path_buf();
    common::run(move || async move {
        let log = Log::open(&p, config()).await?;
        let cut = log
            .recovery_report()
            .truncation
            .as_ref()
            .map(|t| t.position);
        let got: Vec<u64> = log
            .snapshot()
            .iter()
            .map(|r| r.expect("intact").position())
            .collect();
        let end = log.durable_end();
        let p = log
            .append_bytes(2, b"after")
            .await
            .expect("appendable after recovery");
        assert_eq!(log.read(p).expect("read back").entries().count(), 1);
        log.close().await.expect("close");
        Ok((got, end, cut))
    })
}

/// Where damage at `offset` of the tail segment should cut, or `None` if it must be refused.
/// Every record of the fixture was appended and acknowledged alone, so each is its own group
/// commit: only damage in the last record can be the torn last write.
fn tail_outcome(f: &Fixture, offset: u64) -> Option<u64> {
    let seg = f.segments.len() - 1;
    let base = f.segments[seg].0;
    let recs = in_segment(f, seg);
    let hit = recs.iter().find(|&&(p, s)| offset < HEADER + p - base + s);
    let Some(&(k, _)) = hit else {
        return Some(f.records.last().map_or(0, |r| r.0 + r.1));
    };
    let last = recs.last().map(|r| r.0);
    (last == Some(k)).then_some(k)
}

#[test]
fn flipped_bytes_in_the_tail() {
    let f = fixture(250);
    let (base, tail) = f.segments.last().expect("segments").clone();
    let recs = in_segment(&f, f.segments.len() - 1);
    let last = f.records.last().expect("records");
    let data_end = HEADER + last.0 - base + last.1;
    let last_start = HEADER + last.0 - base;
    let mut rng = rand::rng();
    let (mut cut, mut refused) = (0, 0);
    for trial in 0..40 {
        // Every fourth flip lands in the last record, the rest anywhere in the tail.
        let offset = if trial % 4 == 0 {
            rng.random_range(last_start..data_end)
        } else {
            rng.random_range(HEADER..data_end)
        };
        let (_d, copy_path) = copy(&f);
        let file = copy_path.join(tail.file_name().expect("name"));
        flip(&file, offset);
        let before = std::fs::read(&file).expect("read");
        match (tail_outcome(&f, offset), reopen(&copy_path)) {
            (Some(k), Ok((got, end, cut_at))) => {
                cut += 1;
                assert_eq!(cut_at, Some(k), "flip at {offset}");
                assert_eq!(end, k);
                let want: Vec<u64> = f.records.iter().map(|r| r.0).filter(|&p| p < k).collect();
                assert_eq!(got, want, "every record before the damage survives");
            }
            (None, Err(OpenError::Corrupt(c))) => {
                refused += 1;
                assert_eq!(c.reason, CorruptReason::AcknowledgedBehindDamage);
                assert_eq!(c.path, file);
                let k = recs.iter().find(|&&(p, s)| offset < HEADER + p - base + s);
                assert_eq!(Some(c.position), k.map(|r| r.0), "names the damaged record");
                assert_eq!(c.offset, HEADER + c.position - base);
                assert_eq!(
                    std::fs::read(&file).expect("read"),
                    before,
                    "nothing changed"
                );
            }
            (want, got) => panic!("flip at {offset}: expected {want:?}, got {:?}", got.err()),
        }
    }
    assert!(
        cut > 0 && refused > 0,
        "both outcomes exercised: {cut} cut, {refused} refused"
    );
}

/// Bug (defect 2): a seal is written only once every record of its segment is durable, yet
/// damage in front of a valid seal was cut as a torn tail when the seal lay within one write's
/// reach. Reproduction: the next segment's creation is lost (its file renamed back to the
/// spare name), so the sealed segment is the last one, and a byte ~10 KiB before the seal is
/// flipped. Fix: a valid seal behind damage is corruption.
#[test]
fn damage_in_front_of_a_seal_is_corruption() {
    let f = fixture(5);
    let seg = f.segments.len() - 2;
    let (base, ref sealed) = f.segments[seg];
    let recs = in_segment(&f, seg);
    let last = recs.last().expect("records");
    let seal_at = HEADER + last.0 + last.1 - base;
    // ~10 KiB before the seal (later records and the seal behind it), and inside the last
    // record (only the seal behind it).
    let cases = [
        (seal_at - 10 * 1024, CorruptReason::AcknowledgedBehindDamage),
        (seal_at - last.1 / 2, CorruptReason::SealBehindDamage),
    ];
    for (offset, reason) in cases {
        let (_d, copy_path) = copy(&f);
        let (_, newest) = f.segments.last().expect("segments");
        let spare = copy_path.join("next-segment.tmp");
        let newest = copy_path.join(newest.file_name().expect("name"));
        std::fs::rename(newest, &spare).expect("rename");
        let target = copy_path.join(sealed.file_name().expect("name"));
        flip(&target, offset);
        let before = std::fs::read(&target).expect("read");
        let Err(OpenError::Corrupt(c)) = reopen(&copy_path) else {
            panic!("damage at {offset}, in front of a seal, must not be cut");
        };
        assert_eq!(c.reason, reason);
        assert_eq!(c.path, target);
        let k = recs.iter().find(|&&(p, s)| offset < HEADER + p - base + s);
        assert_eq!(Some(c.position), k.map(|r| r.0));
        assert_eq!(
            std::fs::read(&target).expect("read"),
            before,
            "nothing changed"
        );
        assert!(spare.exists(), "nothing removed");
    }
}

/// Bug (defect 9): a tail segment cut at a frame boundary (an interrupted copy) lost its last
/// records with no error anywhere. Fix: a version 2 segment header records the size the file
/// was created with; a shorter tail is corruption, and open changes nothing.
#[test]
fn truncated_tail_is_corruption() {
    let f = fixture(30);
    let (base, tail) = f.segments.last().expect("segments").clone();
    let recs = in_segment(&f, f.segments.len() - 1);
    let data_end = HEADER + recs.last().map_or(0, |r| r.0 + r.1 - base);
    let mut rng = rand::rng();
    for trial in 0..12 {
        let len = if trial == 0 {
            // Exactly at a frame boundary: the records before it are all whole.
            HEADER + recs[recs.len() - 3].0 - base
        } else {
            rng.random_range(0..SEGMENT)
        };
        let (_d, copy_path) = copy(&f);
        let file = copy_path.join(tail.file_name().expect("name"));
        truncate(&file, len);
        let before = std::fs::read(&file).expect("read");
        match reopen(&copy_path) {
            Err(OpenError::Corrupt(c)) => {
                assert_eq!(c.path, file, "cut at {len}");
                if len >= HEADER {
                    assert_eq!(c.reason, CorruptReason::Truncated, "cut at {len}");
                    assert_eq!(c.offset, len.min(data_end).max(len));
                }
            }
            other => panic!(
                "cut at {len}: expected corruption, got {:?}",
                other.map(|o| o.1)
            ),
        }
        assert_eq!(
            std::fs::read(&file).expect("read"),
            before,
            "nothing changed"
        );
    }
}

#[test]
fn damage_in_sealed_segments_is_reported_with_its_position() {
    let f = fixture(5);
    assert!(f.segments.len() >= 3);
    let mut rng = rand::rng();
    for trial in 0..40 {
        let seg = rng.random_range(0..f.segments.len() - 1);
        let (base, ref file) = f.segments[seg];
        let recs = in_segment(&f, seg);
        let seal_at = HEADER + recs.last().map_or(0, |r| r.0 + r.1 - base);
        // Damage somewhere in the records or the seal frame (32 bytes).
        let offset = rng.random_range(HEADER..seal_at + 32);
        let (_d, copy_path) = copy(&f);
        let target = copy_path.join(file.file_name().expect("name"));
        if trial % 2 == 0 {
            flip(&target, offset);
        } else {
            truncate(&target, offset);
        }
        let k = recs
            .iter()
            .find(|&&(p, s)| offset < HEADER + p - base + s)
            .map_or(seal_at - HEADER + base, |r| r.0);
        let p = copy_path.clone();
        let first_error = common::run(move || async move {
            let log = Log::open(&p, config())
                .await
                .expect("sealed damage does not block open");
            let mut last_ok = None;
            let mut err = None;
            for r in log.snapshot().iter() {
                match r {
                    Ok(r) => last_ok = Some(r.position()),
                    Err(e) => err = Some(e),
                }
            }
            log.close().await.expect("close");
            (last_ok, err)
        });
        let Some(ReadError::Corrupt(c)) = first_error.1 else {
            panic!(
                "trial {trial}: damage at {offset} of segment {seg} not reported: {first_error:?}"
            );
        };
        assert_eq!(c.path, target, "trial {trial}");
        assert_eq!(c.position, k, "trial {trial}: damage at offset {offset}");
        let inspector = Inspector::open(&copy_path).expect("inspect");
        let v = inspector.verify().expect_err("verify sees it");
        assert_eq!((v.path, v.position), (target.clone(), k), "trial {trial}");
    }
}

#[test]
fn damaged_sealed_header_fails_open_and_changes_nothing() {
    let f = fixture(5);
    let (_d, copy_path) = copy(&f);
    let target = copy_path.join(f.segments[0].1.file_name().expect("name"));
    flip(&target, 20);
    let before = std::fs::read(&target).expect("read");
    let Err(OpenError::Corrupt(c)) = reopen(&copy_path) else {
        panic!("must fail")
    };
    assert_eq!((c.path, c.offset), (target.clone(), 0));
    assert_eq!(std::fs::read(&target).expect("read"), before);
}
