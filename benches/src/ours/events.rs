//! Quark's journal as an [`EventStorePeer`]: a fresh one-shard engine with a data directory
//! per run; the workloads run on the shard (`run_on`) against the shard's `Journal`, the same
//! API an event-sourced actor's `persist` uses.
//!
//! Invariants: every acknowledged append is checked to be covered by an fsync (its record is
//! below the log's durable end at acknowledgement, and the fsync counter moved while it was in
//! flight); every engine started here is shut down before the method returns.
use crate::latency::Latencies;
use crate::peers::events::{
    EVENT_TYPE, EventStorePeer, Picker, REPLAY_STREAMS, StreamReadLoad, StreamReadRun, payload,
};
use crate::peers::{AppendLoad, AppendRun, Peer, PeerError, ReplayLoad, ReplayRun};
use crate::progress::Progress;
use crate::size::Window;
use crate::timed::Appender;
use crate::work::WorkHash;
use quark::journal::{Direction, ExpectedVersion, Journal, NewEvent, Position};
use quark::{Builder, Shard};
use std::future::Future;
use std::time::Instant;

/// Concurrent appenders used to write the events a read or a replay reads.
const FILL_APPENDERS: u64 = 512;

/// Quark's journal on one shard.
#[derive(Debug, Default)]
pub struct QuarkJournal {
    /// The shard parks as soon as it is idle (`spin_before_park(None)`), instead of the
    /// engine's default of spinning 10 ms first.
    parked: bool,
}

impl QuarkJournal {
    /// A journal in a fresh engine per run, with the engine's default idle policy.
    pub fn new() -> QuarkJournal {
        QuarkJournal { parked: false }
    }

    /// The same with a shard that parks as soon as it is idle.
    pub fn parked() -> QuarkJournal {
        QuarkJournal { parked: true }
    }
}

impl Peer for QuarkJournal {
    fn name(&self) -> &'static str {
        "quark"
    }
}

/// Runs `work` on the shard of a fresh one-shard engine, with its journal.
fn on_shard<T, Fut>(
    parked: bool,
    work: impl FnOnce(Journal) -> Fut + Send + 'static,
) -> Result<T, PeerError>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T, PeerError>> + 'static,
{
    let dir = tempfile::tempdir().map_err(|e| PeerError::because("creating a temp dir", e))?;
    let mut builder = Builder::new().shards(1).data_dir(dir.path());
    if parked {
        builder = builder.spin_before_park(None);
    }
    let engine = builder
        .start()
        .map_err(|e| PeerError::because("starting the engine", e))?;
    let result = engine.run_on_blocking(0, move |shard: Shard| async move {
        let journal = shard.journal().cloned();
        match journal {
            Some(j) => work(j).await,
            None => Err(PeerError::Unavailable(
                "the shard has no journal".to_owned(),
            )),
        }
    });
    let stopped = engine.shutdown();
    let result = result.map_err(|e| PeerError::because("running on the shard", e))?;
    stopped.map_err(|e| PeerError::because("stopping the engine", e))?;
    result
}

/// One appender: its tally, and how many of its acknowledged appends no fsync covered.
async fn append_loop(
    j: Journal,
    index: usize,
    bytes: usize,
    window: Window,
) -> Result<(Appender, u64), PeerError> {
    let stream = format!("bench-{index}");
    let (mut me, mut uncovered) = (Appender::default(), 0u64);
    while Instant::now() < window.end {
        let data = payload(index as u64, me.total + 1, bytes);
        let event = [NewEvent {
            event_type: EVENT_TYPE,
            data: &data,
        }];
        let fsyncs_before = j.log().stats().fsyncs;
        let started = Instant::now();
        let done = j
            .append(&stream, ExpectedVersion::Exact(me.total), &event)
            .await
            .map_err(|e| PeerError::because("append", e))?;
        let at = Instant::now();
        // Covered by an fsync: the whole record below the durable end, and an fsync
        // completed while the append was in flight.
        let below = j
            .log()
            .read(done.position)
            .is_ok_and(|r| r.end() <= j.log().durable_end());
        if !below || j.log().stats().fsyncs <= fsyncs_before {
            uncovered += 1;
        }
        me.hash.add(done.position ^ done.last_version);
        me.acknowledged(&window, started, at);
    }
    Ok((me, uncovered))
}

async fn append_run(j: Journal, load: AppendLoad) -> Result<AppendRun, PeerError> {
    let fsyncs_at_start = j.log().stats().fsyncs;
    let window = Window::starting_now(load.warmup, load.measure);
    let tasks: Vec<_> = (0..load.appenders)
        .map(|i| glommio::spawn_local(append_loop(j.clone(), i, load.record_bytes, window)))
        .collect();
    let mut run = AppendRun::over(&window, false, String::new());
    let mut uncovered = 0;
    for task in tasks {
        let (me, not_covered) = task.await?;
        run.merge(&me);
        uncovered += not_covered;
    }
    let fsyncs = j.log().stats().fsyncs - fsyncs_at_start;
    run.durable = j.log().is_durable() && fsyncs > 0 && uncovered == 0;
    run.durability = format!(
        "quark: {fsyncs} fdatasyncs during the run; {uncovered} of {} acknowledged appends were \
         not covered by an fsync (whole record below the durable end at acknowledgement, \
         fsync counter moved while in flight)",
        run.total
    );
    Ok(run)
}

