//! Crash-test child for the journal: event-sourced counters persist from 8 client threads,
//! and every acknowledged persist is printed as `key version value`, until SIGKILL.
//!
//! The crash test (`tests/journal_crash.rs`) kills it at a random moment, restarts an
//! engine on the same directory and checks that every printed event is in its stream at its
//! version with its value. Each run draws its values from a fresh base (the clock), so
//! values of different runs never collide.
//!
//! Usage: `quark-journal-crash-child DIR SEGMENT_BYTES`.

use std::io::Write;

use quark::journal::EventSourced;
use quark::{Actor, ActorError, Builder, Context, Handler, Message};

/// Homes actors by key alone: the child's and the checker's `Counter` types have different
/// names, and the default placement hashes the type name.
struct ByKey;

impl quark::Placement for ByKey {
    fn home(&self, actor: &quark::ActorId, shards: usize) -> usize {
        (actor.key_hash % shards.max(1) as u64) as usize
    }
}

/// A counter whose state is the sum of its events.
pub struct Counter {
    total: u64,
}

/// The event.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Added(pub u64);

impl Actor for Counter {
    type Key = String;
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
        *state = state.wrapping_add(event.0);
    }
    fn snapshot_every() -> Option<u64> {
        Some(64)
    }
}

/// Persists one `Added`; replies with the new version.
pub struct Add(pub u64);
impl Message for Add {
    type Reply = u64;
}

impl Handler<Add> for Counter {
    async fn handle(&mut self, m: Add, ctx: &mut Context<Self>) -> Result<u64, ActorError> {
        Ok(ctx.persist(&mut self.total, [Added(m.0)]).await?)
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(segment)) = (args.next(), args.next()) else {
        eprintln!("usage: quark-journal-crash-child DIR SEGMENT_BYTES");
        std::process::exit(2);
    };
    let Ok(segment_bytes) = segment.parse::<u64>() else {
        eprintln!("bad SEGMENT_BYTES");
        std::process::exit(2);
    };
    let config = quark_log::Config {
        segment_bytes,
        record_bytes_max: 16 << 10,
        ..quark_log::Config::default()
    };
    let engine = Builder::new()
        .shards(2)
        .spin_before_park(None)
        .data_dir(&dir)
        .log_config(config)
        .placement(ByKey)
        .register::<Counter>()
        .start();
    let engine = match engine {
        Ok(e) => e,
        Err(e) => {
            eprintln!("engine start failed: {e}");
            std::process::exit(3);
        }
    };
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let handle = engine.handle();
            std::thread::spawn(move || {
                let key = format!("c{}", t % 6);
                let counter = handle.actor::<Counter>(key.clone());
                for i in 0u64.. {
                    let value = base.wrapping_add(t * 1_000_000_007 + i);
                    let Ok(version) = counter.call_blocking(Add(value)) else {
                        return;
                    };
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{key} {version} {value}");
                    let _ = out.flush();
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}
