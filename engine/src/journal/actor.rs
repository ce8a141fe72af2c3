//! Event-sourced actors: the [`EventSourced`] trait, the [`Persistable`] bound, and the
//! journal methods of [`Context`]: `recover`, `persist`, `persist_expecting`, `snapshot`.
//!
//! Invariants:
//! - An activation's state is always the fold of its stream's events 1..=`ctx.version()`
//!   (from the latest usable snapshot plus the events after it, or from scratch).
//! - `persist` appends before it applies: the state never holds an event that is not
//!   durable, and a refused append (conflict, deleted stream) leaves state and stream alone.
//! - A snapshot is used only if its schema fingerprint matches and it decodes; otherwise the
//!   activation replays the whole stream and logs a warning, so a changed state type can
//!   never yield a wrong state, only a slower activation.

use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;

use super::error::{Error, ExpectedVersion};
use super::read::Direction;
use super::store::{Journal, NewEvent};
use crate::actor::Actor;
use crate::context::Context;
use crate::stable_key::StableKey;

/// What an event or a snapshot state must be: archivable with rkyv, validated on read and
/// deserializable back. Implemented for every type that derives rkyv's `Archive`,
/// `Serialize` and `Deserialize` (with `bytecheck`, rkyv's default).
pub trait Persistable:
    rkyv::Archive<
        Archived: for<'b> CheckBytes<HighValidator<'b, rancor::Error>>
                      + rkyv::Deserialize<Self, HighDeserializer<rancor::Error>>,
    > + for<'a> rkyv::Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>
    + Sized
{
}

impl<T> Persistable for T where
    T: rkyv::Archive<
            Archived: for<'b> CheckBytes<HighValidator<'b, rancor::Error>>
                          + rkyv::Deserialize<T, HighDeserializer<rancor::Error>>,
        > + for<'a> rkyv::Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>
{
}

/// An actor whose state is the fold of its events.
///
/// The activation recovers its state in `on_activate` with [`Context::recover`], and its
/// handlers change it only through [`Context::persist`], which appends the events to the
/// actor's stream (one atomic, durable log record) and then applies them.
///
/// ```no_run
/// use quark::journal::EventSourced;
/// use quark::{Actor, ActorError, Context, Handler, Message};
///
/// #[derive(Default, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
/// struct Balance { cents: i64 }
///
/// #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
/// enum Moved { In(i64), Out(i64) }
///
/// struct Account { balance: Balance }
///
/// impl Actor for Account {
///     type Key = String;
///     async fn on_activate(ctx: &mut Context<Self>) -> Result<Self, ActorError> {
///         Ok(Account { balance: ctx.recover().await? })
///     }
/// }
///
/// impl EventSourced for Account {
///     type State = Balance;
///     type Event = Moved;
///     const CATEGORY: &'static str = "account";
///     fn apply(state: &mut Balance, event: &Moved) {
///         match event {
///             Moved::In(c) => state.cents += c,
///             Moved::Out(c) => state.cents -= c,
///         }
///     }
///     fn snapshot_every() -> Option<u64> { Some(100) }
/// }
///
/// struct Deposit(i64);
/// impl Message for Deposit { type Reply = i64; }
///
/// impl Handler<Deposit> for Account {
///     async fn handle(&mut self, m: Deposit, ctx: &mut Context<Self>) -> Result<i64, ActorError> {
///         ctx.persist(&mut self.balance, [Moved::In(m.0)]).await?;
///         Ok(self.balance.cents)
///     }
/// }
/// ```
pub trait EventSourced: Actor {
    /// The folded state (rebuilt on activation, stored in snapshots).
    type State: Default + Persistable;
    /// The event type (stored in the log as an rkyv archive).
    type Event: Persistable;
    /// The prefix of this type's stream names (`"<CATEGORY>-<key>"` by default).
    const CATEGORY: &'static str;
    /// Change when `State` changes shape: snapshots written under another schema are
    /// ignored (the activation replays the whole stream instead).
    const SNAPSHOT_SCHEMA: u32 = 1;

    /// Applies one event to the state. Must be deterministic: replay calls it again.
    fn apply(state: &mut Self::State, event: &Self::Event);

    /// The stream of the activation `key`.
    fn stream(key: &Self::Key) -> String {
        default_stream(Self::CATEGORY, key)
    }

