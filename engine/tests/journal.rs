//! Journaling through the engine: event-sourced actors persisting and recovering across
//! engine restarts, snapshots (and the fallback when one no longer decodes), expected-version
//! conflicts, tombstones, reads from outside the engine (streams, the global stream, time
//! travel, past states), projections resuming exactly after a restart, and a stream spread
//! over several log segments.
//!
//! How: every test uses a real engine with 2 shards and a data directory in a temporary
//! directory; a "restart" shuts the engine down and starts a new one on the same directory,
//! so all state comes back from the logs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use quark::journal::{
    Direction, Error as JournalError, EventData, EventSourced, ExpectedVersion, Filter, Position,
};
use quark::{Actor, ActorError, Builder, Context, Engine, Handler, Message};

/// Waits for a journal-handle future on the test thread.
fn run<T>(f: impl Future<Output = T>) -> T {
    futures_lite::future::block_on(f)
}

fn engine(dir: &std::path::Path, segment_bytes: u64) -> Engine {
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
struct ByKey;

impl quark::Placement for ByKey {
    fn home(&self, actor: &quark::ActorId, shards: usize) -> usize {
        (actor.key_hash % shards.max(1) as u64) as usize
    }
}

#[derive(
    Debug, Default, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
struct Balance {
    cents: i64,
    moves: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
enum Moved {
    In(i64),
    Out(i64),
    /// A remark on the account (no money moves); makes events as big as a test needs.
    Note(String),
}

struct Account {
    balance: Balance,
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
struct Move {
    event: Moved,
    expected: Option<u64>,
}
type MoveReply = Result<(u64, Balance), JournalError>;
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

fn mv(event: Moved) -> Move {
    Move {
        event,
        expected: None,
    }
}

/// Counts `apply` calls of [`Tally`], to see how much a recovery replayed.
static TALLY_APPLIED: AtomicU64 = AtomicU64::new(0);

#[derive(
    Debug, Default, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
struct Sum {
    total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct Added(u64);

/// Snapshots every 5 events.
struct Tally {
    sum: Sum,
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

struct Add(u64);
impl Message for Add {
    type Reply = (u64, u64);
}

impl Handler<Add> for Tally {
    async fn handle(&mut self, m: Add, ctx: &mut Context<Self>) -> Result<(u64, u64), ActorError> {
        let version = ctx.persist(&mut self.sum, [Added(m.0)]).await?;
        Ok((version, self.sum.total))
    }
}

struct Total;
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
struct SumV2 {
    total: u64,
    count: u64,
}

struct TallyV2 {
    sum: SumV2,
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

#[test]
fn persisted_events_survive_an_engine_restart() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    for (name, n) in [("alice", 10i64), ("bob", 20), ("carol", 30)] {
        let a = e.actor::<Account>(name);
        for i in 1..=n {
            let (v, b) = a.call_blocking(mv(Moved::In(i))).unwrap().unwrap();
            assert_eq!(v, i as u64);
            assert_eq!(b.cents, i * (i + 1) / 2);
        }
        let (_, b) = a.call_blocking(mv(Moved::Out(5))).unwrap().unwrap();
        assert_eq!(b.cents, n * (n + 1) / 2 - 5);
    }
    e.shutdown().unwrap();
    let e = engine(dir.path(), 64 << 20);
    for (name, n) in [("alice", 10i64), ("bob", 20), ("carol", 30)] {
        let a = e.actor::<Account>(name);
        let (v, b) = a.call_blocking(mv(Moved::In(0))).unwrap().unwrap();
        assert_eq!(v, n as u64 + 2, "{name} recovered its version");
        assert_eq!(b.cents, n * (n + 1) / 2 - 5, "{name} recovered its balance");
        assert_eq!(b.moves, n as u64 + 2);
    }
    let j = e.journal();
    let events = run(j.read_stream("account-bob", 1, Direction::Forward, 1000)).unwrap();
    assert_eq!(events.len(), 22);
    assert_eq!(events[20].deserialize::<Moved>().unwrap(), Moved::Out(5));
    assert_eq!(events[20].event_type, "Out");
    let back = run(j.read_stream("account-bob", u64::MAX, Direction::Backward, 2)).unwrap();
    assert_eq!(
        back.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![22, 21]
    );
    let info = run(j.stream_info("account-carol")).unwrap().unwrap();
    assert_eq!((info.version, info.deleted), (32, false));
    let names: Vec<String> = run(j.streams("account-"))
        .unwrap()
        .into_iter()
        .map(|s| s.stream)
        .collect();
    assert_eq!(names, vec!["account-alice", "account-bob", "account-carol"]);
    e.shutdown().unwrap();
}

#[test]
fn snapshot_plus_tail_equals_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let t = e.actor::<Tally>(7u64);
    let mut total = 0;
    for i in 1..=23u64 {
        total += i * i;
        assert_eq!(t.call_blocking(Add(i * i)).unwrap(), (i, total));
    }
    let j = e.journal();
    let info = run(j.stream_info("tally-7")).unwrap().unwrap();
    assert_eq!(info.snapshot_version, Some(20), "a snapshot every 5 events");
    e.shutdown().unwrap();

    let e = engine(dir.path(), 64 << 20);
    let before = TALLY_APPLIED.load(Ordering::SeqCst);
    let t = e.actor::<Tally>(7u64);
    assert_eq!(t.call_blocking(Total).unwrap(), (23, total));
    let replayed = TALLY_APPLIED.load(Ordering::SeqCst) - before;
    assert_eq!(
        replayed, 3,
        "recovery applied only the events after the snapshot"
    );
    // The full replay, folded outside the engine, gives the same state.
    let j = e.journal();
    let events = run(j.read_stream("tally-7", 1, Direction::Forward, 100));
    let full: u64 = events
        .unwrap()
        .iter()
        .map(|e| e.deserialize::<Added>().unwrap().0)
        .sum();
    assert_eq!(full, total);
    // A past state: from no snapshot (version 4) and from the snapshot (version 23).
    let at4 = run(j.state_at::<Tally>(7, 4)).unwrap();
    assert_eq!(at4.total, 1 + 4 + 9 + 16);
    let at23 = run(j.state_at::<Tally>(7, 23)).unwrap();
    assert_eq!(at23.total, total);
    // A state type that changed shape ignores the old snapshot and replays everything.
    let v2 = e.actor::<TallyV2>(7u64);
    assert_eq!(v2.call_blocking(Total).unwrap(), (23, 23));
    e.shutdown().unwrap();
}

#[test]
fn an_undecodable_snapshot_falls_back_to_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let t = e.actor::<Tally>(9u64);
    for i in 1..=3u64 {
        t.call_blocking(Add(i)).unwrap();
    }
    // A newer snapshot with the right schema but bytes that are not a `Sum` archive.
    let home = e.home_shard::<Tally>(&9).unwrap();
    e.run_on_blocking(home, |s| async move {
        let j = s.journal().unwrap().clone();
        let garbage = [0xffu8; 3];
        let schema = quark::journal::snapshot_schema::<Tally>();
        j.save_snapshot("tally-9", 3, schema, &garbage)
            .await
            .unwrap();
    })
    .unwrap();
    e.shutdown().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let t = e.actor::<Tally>(9u64);
    assert_eq!(
        t.call_blocking(Total).unwrap(),
        (3, 6),
        "the state comes from the events"
    );
    assert_eq!(t.call_blocking(Add(4)).unwrap(), (4, 10));
    e.shutdown().unwrap();
}

#[test]
fn conflicts_are_typed_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let a = e.actor::<Account>("dave");
    a.call_blocking(mv(Moved::In(100))).unwrap().unwrap();
    let stale = Move {
        event: Moved::Out(50),
        expected: Some(0),
    };
    let err = a.call_blocking(stale).unwrap().unwrap_err();
    assert_eq!(
        err,
        JournalError::Conflict {
            stream: "account-dave".into(),
            expected: ExpectedVersion::Exact(0),
            actual: 1
        }
    );
    assert!(!err.is_retryable());
    let fresh = Move {
        event: Moved::Out(50),
        expected: Some(1),
    };
    assert_eq!(a.call_blocking(fresh).unwrap().unwrap().1.cents, 50);
    let j = e.journal();
    assert_eq!(
        run(j.stream_info("account-dave")).unwrap().unwrap().version,
        2
    );
    let data = |t: &str| {
        vec![EventData {
            event_type: t.into(),
            data: b"x".to_vec(),
        }]
    };
    run(j.append("order-1", ExpectedVersion::NoStream, data("Opened"))).unwrap();
    let again = run(j.append("order-1", ExpectedVersion::NoStream, data("Opened")));
    assert!(matches!(
        again,
        Err(JournalError::Conflict { actual: 1, .. })
    ));
    assert_eq!(run(j.stream_info("order-1")).unwrap().unwrap().version, 1);
    e.shutdown().unwrap();
}

#[test]
fn a_deleted_stream_stays_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let a = e.actor::<Account>("erin");
    a.call_blocking(mv(Moved::In(1))).unwrap().unwrap();
    let j = e.journal();
    let err = run(j.delete_stream("account-erin", ExpectedVersion::Exact(0)));
    assert!(matches!(err, Err(JournalError::Conflict { .. })));
    assert_eq!(
        run(j.delete_stream("account-erin", ExpectedVersion::Exact(1))).unwrap(),
        1
    );
    let read = run(j.read_stream("account-erin", 1, Direction::Forward, 10));
    assert!(matches!(
        read,
        Err(JournalError::StreamDeleted { version: 1, .. })
    ));
    // The live activation's next persist is refused.
    let refused = a.call_blocking(mv(Moved::In(1))).unwrap();
    assert!(matches!(refused, Err(JournalError::StreamDeleted { .. })));
    e.shutdown().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let a = e.actor::<Account>("erin");
    let activation = a.call_blocking(mv(Moved::In(1)));
    assert!(
        matches!(activation, Err(quark::Error::Activation { .. })),
        "{activation:?}"
    );
    let info = run(e.journal().stream_info("account-erin"))
        .unwrap()
        .unwrap();
    assert!(info.deleted);
    e.shutdown().unwrap();
}

#[test]
fn global_reads_and_time_travel_from_outside() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let keys: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
    for k in &keys {
        for c in 1..=3 {
            e.actor::<Account>(k.as_str())
                .call_blocking(mv(Moved::In(c)))
                .unwrap()
                .unwrap();
        }
    }
    let j = e.journal();
    let mid = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    std::thread::sleep(Duration::from_millis(2));
    e.actor::<Account>("k0")
        .call_blocking(mv(Moved::Out(6)))
        .unwrap()
        .unwrap();
    let all = run(j.read_all(&[], 1000, Filter::all().stream_prefix("account-k"))).unwrap();
    assert_eq!(all.events.len(), 25);
    assert!(all.events.iter().any(|e| e.shard == 0) && all.events.iter().any(|e| e.shard == 1));
    let outs = run(j.read_all(&[], 1000, Filter::all().event_type("Out"))).unwrap();
    assert_eq!(outs.events.len(), 1);
    let more = run(j.read_all(&all.next, 1000, Filter::all())).unwrap();
    assert!(
        more.events.is_empty(),
        "the next positions are past everything read"
    );
    let then = run(j.read_stream_as_of("account-k0", mid)).unwrap();
    assert_eq!(then.len(), 3, "the withdrawal came after the point in time");
    let now = run(j.read_stream_as_of("account-k0", u64::MAX)).unwrap();
    assert_eq!(now.len(), 4);
    e.shutdown().unwrap();
}

