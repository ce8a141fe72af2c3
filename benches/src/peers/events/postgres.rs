//! PostgreSQL as an event store: an `events` table with a unique (stream, version) key; one
//! single-row `INSERT` per append (one event per append, as Quark's appends here), with
//! synchronous commit, one connection per appender; stream reads by the (stream, version)
//! index; replay is one `SELECT … ORDER BY id`.
//!
//! Invariants: the server's `fsync` and `synchronous_commit` are read back and reported; each
//! run uses its own table (suffixed with the process id) and drops it afterwards.
use super::{EVENT_TYPE, EventStorePeer, Picker, REPLAY_STREAMS, StreamReadLoad, StreamReadRun};
use crate::latency::Latencies;
use crate::peers::postgres::{Postgres, connect, connect_all, durability, failed};
use crate::peers::{AppendLoad, AppendRun, Peer, PeerError, ReplayLoad, ReplayRun, tokio_thread};
use crate::progress::Progress;
use crate::size::Window;
use crate::timed::{Appender, tokio_appenders};
use crate::work::WorkHash;
use futures_lite::StreamExt;
use std::time::Instant;
use tokio_postgres::Client;

fn create_sql(table: &str) -> String {
    format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigserial PRIMARY KEY, \
         stream text NOT NULL, version bigint NOT NULL, type text NOT NULL, data bytea NOT NULL, \
         created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream, version))"
    )
}

async fn drop_table(client: &Client, table: &str) -> Result<(), PeerError> {
    client
        .batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
        .await
        .map_err(failed("dropping the table"))
}

async fn append_loop(
    client: std::sync::Arc<Client>,
    table: String,
    index: usize,
    bytes: usize,
    window: Window,
) -> Result<Appender, PeerError> {
    let sql = format!(
        "INSERT INTO {table} (stream, version, type, data) VALUES ($1, $2, $3, $4) RETURNING id"
    );
    let stmt = client
        .prepare(&sql)
        .await
        .map_err(failed("preparing INSERT"))?;
    let stream = format!("bench-{index}");
    let mut me = Appender::default();
    while Instant::now() < window.end {
        let version = me.total as i64 + 1;
        let data = super::payload(index as u64, version as u64, bytes);
        let started = Instant::now();
        let row = client
            .query_one(&stmt, &[&stream, &version, &EVENT_TYPE, &data])
            .await
            .map_err(failed("INSERT"))?;
        let done = Instant::now();
        let id: i64 = row.try_get(0).map_err(failed("reading the returned id"))?;
        me.hash.add(id as u64);
        me.acknowledged(&window, started, done);
    }
    Ok(me)
}

async fn append_run(url: String, load: AppendLoad) -> Result<AppendRun, PeerError> {
    let admin = connect(&url).await?;
    let (durable, sentence) = durability(&admin).await?;
    let table = format!("quark_bench_events_append_{}", std::process::id());
    admin
        .batch_execute(&create_sql(&table))
        .await
        .map_err(failed("creating the table"))?;
    let clients = connect_all(&url, load.appenders).await?;
    let sentence = format!(
        "{sentence}; {} appenders over {} connection(s), one append in flight each",
        load.appenders,
        crate::peers::postgres::connections_for(load.appenders)
    );
    let run = tokio_appenders(clients, &load, durable, sentence, |i, c, window| {
        append_loop(c, table.clone(), i, load.record_bytes, window)
    })
    .await?;
    drop_table(&admin, &table).await?;
    Ok(run)
}

