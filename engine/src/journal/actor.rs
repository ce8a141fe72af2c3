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

use std::hash::{DefaultHasher, Hash, Hasher};

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

/// `"<category>-<key>"`, with the key's `Debug` form stripped of surrounding quotes (so a
/// `String` key `"alice"` gives `account-alice`).
pub fn default_stream<K: std::fmt::Debug>(category: &str, key: &K) -> String {
    let key = format!("{key:?}");
    let key = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .unwrap_or(&key);
    format!("{category}-{key}")
}

/// The schema fingerprint stored with `A`'s snapshots: the declared schema, the state type's
/// name and its archived size, so most layout changes are noticed even if nobody bumped
/// `SNAPSHOT_SCHEMA`. A snapshot with another fingerprint is ignored at recovery.
pub fn snapshot_schema<A: EventSourced>() -> u32 {
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
/// at or below it, then the events after it. Returns the state and its cursor.
pub(crate) fn fold<A: EventSourced>(
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
        let events = journal.read_stream(stream, version + 1, Direction::Forward, want)?;
        for e in &events {
            let event: A::Event = e.deserialize::<A::Event>()?;
            A::apply(&mut state, &event);
            version = e.version();
        }
        if events.len() < BATCH || version >= upto {
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

fn decode_snapshot<A: EventSourced>(
    stream: &str,
    s: &super::store::StoredSnapshot,
) -> Option<A::State> {
    if s.schema != snapshot_schema::<A>() {
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
    /// A stream this shard has never seen costs one round trip to the other shards, which
    /// must not hold it either ([`Error::Misplaced`] otherwise: the placement or the shard
    /// count changed, and starting a second history at version 1 would fork the stream).
    pub async fn recover(&mut self) -> Result<A::State, Error> {
        let journal = self.journal()?;
        let stream = A::stream(self.key());
        let (state, cursor) = fold::<A>(&journal, &stream, None)?;
        if journal.stream_info(&stream).is_none() && self.shard().shards() > 1 {
            // A stream new to this shard may have history elsewhere (the placement or the
            // shard count changed): refuse rather than start a second version 1.
            let here = self.shard().id();
            let holders = self.shard().engine().journal().holders(&stream).await?;
            if let Some((shard, _)) = holders.into_iter().find(|(s, _)| *s != here) {
                return Err(Error::Misplaced { stream, shard });
            }
        }
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