/// Consumes up to `take` events of projection "audit" on `shard`, committing after
/// `commit_after` of them; returns the stream/version pairs delivered.
fn project(e: &Engine, shard: usize, take: usize, commit_after: usize) -> Vec<(String, u64)> {
    e.run_on_blocking(shard, move |s| async move {
        let journal = s.journal().expect("a journal").clone();
        let mut sub = journal
            .subscribe("audit", Filter::all().stream_prefix("account-"))
            .expect("subscribe");
        let mut seen = Vec::new();
        while seen.len() < take && !sub.caught_up().expect("caught_up") {
            let event = sub.next().await.expect("an event").expect("readable");
            seen.push((event.stream().to_owned(), event.version()));
            if seen.len() == commit_after {
                sub.commit().await.expect("commit");
            }
        }
        seen
    })
    .expect("run_on")
}

#[test]
fn projections_resume_exactly_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    for i in 0..24 {
        let a = e.actor::<Account>(format!("p{i}"));
        for c in 0..4 {
            a.call_blocking(mv(Moved::In(c))).unwrap().unwrap();
        }
    }
    // On each shard: deliver 10, commit after 6; the 4 uncommitted come again.
    let first: Vec<Vec<(String, u64)>> = (0..2).map(|s| project(&e, s, 10, 6)).collect();
    e.shutdown().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let j = e.journal();
    let cps = run(j.checkpoints("audit")).unwrap();
    assert!(cps.iter().all(|c| c.is_some_and(|p| p > Position::START)));
    let mut total = 0;
    for (shard, before) in first.iter().enumerate() {
        let after = project(&e, shard, usize::MAX, usize::MAX);
        assert_eq!(
            &after[..4],
            &before[6..10],
            "resumes right after the committed event"
        );
        let mut all: Vec<_> = before[..6].iter().chain(&after).cloned().collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "no committed event is delivered twice");
        total += n;
    }
    assert_eq!(total, 96, "every event delivered once over both shards");
    e.shutdown().unwrap();
}

