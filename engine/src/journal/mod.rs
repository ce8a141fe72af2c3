//! Journaling: event-sourced actors, stream reads, replay and projections, stored in each
//! shard's own log.
//!
//! # Design (for ARCHITECTURE.md)
//!
//! - **Streams live in the shard's log.** A stream is a named sequence of events with
//!   versions 1, 2, 3, ... An event-sourced actor's stream (`"<CATEGORY>-<key>"`) is written
//!   only by its activation, on its home shard; streams appended from outside the engine go
//!   to the shard the `xxh64-v1` hash of their name picks. Reads of one stream ask every
//!   shard and stitch the parts by version (history left where it was written still reads).
//! - **Stable homes** (`homes.rs`). When a stream's home changes (shard count, hash, type
//!   name), the new home *adopts* it on its first write: every other part is sealed
//!   (`0x0105` SEALED: appends there fail with `Moved`), then one `0x0106` ADOPTED record
//!   (with a copy of the newest snapshot and the tombstone, if any) makes the new home the
//!   one writer, continuing at the stream's version. A shard arbitrates each stream's
//!   adoptions, one at a time, so there is one writer at any time and no fork.
//! - **Stream names** of event-sourced actors are `"<CATEGORY>-<key>"` with the key's
//!   `StableKey` text (not `Debug`); for plain strings and integers it is the same as the
//!   `Debug`-derived names of earlier versions, and other keys keep their legacy name while
//!   only that one holds history (`EventSourced::legacy_stream`).
//! - **On the durable core.** The index is the journal's [`StateMachine`](crate::durable::
//!   StateMachine): the shard's durable core fills it by one scan at open and applies each
//!   record once durable; every write is a [`Commit`](crate::durable::Commit). A write whose
//!   caller stopped waiting (a `select`, a timeout) still reaches the index once durable.
//! - **Record kinds.** The journal owns the log's kind namespace `0x01xx`:
//!   `0x0100` EVENTS (a batch header: stream, first version, count), `0x0101` EVENT (type
//!   name + the user's rkyv bytes, 16-byte aligned), `0x0102` SNAPSHOT, `0x0103` TOMBSTONE,
//!   `0x0104` CHECKPOINT, `0x0105` SEALED, `0x0106` ADOPTED. Layouts are hand-encoded
//!   little-endian (`codec.rs`), so the replay loop decodes envelopes without rkyv
//!   validation or allocation.
//! - **One append, one record.** `persist`/`append` write an EVENTS header and its EVENT
//!   entries as one log record: durable and recovered all together or not at all. The
//!   expected-version check and the version reservation happen in the same synchronous step
//!   as the log enqueue, so concurrent appends to a stream can never share a version and a
//!   refused append writes nothing.
//! - **Index.** Each shard keeps, in memory only, stream → (records holding its events, in
//!   version order), its latest snapshot and its tombstone, and projection → latest
//!   checkpoint. It is rebuilt at open by one scan of the log (the log is the only truth).
//!   A stream read is a hash lookup, a binary search and one log read per record: O(events
//!   read). Readers see a stream only up to its gap-free durable version.
//! - **Snapshots** are SNAPSHOT records in the same log, written every
//!   `EventSourced::snapshot_every()` events (after the persist that crosses the threshold)
//!   or when the actor calls `ctx.snapshot`. Activation folds the latest snapshot plus the
//!   later events. A snapshot carries a schema fingerprint (declared schema, state type name,
//!   archived size); one that does not match or does not decode is ignored with a warning
//!   and the whole stream is replayed. Superseded snapshots are retired through the core's
//!   effects (re-derived by the scan at every open), and the core compacts them away.
//! - **Tombstones.** Deleting a stream writes a TOMBSTONE record. Afterwards reads and
//!   appends of that stream fail with `Error::StreamDeleted`, the name is never reused, an
//!   event-sourced actor on it fails to activate, and `stream_info` reports it deleted. Its
//!   events stay in the log (history is kept): the global stream and projections see them.
//! - **Projections** subscribe to a shard's global stream with a filter (stream prefixes,
//!   event types), catch up from their checkpoint and then follow live appends through the
//!   log's `TailReader`. A checkpoint is a CHECKPOINT record in the same shard's log holding
//!   the next position (record position + event index) and, optionally, the projection's
//!   state, in one record. A restart resumes exactly after the last committed event: nothing
//!   committed is delivered twice, nothing is skipped. A projection over all shards runs one
//!   subscription per shard under one name, so it keeps one checkpoint, one position, per
//!   shard, in that shard's log. A managed `Projection` stores its per-shard state in the
//!   same checkpoint record, commits every N events or once caught up (after a short
//!   interval), and re-applies uncommitted events after a restart on top of the committed
//!   state: every event counts exactly once.
//! - **What survives a crash.** Everything acknowledged: events, snapshots, tombstones and
//!   checkpoints are log records, acknowledged only once durable. A torn tail is cut by the
//!   log's recovery (those appends were never acknowledged); the index and retirements are
//!   rebuilt from what remains.
//! - **Not done here.** The index is rebuilt by a full scan at open (no index checkpoint);
//!   live migration of an actor between shards of a running engine is not built (adoption
//!   covers restarts).
//!
//! # Module map
//! - `codec`: kinds and byte layouts. `error`: [`Error`], [`ExpectedVersion`].
//! - `event`: [`Event`], [`EventView`], [`OwnedEvent`], [`Position`].
//! - `index`: the in-memory index, the journal's state machine. `store`: [`Journal`]
//!   appends, tombstones, snapshots, checkpoints. `read`: stream, time-travel, global reads,
//!   replay, metadata. `tests_durable`: cancel safety and checkpoint guards.
//! - `homes`: sealing and adoption of streams whose home changed.
//! - `subscription`: [`Subscription`] for projections. `projection`: managed [`Projection`]s
//!   (state stored with each checkpoint, one runner per shard).
//! - `actor`: [`EventSourced`] and the `Context` methods. `handle`: [`JournalHandle`].

mod actor;
mod codec;
mod error;
mod event;
mod handle;
mod homes;
mod index;
mod projection;
mod read;
mod store;
mod subscription;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_durable;

pub(crate) use actor::Cursor;
pub use actor::{EventSourced, Persistable, default_stream, legacy_stream, snapshot_schema};
pub use error::{Error, ExpectedVersion};
pub use event::{Event, EventView, OwnedEvent, Position, for_each_in_record};
pub use handle::{AllRead, EventData, JournalHandle};
pub use projection::Projection;
pub use read::{Direction, Filter, GlobalRead, StreamInfo};
pub use store::{Appended, Checkpoint, Journal, NewEvent, StoredSnapshot};
pub use subscription::Subscription;
