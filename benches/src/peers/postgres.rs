//! PostgreSQL as an event log: one single-row `INSERT … RETURNING id` per append into an
//! events-like table, one connection per appender (see [`connections_for`]); replay is one
//! `SELECT … ORDER BY id`.
//!
//! Invariants: the server's `fsync` and `synchronous_commit` are read back and reported, never
//! assumed; each run uses its own table (suffixed with the process id) and drops it afterwards.
use super::{AppendLoad, AppendRun, LogPeer, Peer, PeerError, ReplayLoad, ReplayRun, tokio_thread};
use crate::progress::Progress;
use crate::size::Window;
use crate::timed::{Appender, tokio_appenders};
use crate::work::WorkHash;
use futures_lite::StreamExt;
use std::sync::Arc;
use std::time::Instant;
use tokio_postgres::{Client, NoTls};

/// The PostgreSQL peer.
#[derive(Clone, Debug)]
pub struct Postgres {
    url: String,
}

impl Postgres {
    /// A peer talking to `url`.
    pub fn new(url: &str) -> Postgres {
        Postgres {
            url: url.to_owned(),
        }
    }
}

impl Postgres {
    /// The URL this peer talks to.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Peer for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }
}

pub(crate) async fn connect(url: &str) -> Result<Client, PeerError> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| PeerError::because("connecting to PostgreSQL", e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!("PostgreSQL connection ended: {e}");
        }
    });
    Ok(client)
}

/// The connections `appenders` durable appenders share: one each unless
/// `QUARK_PG_CONNECTIONS` says fewer (the appenders then pipeline their queries on shared
/// connections, which tokio-postgres does by itself). One per appender is PostgreSQL's best
/// for this load: a backend commits one transaction at a time, and group commit (one WAL
/// flush for every backend waiting) only batches commits of different backends, so appenders
/// pipelined on one connection wait for one flush each, in turn (see benches/README.md).
pub(crate) fn connections_for(appenders: usize) -> usize {
    shared_connections("QUARK_PG_CONNECTIONS", appenders, appenders)
}

/// `default` connections for `appenders` handles, or what `var` says (at least 1, at most
/// `appenders`).
pub(crate) fn shared_connections(var: &str, appenders: usize, default: usize) -> usize {
    let wanted = std::env::var(var)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(default);
    wanted.clamp(1, appenders.max(1))
}

/// One client handle per appender over [`connections_for`] connections (opened one after
/// another), handed out round-robin.
pub(crate) async fn connect_all(url: &str, n: usize) -> Result<Vec<Arc<Client>>, PeerError> {
    let mut clients = Vec::new();
    for _ in 0..connections_for(n) {
        clients.push(Arc::new(connect(url).await?));
    }
    Ok((0..n).map(|i| clients[i % clients.len()].clone()).collect())
}

pub(crate) fn failed(what: &str) -> impl Fn(tokio_postgres::Error) -> PeerError + '_ {
    move |e| PeerError::because(what, e)
}

/// Reads `fsync` and `synchronous_commit` back: (durable, sentence).
pub(crate) async fn durability(client: &Client) -> Result<(bool, String), PeerError> {
    let mut values = Vec::new();
    for setting in ["fsync", "synchronous_commit"] {
        let row = client
            .query_one(&format!("SHOW {setting}"), &[])
            .await
            .map_err(failed("reading PostgreSQL settings"))?;
        let value: String = row
            .try_get(0)
            .map_err(failed("reading PostgreSQL settings"))?;
        values.push(value);
    }
    let durable = values[0] == "on" && values[1] != "off";
    let sentence = format!(
        "postgres: fsync={}, synchronous_commit={} (read back from the server): each INSERT is \
         acknowledged after its WAL is flushed",
        values[0], values[1]
    );
    Ok((durable, sentence))
}

fn create_sql(table: &str) -> String {
    format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigserial PRIMARY KEY, \
         stream text NOT NULL, payload bytea NOT NULL, created_at timestamptz NOT NULL \
         DEFAULT now())"
    )
}