#[test]
fn a_stream_spanning_several_segments_reads_whole() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 10);
    let t = e.actor::<Account>("long");
    let note = |i: i64| Moved::Note(format!("{i:>600}"));
    for i in 1..=400 {
        let event = if i % 2 == 0 { note(i) } else { Moved::In(i) };
        t.call_blocking(mv(event)).unwrap().unwrap();
    }
    let home = e.home_shard::<Account>(&"long".to_string()).unwrap();
    let segments = e
        .run_on_blocking(home, |s| async move { s.log().unwrap().stats().segments })
        .unwrap();
    assert!(segments >= 3, "{segments} segments");
    e.shutdown().unwrap();
    let e = engine(dir.path(), 64 << 10);
    let j = e.journal();
    let events = run(j.read_stream("account-long", 1, Direction::Forward, 1000));
    let events = events.unwrap();
    assert_eq!(events.len(), 400);
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(ev.version, i as u64 + 1);
        let i = i as i64 + 1;
        let want = if i % 2 == 0 { note(i) } else { Moved::In(i) };
        assert_eq!(ev.deserialize::<Moved>().unwrap(), want);
    }
    let (_, b) = e
        .actor::<Account>("long")
        .call_blocking(mv(Moved::In(0)))
        .unwrap()
        .unwrap();
    assert_eq!(b.cents, 200 * 200, "the sum of the odd numbers up to 399");
    assert_eq!(b.moves, 401);
    e.shutdown().unwrap();
}

