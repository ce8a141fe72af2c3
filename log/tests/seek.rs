//! Iterating, tailing and dumping from a position that does not start a record.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;

use quark_log::Log;

/// Bug: `Snapshot::iter_from`, `Snapshot::next_from` and `Log::tail` are documented to yield
/// "the records at or after `position`", but from a position inside a record they failed:
/// in a sealed segment with a `Corrupt` error naming the file (so `quark-log dump --from 10`
/// on a healthy log printed CORRUPT and exited 1), in the active segment with `NoRecord`.
/// An operator or an exporter resuming from an approximate position was told the log was
/// damaged. Fix: such a position is found by a checked walk (sealed) or a walk of the durable
/// chunks (active) to the next record; real damage on the way is still reported.
#[test]
fn iteration_from_inside_a_record_starts_at_the_next_record() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    let p = path.clone();
    let positions = common::run(move || async move {
        let log = Log::open(&p, common::small_nosync()).await.expect("open");
        let mut positions = Vec::new();
        for i in 0..700u64 {
            let payload = vec![i as u8; 200 + i as usize % 50];
            positions.push(log.append_bytes(7, &payload).await.expect("append"));
        }
        assert!(log.stats().segments >= 3, "sealed and active segments");
        let end = log.durable_end();
        let mut probes = vec![1, 10, 16, positions[1] + 16, positions[400] + 100];
        probes.extend([positions[690] + 16, positions[699] + 1, end - 1]);
        let snapshot = log.snapshot();
        for from in probes {
            let want = positions.iter().copied().find(|&p| p >= from);
            let got = snapshot
                .next_from(from)
                .expect("next_from")
                .map(|r| r.position());
            assert_eq!(got, want, "next_from({from})");
            let mut iter = snapshot.iter_from(from);
            let first = iter.next().transpose().expect("iter_from");
            assert_eq!(first.map(|r| r.position()), want, "iter_from({from})");
            let rest = iter.count();
            let expected_rest = positions.iter().filter(|&&p| p >= from).count();
            assert_eq!(rest + 1, expected_rest.max(1), "iter_from({from}) count");
            if let Some(want) = want {
                let mut tail = log.tail(from);
                let got = tail.next().await.expect("a record").expect("tail");
                assert_eq!(got.position(), want, "tail({from})");
            }
        }
        log.close().await.expect("close");
        positions
    });
    let out = Command::new(env!("CARGO_BIN_EXE_quark-log"))
        .args([
            "dump",
            path.to_str().expect("utf-8"),
            "--from",
            "10",
            "--limit",
            "1",
        ])
        .output()
        .expect("run tool");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with(&format!("position={} ", positions[1])),
        "{text}"
    );
}
