//! Actors and helpers shared by the journal's engine-level tests (`journal.rs`,
//! `journal_reads.rs`): an event-sourced `Account` (money moves and notes), `Tally` (snapshots
//! every 5 events, counts its `apply` calls) and `TallyV2` (the same stream with a changed
//! state type), an engine builder with 2 shards and key-only placement, and `run`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use quark::journal::{Error as JournalError, EventSourced, ExpectedVersion};
use quark::{Actor, ActorError, Builder, Context, Engine, Handler, Message};

/// Waits for a journal-handle future on the test thread.
pub fn run<T>(f: impl Future<Output = T>) -> T {
    futures_lite::future::block_on(f)
}

pub fn engine(dir: &std::path::Path, segment_bytes: u64) -> Engine {
    let log = quark_log::Config {
        segment_bytes,
        record_bytes_max: 16 << 10,
        ..quark_log::Config::default()
    };
    Builder::new()
        .shards(2)
        .spin_before_park(None)
        .shutdown_timeout(Duration::from_secs(30))
        .data_dir(dir)
        .log_config(log)
        .placement(ByKey)
        .register::<Account>()
        .register::<Tally>()
        .register::<TallyV2>()
        .start()
        .expect("engine starts")
}

/// Homes actors by key alone, so actor types sharing a stream (`Tally`, `TallyV2`) share a
/// shard, as a migration would arrange.
pub struct ByKey;

impl quark::Placement for ByKey {
    fn home(&self, actor: &quark::ActorId, shards: usize) -> usize {
        (actor.key_hash % shards.max(1) as u64) as usize
    }
}

#[derive(
    Debug, Default, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Balance {
    pub cents: i64,
    pub moves: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum Moved {
    In(i64),
    Out(i64),
    /// A remark on the account (no money moves); makes events as big as a test needs.
    Note(String),
}

pub struct Account {
    pub balance: Balance,
}

impl Actor for Account {
    type Key = String;
    async fn on_activate(ctx: &mut Context<Self>) -> Result<Self, ActorError> {
        Ok(Account {
            balance: ctx.recover().await?,
        })
    }
}

impl EventSourced for Account {
    type State = Balance;
    type Event = Moved;
    const CATEGORY: &'static str = "account";
    fn apply(state: &mut Balance, event: &Moved) {
        match event {
            Moved::In(c) => state.cents += c,
            Moved::Out(c) => state.cents -= c,
            Moved::Note(_) => {}
        }
        state.moves += 1;
    }
    fn event_type(event: &Moved) -> &'static str {
        match event {
            Moved::In(_) => "In",
            Moved::Out(_) => "Out",
            Moved::Note(_) => "Note",
        }
    }
}

/// Moves money; with `expected`, only if the account is at that version.
pub struct Move {
    pub event: Moved,
    pub expected: Option<u64>,
}
pub type MoveReply = Result<(u64, Balance), JournalError>;
impl Message for Move {
    type Reply = MoveReply;
}

impl Handler<Move> for Account {
    async fn handle(&mut self, m: Move, ctx: &mut Context<Self>) -> Result<MoveReply, ActorError> {
        let expected = m
            .expected
            .map_or(ExpectedVersion::Any, ExpectedVersion::Exact);
        let done = ctx
            .persist_expecting(&mut self.balance, expected, [m.event])
            .await;
        Ok(done.map(|v| (v, self.balance.clone())))
    }
}

pub fn mv(event: Moved) -> Move {
    Move {
        event,
        expected: None,
    }
}

/// Counts `apply` calls of [`Tally`], to see how much a recovery replayed.
pub static TALLY_APPLIED: AtomicU64 = AtomicU64::new(0);

#[derive(
    Debug, Default, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Sum {
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Added(pub u64);

/// Snapshots every 5 events.
pub struct Tally {
    pub sum: Sum,
}

impl Actor for Tally {
    type Key = u64;
    async fn on_activate(ctx: &mut Context<Self>) -> Result<Self, ActorError> {
        Ok(Tally {
            sum: ctx.recover().await?,
        })
    }
}

impl EventSourced for Tally {
    type State = Sum;
    type Event = Added;
    const CATEGORY: &'static str = "tally";
    fn apply(state: &mut Sum, event: &Added) {
        TALLY_APPLIED.fetch_add(1, Ordering::SeqCst);
        state.total += event.0;
    }
    fn snapshot_every() -> Option<u64> {
        Some(5)
    }
}

pub struct Add(pub u64);
impl Message for Add {
    type Reply = (u64, u64);
}

impl Handler<Add> for Tally {
    async fn handle(&mut self, m: Add, ctx: &mut Context<Self>) -> Result<(u64, u64), ActorError> {
        let version = ctx.persist(&mut self.sum, [Added(m.0)]).await?;
        Ok((version, self.sum.total))
    }
}

pub struct Total;
impl Message for Total {
    type Reply = (u64, u64);
}

impl Handler<Total> for Tally {
    async fn handle(
        &mut self,
        _: Total,
        ctx: &mut Context<Self>,
    ) -> Result<(u64, u64), ActorError> {
        Ok((ctx.version(), self.sum.total))
    }
}

/// The same stream as [`Tally`] with a changed state type: its snapshots do not apply.
#[derive(
    Debug, Default, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct SumV2 {
    pub total: u64,
    pub count: u64,
}

pub struct TallyV2 {
    pub sum: SumV2,
}

impl Actor for TallyV2 {
    type Key = u64;
    async fn on_activate(ctx: &mut Context<Self>) -> Result<Self, ActorError> {
        Ok(TallyV2 {
            sum: ctx.recover().await?,
        })
    }
}

impl EventSourced for TallyV2 {
    type State = SumV2;
    type Event = Added;
    const CATEGORY: &'static str = "tally";
    fn apply(state: &mut SumV2, event: &Added) {
        state.total += event.0;
        state.count += 1;
    }
}

impl Handler<Total> for TallyV2 {
    async fn handle(
        &mut self,
        _: Total,
        ctx: &mut Context<Self>,
    ) -> Result<(u64, u64), ActorError> {
        Ok((ctx.version(), self.sum.count))
    }
}
