//! Power-loss simulation: SIGKILL cannot tear an O_DIRECT write, but a power cut can. We take a
//! tail segment before and after the last group commit(s), build files in which each 512-byte
//! sector holds either its old or its new content (the sector-atomicity assumption of
//! `docs/log-format.md`), and check recovery: every record durable before the last commit is
//! intact (including those in the rewritten partial block), the new records recovered are a
//! prefix of the new ones in position order, and nothing else appears.

#![forbid(unsafe_code)]

mod common;

use std::path::Path;

use quark_log::{Config, Log};
use rand::Rng;

fn config() -> Config {
    Config {
        segment_bytes: 256 << 10,
        record_bytes_max: 4 << 10,
        batch_bytes_max: 64 << 10,
        ..Config::default()
    }
}

/// Appends `n` records concurrently (so they share commits); returns their positions.
fn append_burst(path: &Path, n: u64, seed: u64) -> Vec<u64> {
    let path = path.to_path_buf();
    common::run(move || async move {
        let log = Log::open(&path, config()).await.expect("open");
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let log = log.clone();
                glommio::spawn_local(async move {
                    let len = 50 + ((seed * 31 + i * 7) % 900) as usize;
                    log.append_bytes(1, &vec![(seed + i) as u8; len])
                        .await
                        .expect("append")
                })
            })
            .collect();
        let mut positions = Vec::new();
        for t in tasks {
            positions.push(t.await);
        }
        log.close().await.expect("close");
        positions.sort_unstable();
        positions
    })
}

fn only_segment(path: &Path) -> std::path::PathBuf {
    let segs: Vec<_> = std::fs::read_dir(path)
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    assert_eq!(segs.len(), 1, "the test keeps one segment");
    segs[0].clone()
}

#[test]
fn torn_last_commit_recovers_old_records_and_a_prefix_of_new_ones() {
    let dir = common::tempdir();
    let base = dir.path().join("log");
    let old = append_burst(&base, 40, 1);
    let seg = only_segment(&base);
    let before = std::fs::read(&seg).expect("read");
    let new = append_burst(&base, 40, 2);
    let after = std::fs::read(&seg).expect("read");
    assert!(new[0] > *old.last().expect("old"));
    let mut rng = rand::rng();
    let mut partial = 0;
    for trial in 0..30 {
        let mut torn = after.clone();
        for (i, sector) in torn.chunks_mut(512).enumerate() {
            let range = i * 512..(i * 512 + sector.len());
            if before[range.clone()] != after[range.clone()] && rng.random_bool(0.5) {
                sector.copy_from_slice(&before[range]);
            }
        }
        let copy = dir.path().join(format!("trial{trial}"));
        std::fs::create_dir(&copy).expect("mkdir");
        for e in std::fs::read_dir(&base).expect("read dir") {
            let e = e.expect("entry");
            std::fs::copy(e.path(), copy.join(e.file_name())).expect("copy");
        }
        std::fs::write(copy.join(seg.file_name().expect("name")), &torn).expect("write");
        let (old, new_in_trial) = (old.clone(), new.clone());
        let recovered = common::run(move || async move {
            let new = new_in_trial;
            let log = Log::open(&copy, config())
                .await
                .expect("a torn tail is recoverable");
            let got: Vec<u64> = log
                .snapshot()
                .iter()
                .map(|r| r.expect("intact").position())
                .collect();
            assert_eq!(
                &got[..old.len()],
                &old[..],
                "trial {trial}: old records intact"
            );
            let recovered = &got[old.len()..];
            assert_eq!(
                recovered,
                &new[..recovered.len()],
                "trial {trial}: a prefix of new ones"
            );
            let n = recovered.len();
            log.append_bytes(9, b"appendable")
                .await
                .expect("append after recovery");
            log.close().await.expect("close");
            n
        });
        partial += usize::from(recovered < new.len());
    }
    assert!(partial > 0, "tearing must cut new records in some trials");
}
