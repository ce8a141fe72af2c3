//! Regression tests for the journal's durable outcomes (issue "The engine under load and
//! failure", items 9 and 11).
//!
//! - Cancelling an append desynchronised the index: the version was reserved and the record
//!   enqueued on the first poll, and if the future was dropped the event still became
//!   durable but the index never learned it (reads missed it, later appends waited above a
//!   gap forever). A cancelled `delete_stream` left `deleting` set: the stream refused every
//!   append yet still read as alive. Fix: every write is a commit on the durable core, applied
//!   to the index once durable whether or not anyone awaits it.
//! - Checkpoints could move backwards, and a projection runner returned `Ok` after a log
//!   failure (indistinguishable from shutdown). Fix: `save_checkpoint` refuses an older
//!   position and the index never installs one; the subscription reports a failed log.
//!
//! How: a future is polled once (so it submits) and dropped; the test then waits for the
//! log's durable end and checks what readers see.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use quark_log::{Config, Log};

use super::*;

fn config() -> Config {
    Config {
        segment_bytes: 64 << 10,
        record_bytes_max: 16 << 10,
        ..Config::default()
    }
}

async fn open(dir: &Path) -> Journal {
    let log = Log::open(dir, config()).await.unwrap();
    Journal::open(log, 0).unwrap()
}

fn run<F: Future<Output = ()> + 'static>(f: impl FnOnce(tempfile::TempDir) -> F + Send + 'static) {
    let dir = tempfile::tempdir().unwrap();
    glommio::LocalExecutorBuilder::default()
        .io_memory(256 << 10)
        .spawn(move || f(dir))
        .unwrap()
        .join()
        .unwrap();
}

fn ev<'a>(ty: &'a str, data: &'a [u8]) -> NewEvent<'a> {
    NewEvent {
        event_type: ty,
        data,
    }
}

/// Polls `fut` once (it submits its record) and drops it.
async fn poll_once_and_drop<T>(fut: impl Future<Output = T>) {
    let fut = std::pin::pin!(fut);
    assert!(
        futures_lite::future::poll_once(fut).await.is_none(),
        "not durable at the first poll"
    );
}

/// Waits until everything submitted so far is durable (without settling anything itself).
async fn wait_durable(j: &Journal) {
    let end = j.log().stats().durable_end;
    for _ in 0..2000 {
        if j.log().durable_end() > end {
            return;
        }
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    panic!("the dropped write never became durable");
}

#[test]
fn a_cancelled_append_still_reaches_the_index() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        poll_once_and_drop(j.append("s", ExpectedVersion::NoStream, &[ev("A", b"1")])).await;
        wait_durable(&j).await;
        let events = j.read_stream("s", 1, Direction::Forward, 10).unwrap();
        assert_eq!(events.len(), 1, "the durable event is readable");
        assert_eq!(j.stream_info("s").unwrap().version, 1);
        let done = j
            .append("s", ExpectedVersion::Exact(1), &[ev("B", b"2")])
            .await
            .unwrap();
        assert_eq!(done.last_version, 2);
        let events = j.read_stream("s", 1, Direction::Forward, 10).unwrap();
        assert_eq!(events.len(), 2, "no gap: later appends are readable");
        assert_eq!(j.event_count(), 2);
    });
}

#[test]
fn a_cancelled_delete_stream_still_deletes_it() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        j.append("s", ExpectedVersion::Any, &[ev("A", b"1")])
            .await
            .unwrap();
        poll_once_and_drop(j.delete_stream("s", ExpectedVersion::Exact(1))).await;
        wait_durable(&j).await;
        let info = j.stream_info("s").unwrap();
        assert!(info.deleted, "the durable tombstone is applied");
        let read = j.read_stream("s", 1, Direction::Forward, 10);
        assert!(matches!(read, Err(Error::StreamDeleted { .. })), "{read:?}");
    });
}

#[test]
fn a_refused_append_gives_its_versions_back() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        let big = vec![0u8; 32 << 10];
        let refused = j
            .append("s", ExpectedVersion::NoStream, &[ev("A", &big)])
            .await;
        assert!(
            matches!(refused, Err(Error::TooLarge { .. })),
            "{refused:?}"
        );
        let done = j
            .append("s", ExpectedVersion::NoStream, &[ev("A", b"1")])
            .await
            .unwrap();
        assert_eq!(done.first_version, 1);
    });
}

#[test]
fn checkpoints_never_move_backwards() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        let at = |log| Position { log, event: 0 };
        j.save_checkpoint("p", at(4096), b"").await.unwrap();
        let behind = j.save_checkpoint("p", at(100), b"").await;
        assert!(
            matches!(behind, Err(Error::CheckpointBehind { .. })),
            "{behind:?}"
        );
        j.save_checkpoint("p", at(8192), b"").await.unwrap();
        // Even a record written behind the guard's back is not installed over a newer one.
        let mut payload = Vec::new();
        codec::encode_named(&mut payload, 10, 0, "p", b"");
        let mut commit = crate::durable::Commit::new();
        commit.push(codec::KIND_CHECKPOINT, &payload);
        j.inner.core.commit(commit).await.unwrap();
        assert_eq!(j.checkpoint("p").unwrap().unwrap().next, at(8192));
        j.inner.core.close().await.unwrap();
        let j = open(dir.path()).await;
        assert_eq!(
            j.checkpoint("p").unwrap().unwrap().next,
            at(8192),
            "after reopen"
        );
    });
}

