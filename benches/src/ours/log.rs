//! Quark's log as a [`LogPeer`]: `quark-log` on one pinned glommio executor (one shard), in a
//! fresh temporary directory per run, with the default durable configuration.
//!
//! Invariants: every acknowledged append is checked to be covered by an fsync (its whole frame
//! is below the durable end read right after the acknowledgement, and the log's fsync counter
//! moved while it was in flight); a run with any uncovered append is reported not durable.
use crate::peers::{AppendLoad, AppendRun, LogPeer, Peer, PeerError, ReplayLoad, ReplayRun};
use crate::progress::Progress;
use crate::size::Window;
use crate::timed::Appender;
use crate::work::WorkHash;
use glommio::{LocalExecutorBuilder, Placement};
use quark_log::{Config, Log, RecordBuilder};
use std::future::Future;
use std::time::Instant;

/// The entry kind the harness writes.
const KIND: u16 = 7;
/// Concurrent appenders used to write the records a replay reads.
const FILL_APPENDERS: u64 = 512;

/// Quark's log on one glommio shard.
#[derive(Debug, Default)]
pub struct QuarkLog;

impl QuarkLog {
    /// A log in a fresh temporary directory per run.
    pub fn new() -> QuarkLog {
        QuarkLog
    }
}

impl Peer for QuarkLog {
    fn name(&self) -> &'static str {
        "quark"
    }
}

/// Runs `make()` on a glommio executor pinned to CPU 0, with a fresh log directory.
fn on_shard<T, Fut>(
    config: Config,
    make: impl FnOnce(Log) -> Fut + Send + 'static,
) -> Result<T, PeerError>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T, PeerError>> + 'static,
{
    let dir = tempfile::tempdir().map_err(|e| PeerError::because("creating a temp dir", e))?;
    let path = dir.path().join("log");
    let handle = LocalExecutorBuilder::new(Placement::Fixed(0))
        .name("bench-log")
        .spawn(move || async move {
            let log = Log::open(&path, config)
                .await
                .map_err(|e| PeerError::because("opening the log", e))?;
            let result = make(log.clone()).await;
            log.close()
                .await
                .map_err(|e| PeerError::because("closing the log", e))?;
            result
        })
        .map_err(|e| PeerError::because("starting the glommio executor", e))?;
    let result = handle
        .join()
        .map_err(|e| PeerError::because("the glommio executor", e))?;
    drop(dir);
    result
}

/// One appender: its tally, and how many of its acknowledged appends no fsync covered.
async fn append_loop(
    log: Log,
    index: usize,
    bytes: usize,
    window: Window,
) -> Result<(Appender, u64), PeerError> {
    let mut payload = vec![index as u8; bytes];
    let (mut me, mut uncovered) = (Appender::default(), 0u64);
    while Instant::now() < window.end {
        let n = me.total.to_le_bytes();
        let k = n.len().min(payload.len());
        payload[..k].copy_from_slice(&n[..k]);
        let fsyncs_before = log.stats().fsyncs;
        let started = Instant::now();
        let mut record = RecordBuilder::new();
        record.push_bytes(KIND, &payload);
        let position = log
            .append(&record)
            .await
            .map_err(|e| PeerError::because("append", e))?;
        let done = Instant::now();
        // Covered by an fsync: the whole frame is below the durable end read now, and an fsync
        // completed while the append was in flight.
        let end = position + record.frame_len() as u64;
        if end > log.durable_end() || log.stats().fsyncs <= fsyncs_before {
            uncovered += 1;
        }
        me.hash.add(position);
        me.acknowledged(&window, started, done);
    }
    Ok((me, uncovered))
}

async fn append_run(log: Log, load: AppendLoad) -> Result<AppendRun, PeerError> {
    let fsyncs_at_open = log.stats().fsyncs;
    let window = Window::starting_now(load.warmup, load.measure);
    let tasks: Vec<_> = (0..load.appenders)
        .map(|i| glommio::spawn_local(append_loop(log.clone(), i, load.record_bytes, window)))
        .collect();
    let mut run = AppendRun::over(&window, false, String::new());
    let mut uncovered = 0;
    for task in tasks {
        let (me, not_covered) = task.await?;
        run.merge(&me);
        uncovered += not_covered;
    }
    let fsyncs = log.stats().fsyncs - fsyncs_at_open;
    run.durable = log.is_durable() && fsyncs > 0 && uncovered == 0;
    run.durability = format!(
        "quark: {fsyncs} fdatasyncs during the run; {uncovered} of {} acknowledged appends were \
         not covered by an fsync (covered: the record's whole frame below the durable end read \
         at acknowledgement, and the fsync counter moved while it was in flight)",
        run.total
    );
    Ok(run)
}