async fn append_loop(
    client: Arc<Client>,
    table: String,
    index: usize,
    record_bytes: usize,
    window: Window,
) -> Result<Appender, PeerError> {
    let sql = format!("INSERT INTO {table} (stream, payload) VALUES ($1, $2) RETURNING id");
    let stmt = client
        .prepare(&sql)
        .await
        .map_err(failed("preparing INSERT"))?;
    let stream = format!("appender-{index}");
    let mut payload = vec![index as u8; record_bytes];
    let mut me = Appender::default();
    while Instant::now() < window.end {
        let n = me.total.to_le_bytes();
        let k = n.len().min(payload.len());
        payload[..k].copy_from_slice(&n[..k]);
        let started = Instant::now();
        let row = client
            .query_one(&stmt, &[&stream, &payload])
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
    let table = format!("quark_bench_append_{}", std::process::id());
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
    let run = tokio_appenders(clients, &load, durable, sentence, |i, client, window| {
        append_loop(client, table.clone(), i, load.record_bytes, window)
    })
    .await?;
    let drop_sql = format!("DROP TABLE IF EXISTS {table}");
    admin
        .batch_execute(&drop_sql)
        .await
        .map_err(failed("dropping the table"))?;
    Ok(run)
}

async fn replay_run(
    url: String,
    load: ReplayLoad,
    progress: Progress,
) -> Result<ReplayRun, PeerError> {
    let client = connect(&url).await?;
    let table = format!("quark_bench_replay_{}", std::process::id());
    client
        .batch_execute(&create_sql(&table))
        .await
        .map_err(failed("creating the table"))?;
    progress.say("postgres", &format!("inserting {} rows", load.records));
    let fill = format!(
        "INSERT INTO {table} (stream, payload) SELECT 'stream-' || (g % 64), \
         convert_to(rpad(md5(g::text), {bytes}, md5(g::text)), 'UTF8') \
         FROM generate_series(1, {n}) AS g",
        bytes = load.record_bytes,
        n = load.records
    );
    client
        .batch_execute(&fill)
        .await
        .map_err(failed("filling the table"))?;
    client
        .batch_execute(&format!("VACUUM ANALYZE {table}"))
        .await
        .map_err(failed("VACUUM"))?;
    progress.say("postgres", "timing one full SELECT");
    let sql = format!("SELECT id, payload FROM {table} ORDER BY id");
    let started = Instant::now();
    let rows = client
        .query_raw(&sql, std::iter::empty::<i64>())
        .await
        .map_err(failed("SELECT"))?;
    let mut rows = std::pin::pin!(rows);
    let mut hash = WorkHash::default();
    let mut records = 0u64;
    while let Some(row) = rows.next().await {
        let row = row.map_err(failed("reading a row"))?;
        let payload: &[u8] = row.try_get(1).map_err(failed("reading a payload"))?;
        hash.add_record(payload);
        records += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let drop_sql = format!("DROP TABLE IF EXISTS {table}");
    client
        .batch_execute(&drop_sql)
        .await
        .map_err(failed("dropping the table"))?;
    Ok(ReplayRun {
        records,
        secs,
        hash,
        how: "postgres: one SELECT id, payload … ORDER BY id over the whole table (after VACUUM \
              ANALYZE), rows streamed"
            .to_owned(),
    })
}

impl LogPeer for Postgres {
    fn append(&self, load: &AppendLoad, progress: &Progress) -> Result<AppendRun, PeerError> {
        progress.say(
            self.name(),
            &format!("{} appenders, INSERT … RETURNING id", load.appenders),
        );
        let (url, load) = (self.url.clone(), load.clone());
        tokio_thread::run_multi(self.name(), move || append_run(url, load))
    }

    fn replay(&self, load: &ReplayLoad, progress: &Progress) -> Result<ReplayRun, PeerError> {
        let (url, load, progress) = (self.url.clone(), load.clone(), progress.clone());
        tokio_thread::run_multi(self.name(), move || replay_run(url, load, progress))
    }
}
