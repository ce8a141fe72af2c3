//! Crash-test child: appends records from 16 concurrent tasks and prints one line per
//! acknowledged append (`position task index length`), until it is killed.
//!
//! The crash test (`tests/crash.rs`) runs it, kills it with SIGKILL at a random moment, and
//! checks that every printed position holds exactly the record described. The payload of
//! record `(task, index)` is derived from those numbers alone, so the checker can rebuild it.
//!
//! Usage: `quark-log-crash-child DIR SEGMENT_BYTES`.

#![forbid(unsafe_code)]

use std::io::Write;

use quark_log::{Config, Log, RecordBuilder};

/// The payload of record `(task, index)`: deterministic, 1 to ~3000 bytes.
fn payload(task: u64, index: u64) -> Vec<u8> {
    let len = 1 + ((task * 7919 + index * 104_729) % 3000) as usize;
    (0..len)
        .map(|i| (task as usize * 31 + index as usize * 17 + i) as u8)
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(segment)) = (args.next(), args.next()) else {
        eprintln!("usage: quark-log-crash-child DIR SEGMENT_BYTES");
        std::process::exit(2);
    };
    let Ok(segment_bytes) = segment.parse::<u64>() else {
        eprintln!("bad SEGMENT_BYTES");
        std::process::exit(2);
    };
    let ex = glommio::LocalExecutorBuilder::default()
        .io_memory(1 << 20)
        .make();
    let Ok(ex) = ex else {
        eprintln!("cannot start executor");
        std::process::exit(3);
    };
    ex.run(async move {
        let config = Config {
            segment_bytes,
            record_bytes_max: 8 << 10,
            batch_bytes_max: 64 << 10,
            ..Config::default()
        };
        let log = match Log::open(&dir, config).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("open failed: {e}");
                std::process::exit(4);
            }
        };
        // Each child run uses fresh task numbers so records of earlier runs stay distinct.
        let run = log.durable_end();
        let tasks: Vec<_> = (0..16u64)
            .map(|t| {
                let log = log.clone();
                glommio::spawn_local(async move {
                    for i in 0.. {
                        let task = run * 16 + t;
                        let mut r = RecordBuilder::new();
                        r.push_bytes(1, &payload(task, i))
                            .push_bytes(2, &i.to_le_bytes());
                        let Ok(p) = log.append(&r).await else { return };
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "{p} {task} {i}");
                        let _ = out.flush();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await;
        }
    });
}
