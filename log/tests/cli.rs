//! The operator's tool: `quark-log verify` and `quark-log dump` on intact, torn and corrupt logs,
//! checked through their output and exit codes.

#![forbid(unsafe_code)]

mod common;

use std::path::Path;
use std::process::Command;

use quark_log::{Config, Durability, Log};

/// Held while a log is open in this process or a tool process is started: a fork made while a
/// log's `LOCK` descriptor is open would hold the lock until the child execs.
static FORK_GUARD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn tool(args: &[&str]) -> (i32, String) {
    let _guard = FORK_GUARD.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new(env!("CARGO_BIN_EXE_quark-log"))
        .args(args)
        .output()
        .expect("run tool");
    // Stderr is appended so that a failing assertion shows why the tool exited as it did.
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().expect("exit code"), text)
}

fn make_log(path: &Path, n: u64) -> Vec<u64> {
    let _guard = FORK_GUARD.lock().unwrap_or_else(|e| e.into_inner());
    let p = path.to_path_buf();
    common::run(move || async move {
        let config = Config {
            segment_bytes: 64 << 10,
            record_bytes_max: 4 << 10,
            batch_bytes_max: 8 << 10,
            durability: Durability::NoSyncUnsafe,
            ..Config::default()
        };
        let log = Log::open(&p, config).await.expect("open");
        let mut out = Vec::new();
        for i in 0..n {
            out.push(
                log.append_bytes(7, &vec![1u8; 200 + i as usize % 50])
                    .await
                    .expect("append"),
            );
        }
        log.close().await.expect("close");
        out
    })
}

#[test]
fn verify_and_dump_an_intact_log() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    let positions = make_log(&path, 700);
    let p = path.to_str().expect("utf-8 path");
    let (code, out) = tool(&["verify", p]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: 700 records"), "{out}");
    let from = positions[10].to_string();
    let (code, out) = tool(&["dump", p, "--from", &from, "--limit", "3"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with(&format!("position={} ", positions[10])),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("entries=[7:210]") && lines[0].contains("time=20"),
        "{}",
        lines[0]
    );
}

#[test]
fn verify_reports_corruption_torn_tails_and_bad_directories() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    let positions = make_log(&path, 700);
    let p = path.to_str().expect("utf-8 path");
    let mut segs: Vec<_> = std::fs::read_dir(&path)
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    assert!(segs.len() >= 2);

    // Garbage after the tail's last record: a torn tail, exit 2.
    let tail = segs.last().expect("tail");
    let mut b = std::fs::read(tail).expect("read");
    let end = b.iter().rposition(|&x| x != 0).expect("data");
    b[end + 100] = 0xee;
    std::fs::write(tail, &b).expect("write");
    let (code, out) = tool(&["verify", p]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("torn tail"), "{out}");
    let (code, out) = tool(&["verify", p, "--batch-bytes-max", "8192"]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(tool(&["verify", p, "--batch-bytes-max", "lots"]).0, 3);

    // A flipped byte in the first record of a sealed segment: exit 1 naming position 0.
    let mut b = std::fs::read(&segs[0]).expect("read");
    b[4096 + 60] ^= 1;
    std::fs::write(&segs[0], &b).expect("write");
    let (code, out) = tool(&["verify", p]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("CORRUPT at position 0"), "{out}");
    let (code, out) = tool(&["dump", p]);
    assert_eq!(code, 1);
    assert!(out.contains("CORRUPT"), "{out}");
    assert!(positions.len() == 700);

    // Not a log, and bad usage: exit 3.
    assert_eq!(tool(&["verify", dir.path().to_str().expect("utf-8")]).0, 3);
    assert_eq!(tool(&["frobnicate"]).0, 3);
    assert_eq!(tool(&["dump", p, "--limit"]).0, 3);
}

/// Bug: `dump` stopped silently at damage in the tail segment that hides valid frames behind
/// it (damage more than one write before the end, which recovery refuses to cut): it printed
/// the records before the damage and exited 0, so a damaged copy looked intact to anyone
/// reading the dump. Fix: after the last record `dump` reports the damage and exits 1.
#[test]
fn dump_reports_damage_in_the_tail_segment() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    let p = path.clone();
    let guard = FORK_GUARD.lock().unwrap_or_else(|e| e.into_inner());
    let positions = common::run(move || async move {
        // One segment bigger than the reach of a default write (2 MiB + 4 KiB).
        let config = Config {
            segment_bytes: 8 << 20,
            durability: Durability::NoSyncUnsafe,
            ..Config::default()
        };
        let log = Log::open(&p, config).await.expect("open");
        let mut out = Vec::new();
        for _ in 0..800 {
            out.push(log.append_bytes(7, &[3u8; 4000]).await.expect("append"));
        }
        log.close().await.expect("close");
        out
    });
    drop(guard);
    let segment = path.join("00000000000000000000.seg");
    let mut b = std::fs::read(&segment).expect("read");
    // A flipped payload byte in record 10: 790 valid records (3 MiB) lie behind it.
    let at = 4096 + positions[10] as usize + 100;
    b[at] ^= 1;
    std::fs::write(&segment, &b).expect("write");
    let p = path.to_str().expect("utf-8 path");
    let (code, out) = tool(&["verify", p]);
    assert_eq!(code, 1, "{out}");
    let (code, out) = tool(&["dump", p]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("position=")).count(),
        10
    );
    let expected = format!("CORRUPT at position {}", positions[10]);
    assert!(out.contains(&expected), "{out}");
}