#[test]
fn an_actor_whose_history_is_on_another_shard_refuses_to_activate() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64 << 20);
    let keys: Vec<String> = (0..16).map(|i| format!("m{i}")).collect();
    for k in &keys {
        e.actor::<Account>(k.as_str())
            .call_blocking(mv(Moved::In(1)))
            .unwrap()
            .unwrap();
    }
    let by_key: Vec<usize> = keys
        .iter()
        .map(|k| e.home_shard::<Account>(k).unwrap())
        .collect();
    e.shutdown().unwrap();
    // The same data under the default placement: some homes move to the other shard.
    let e = Builder::new()
        .shards(2)
        .spin_before_park(None)
        .data_dir(dir.path())
        .register::<Account>()
        .start()
        .unwrap();
    let (mut moved, mut stayed) = (0, 0);
    for (k, old) in keys.iter().zip(by_key) {
        let reply = e
            .actor::<Account>(k.as_str())
            .call_blocking(mv(Moved::In(1)));
        if e.home_shard::<Account>(k) == Some(old) {
            assert_eq!(reply.unwrap().unwrap().0, 2, "{k} kept its history");
            stayed += 1;
        } else {
            let Err(quark::Error::Activation { reason, .. }) = reply else {
                panic!("{k}: a moved home must not start a second history: {reply:?}");
            };
            assert!(
                reason.contains(&format!("has events on shard {old}")),
                "{reason}"
            );
            moved += 1;
        }
    }
    assert!(moved > 0 && stayed > 0, "moved {moved}, stayed {stayed}");
    let info = run(e.journal().stream_info("account-m0")).unwrap().unwrap();
    assert!(info.version <= 2);
    e.shutdown().unwrap();
}