    /// The name this activation's stream had in earlier versions of Quark, if it differs
    /// from [`stream`](Self::stream): by default the `Debug`-derived [`legacy_stream`]. When
    /// the stable name holds no history and this one does, the activation keeps writing to
    /// it, so existing data stays readable and the stream never forks. Return `None` when the
    /// type never stored data under a `Debug`-derived name.
    fn legacy_stream(key: &Self::Key) -> Option<String> {
        let legacy = legacy_stream(Self::CATEGORY, key);
        (legacy != Self::stream(key)).then_some(legacy)
    }

    /// The type name stored with `event` (projections filter on it). Defaults to the event
    /// type's last path segment; enums usually return their variant's name.
    fn event_type(event: &Self::Event) -> &'static str {
        let _ = event;
        let full = std::any::type_name::<Self::Event>();
        full.rsplit("::").next().unwrap_or(full)
    }

    /// Snapshot policy: write a snapshot once this many events were persisted since the last
    /// one (`None`: only when the actor calls [`Context::snapshot`]).
    fn snapshot_every() -> Option<u64> {
        None
    }
}

/// `"<category>-<key>"`, the key written in its [`StableKey`] text encoding (a `String` key
/// `"alice"` gives `account-alice`, a key `(7, "x")` gives `account-(7, "x")`).
pub fn default_stream<K: StableKey + ?Sized>(category: &str, key: &K) -> String {
    let mut name = String::with_capacity(category.len() + 16);
    name.push_str(category);
    name.push('-');
    key.write_text(&mut name);
    name
}

/// The stream name earlier versions derived from the key's `Debug` form (stripped of
/// surrounding quotes). Read only: an activation whose stable name is new but whose legacy
/// name holds history keeps using the legacy name (see [`EventSourced::legacy_stream`]).
pub fn legacy_stream<K: std::fmt::Debug + ?Sized>(category: &str, key: &K) -> String {
    let key = format!("{key:?}");
    let key = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .unwrap_or(&key);
    format!("{category}-{key}")
}

/// The schema fingerprint stored with `A`'s snapshots: the declared schema, the state type's
/// name (its last path segment, so moving a module changes nothing) and its archived size, so
/// most layout changes are noticed even if nobody bumped `SNAPSHOT_SCHEMA`. A snapshot with
/// another fingerprint is ignored at recovery.
///
/// It is the low 32 bits of XXH64 (seed 0) of `u32 LE SNAPSHOT_SCHEMA ‖ u64 LE archived size
/// ‖ name`: the same on every build and Rust release (a golden test pins it).
pub fn snapshot_schema<A: EventSourced>() -> u32 {
    let full = std::any::type_name::<A::State>();
    let generic_at = full.find('<').unwrap_or(full.len());
    let start = full[..generic_at].rfind("::").map_or(0, |at| at + 2);
    let name = &full[start..];
    let size = size_of::<<A::State as rkyv::Archive>::Archived>() as u64;
    let mut input = Vec::with_capacity(12 + name.len());
    input.extend_from_slice(&A::SNAPSHOT_SCHEMA.to_le_bytes());
    input.extend_from_slice(&size.to_le_bytes());
    input.extend_from_slice(name.as_bytes());
    crate::stable_hash::xxh64(&input, 0) as u32
}

/// The fingerprint earlier versions wrote (with `DefaultHasher`, whose output Rust does not
/// keep stable): still accepted when this build computes the same value, so an upgrade does
/// not replay every stream once. Never written.
fn legacy_snapshot_schema<A: EventSourced>() -> u32 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    A::SNAPSHOT_SCHEMA.hash(&mut h);
    std::any::type_name::<A::State>().hash(&mut h);
    size_of::<<A::State as rkyv::Archive>::Archived>().hash(&mut h);
    h.finish() as u32
}

/// Where an activation stands in its stream.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    pub stream: String,
    pub version: u64,
    pub snapshot_version: u64,
}

