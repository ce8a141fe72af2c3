//! Bug (defect 11): opening a log read its whole last segment into memory, and so did
//! `quark-log verify`: an 8 GiB sparse tail took 8.4 GB of RSS, 64 GiB ran out of memory. Fix:
//! the tail scan streams the file in bounded chunks and keeps only the valid prefix. This test
//! extends a tail segment to 512 MiB of holes and checks the process's peak resident memory
//! (`VmHWM`, this binary runs this one test) stays far below that through `Inspector::verify`
//! and `Log::open`.

#![forbid(unsafe_code)]

mod common;

use quark_log::{Inspector, Log};

const SPARSE: u64 = 512 << 20;
const BOUND_KB: u64 = 160 << 10;

/// Peak resident set size of this process so far, in KiB.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn a_huge_sparse_tail_is_scanned_in_bounded_memory() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    let p = path.clone();
    common::run(move || async move {
        let log = Log::open(&p, common::small_nosync()).await.expect("open");
        for i in 0..100u32 {
            log.append_bytes(1, &i.to_le_bytes()).await.expect("append");
        }
        log.close().await.expect("close");
    });
    let tail = path.join("00000000000000000000.seg");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&tail)
        .expect("open tail");
    f.set_len(SPARSE).expect("extend with holes");
    drop(f);

    let inspector = Inspector::open(&path).expect("inspect");
    let report = inspector.verify().expect("intact");
    assert_eq!(report.records, 100);
    drop(inspector);
    let verified = peak_rss_kb();
    assert!(
        verified < BOUND_KB,
        "verify peaked at {verified} KiB resident"
    );

    let p = path.clone();
    common::run(move || async move {
        let log = Log::open(&p, common::small_nosync()).await.expect("open");
        assert_eq!(log.snapshot().iter().count(), 100);
        log.close().await.expect("close");
    });
    let opened = peak_rss_kb();
    assert!(opened < BOUND_KB, "open peaked at {opened} KiB resident");
}