/// Fills `streams` × `per_stream` events, version-major so streams interleave.
async fn fill(
    client: &Client,
    table: &str,
    streams: u64,
    per_stream: u64,
    bytes: usize,
) -> Result<(), PeerError> {
    let sql = format!(
        "INSERT INTO {table} (stream, version, type, data) \
         SELECT 'bench-' || s, v, '{EVENT_TYPE}', \
         convert_to(rpad(md5(s::text || '-' || v::text), {bytes}, 'x'), 'UTF8') \
         FROM generate_series(1, {per_stream}) AS v, generate_series(0, {streams} - 1) AS s \
         ORDER BY v, s"
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(failed("filling the table"))?;
    client
        .batch_execute(&format!("VACUUM ANALYZE {table}"))
        .await
        .map_err(failed("VACUUM"))
}

async fn read_run(
    url: String,
    load: StreamReadLoad,
    progress: Progress,
) -> Result<StreamReadRun, PeerError> {
    let client = connect(&url).await?;
    let table = format!("quark_bench_events_read_{}", std::process::id());
    client
        .batch_execute(&create_sql(&table))
        .await
        .map_err(failed("creating the table"))?;
    progress.say("postgres", &format!("inserting {} streams", load.streams));
    fill(
        &client,
        &table,
        load.streams,
        load.events_per_stream,
        load.event_bytes,
    )
    .await?;
    let sql = format!("SELECT version, data FROM {table} WHERE stream = $1 ORDER BY version");
    let stmt = client
        .prepare(&sql)
        .await
        .map_err(failed("preparing SELECT"))?;
    let window = Window::starting_now(load.warmup, load.measure);
    let (mut picker, mut latencies, mut hash) =
        (Picker::new(), Latencies::new(), WorkHash::default());
    let (mut reads, mut events) = (0u64, 0u64);
    while Instant::now() < window.end {
        let stream = format!("bench-{}", picker.next_below(load.streams));
        let started = Instant::now();
        let rows = client
            .query(&stmt, &[&stream])
            .await
            .map_err(failed("SELECT"))?;
        for row in &rows {
            let data: &[u8] = row.try_get(1).map_err(failed("reading data"))?;
            hash.add_record(data);
        }
        let done = Instant::now();
        if rows.len() as u64 != load.events_per_stream {
            return Err(PeerError::Unavailable(format!(
                "{stream}: {} rows",
                rows.len()
            )));
        }
        events += rows.len() as u64;
        if window.counts(done) {
            reads += 1;
            latencies.record(done - started);
        }
    }
    drop_table(&client, &table).await?;
    Ok(StreamReadRun {
        reads,
        latencies,
        events,
        hash,
        how: "postgres: prepared SELECT version, data … WHERE stream = $1 ORDER BY version \
              (unique (stream, version) index), one connection, one read at a time"
            .to_owned(),
    })
}

async fn replay_run(
    url: String,
    load: ReplayLoad,
    progress: Progress,
) -> Result<ReplayRun, PeerError> {
    let client = connect(&url).await?;
    let table = format!("quark_bench_events_replay_{}", std::process::id());
    client
        .batch_execute(&create_sql(&table))
        .await
        .map_err(failed("creating the table"))?;
    progress.say("postgres", &format!("inserting {} events", load.records));
    let per_stream = load.records / REPLAY_STREAMS;
    fill(
        &client,
        &table,
        REPLAY_STREAMS,
        per_stream,
        load.record_bytes,
    )
    .await?;
    progress.say("postgres", "timing one full SELECT");
    let sql = format!("SELECT stream, version, data FROM {table} ORDER BY id");
    let started = Instant::now();
    let rows = client
        .query_raw(&sql, std::iter::empty::<i64>())
        .await
        .map_err(failed("SELECT"))?;
    let mut rows = std::pin::pin!(rows);
    let (mut hash, mut records) = (WorkHash::default(), 0u64);
    while let Some(row) = rows.next().await {
        let row = row.map_err(failed("reading a row"))?;
        let stream: &str = row.try_get(0).map_err(failed("reading a stream"))?;
        let version: i64 = row.try_get(1).map_err(failed("reading a version"))?;
        let data: &[u8] = row.try_get(2).map_err(failed("reading data"))?;
        hash.add(stream.len() as u64 ^ version as u64);
        hash.add_record(data);
        records += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    drop_table(&client, &table).await?;
    Ok(ReplayRun {
        records,
        secs,
        hash,
        how: "postgres: one SELECT stream, version, data … ORDER BY id over the events table \
              (after VACUUM ANALYZE), rows streamed"
            .to_owned(),
    })
}

impl EventStorePeer for Postgres {
    fn append_events(
        &self,
        load: &AppendLoad,
        progress: &Progress,
    ) -> Result<AppendRun, PeerError> {
        progress.say(
            self.name(),
            &format!("{} appenders, INSERT with version", load.appenders),
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
