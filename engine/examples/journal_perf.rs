//! Quick figures for the journal on one shard, without the peers (the harness's `events.*`
//! scenarios compare against PostgreSQL and Redis): durable one-event appends from 64
//! appenders (each owning a stream, expected version checked), the same through 64
//! event-sourced actors (`ctx.persist` behind actor calls), whole reads of 100-event streams
//! whose events are interleaved in the log, and a full replay of the shard.
//!
//! Run: `cargo run --release -p quark --example journal_perf [EVENTS]` (default 1,024,000);
//! set `QUARK_PARK=1` to let the shard park when idle instead of spinning 10 ms first, and
//! `QUARK_REPLAY_PASSES=N` for N replay passes (for profiling).

use std::time::{Duration, Instant};

use quark::journal::{Direction, EventSourced, ExpectedVersion, Journal, NewEvent, Position};
use quark::{Actor, ActorError, Builder, Context, Handler, Message, Shard};

/// An event-sourced counter, to time `ctx.persist` through actor calls.
struct Counter {
    total: u64,
}

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct Added(Vec<u8>);

impl Actor for Counter {
    type Key = u64;
    async fn on_activate(ctx: &mut Context<Self>) -> Result<Self, ActorError> {
        Ok(Counter {
            total: ctx.recover().await?,
        })
    }
}

impl EventSourced for Counter {
    type State = u64;
    type Event = Added;
    const CATEGORY: &'static str = "counter";
    fn apply(state: &mut u64, event: &Added) {
        *state += event.0.len() as u64;
    }
}

struct Add(Vec<u8>);
impl Message for Add {
    type Reply = u64;
}

impl Handler<Add> for Counter {
    async fn handle(&mut self, m: Add, ctx: &mut Context<Self>) -> Result<u64, ActorError> {
        Ok(ctx.persist(&mut self.total, [Added(m.0)]).await?)
    }
}

/// 64 callers, each calling its own counter for `secs` seconds; sorted latencies.
async fn persists(shard: &Shard, secs: f64) -> Vec<Duration> {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..APPENDERS as u64)
        .map(|k| {
            let counter = shard.actor::<Counter>(k);
            glommio::spawn_local(async move {
                let mut lat = Vec::new();
                while Instant::now() < end {
                    let t = Instant::now();
                    if counter.call(Add(vec![k as u8; EVENT_BYTES])).await.is_err() {
                        break;
                    }
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await);
    }
    all.sort();
    all
}

const APPENDERS: usize = 64;
const EVENT_BYTES: usize = 128;

fn quantile_us(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

/// 64 appenders for `secs` seconds, one event per append; returns sorted latencies.
async fn appends(j: &Journal, secs: f64) -> Vec<Duration> {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..APPENDERS)
        .map(|i| {
            let j = j.clone();
            glommio::spawn_local(async move {
                let (stream, data) = (format!("append-{i}"), vec![i as u8; EVENT_BYTES]);
                let mut lat = Vec::new();
                while Instant::now() < end {
                    let e = [NewEvent {
                        event_type: "E",
                        data: &data,
                    }];
                    let expected = ExpectedVersion::Exact(lat.len() as u64);
                    let t = Instant::now();
                    if j.append(&stream, expected, &e).await.is_err() {
                        break;
                    }
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await);
    }
    all.sort();
    all
}

/// Appends `events` one per append over 1,000 interleaved streams, 512 appenders.
async fn fill(j: &Journal, events: u64) {
    let tasks: Vec<_> = (0..512u64)
        .map(|t| {
            let j = j.clone();
            glommio::spawn_local(async move {
                let data = vec![t as u8; EVENT_BYTES];
                for k in (t..events).step_by(512) {
                    let stream = format!("read-{}", k % 1000);
                    let e = [NewEvent {
                        event_type: "E",
                        data: &data,
                    }];
                    if j.append(&stream, ExpectedVersion::Any, &e).await.is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await;
    }
}

async fn run(shard: Shard, events: u64) -> Result<(), String> {
    let j = shard.journal().cloned().ok_or("no journal")?;
    let lat = appends(&j, 5.0).await;
    println!(
        "append: {} events in 5 s = {:.0}/s, p50 {:.0} us, p99 {:.0} us ({} appenders, {} B)",
        lat.len(),
        lat.len() as f64 / 5.0,
        quantile_us(&lat, 0.5),
        quantile_us(&lat, 0.99),
        APPENDERS,
        EVENT_BYTES
    );
    let lat = persists(&shard, 5.0).await;
    println!(
        "persist via actor calls: {} in 5 s = {:.0}/s, p50 {:.0} us, p99 {:.0} us ({} actors)",
        lat.len(),
        lat.len() as f64 / 5.0,
        quantile_us(&lat, 0.5),
        quantile_us(&lat, 0.99),
        APPENDERS
    );
    fill(&j, events).await;
    let mut reads = Vec::new();
    let mut sum = 0u64;
    for i in 0..20_000u64 {
        let stream = format!("read-{}", (i * 7919) % 1000);
        let t = Instant::now();
        let got = j
            .read_stream(&stream, 1, Direction::Forward, 100)
            .map_err(|e| e.to_string())?;
        sum += got.iter().map(|e| u64::from(e.data()[0])).sum::<u64>();
        reads.push(t.elapsed());
        if i % 256 == 0 {
            futures_lite::future::yield_now().await;
        }
    }
    reads.sort();
    println!(
        "read_stream_100: p50 {:.1} us, p99 {:.1} us over {} reads (check {sum})",
        quantile_us(&reads, 0.5),
        quantile_us(&reads, 0.99),
        reads.len()
    );
    let passes = std::env::var("QUARK_REPLAY_PASSES")
        .ok()
        .and_then(|p| p.parse().ok());
    for pass in 0..passes.unwrap_or(3) {
        let t = Instant::now();
        let mut h = 0u64;
        let (n, _) = j
            .replay(Position::START, |v| {
                h = h.wrapping_add(v.version ^ v.data.len() as u64 ^ u64::from(v.data[0]));
                true
            })
            .map_err(|e| e.to_string())?;
        let s = t.elapsed().as_secs_f64();
        println!(
            "replay pass {pass}: {n} events in {s:.3} s = {:.0}/s (h {h})",
            n as f64 / s
        );
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let events: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_024_000);
    let dir = tempfile::tempdir()?;
    let mut builder = Builder::new()
        .shards(1)
        .data_dir(dir.path())
        .register::<Counter>();
    if std::env::var_os("QUARK_PARK").is_some() {
        builder = builder.spin_before_park(None);
    }
    let engine = builder.start()?;
    let outcome = engine.run_on_blocking(0, move |shard| run(shard, events))?;
    engine.shutdown()?;
    outcome.map_err(Into::into)
}