/// Appends `streams` × `per_stream` events (one per append) from [`FILL_APPENDERS`]
/// concurrent appenders; event `k` goes to stream `k % streams`, so streams interleave in the
/// log (versions are assigned in append order, `ExpectedVersion::Any`).
async fn fill(j: &Journal, streams: u64, per_stream: u64, bytes: usize) -> Result<(), PeerError> {
    let total = streams * per_stream;
    let handles: Vec<_> = (0..FILL_APPENDERS)
        .map(|t| {
            let j = j.clone();
            glommio::spawn_local(async move {
                for k in (t..total).step_by(FILL_APPENDERS as usize) {
                    let stream = k % streams;
                    let data = payload(stream, k / streams + 1, bytes);
                    let event = [NewEvent {
                        event_type: EVENT_TYPE,
                        data: &data,
                    }];
                    let name = format!("bench-{stream}");
                    j.append(&name, ExpectedVersion::Any, &event)
                        .await
                        .map_err(|e| PeerError::because("append", e))?;
                }
                Ok::<_, PeerError>(())
            })
        })
        .collect();
    for h in handles {
        h.await?;
    }
    Ok(())
}

async fn read_run(
    j: Journal,
    load: StreamReadLoad,
    progress: Progress,
) -> Result<StreamReadRun, PeerError> {
    progress.say("quark", &format!("appending {} streams", load.streams));
    fill(&j, load.streams, load.events_per_stream, load.event_bytes).await?;
    let window = Window::starting_now(load.warmup, load.measure);
    let (mut picker, mut latencies, mut hash) =
        (Picker::new(), Latencies::new(), WorkHash::default());
    let (mut reads, mut events, mut since_yield) = (0u64, 0u64, 0u32);
    while Instant::now() < window.end {
        let stream = format!("bench-{}", picker.next_below(load.streams));
        let started = Instant::now();
        let got = j
            .read_stream(
                &stream,
                1,
                Direction::Forward,
                load.events_per_stream as usize,
            )
            .map_err(|e| PeerError::because("read_stream", e))?;
        for e in &got {
            hash.add_record(e.data());
        }
        let done = Instant::now();
        if got.len() as u64 != load.events_per_stream {
            return Err(PeerError::Unavailable(format!(
                "{stream}: {} events",
                got.len()
            )));
        }
        events += got.len() as u64;
        if window.counts(done) {
            reads += 1;
            latencies.record(done - started);
        }
        since_yield += 1;
        if since_yield == 256 {
            // Lets the shard's other tasks run; outside the timed reads.
            since_yield = 0;
            futures_lite::future::yield_now().await;
        }
    }
    Ok(StreamReadRun {
        reads,
        latencies,
        events,
        hash,
        how: "quark: Journal::read_stream(stream, 1, Forward, 100) on the shard thread, one \
              read at a time, every event's bytes hashed (index lookup, then one log read per \
              record)"
            .to_owned(),
    })
}

/// One full replay: (events, hash).
fn pass(j: &Journal) -> Result<(u64, WorkHash), PeerError> {
    let mut hash = WorkHash::default();
    let (events, _) = j
        .replay(Position::START, |v| {
            hash.add(v.stream.len() as u64 ^ v.version);
            hash.add_record(v.data);
            true
        })
        .map_err(|e| PeerError::because("replay", e))?;
    Ok((events, hash))
}

async fn replay_run(
    j: Journal,
    load: ReplayLoad,
    progress: Progress,
) -> Result<ReplayRun, PeerError> {
    progress.say("quark", &format!("appending {} events", load.records));
    fill(
        &j,
        REPLAY_STREAMS,
        load.records / REPLAY_STREAMS,
        load.record_bytes,
    )
    .await?;
    progress.say("quark", "one untimed pass, then one timed pass");
    let (warm, _) = pass(&j)?;
    let started = Instant::now();
    let (records, hash) = pass(&j)?;
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
        how: "quark: Journal::replay over the shard's global stream on the shard thread, \
              decoding every event's envelope (stream, version, type) and hashing its bytes \
              (second of two passes)"
            .to_owned(),
    })
}

impl EventStorePeer for QuarkJournal {
    fn append_events(
        &self,
        load: &AppendLoad,
        progress: &Progress,
    ) -> Result<AppendRun, PeerError> {
        progress.say(
            self.name(),
            &format!("{} appenders on one shard", load.appenders),
        );
        let load = load.clone();
        on_shard(self.parked, move |j| append_run(j, load))
    }

    fn read_streams(
        &self,
        load: &StreamReadLoad,
        progress: &Progress,
    ) -> Result<StreamReadRun, PeerError> {
        let (load, progress) = (load.clone(), progress.clone());
        on_shard(self.parked, move |j| read_run(j, load, progress))
    }

    fn replay_events(
        &self,
        load: &ReplayLoad,
        progress: &Progress,
    ) -> Result<ReplayRun, PeerError> {
        let (load, progress) = (load.clone(), progress.clone());
        on_shard(self.parked, move |j| replay_run(j, load, progress))
    }
}
