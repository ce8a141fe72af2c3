//! Fuzzing under stable Rust (no nightly for cargo-fuzz): property tests that feed arbitrary and
//! mutated bytes to frame decoding, to a log directory's tail segment for `Inspector`
//! (`quark-log verify`/`dump`), and to `Log::open` (recovery). Each must answer with a value or
//! a typed error: no panic, no hang, and no allocation driven by a length read from the bytes
//! (the scan checks every length against `batch_bytes_max` and the file's size first).
//!
//! Short mode runs in `cargo test`; `QUARK_FUZZ_CASES=N` runs N cases per property (the long
//! mode, see README "Long test modes").

#![forbid(unsafe_code)]

mod common;

use proptest::prelude::*;
use quark_log::frame::{self, SegmentHeader, SegmentKind};
use quark_log::{Config, Durability, Inspector, Log};

fn cases(short: u32) -> ProptestConfig {
    let n = std::env::var("QUARK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(short);
    ProptestConfig::with_cases(n)
}

/// A valid tail segment of `records` small records, one commit each, then zeros.
fn segment(records: u8) -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    let h = SegmentHeader::new(SegmentKind::Plain, 0, 0, None, 64 << 10);
    frame::encode_segment_header(&h, &mut b);
    for i in 0..records {
        let pos = b.len() as u64 - 4096;
        frame::encode_record(&mut b, pos, 1, pos, &[(1, &vec![i; i as usize + 1])]);
    }
    b.resize(64 << 10, 0);
    b
}

fn config() -> Config {
    Config {
        segment_bytes: 64 << 10,
        record_bytes_max: 4 << 10,
        batch_bytes_max: 8 << 10,
        durability: Durability::NoSyncUnsafe,
        ..Config::default()
    }
}

/// Writes `seg` as the only segment of a fresh log directory.
fn directory(seg: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    std::fs::create_dir(&path).expect("mkdir");
    std::fs::write(path.join("FORMAT"), "quark-log format 2\n").expect("FORMAT");
    std::fs::write(path.join("00000000000000000000.seg"), seg).expect("segment");
    (dir, path)
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn frame_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512),
                                   at in 0usize..600, expected in any::<Option<u64>>()) {
        let _ = frame::decode_frame(&bytes, at, expected);
        let _ = frame::read_frame_header(&bytes);
        let _ = frame::decode_segment_header(&bytes);
    }
}

proptest! {
    #![proptest_config(cases(24))]

    /// Mutations of a valid segment (byte flips, spans of arbitrary bytes, cuts) through the
    /// inspector, then the same bytes through recovery.
    #[test]
    fn inspector_and_recovery_answer_on_mutated_segments(
        records in 0u8..40,
        flips in proptest::collection::vec((0usize..(64 << 10), any::<u8>()), 0..8),
        span in proptest::option::of((0usize..(64 << 10),
                                      proptest::collection::vec(any::<u8>(), 1..256))),
        cut in proptest::option::of(0usize..(64 << 10)),
    ) {
        let mut seg = segment(records);
        for (at, x) in flips {
            seg[at] ^= x;
        }
        if let Some((at, bytes)) = span {
            let end = (at + bytes.len()).min(seg.len());
            seg[at..end].copy_from_slice(&bytes[..end - at]);
        }
        if let Some(len) = cut {
            seg.truncate(len);
        }
        let (_d, path) = directory(&seg);
        if let Ok(inspector) = Inspector::open_with(&path, 8 << 10) {
            let _ = inspector.verify();
            for r in inspector.snapshot().iter() {
                if r.is_err() {
                    break;
                }
            }
        }
        common::run(move || async move {
            if let Ok(log) = Log::open(&path, config()).await {
                for r in log.snapshot().iter() {
                    if r.is_err() {
                        break;
                    }
                }
                let _ = log.close().await;
            }
        });
    }
}