async fn fill(log: &Log, load: &ReplayLoad) -> Result<(), PeerError> {
    let tasks: Vec<_> = (0..FILL_APPENDERS)
        .map(|i| {
            let (log, bytes) = (log.clone(), load.record_bytes);
            let mine = load.records / FILL_APPENDERS + u64::from(i < load.records % FILL_APPENDERS);
            glommio::spawn_local(async move {
                let mut payload = vec![i as u8; bytes];
                for n in 0..mine {
                    let s = n.to_le_bytes();
                    let k = s.len().min(payload.len());
                    payload[..k].copy_from_slice(&s[..k]);
                    log.append_bytes(KIND, &payload)
                        .await
                        .map_err(|e| PeerError::because("append", e))?;
                }
                Ok::<_, PeerError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    Ok(())
}

/// One full pass over a snapshot: (records, hash).
fn pass(log: &Log) -> Result<(u64, WorkHash), PeerError> {
    let mut hash = WorkHash::default();
    let mut records = 0u64;
    for record in log.snapshot().iter() {
        let record = record.map_err(|e| PeerError::because("reading the log", e))?;
        for entry in record.entries() {
            hash.add_record(entry.payload);
        }
        records += 1;
    }
    Ok((records, hash))
}

async fn replay_run(
    log: Log,
    load: ReplayLoad,
    progress: Progress,
) -> Result<ReplayRun, PeerError> {
    progress.say(
        "quark",
        &format!(
            "appending {} records ({FILL_APPENDERS} appenders)",
            load.records
        ),
    );
    fill(&log, &load).await?;
    progress.say(
        "quark",
        "one untimed pass (warms the page cache), then one timed pass",
    );
    let (warm, _) = pass(&log)?;
    let started = Instant::now();
    let (records, hash) = pass(&log)?;
    let secs = started.elapsed().as_secs_f64();
    if warm != records {
        return Err(PeerError::Unavailable(format!(
            "passes disagree: {warm} vs {records}"
        )));
    }
    Ok(ReplayRun {
        records,
        secs,
        hash,
        how: "quark: Log::snapshot().iter() over every durable record on the shard thread \
              (second of two passes; sealed segments through mmap, the tail from memory)"
            .to_owned(),
    })
}

impl LogPeer for QuarkLog {
    fn append(&self, load: &AppendLoad, progress: &Progress) -> Result<AppendRun, PeerError> {
        progress.say(
            self.name(),
            &format!("{} appenders on one shard", load.appenders),
        );
        let load = load.clone();
        on_shard(Config::default(), move |log| append_run(log, load))
    }

    fn replay(&self, load: &ReplayLoad, progress: &Progress) -> Result<ReplayRun, PeerError> {
        let (load, progress) = (load.clone(), progress.clone());
        on_shard(Config::default(), move |log| {
            replay_run(log, load, progress)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Config, append_run, on_shard};
    use crate::peers::AppendLoad;
    use quark_log::Durability;
    use std::time::Duration;

    fn run(durability: Durability) -> crate::peers::AppendRun {
        let load = AppendLoad {
            appenders: 4,
            record_bytes: 128,
            warmup: Duration::from_millis(10),
            measure: Duration::from_millis(50),
        };
        let config = Config {
            durability,
            ..Config::default()
        };
        on_shard(config, move |log| append_run(log, load)).unwrap()
    }

    #[test]
    fn the_durability_check_passes_with_fsync_and_fails_without() {
        let _turn = crate::TEST_TURN.lock().unwrap_or_else(|p| p.into_inner());
        let durable = run(Durability::Fsync);
        assert!(durable.total > 0);
        assert!(durable.durable, "{}", durable.durability);
        let unsafe_run = run(Durability::NoSyncUnsafe);
        assert!(unsafe_run.total > 0);
        assert!(!unsafe_run.durable, "{}", unsafe_run.durability);
    }
}
