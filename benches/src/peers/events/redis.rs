//! Redis streams as an event store: one stream key per event stream; an append is
//! `XADD key 0-<version> type … data …` (an explicit id must exceed the stream's last one, so
//! Redis refuses a stale version, as an expected-version check would); a stream read is
//! `XRANGE key - +`; replay reads every stream with `XRANGE` in pages of 1,000.
//!
//! Invariants: `appendonly` and `appendfsync` are read back and reported; each run uses its own
//! keys (suffixed with the process id) and deletes them afterwards.
use super::{EVENT_TYPE, EventStorePeer, Picker, REPLAY_STREAMS, StreamReadLoad, StreamReadRun};
use crate::latency::Latencies;
use crate::peers::redis::{Redis, connect, connect_all, durability, failed, fold_page};
use crate::peers::{AppendLoad, AppendRun, Peer, PeerError, ReplayLoad, ReplayRun, tokio_thread};
use crate::progress::Progress;
use crate::size::Window;
use crate::timed::{Appender, tokio_appenders};
use crate::work::WorkHash;
use redis::Value;
use redis::aio::MultiplexedConnection;
use std::time::Instant;

/// Entries per `XRANGE` page and per fill pipeline.
const PAGE: usize = 1000;

fn key(run: &str, stream: u64) -> String {
    format!("quark:bench:events:{run}:{}:{stream}", std::process::id())
}

async fn del_all(conn: &mut MultiplexedConnection, run: &str, n: u64) -> Result<(), PeerError> {
    for chunk in (0..n).collect::<Vec<_>>().chunks(PAGE) {
        let mut cmd = redis::cmd("DEL");
        for s in chunk {
            cmd.arg(key(run, *s));
        }
        cmd.query_async::<i64>(conn).await.map_err(failed("DEL"))?;
    }
    Ok(())
}

/// `XADD key 0-<version> type <EVENT_TYPE> data <data>`.
fn xadd(key: &str, version: u64, data: &[u8]) -> redis::Cmd {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(key)
        .arg(format!("0-{version}"))
        .arg("type")
        .arg(EVENT_TYPE)
        .arg("data")
        .arg(data);
    cmd
}

async fn append_loop(
    mut conn: MultiplexedConnection,
    index: usize,
    bytes: usize,
    window: Window,
) -> Result<Appender, PeerError> {
    let key = key("append", index as u64);
    let mut me = Appender::default();
    while Instant::now() < window.end {
        let version = me.total + 1;
        let data = super::payload(index as u64, version, bytes);
        let cmd = xadd(&key, version, &data);
        let started = Instant::now();
        let id: String = cmd.query_async(&mut conn).await.map_err(failed("XADD"))?;
        let done = Instant::now();
        me.hash.add_bytes(id.as_bytes());
        me.acknowledged(&window, started, done);
    }
    Ok(me)
}

async fn append_run(url: String, load: AppendLoad) -> Result<AppendRun, PeerError> {
    let mut admin = connect(&url).await?;
    let (durable, sentence) = durability(&mut admin).await?;
    let n = load.appenders as u64;
    del_all(&mut admin, "append", n).await?;
    let conns = connect_all(&url, load.appenders).await?;
    let sentence = format!(
        "{sentence}; {} appenders over {} connection(s), one append in flight each",
        load.appenders,
        crate::peers::redis::connections_for(load.appenders)
    );
    let run = tokio_appenders(conns, &load, durable, sentence, |i, c, window| {
        append_loop(c, i, load.record_bytes, window)
    })
    .await?;
    del_all(&mut admin, "append", n).await?;
    Ok(run)
}

/// Writes `streams` × `per_stream` events, version-major so streams interleave, pipelined.
async fn fill(
    conn: &mut MultiplexedConnection,
    run: &str,
    streams: u64,
    per_stream: u64,
    bytes: usize,
) -> Result<(), PeerError> {
    let mut pipe = redis::pipe();
    let mut queued = 0;
    for version in 1..=per_stream {
        for stream in 0..streams {
            let data = super::payload(stream, version, bytes);
            pipe.add_command(xadd(&key(run, stream), version, &data))
                .ignore();
            queued += 1;
            if queued == PAGE {
                pipe.query_async::<()>(conn)
                    .await
                    .map_err(failed("filling"))?;
                pipe = redis::pipe();
                queued = 0;
            }
        }
    }
    if queued > 0 {
        pipe.query_async::<()>(conn)
            .await
            .map_err(failed("filling"))?;
    }
    Ok(())
}