/// Folds `stream` up to `upto` (all durable events if `None`): the latest usable snapshot
/// at or below it, then the events after it. Returns the state and its cursor. A stream
/// adopted by this shard reads its earlier events from the shards that hold them.
pub(crate) async fn fold<A: EventSourced>(
    engine: &crate::EngineHandle,
    journal: &Journal,
    stream: &str,
    upto: Option<u64>,
) -> Result<(A::State, Cursor), Error> {
    let upto = upto.unwrap_or(u64::MAX);
    let (mut state, mut version) = match journal.snapshot(stream)? {
        Some(s) if s.version <= upto => match decode_snapshot::<A>(stream, &s) {
            Some(state) => (state, s.version),
            None => (A::State::default(), 0),
        },
        _ => (A::State::default(), 0),
    };
    let snapshot_version = version;
    const BATCH: usize = 1024;
    loop {
        let want = upto.saturating_sub(version).min(BATCH as u64) as usize;
        let from = version + 1;
        let read = if from <= journal.base(stream) {
            // History written before this shard adopted the stream: stitched from all.
            let handle = engine.journal();
            let events = handle.read_stream(stream, from, Direction::Forward, want);
            let events = events.await?;
            for e in &events {
                A::apply(&mut state, &e.deserialize::<A::Event>()?);
                version = e.version;
            }
            events.len()
        } else {
            let events = journal.read_stream(stream, from, Direction::Forward, want)?;
            for e in &events {
                A::apply(&mut state, &e.deserialize::<A::Event>()?);
                version = e.version();
            }
            events.len()
        };
        if read < want.min(BATCH) || read == 0 || version >= upto {
            break;
        }
    }
    let cursor = Cursor {
        stream: stream.to_owned(),
        version,
        snapshot_version,
    };
    Ok((state, cursor))
}

/// The stream of `key` as this shard knows it: the stable name, or the legacy one when
/// only that holds history here.
pub(crate) fn stream_of<A: EventSourced>(journal: &Journal, key: &A::Key) -> String {
    let stream = A::stream(key);
    if journal.holds(&stream) {
        return stream;
    }
    match A::legacy_stream(key) {
        Some(legacy) if journal.holds(&legacy) => legacy,
        _ => stream,
    }
}

/// The stream an activation of `key` on `shard` writes: [`stream_of`], or, when neither
/// name is held here, the legacy name if another shard holds it and not the stable one.
async fn stream_for<A: EventSourced>(
    shard: &crate::Shard,
    journal: &Journal,
    key: &A::Key,
) -> Result<String, Error> {
    let stream = stream_of::<A>(journal, key);
    if journal.holds(&stream) || shard.shards() == 1 {
        return Ok(stream);
    }
    let Some(legacy) = A::legacy_stream(key) else {
        return Ok(stream);
    };
    let handle = shard.engine().journal();
    if handle.holders(&legacy).await?.is_empty() || !handle.holders(&stream).await?.is_empty() {
        return Ok(stream);
    }
    Ok(legacy)
}

fn decode_snapshot<A: EventSourced>(
    stream: &str,
    s: &super::store::StoredSnapshot,
) -> Option<A::State> {
    if s.schema != snapshot_schema::<A>() && s.schema != legacy_snapshot_schema::<A>() {
        tracing::warn!(
            stream,
            version = s.version,
            "snapshot schema differs from the state type: replaying the whole stream"
        );
        return None;
    }
    match rkyv::from_bytes::<A::State, rancor::Error>(&s.data) {
        Ok(state) => Some(state),
        Err(error) => {
            tracing::warn!(
                stream,
                version = s.version,
                %error,
                "snapshot does not decode: replaying the whole stream"
            );
            None
        }
    }
}

impl<A: EventSourced> Context<A> {
    /// This shard's journal (`Err(NoJournal)` for an engine without a data directory).
    pub fn journal(&self) -> Result<Journal, Error> {
        self.shard().journal().cloned().ok_or(Error::NoJournal)
    }

    /// Rebuilds the activation's state from its stream (latest snapshot plus the events
    /// after it). Call it in `on_activate`; a deleted stream fails the activation.
    ///
    /// A stream this shard has never seen costs a round trip to the other shards: when one
    /// holds it (the shard count, the hash or the type's name changed since), this shard
    /// adopts it (see the journal docs): its history stays where it is and reads whole, and
    /// the activation continues at its version, never at a second version 1.
    pub async fn recover(&mut self) -> Result<A::State, Error> {
        let journal = self.journal()?;
        let shard = self.shard().clone();
        let stream = stream_for::<A>(&shard, &journal, self.key()).await?;
        let elsewhere = shard.shards() > 1;
        if elsewhere && journal.must_adopt(&stream, true) {
            super::homes::adopt(&shard.engine(), shard.id(), &stream).await?;
        }
        let engine = shard.engine();
        let (state, cursor) = fold::<A>(&engine, &journal, &stream, None).await?;
        self.journal_cursor = Some(Box::new(cursor));
        Ok(state)
    }

    /// The activation's stream version: the number of events folded into its state.
    pub fn version(&self) -> u64 {
        self.journal_cursor.as_ref().map_or(0, |c| c.version)
    }

