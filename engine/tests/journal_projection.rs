//! Managed projections across an engine restart: a [`Projection`] folds deposits of every
//! shard into per-shard totals and stores them with its checkpoints; after a restart it
//! resumes from the committed state and position, so every event counts exactly once.
//!
//! How: 2 shards and a data directory in a temporary directory; the test waits (bounded) for
//! the projection to catch up by polling its published state, and compares it with the
//! totals computed from the streams themselves.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use quark::journal::{Direction, Error, Event, EventSourced, Filter, Projection};
use quark::{Actor, ActorError, Builder, Context, Engine, Handler, Message};

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct Deposited(u64);

/// An account whose state is its balance.
struct Account {
    balance: u64,
}

impl Actor for Account {
    type Key = u32;
    async fn on_activate(ctx: &mut Context<Self>) -> Result<Self, ActorError> {
        Ok(Account {
            balance: ctx.recover().await?,
        })
    }
}

impl EventSourced for Account {
    type State = u64;
    type Event = Deposited;
    const CATEGORY: &'static str = "acct";
    fn apply(state: &mut u64, event: &Deposited) {
        *state += event.0;
    }
}

struct Deposit(u64);
impl Message for Deposit {
    type Reply = u64;
}

impl Handler<Deposit> for Account {
    async fn handle(&mut self, m: Deposit, ctx: &mut Context<Self>) -> Result<u64, ActorError> {
        ctx.persist(&mut self.balance, [Deposited(m.0)]).await?;
        Ok(self.balance)
    }
}

/// Totals and event counts per stream.
struct Totals;

impl Projection for Totals {
    type State = BTreeMap<String, (u64, u64)>;
    const NAME: &'static str = "totals";
    fn filter() -> Filter {
        Filter::all().stream_prefix("acct-")
    }
    fn apply(state: &mut Self::State, event: &Event) -> Result<(), Error> {
        let amount = event.deserialize::<Deposited>()?.0;
        let entry = state.entry(event.stream().to_owned()).or_default();
        entry.0 += amount;
        entry.1 += 1;
        Ok(())
    }
    fn commit_every() -> u64 {
        7
    }
}

fn engine(dir: &std::path::Path) -> Engine {
    let engine = Builder::new()
        .shards(2)
        .spin_before_park(None)
        .data_dir(dir)
        .register::<Account>()
        .start()
        .expect("engine starts");
    let journal = engine.journal();
    futures_lite::future::block_on(journal.start_projection::<Totals>()).expect("starts");
    engine
}

/// The projection's totals over all shards, once they match `want` (bounded wait).
fn totals_when(e: &Engine, want: &BTreeMap<String, (u64, u64)>) -> BTreeMap<String, (u64, u64)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let states = futures_lite::future::block_on(e.journal().projection_state::<Totals>());
        let states = states.expect("projection state");
        assert!(states.iter().all(Option::is_some), "running on every shard");
        let merged: BTreeMap<_, _> = states.into_iter().flatten().flatten().collect();
        if &merged == want || Instant::now() > deadline {
            return merged;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What the projection must hold: totals read from the streams themselves.
fn truth(e: &Engine, accounts: u32) -> BTreeMap<String, (u64, u64)> {
    (0..accounts)
        .map(|a| {
            let stream = format!("acct-{a}");
            let journal = e.journal();
            let read = journal.read_stream(&stream, 1, Direction::Forward, 10_000);
            let events = futures_lite::future::block_on(read).expect("read");
            let sum = events
                .iter()
                .map(|ev| ev.deserialize::<Deposited>().expect("decode").0);
            (stream, (sum.sum(), events.len() as u64))
        })
        .filter(|(_, (_, n))| *n > 0)
        .collect()
}

#[test]
fn a_projection_counts_every_event_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    for i in 0..60u64 {
        let account = (i % 10) as u32;
        e.actor::<Account>(account)
            .call_blocking(Deposit(i + 1))
            .unwrap();
    }
    let want = truth(&e, 10);
    assert_eq!(totals_when(&e, &want), want);
    // Starting it again is a no-op, not a second runner counting everything twice.
    futures_lite::future::block_on(e.journal().start_projection::<Totals>()).unwrap();
    e.shutdown().unwrap();

    let e = engine(dir.path());
    // Resumed from the checkpoints: the committed state is back before any new event.
    assert_eq!(totals_when(&e, &want), want);
    for i in 0..45u64 {
        let account = (i % 15) as u32;
        e.actor::<Account>(account)
            .call_blocking(Deposit(1000 + i))
            .unwrap();
    }
    let want = truth(&e, 15);
    assert_eq!(
        totals_when(&e, &want),
        want,
        "new events counted once, old ones not again"
    );
    let checkpoints = futures_lite::future::block_on(e.journal().checkpoints("totals")).unwrap();
    assert!(checkpoints.iter().all(Option::is_some), "{checkpoints:?}");
    e.shutdown().unwrap();
}