async fn read_run(
    url: String,
    load: StreamReadLoad,
    progress: Progress,
) -> Result<StreamReadRun, PeerError> {
    let mut conn = connect(&url).await?;
    del_all(&mut conn, "read", load.streams).await?;
    progress.say(
        "redis",
        &format!("XADD {} streams (pipelined)", load.streams),
    );
    fill(
        &mut conn,
        "read",
        load.streams,
        load.events_per_stream,
        load.event_bytes,
    )
    .await?;
    let window = Window::starting_now(load.warmup, load.measure);
    let (mut picker, mut latencies, mut hash) =
        (Picker::new(), Latencies::new(), WorkHash::default());
    let (mut reads, mut events) = (0u64, 0u64);
    while Instant::now() < window.end {
        let key = key("read", picker.next_below(load.streams));
        let started = Instant::now();
        let page: Value = redis::cmd("XRANGE")
            .arg(&key)
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .map_err(failed("XRANGE"))?;
        let (n, _) = fold_page(&page, 3, &mut hash)?;
        let done = Instant::now();
        if n != load.events_per_stream {
            return Err(PeerError::Unavailable(format!("{key}: {n} entries")));
        }
        events += n;
        if window.counts(done) {
            reads += 1;
            latencies.record(done - started);
        }
    }
    del_all(&mut conn, "read", load.streams).await?;
    Ok(StreamReadRun {
        reads,
        latencies,
        events,
        hash,
        how: "redis: XRANGE key - + per stream, one connection, one read at a time".to_owned(),
    })
}

async fn replay_run(
    url: String,
    load: ReplayLoad,
    progress: Progress,
) -> Result<ReplayRun, PeerError> {
    let mut conn = connect(&url).await?;
    del_all(&mut conn, "replay", REPLAY_STREAMS).await?;
    progress.say(
        "redis",
        &format!("XADD {} events (pipelined)", load.records),
    );
    let per_stream = load.records / REPLAY_STREAMS;
    fill(
        &mut conn,
        "replay",
        REPLAY_STREAMS,
        per_stream,
        load.record_bytes,
    )
    .await?;
    progress.say("redis", "timing XRANGE over every stream");
    let started = Instant::now();
    let (mut hash, mut records) = (WorkHash::default(), 0u64);
    for stream in 0..REPLAY_STREAMS {
        let key = key("replay", stream);
        let mut from = "-".to_owned();
        loop {
            let page: Value = redis::cmd("XRANGE")
                .arg(&key)
                .arg(&from)
                .arg("+")
                .arg("COUNT")
                .arg(PAGE)
                .query_async(&mut conn)
                .await
                .map_err(failed("XRANGE"))?;
            let (n, last) = fold_page(&page, 3, &mut hash)?;
            records += n;
            match last {
                Some(id) if n == PAGE as u64 => from = format!("({id}"),
                _ => break,
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    del_all(&mut conn, "replay", REPLAY_STREAMS).await?;
    Ok(ReplayRun {
        records,
        secs,
        hash,
        how: format!("redis: XRANGE in pages of {PAGE} over each of the {REPLAY_STREAMS} streams"),
    })
}

impl EventStorePeer for Redis {
    fn append_events(
        &self,
        load: &AppendLoad,
        progress: &Progress,
    ) -> Result<AppendRun, PeerError> {
        progress.say(
            self.name(),
            &format!("{} appenders, XADD with id", load.appenders),
        );
        let (url, load) = (self.url().to_owned(), load.clone());
        tokio_thread::run_multi(self.name(), move || append_run(url, load))
    }

    fn read_streams(
        &self,
        load: &StreamReadLoad,
        progress: &Progress,
    ) -> Result<StreamReadRun, PeerError> {
        let (url, load, progress) = (self.url().to_owned(), load.clone(), progress.clone());
        tokio_thread::run_multi(self.name(), move || read_run(url, load, progress))
    }

    fn replay_events(
        &self,
        load: &ReplayLoad,
        progress: &Progress,
    ) -> Result<ReplayRun, PeerError> {
        let (url, load, progress) = (self.url().to_owned(), load.clone(), progress.clone());
        tokio_thread::run_multi(self.name(), move || replay_run(url, load, progress))
    }
}
