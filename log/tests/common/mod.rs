//! Helpers shared by the integration tests: a small glommio executor and log configs.
#![allow(dead_code)]

use std::future::Future;

use quark_log::{Config, Durability};

/// Runs `fut` on a fresh glommio executor with little registered I/O memory, so several test
/// threads fit within the memlock limit.
pub fn run<T: Send + 'static, F: Future<Output = T> + 'static>(
    f: impl FnOnce() -> F + Send + 'static,
) -> T {
    glommio::LocalExecutorBuilder::default()
        .io_memory(256 << 10)
        .spawn(f)
        .expect("spawn executor")
        .join()
        .expect("executor thread")
}

/// A temporary directory on the build's disk (`CARGO_TARGET_TMPDIR`), not in `/tmp`: the log
/// needs O_DIRECT, which tmpfs (a common `/tmp`) does not support.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir in CARGO_TARGET_TMPDIR")
}

/// A durable config with small segments, so tests cross segment boundaries.
pub fn small() -> Config {
    Config {
        segment_bytes: 64 << 10,
        record_bytes_max: 16 << 10,
        batch_bytes_max: 32 << 10,
        ..Config::default()
    }
}

/// Like [`small`], without fdatasync.
pub fn small_nosync() -> Config {
    Config {
        durability: Durability::NoSyncUnsafe,
        ..small()
    }
}
