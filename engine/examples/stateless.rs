//! `stateless`: a pool of stateless workers that grows under load and shrinks when idle.
//!
//! Run with `cargo run -p quark --example stateless`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use quark::{Actor, ActorError, ActorOptions, Builder, Context, Handler, Message};

/// Numbers worker activations, so the output shows which one served what.
static NEXT_INSTANCE: AtomicU32 = AtomicU32::new(1);

/// Hashes text; has no identity state, so many copies can serve one key.
struct Hasher {
    instance: u32,
}

impl Actor for Hasher {
    type Key = &'static str;

    async fn on_activate(_ctx: &mut Context<Self>) -> Result<Self, ActorError> {
        let instance = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
        Ok(Hasher { instance })
    }

    async fn on_deactivate(&mut self, ctx: &mut Context<Self>) {
        println!(
            "worker {} on shard {} idle: scaling down",
            self.instance,
            ctx.shard().id()
        );
    }
}

/// Hash this text, slowly (an I/O-bound job would await here).
struct Digest(String);

impl Message for Digest {
    type Reply = (u64, usize, u32);
}

impl Handler<Digest> for Hasher {
    async fn handle(
        &mut self,
        msg: Digest,
        ctx: &mut Context<Self>,
    ) -> Result<(u64, usize, u32), ActorError> {
        glommio::timer::sleep(Duration::from_millis(5)).await;
        let hash = msg.0.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Ok((hash, ctx.shard().id(), self.instance))
    }
}

fn main() -> Result<(), quark::Error> {
    let engine = Builder::new()
        .shards(2)
        .register_with::<Hasher>(
            ActorOptions::stateless(4).idle_timeout(Duration::from_millis(200)),
        )
        .start()?;

    // 32 concurrent jobs from shard 0: served there by at most 4 workers at once.
    let served = engine.run_on_blocking(0, |shard| async move {
        let pool = shard.actor::<Hasher>("digest");
        let jobs = (0..32).map(|n| pool.call(Digest(format!("document {n}"))));
        let mut per_worker = BTreeMap::new();
        for reply in futures::future::join_all(jobs).await {
            let (_, shard, worker) = reply?;
            *per_worker.entry((shard, worker)).or_insert(0u32) += 1;
        }
        Ok::<_, quark::Error>((per_worker, shard.activations_of::<Hasher>(&"digest")))
    })??;
    let (per_worker, live) = served;
    println!("{live} workers live on shard 0 after the burst");
    for ((shard, worker), jobs) in per_worker {
        println!("shard {shard} worker {worker}: {jobs} jobs");
    }

    // From this plain thread, calls are spread over the shards.
    let pool = engine.actor::<Hasher>("digest");
    for n in 0..4 {
        let (hash, shard, worker) = pool.call_blocking(Digest(format!("letter {n}")))?;
        println!("letter {n}: {hash:016x} by shard {shard} worker {worker}");
    }

    std::thread::sleep(Duration::from_millis(600)); // let the idle pool scale down
    println!("live activations now: {}", engine.active_activations());
    engine.shutdown()
}
