//! `perf`: quick figures for the engine's messaging paths (the benchmark harness owns the
//! real `actor.*` scenarios, side by side with peers; this is the engine's own smoke check).
//!
//! Run with `cargo run --release -p quark --example perf [scale] [only]` (scale defaults to
//! 1.0; `only` picks one of `one_shard`, `raw`, `cross_shard`, `outside`, `activate`).
//! Prints tells/s and calls/s on one shard, cross-shard round-trip percentiles with and
//! without spinning, and activations/s with the resident memory per idle activation.

use std::time::{Duration, Instant};

use quark::{Actor, ActorError, ActorId, Builder, Context, Handler, Message, Placement};

struct Sink {
    count: u64,
}

impl Actor for Sink {
    type Key = u64;
    async fn on_activate(_: &mut Context<Self>) -> Result<Self, ActorError> {
        Ok(Sink { count: 0 })
    }
}

struct Ping;
impl Message for Ping {
    type Reply = u64;
}

impl Handler<Ping> for Sink {
    async fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> Result<u64, ActorError> {
        self.count += 1;
        Ok(self.count)
    }
}

/// Everything on shard 0: the activation scenario measures one shard.
struct AllOnZero;
impl Placement for AllOnZero {
    fn home(&self, _: &ActorId, _: usize) -> usize {
        0
    }
}

fn key_on(engine: &quark::Engine, shard: usize) -> u64 {
    (0..)
        .find(|k| engine.home_shard::<Sink>(k) == Some(shard))
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn one_shard(n: u64) -> Result<(), quark::Error> {
    let engine = Builder::new().shards(2).register::<Sink>().start()?;
    let key = key_on(&engine, 0);
    let (tell_rate, call_rate) = engine.run_on_blocking(0, move |shard| async move {
        let sink = shard.actor::<Sink>(key);
        let _ = sink.call(Ping).await;
        let start = Instant::now();
        for _ in 0..n {
            let _ = sink.tell(Ping).await;
        }
        let _ = sink.call(Ping).await;
        let tell = n as f64 / start.elapsed().as_secs_f64();
        let start = Instant::now();
        for _ in 0..n / 4 {
            let _ = sink.call(Ping).await;
        }
        let call = (n / 4) as f64 / start.elapsed().as_secs_f64();
        (tell, call)
    })?;
    println!("actor.tell_one_shard   {tell_rate:>12.0} msgs/s");
    println!("actor.call_one_shard   {call_rate:>12.0} calls/s");
    engine.shutdown()
}

fn cross_shard(n: usize, spin: Option<Duration>) -> Result<(), quark::Error> {
    let engine = Builder::new()
        .shards(2)
        .spin_before_park(spin)
        .register::<Sink>()
        .start()?;
    let key = key_on(&engine, 1);
    let mut lat = engine.run_on_blocking(0, move |shard| async move {
        let sink = shard.actor::<Sink>(key);
        let mut lat = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            let _ = sink.call(Ping).await;
            lat.push(start.elapsed());
        }
        lat
    })?;
    lat.sort_unstable();
    println!(
        "actor.call_cross_shard spin {:>6}  p50 {:>8.1?}  p99 {:>8.1?}  p999 {:>8.1?}",
        format!("{:?}", spin.unwrap_or_default()),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999)
    );
    engine.shutdown()
}

/// The floor under `call_cross_shard`: bare glommio executors on CPUs 0 and 1 ping-ponging
/// a number over two shared channels, measured in the same run.
fn raw_glommio(n: usize, spin: Option<Duration>) {
    use glommio::channels::shared_channel;
    use glommio::{LocalExecutorBuilder, Placement as Cpu};
    let (ping_tx, ping_rx) = shared_channel::new_bounded::<u64>(64);
    let (pong_tx, pong_rx) = shared_channel::new_bounded::<u64>(64);
    let builder = |cpu| {
        let b = LocalExecutorBuilder::new(Cpu::Fixed(cpu));
        match spin {
            Some(spin) => b.spin_before_park(spin),
            None => b,
        }
    };
    let echo = builder(1).spawn(move || async move {
        let (rx, tx) = (ping_rx.connect().await, pong_tx.connect().await);
        while let Some(v) = rx.recv().await {
            if tx.send(v).await.is_err() {
                break;
            }
        }
    });
    let lat = builder(0).spawn(move || async move {
        let (tx, rx) = (ping_tx.connect().await, pong_rx.connect().await);
        let mut lat = Vec::with_capacity(n);
        for v in 0..n as u64 {
            let start = Instant::now();
            if tx.send(v).await.is_err() || rx.recv().await.is_none() {
                break;
            }
            lat.push(start.elapsed());
        }
        lat
    });
    let (Ok(echo), Ok(lat)) = (echo, lat) else {
        return;
    };
    let Ok(mut lat) = lat.join() else { return };
    let _ = echo.join();
    lat.sort_unstable();
    println!(
        "raw glommio round trip  spin {:>6}  p50 {:>8.1?}  p99 {:>8.1?}  p999 {:>8.1?}",
        format!("{:?}", spin.unwrap_or_default()),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999)
    );
}

/// Calls from a plain thread (the ingress queue and a foreign wake each way).
fn outside(n: usize) -> Result<(), quark::Error> {
    let engine = Builder::new().shards(2).register::<Sink>().start()?;
    let sink = engine.actor::<Sink>(key_on(&engine, 0));
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        sink.call_blocking(Ping)?;
        lat.push(start.elapsed());
    }
    lat.sort_unstable();
    println!(
        "outside call_blocking  p50 {:>8.1?}  p99 {:>8.1?}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    engine.shutdown()
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn activations(n: u64) -> Result<(), quark::Error> {
    let engine = Builder::new()
        .shards(2)
        .placement(AllOnZero)
        .idle_timeout(Duration::from_secs(3600))
        .register::<Sink>()
        .start()?;
    let before = rss_bytes();
    let rate = engine.run_on_blocking(0, move |shard| async move {
        let start = Instant::now();
        // Activations are scheduled: wait for each batch to be live, so the allocator is
        // not left holding a burst of freed envelopes that RSS would count.
        let mut done = 0;
        while done < n {
            let end = (done + 1024).min(n);
            for key in done..end {
                let _ = shard.actor::<Sink>(key).tell(Ping).await;
            }
            while shard.stats().active < end {
                futures_lite::future::yield_now().await;
            }
            done = end;
        }
        n as f64 / start.elapsed().as_secs_f64()
    })?;
    let active = engine.active_activations();
    let per = (rss_bytes().saturating_sub(before)) as f64 / n as f64;
    println!(
        "actor.activate         {rate:>12.0} activations/s  {per:>6.0} B per idle activation \
         ({active} live)"
    );
    engine.shutdown()
}

fn main() -> Result<(), quark::Error> {
    let scale: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let only = std::env::args().nth(2).unwrap_or_default();
    let run = |name: &str| only.is_empty() || only == name;
    let n = |base: f64| (base * scale).max(1.0) as u64;
    if run("one_shard") {
        one_shard(n(2_000_000.0))?;
    }
    if run("raw") {
        raw_glommio(n(50_000.0) as usize, Some(Duration::from_millis(10)));
    }
    if run("cross_shard") {
        cross_shard(n(50_000.0) as usize, Some(Duration::from_millis(10)))?;
        cross_shard(n(5_000.0) as usize, None)?;
    }
    if run("outside") {
        outside(n(20_000.0) as usize)?;
    }
    if run("activate") {
        activations(n(500_000.0))?;
    }
    Ok(())
}