/// A projection whose state is too large for one record.
struct Hoard;
impl Projection for Hoard {
    type State = Vec<u8>;
    const NAME: &'static str = "hoard";
    fn filter() -> Filter {
        Filter::all()
    }
    fn apply(state: &mut Vec<u8>, event: &Event) -> Result<(), Error> {
        state.extend_from_slice(event.data());
        Ok(())
    }
    fn commit_every() -> u64 {
        1
    }
}

#[test]
fn a_projection_state_too_large_for_a_record_stops_the_runner_with_an_error() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        let chunk = vec![7u8; 10 << 10];
        for _ in 0..2 {
            j.append("s", ExpectedVersion::Any, &[ev("A", &chunk)])
                .await
                .unwrap();
        }
        let mut sub = j.subscribe(Hoard::NAME, Hoard::filter()).unwrap();
        let state = std::cell::RefCell::new(Vec::new());
        let result = super::projection::run::<Hoard>(&mut sub, &state).await;
        assert!(matches!(result, Err(Error::TooLarge { .. })), "{result:?}");
    });
}

/// Makes a file immutable (chattr +i) for its lifetime: the kernel then refuses writes.
struct Immutable(std::path::PathBuf);

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_projection_runner_reports_a_failed_log_as_an_error() {
    run(|dir| async move {
        let j = open(dir.path()).await;
        j.append("s", ExpectedVersion::Any, &[ev("A", b"1")])
            .await
            .unwrap();
        let mut sub = j.subscribe(Hoard::NAME, Filter::all()).unwrap();
        let state = std::cell::RefCell::new(Vec::new());
        let journal = j.clone();
        let segment = dir.path().join("00000000000000000000.seg");
        let fail = glommio::spawn_local(async move {
            glommio::timer::sleep(Duration::from_millis(20)).await;
            let ok = std::process::Command::new("chattr")
                .arg("+i")
                .arg(&segment)
                .status()
                .unwrap();
            assert!(ok.success(), "chattr +i");
            let guard = Immutable(segment);
            let failed = journal
                .append("s", ExpectedVersion::Any, &[ev("B", b"2")])
                .await;
            assert!(failed.is_err(), "the write fails");
            guard
        });
        let result = super::projection::run::<Hoard>(&mut sub, &state).await;
        drop(fail.await);
        assert!(matches!(result, Err(Error::Log(_))), "{result:?}");
    });
}

/// Issue "The engine under load and failure", item 6: nothing scheduled compaction, so
/// superseded snapshots and checkpoints (projections write theirs up to every 100 ms) grew
/// the disk, and the log's retired-positions set, without bound. Fix: the durable core
/// retires them through effects and compacts whenever a segment rolled and retired records
/// wait. How: a thousand snapshot + checkpoint rewrites over 64 KiB segments (over 30
/// segments' worth), then the counters: segments, bytes on disk, retired positions held and
/// index sizes stay small.
#[test]
fn a_long_run_of_snapshots_and_checkpoints_keeps_disk_and_memory_bounded() {
    run(|dir| async move {
        let config = Config {
            segment_bytes: 64 << 10,
            record_bytes_max: 16 << 10,
            durability: quark_log::Durability::NoSyncUnsafe,
            ..Config::default()
        };
        let log = Log::open(dir.path(), config).await.unwrap();
        let j = Journal::open(log, 0).unwrap();
        let state = vec![5u8; 1000];
        let mut peak_segments = 0;
        for i in 1..=1000u64 {
            j.save_snapshot("s", i, 1, &state).await.unwrap();
            let next = Position { log: i, event: 0 };
            j.save_checkpoint("p", next, &state).await.unwrap();
            peak_segments = peak_segments.max(j.log().stats().segments);
        }
        // Let the last scheduled compaction finish.
        glommio::timer::sleep(Duration::from_millis(50)).await;
        let stats = j.log().stats();
        let bytes: u64 = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        assert!(
            stats.bytes > 30 * (64 << 10),
            "the run wrote over 30 segments"
        );
        assert!(stats.segments <= 4, "segments on disk: {stats:?}");
        assert!(peak_segments <= 6, "peak segments: {peak_segments}");
        assert!(bytes < 6 * (64 << 10), "bytes on disk: {bytes}");
        assert!(
            stats.retired_held <= 300,
            "retired positions held: {stats:?}"
        );
        assert!(j.inner.core.compactions() > 5);
        let index = j.index();
        assert_eq!((index.streams.len(), index.checkpoints.len()), (1, 1));
        drop(index);
        assert_eq!(j.snapshot("s").unwrap().unwrap().version, 1000);
    });
}
