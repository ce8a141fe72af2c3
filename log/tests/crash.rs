//! Crash test: a child process appends and prints every acknowledged position; we SIGKILL it at
//! random moments over many rounds, then reopen and check that every acknowledged record is
//! present and intact, nothing readable is corrupt, and the log accepts appends again.
//!
//! The child is the `quark-log-crash-child` test binary (`tests/support/crash_child.rs`). Small
//! segments make kills land during segment rolls too.

#![forbid(unsafe_code)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use quark_log::{Config, Log};
use rand::Rng;

const SEGMENT_BYTES: u64 = 256 << 10;

fn child_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_quark-log-crash-child"))
}

fn payload(task: u64, index: u64) -> Vec<u8> {
    let len = 1 + ((task * 7919 + index * 104_729) % 3000) as usize;
    (0..len)
        .map(|i| (task as usize * 31 + index as usize * 17 + i) as u8)
        .collect()
}

/// Runs one child until a random kill; returns the acknowledged `(position, task, index)`.
fn run_child(dir: &Path, kill_after: Duration) -> Vec<(u64, u64, u64)> {
    let mut child = Command::new(child_path())
        .arg(dir)
        .arg(SEGMENT_BYTES.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start quark-log-crash-child");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let f: Vec<u64> = line.split(' ').filter_map(|x| x.parse().ok()).collect();
            // A line cut by the kill is not an acknowledgement we can rely on; skip it.
            if let [p, t, i] = f[..] {
                acked.push((p, t, i));
            }
        }
        acked
    });
    std::thread::sleep(kill_after);
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    assert!(
        !status.success(),
        "child must die from the kill, not exit: {status:?}"
    );
    reader.join().expect("stdout reader thread")
}

fn config() -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        record_bytes_max: 8 << 10,
        batch_bytes_max: 64 << 10,
        ..Config::default()
    }
}

#[test]
fn sigkill_never_loses_acknowledged_records() {
    assert!(child_path().exists(), "missing {}", child_path().display());
    let dir = common::tempdir();
    let path = dir.path().join("log");
    let mut rng = rand::rng();
    let mut acked_all: Vec<(u64, u64, u64)> = Vec::new();
    let rounds = 25;
    for round in 0..rounds {
        let kill_after = Duration::from_millis(rng.random_range(20..250));
        let acked = run_child(&path, kill_after);
        acked_all.extend(acked);
        let expected = acked_all.clone();
        let p = path.clone();
        let (records, report) = common::run(move || async move {
            let log = Log::open(&p, config()).await.expect("reopen after SIGKILL");
            let report = log.recovery_report().clone();
            for &(pos, task, index) in &expected {
                let r = log
                    .read(pos)
                    .unwrap_or_else(|e| panic!("acked {pos} lost: {e}"));
                let e: Vec<_> = r.entries().collect();
                assert_eq!(e.len(), 2, "record at {pos}");
                assert_eq!(e[0].payload, &payload(task, index)[..], "payload at {pos}");
                assert_eq!(e[1].payload, &index.to_le_bytes()[..], "index at {pos}");
            }
            // Everything readable is intact, and the log takes appends again.
            let mut n = 0usize;
            for r in log.snapshot().iter() {
                r.expect("no corruption");
                n += 1;
            }
            let p = log
                .append_bytes(9, b"after crash")
                .await
                .expect("appendable");
            assert_eq!(
                log.read(p).unwrap().entries().next().unwrap().payload,
                b"after crash"
            );
            log.close().await.unwrap();
            (n, report)
        });
        assert!(
            records >= acked_all.len(),
            "round {round}: {records} < {}",
            acked_all.len()
        );
        eprintln!(
            "round {round}: {} acknowledged so far, {records} readable, segments {}, \
             truncation {:?}, blank segment removed {:?}",
            acked_all.len(),
            report.segments,
            report.truncation.as_ref().map(|t| (t.position, t.bytes)),
            report.removed_blank_segment.is_some(),
        );
    }
    assert!(
        acked_all.len() > rounds * 10,
        "children must have acknowledged appends"
    );
}
