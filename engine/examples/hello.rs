//! `hello`: request/response with a virtual actor, from a plain thread and from a shard.
//!
//! Run with `cargo run -p quark --example hello`.

use quark::{Actor, ActorError, Builder, Context, Handler, Message};

/// A greeter that remembers how many times it greeted.
struct Greeter {
    greeted: u64,
}

impl Actor for Greeter {
    type Key = String;

    async fn on_activate(ctx: &mut Context<Self>) -> Result<Self, ActorError> {
        println!(
            "activating greeter {:?} on shard {}",
            ctx.key(),
            ctx.shard().id()
        );
        Ok(Greeter { greeted: 0 })
    }

    async fn on_deactivate(&mut self, ctx: &mut Context<Self>) {
        println!(
            "greeter {:?} greeted {} times; deactivating",
            ctx.key(),
            self.greeted
        );
    }
}

/// Asks for a greeting.
struct Hello {
    name: String,
}

impl Message for Hello {
    type Reply = String;
}

impl Handler<Hello> for Greeter {
    async fn handle(&mut self, msg: Hello, ctx: &mut Context<Self>) -> Result<String, ActorError> {
        self.greeted += 1;
        Ok(format!(
            "hello {}, from {:?} on shard {} (greeting #{})",
            msg.name,
            ctx.key(),
            ctx.shard().id(),
            self.greeted
        ))
    }
}

fn main() -> Result<(), quark::Error> {
    let engine = Builder::new().shards(2).register::<Greeter>().start()?;

    // From this plain thread: a blocking call through the home shard's ingress queue.
    let greeter = engine.actor::<Greeter>("world");
    println!(
        "{}",
        greeter.call_blocking(Hello {
            name: "main thread".into()
        })?
    );

    // From a shard: the call stays on the thread when the greeter lives there.
    let home = greeter.home_shard().unwrap_or(0);
    let reply = engine.run_on_blocking(home, |shard| async move {
        let greeter = shard.actor::<Greeter>("world");
        greeter
            .call(Hello {
                name: format!("shard {}", shard.id()),
            })
            .await
    })??;
    println!("{reply}");

    for shard in engine.stats() {
        println!(
            "shard {}: {} messages, {} activations",
            shard.shard, shard.messages, shard.activations
        );
    }
    engine.shutdown()
}