    /// Appends `events` to the actor's stream as one atomic record, waits until it is
    /// durable, then applies them to `state`; returns the new version. Fails with
    /// [`Error::Conflict`] (nothing written) if the stream moved past the activation's
    /// version. May write a snapshot afterwards, per [`EventSourced::snapshot_every`].
    pub async fn persist(
        &mut self,
        state: &mut A::State,
        events: impl IntoIterator<Item = A::Event>,
    ) -> Result<u64, Error> {
        self.persist_expecting(state, ExpectedVersion::Any, events)
            .await
    }

    /// [`persist`](Self::persist) with optimistic concurrency: fails with
    /// [`Error::Conflict`] and writes nothing unless the stream is at `expected` (say, the
    /// version a client read before deciding).
    pub async fn persist_expecting(
        &mut self,
        state: &mut A::State,
        expected: ExpectedVersion,
        events: impl IntoIterator<Item = A::Event>,
    ) -> Result<u64, Error> {
        let journal = self.journal()?;
        let Some(cursor) = self.journal_cursor.as_deref().cloned() else {
            return Err(Error::NotRecovered);
        };
        if !expected.admits(cursor.version) {
            return Err(Error::Conflict {
                stream: cursor.stream,
                expected,
                actual: cursor.version,
            });
        }
        let events: Vec<A::Event> = events.into_iter().collect();
        if events.is_empty() {
            return Ok(cursor.version);
        }
        let mut bytes = Vec::with_capacity(events.len());
        for e in &events {
            let b =
                rkyv::to_bytes::<rancor::Error>(e).map_err(|e| Error::Serialize(e.to_string()))?;
            bytes.push(b);
        }
        let new: Vec<NewEvent<'_>> = events
            .iter()
            .zip(&bytes)
            .map(|(e, b)| NewEvent {
                event_type: A::event_type(e),
                data: b.as_slice(),
            })
            .collect();
        let exact = ExpectedVersion::Exact(cursor.version);
        let done = journal.append(&cursor.stream, exact, &new).await?;
        for e in &events {
            A::apply(state, e);
        }
        let version = done.last_version;
        if let Some(c) = self.journal_cursor.as_mut() {
            c.version = version;
        }
        let due = A::snapshot_every().is_some_and(|n| version - cursor.snapshot_version >= n);
        if due && let Err(error) = self.snapshot(state).await {
            // The events are durable: the handler must not see this as a failed persist.
            tracing::warn!(%error, stream = cursor.stream, "snapshot after persist failed");
        }
        Ok(version)
    }

    /// Writes a snapshot of `state` at the activation's version now (durable when this
    /// resolves). Activations then start from it instead of replaying the whole stream.
    pub async fn snapshot(&mut self, state: &A::State) -> Result<(), Error> {
        let journal = self.journal()?;
        let Some(cursor) = self.journal_cursor.as_deref().cloned() else {
            return Err(Error::NotRecovered);
        };
        let bytes =
            rkyv::to_bytes::<rancor::Error>(state).map_err(|e| Error::Serialize(e.to_string()))?;
        journal
            .save_snapshot(
                &cursor.stream,
                cursor.version,
                snapshot_schema::<A>(),
                &bytes,
            )
            .await?;
        if let Some(c) = self.journal_cursor.as_mut() {
            c.snapshot_version = cursor.version;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ActorError;

    struct Tally;

    impl Actor for Tally {
        type Key = u64;
        const NAME: &'static str = "tally";
        async fn on_activate(_ctx: &mut Context<Self>) -> Result<Self, ActorError> {
            Ok(Tally)
        }
    }

    impl EventSourced for Tally {
        type State = u64;
        type Event = u64;
        const CATEGORY: &'static str = "tally";
        fn apply(state: &mut u64, event: &u64) {
            *state += event;
        }
    }

    /// Pins the snapshot fingerprint: XXH64 of `1u32 ‖ 8u64 ‖ "u64"` (computed with the
    /// `xxhash-rust` crate), so no Rust release can invalidate stored snapshots.
    #[test]
    fn snapshot_schema_is_golden() {
        assert_eq!(snapshot_schema::<Tally>(), 0x2AD8_6C23);
    }

    #[test]
    fn stream_names_come_from_the_stable_text() {
        assert_eq!(Tally::stream(&7), "tally-7");
        assert_eq!(default_stream("account", &"alice"), "account-alice");
        assert_eq!(default_stream("pair", &(1u8, "a")), "pair-(1, \"a\")");
        assert_eq!(legacy_stream("pair", &'x'), "pair-'x'");
        assert_eq!(default_stream("pair", &'x'), "pair-x");
    }
}
