//! Quick self-check of the log's two headline figures, outside the benchmark harness:
//! durable append throughput and latency at several concurrency levels (1 × 128-byte entry per
//! record, `Durability::Fsync`), then a full replay of the last log through a snapshot.
//!
//! Usage: `cargo run --release -p quark-log --example append_replay -- DIR [RECORDS]`.
//! Every figure is measured here, on this machine; the work hash proves the replay read the
//! payloads.

#![forbid(unsafe_code)]

use std::time::Instant;

use hdrhistogram::Histogram;
use quark_log::{Config, Log, RecordBuilder};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: append_replay DIR [RECORDS]");
        std::process::exit(2);
    };
    let records: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Fixed(0)).make();
    let Ok(ex) = ex else {
        eprintln!("cannot start executor");
        std::process::exit(3);
    };
    ex.run(async move {
        for concurrency in [1u64, 8, 64, 256] {
            let path = std::path::Path::new(&dir).join(format!("c{concurrency}"));
            let _ = std::fs::remove_dir_all(&path);
            let n = if concurrency == 1 {
                records.min(5_000)
            } else {
                records
            };
            append(&path, concurrency, n).await;
        }
        replay(&std::path::Path::new(&dir).join("c256")).await;
    });
}

async fn append(path: &std::path::Path, concurrency: u64, records: u64) {
    let log = Log::open(path, Config::default()).await.expect("open");
    let per_task = records / concurrency;
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let log = log.clone();
            glommio::spawn_local(async move {
                let mut h = Histogram::<u64>::new(3).expect("histogram");
                let payload = [t as u8; 128];
                for _ in 0..per_task {
                    let mut r = RecordBuilder::new();
                    r.push_bytes(1, &payload);
                    let t0 = Instant::now();
                    log.append(&r).await.expect("append");
                    let _ = h.record(t0.elapsed().as_micros() as u64);
                }
                h
            })
        })
        .collect();
    let mut h = Histogram::<u64>::new(3).expect("histogram");
    for t in tasks {
        h.add(t.await).expect("merge");
    }
    let secs = start.elapsed().as_secs_f64();
    let s = log.stats();
    println!(
        "append c={concurrency:<4} {:>9.0} rec/s  p50 {:>6} us  p99 {:>6} us  max {:>6} us  \
         records {} commits {} fsyncs {} (fsync avg {} us, p99 {} us, max {} us) \
         rolls {} ({} without spare)",
        (per_task * concurrency) as f64 / secs,
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max(),
        s.records,
        s.group_commits,
        s.fsyncs,
        s.fsync_latency_us_total / s.fsyncs.max(1),
        s.fsync_latency_us_p99,
        s.fsync_latency_us_max,
        s.segment_rolls,
        s.rolls_without_spare,
    );
    log.close().await.expect("close");
}

async fn replay(path: &std::path::Path) {
    let log = Log::open(path, Config::default()).await.expect("open");
    for round in 0..3 {
        let start = Instant::now();
        let (mut n, mut hash) = (0u64, 0u64);
        for r in log.snapshot().iter() {
            let r = r.expect("intact");
            for e in r.entries() {
                hash = hash
                    .wrapping_mul(31)
                    .wrapping_add(e.payload[0] as u64 + e.payload.len() as u64);
            }
            n += 1;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "replay round {round}: {n} records in {secs:.3} s = {:.0} rec/s (hash {hash:x})",
            n as f64 / secs
        );
    }
    log.close().await.expect("close");
}
