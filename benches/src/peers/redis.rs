//! Redis streams as an event log: `XADD` from each appender (connections: see
//! [`connections_for`]); replay is `XRANGE` in pages of 1,000.
//!
//! Invariants: `appendonly` and `appendfsync` are read back and reported, never assumed (with
//! `appendfsync always` Redis fsyncs its AOF before replying); each run uses its own key
//! (suffixed with the process id) and deletes it afterwards.
use super::{AppendLoad, AppendRun, LogPeer, Peer, PeerError, ReplayLoad, ReplayRun, tokio_thread};
use crate::progress::Progress;
use crate::size::Window;
use crate::timed::{Appender, tokio_appenders};
use crate::work::WorkHash;
use redis::Value;
use redis::aio::MultiplexedConnection;
use std::collections::HashMap;
use std::time::Instant;

/// Entries per `XRANGE` page and per preload pipeline.
const PAGE: usize = 1000;

/// The Redis peer.
#[derive(Clone, Debug)]
pub struct Redis {
    url: String,
}

impl Redis {
    /// A peer talking to `url`.
    pub fn new(url: &str) -> Redis {
        Redis {
            url: url.to_owned(),
        }
    }
}

impl Redis {
    /// The URL this peer talks to.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Peer for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }
}

pub(crate) fn failed(what: &str) -> impl Fn(redis::RedisError) -> PeerError + '_ {
    move |e| PeerError::because(what, e)
}

pub(crate) async fn connect(url: &str) -> Result<MultiplexedConnection, PeerError> {
    let client = redis::Client::open(url).map_err(failed("parsing the Redis URL"))?;
    client
        .get_multiplexed_async_connection()
        .await
        .map_err(failed("connecting to Redis"))
}

/// The connections `appenders` appenders share: one multiplexed connection unless
/// `QUARK_REDIS_CONNECTIONS` says more. redis-rs recommends sharing a multiplexed connection
/// between tasks (it pipelines their commands), and Redis, one thread, fsyncs its AOF once per
/// event-loop pass for every command that pass executed, so the appenders' commands arriving
/// together on one socket share a pass and its fsync, and the client drives one socket instead
/// of 64; it measured best of 1, 8 and 64 connections (benches/README.md). Each appender still
/// has one append in flight, acknowledged only after the fsync.
pub(crate) fn connections_for(appenders: usize) -> usize {
    crate::peers::postgres::shared_connections("QUARK_REDIS_CONNECTIONS", appenders, 1)
}

/// One multiplexed connection handle per appender over [`connections_for`] connections (opened
/// one after another), handed out round-robin.
pub(crate) async fn connect_all(
    url: &str,
    n: usize,
) -> Result<Vec<MultiplexedConnection>, PeerError> {
    let mut conns = Vec::new();
    for _ in 0..connections_for(n) {
        conns.push(connect(url).await?);
    }
    Ok((0..n).map(|i| conns[i % conns.len()].clone()).collect())
}

/// Reads `appendonly` and `appendfsync` back: (durable, sentence).
pub(crate) async fn durability(
    conn: &mut MultiplexedConnection,
) -> Result<(bool, String), PeerError> {
    let get = |name: &'static str| {
        let mut conn = conn.clone();
        async move {
            let map: HashMap<String, String> = redis::cmd("CONFIG")
                .arg("GET")
                .arg(name)
                .query_async(&mut conn)
                .await
                .map_err(failed("reading Redis settings"))?;
            Ok::<_, PeerError>(map.get(name).cloned().unwrap_or_else(|| "?".to_owned()))
        }
    };
    let appendonly = get("appendonly").await?;
    let appendfsync = get("appendfsync").await?;
    let durable = appendonly == "yes" && appendfsync == "always";
    let sentence = format!(
        "redis: appendonly={appendonly}, appendfsync={appendfsync} (read back from the server): \
         each XADD is acknowledged after the AOF is fsynced"
    );
    Ok((durable, sentence))
}

async fn append_loop(
    mut conn: MultiplexedConnection,
    key: String,
    index: usize,
    record_bytes: usize,
    window: Window,
) -> Result<Appender, PeerError> {
    let mut payload = vec![index as u8; record_bytes];
    let mut me = Appender::default();
    while Instant::now() < window.end {
        let n = me.total.to_le_bytes();
        let k = n.len().min(payload.len());
        payload[..k].copy_from_slice(&n[..k]);
        let started = Instant::now();
        let id: String = redis::cmd("XADD")
            .arg(&key)
            .arg("*")
            .arg("p")
            .arg(&payload)
            .query_async(&mut conn)
            .await
            .map_err(failed("XADD"))?;
        let done = Instant::now();
        me.hash.add_bytes(id.as_bytes());
        me.acknowledged(&window, started, done);
    }
    Ok(me)
}