/// Bug: a damaged segment header made `verify` and `dump` exit 3, the code for "cannot open
/// this directory" (not a log, locked), instead of 1, the documented code for corruption, so a
/// script checking for corruption missed it. Fix: corruption found while opening is exit 1.
#[test]
fn a_damaged_segment_header_is_corruption_exit_1() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    make_log(&path, 700);
    let segment = path.join("00000000000000000000.seg");
    let mut b = std::fs::read(&segment).expect("read");
    b[20] ^= 0xff;
    std::fs::write(&segment, &b).expect("write");
    let p = path.to_str().expect("utf-8 path");
    for command in ["verify", "dump"] {
        let (code, out) = tool(&[command, p]);
        assert_eq!(code, 1, "{command}: {out}");
        assert!(out.contains("CORRUPT at position 0"), "{command}: {out}");
    }
}

/// Bug: `--batch-bytes-max` near `u64::MAX` overflowed `batch_bytes_max + 4096` (the reach of a
/// torn write): the debug tool panicked (exit 101) and a release build wrapped to a reach of
/// a few bytes, calling a torn tail corruption. Fix: the sum saturates; the value means "any
/// write may be torn", so the torn tail is reported as such (exit 2).
#[test]
fn a_huge_batch_bytes_max_saturates_instead_of_overflowing() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    make_log(&path, 10);
    let segment = path.join("00000000000000000000.seg");
    let mut b = std::fs::read(&segment).expect("read");
    let end = b.iter().rposition(|&x| x != 0).expect("data");
    b[end + 100] = 0xee;
    std::fs::write(&segment, &b).expect("write");
    let p = path.to_str().expect("utf-8 path");
    let huge = u64::MAX.to_string();
    let (code, out) = tool(&["verify", p, "--batch-bytes-max", &huge]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("torn tail"), "{out}");
}

/// Bug (defect 1): one flipped byte in the tail silently dropped every acknowledged record
/// behind it. Now open refuses, naming the position, and the operator accepts the loss
/// explicitly: `repair --truncate-at POS` shows the cut and changes nothing without `--yes`;
/// with it, the log opens at POS with every record before it.
#[test]
fn repair_cuts_only_when_told_to() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    let positions = make_log(&path, 40);
    let segment = path.join("00000000000000000000.seg");
    let mut b = std::fs::read(&segment).expect("read");
    b[4096 + positions[30] as usize + 100] ^= 1;
    std::fs::write(&segment, &b).expect("write");
    let p = path.to_str().expect("utf-8 path");
    let (code, out) = tool(&["verify", p]);
    assert_eq!(code, 1, "{out}");
    let named = format!("CORRUPT at position {}", positions[30]);
    assert!(out.contains(&named), "{out}");

    let at = positions[30].to_string();
    let (code, out) = tool(&["repair", p, "--truncate-at", &at]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(" 0 valid records"), "{out}");
    assert!(out.contains("nothing changed"), "{out}");
    assert_eq!(
        std::fs::read(&segment).expect("read"),
        b,
        "a dry run writes nothing"
    );
    // Not a record boundary: refused.
    let inside = (positions[30] + 16).to_string();
    assert_eq!(tool(&["repair", p, "--truncate-at", &inside]).0, 3);
    assert_eq!(tool(&["repair", p]).0, 3, "--truncate-at is required");

    let (code, out) = tool(&["repair", p, "--truncate-at", &at, "--yes"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = tool(&["verify", p]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: 30 records"), "{out}");
}

/// Bug (defect 12): `verify` opened (and created) `LOCK` for writing, so it could not check a
/// read-only copy, and it called a newer format version "not a Quark log". Fix: the inspector
/// opens everything read-only and names the version it does not read.
#[test]
fn verify_reads_a_read_only_copy_and_names_a_newer_version() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::tempdir();
    let path = dir.path().join("log");
    make_log(&path, 50);
    let p = path.to_str().expect("utf-8 path");
    let names = || {
        let mut v: Vec<_> = std::fs::read_dir(&path)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        v.sort();
        v
    };
    let before = names();
    let read_only = std::fs::Permissions::from_mode(0o555);
    std::fs::set_permissions(&path, read_only).expect("chmod");
    let (code, out) = tool(&["verify", p]);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_eq!(code, 0, "{out}");
    assert_eq!(names(), before, "verify created nothing");

    std::fs::write(path.join("FORMAT"), "quark-log format 9\n").expect("write");
    let (code, out) = tool(&["verify", p]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("format version 9"), "{out}");
}

/// Bug (defect 12): a stray directory named like a spare or compaction file made `open` fail
/// while `verify` said the log was fine. Fix: both ignore anything that is not a regular file.
#[test]
fn stray_directories_are_ignored_by_open_and_verify_alike() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    make_log(&path, 20);
    std::fs::create_dir(path.join("next-segment.tmp")).expect("mkdir");
    std::fs::create_dir(path.join("00000000000000000000.compact")).expect("mkdir");
    let p = path.to_str().expect("utf-8 path");
    assert_eq!(tool(&["verify", p]).0, 0);
    make_log(&path, 1);
    assert_eq!(tool(&["verify", p]).0, 0);
}

/// Bug (defect 12): `dump` could not be told the log's `batch_bytes_max`, so it judged the tail
/// differently from `verify --batch-bytes-max N`. Fix: `dump` takes the same flag.
#[test]
fn dump_takes_the_batch_size_like_verify() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    make_log(&path, 5);
    let p = path.to_str().expect("utf-8 path");
    let (code, out) = tool(&["dump", p, "--batch-bytes-max", "8192", "--limit", "2"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert_eq!(tool(&["dump", p, "--batch-bytes-max", "lots"]).0, 3);
}