async fn del(conn: &mut MultiplexedConnection, key: &str) -> Result<(), PeerError> {
    redis::cmd("DEL")
        .arg(key)
        .query_async::<i64>(conn)
        .await
        .map_err(failed("DEL"))?;
    Ok(())
}

async fn append_run(url: String, load: AppendLoad) -> Result<AppendRun, PeerError> {
    let mut admin = connect(&url).await?;
    let (durable, sentence) = durability(&mut admin).await?;
    let key = format!("quark:bench:append:{}", std::process::id());
    del(&mut admin, &key).await?;
    let conns = connect_all(&url, load.appenders).await?;
    let sentence = format!(
        "{sentence}; {} appenders over {} connection(s), one append in flight each",
        load.appenders,
        crate::peers::redis::connections_for(load.appenders)
    );
    let run = tokio_appenders(conns, &load, durable, sentence, |i, conn, window| {
        append_loop(conn, key.clone(), i, load.record_bytes, window)
    })
    .await?;
    del(&mut admin, &key).await?;
    Ok(run)
}

async fn fill(
    conn: &mut MultiplexedConnection,
    key: &str,
    load: &ReplayLoad,
) -> Result<(), PeerError> {
    let mut written = 0u64;
    while written < load.records {
        let batch = (load.records - written).min(PAGE as u64);
        let mut pipe = redis::pipe();
        for i in written..written + batch {
            let seed = format!("{i:016x}");
            let payload: Vec<u8> = seed.bytes().cycle().take(load.record_bytes).collect();
            pipe.cmd("XADD")
                .arg(key)
                .arg("*")
                .arg("p")
                .arg(payload)
                .ignore();
        }
        pipe.query_async::<()>(conn)
            .await
            .map_err(failed("filling the stream"))?;
        written += batch;
    }
    Ok(())
}

/// Folds one XRANGE reply into the hash: of each entry, the value at `value_at` in its
/// field/value list (`add_record`); returns (entries, last id).
pub(crate) fn fold_page(
    page: &Value,
    value_at: usize,
    hash: &mut WorkHash,
) -> Result<(u64, Option<String>), PeerError> {
    let bad = || PeerError::Unavailable("XRANGE returned an unexpected shape".to_owned());
    let Value::Array(entries) = page else {
        return Err(bad());
    };
    let mut last = None;
    for entry in entries {
        let Value::Array(parts) = entry else {
            return Err(bad());
        };
        let [Value::BulkString(id), Value::Array(fields)] = parts.as_slice() else {
            return Err(bad());
        };
        let Some(Value::BulkString(value)) = fields.get(value_at) else {
            return Err(bad());
        };
        hash.add_record(value);
        last = Some(String::from_utf8_lossy(id).into_owned());
    }
    Ok((entries.len() as u64, last))
}

async fn replay_run(
    url: String,
    load: ReplayLoad,
    progress: Progress,
) -> Result<ReplayRun, PeerError> {
    let mut conn = connect(&url).await?;
    let key = format!("quark:bench:replay:{}", std::process::id());
    del(&mut conn, &key).await?;
    progress.say(
        "redis",
        &format!("XADD {} entries (pipelined)", load.records),
    );
    fill(&mut conn, &key, &load).await?;
    progress.say("redis", "timing XRANGE over the whole stream");
    let started = Instant::now();
    let (mut hash, mut records, mut from) = (WorkHash::default(), 0u64, "-".to_owned());
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
        let (n, last) = fold_page(&page, 1, &mut hash)?;
        records += n;
        match last {
            Some(id) if n == PAGE as u64 => from = format!("({id}"),
            _ => break,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    del(&mut conn, &key).await?;
    Ok(ReplayRun {
        records,
        secs,
        hash,
        how: format!("redis: XRANGE in pages of {PAGE} (exclusive start) over the whole stream"),
    })
}

impl LogPeer for Redis {
    fn append(&self, load: &AppendLoad, progress: &Progress) -> Result<AppendRun, PeerError> {
        progress.say(self.name(), &format!("{} appenders, XADD", load.appenders));
        let (url, load) = (self.url.clone(), load.clone());
        tokio_thread::run_multi(self.name(), move || append_run(url, load))
    }

    fn replay(&self, load: &ReplayLoad, progress: &Progress) -> Result<ReplayRun, PeerError> {
        let (url, load, progress) = (self.url.clone(), load.clone(), progress.clone());
        tokio_thread::run_multi(self.name(), move || replay_run(url, load, progress))
    }
}
