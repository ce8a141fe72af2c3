//! [`Journal`]: one shard's event store on its log: appends with expected-version checks,
//! tombstones, snapshots and projection checkpoints. Reads are in `read.rs`.
//!
//! Invariants:
//! - An append is one log record (an EVENTS header and one EVENT entry per event), so its
//!   events become durable, and survive a crash, all together or not at all.
//! - The expected-version check and the version reservation happen in the same synchronous
//!   step as the log enqueue (no await in between), so two appends to one stream can never
//!   both pass a check against the same version, and log order equals version order.
//! - Anything refused (conflict, deleted stream, bad name, too large) is refused before the
//!   log sees it: nothing is written.
//! - Every write is a [`Commit`] on the shard's durable core: the index learns a record only
//!   in [`Index::apply`], once the record is durable, whether or not the caller still awaits
//!   it (a cancelled append or delete leaves no stale reservation or `deleting` flag).
//! - A projection's checkpoint never moves backwards ([`Error::CheckpointBehind`]).

use std::cell::RefCell;
use std::rc::Rc;

use quark_log::Log;
use rkyv::util::AlignedVec;

use super::codec::KIND_TOMBSTONE;
use super::codec::{self, KIND_CHECKPOINT, KIND_EVENT, KIND_EVENTS, KIND_SNAPSHOT};
use super::error::{Error, ExpectedVersion, check_name, check_type};
use super::event::Position;
use super::index::Index;
use crate::durable::{Commit, Core};

/// An event to append: its type name and its bytes (an rkyv archive for typed events).
///
/// ```
/// let e = quark::journal::NewEvent { event_type: "Deposited", data: b"100" };
/// assert_eq!(e.event_type, "Deposited");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    /// The event's type name (projections can filter on it).
    pub event_type: &'a str,
    /// The event's bytes.
    pub data: &'a [u8],
}

/// What a successful append wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The log position of the record holding the events.
    pub position: u64,
    /// Version of the first event appended.
    pub first_version: u64,
    /// Version of the last event appended: the stream's version now.
    pub last_version: u64,
}

/// A snapshot read back: the version it folds up to, its schema fingerprint, its bytes.
#[derive(Debug, Clone)]
pub struct StoredSnapshot {
    /// The stream version the state includes.
    pub version: u64,
    /// The schema fingerprint written with it.
    pub schema: u32,
    /// The state's bytes (16-byte aligned).
    pub data: AlignedVec<16>,
}

/// A projection checkpoint read back: where to resume and the state stored with it.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The next event to deliver.
    pub next: Position,
    /// The projection's state bytes stored with the checkpoint (empty if none).
    pub state: AlignedVec<16>,
}

pub(crate) struct Inner {
    pub(crate) core: Core,
    pub(crate) log: Log,
    pub(crate) shard: usize,
    pub(crate) index: Rc<RefCell<Index>>,
    /// Managed projections running on this shard.
    pub(crate) runners: super::projection::Runners,
    /// Held while this shard arbitrates a stream adoption (`homes.rs`).
    pub(crate) adoptions: futures::lock::Mutex<()>,
}

/// One shard's journal. Cheap to clone; lives on its shard (not `Send`). Reach it in a
/// handler with `ctx.shard().journal()`, or from outside through
/// [`EngineHandle::journal`](crate::EngineHandle::journal).
///
/// ```no_run
/// # async fn demo(journal: quark::journal::Journal) -> Result<(), quark::journal::Error> {
/// use quark::journal::{Direction, ExpectedVersion, NewEvent};
/// let e = NewEvent { event_type: "Opened", data: b"{}" };
/// let done = journal.append("account-7", ExpectedVersion::NoStream, &[e]).await?;
/// assert_eq!(done.last_version, 1);
/// let events = journal.read_stream("account-7", 1, Direction::Forward, 100)?;
/// assert_eq!(events[0].event_type(), "Opened");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Journal {
    pub(crate) inner: Rc<Inner>,
}

impl Journal {
    /// The journal's state machine, to register with the shard's durable core before it
    /// opens (the core's scan fills it).
    pub(crate) fn machine() -> Rc<RefCell<Index>> {
        Rc::new(RefCell::new(Index::default()))
    }

    /// The journal over `core`, whose scan filled `index` (see [`Journal::machine`]).
    pub(crate) fn new(core: Core, index: Rc<RefCell<Index>>, shard: usize) -> Journal {
        let inner = Inner {
            log: core.log().clone(),
            core,
            shard,
            index,
            runners: super::projection::Runners::default(),
            adoptions: futures::lock::Mutex::new(()),
        };
        Journal {
            inner: Rc::new(inner),
        }
    }

    /// Opens a core on `log` holding only the journal (for tests and tools).
    #[cfg(test)]
    pub(crate) fn open(log: Log, shard: usize) -> Result<Journal, crate::durable::OpenError> {
        let index = Journal::machine();
        let (core, _) = Core::open(log, vec![index.clone()])?;
        Ok(Journal::new(core, index, shard))
    }

    /// The index, after applying every durable record (a cancelled writer's included).
    pub(crate) fn index(&self) -> std::cell::Ref<'_, Index> {
        self.inner.core.settle();
        self.inner.index.borrow()
    }

    /// The shard's log.
    pub fn log(&self) -> &Log {
        &self.inner.log
    }

    /// The shard this journal belongs to.
    pub fn shard(&self) -> usize {
        self.inner.shard
    }

    /// Durable events indexed on this shard.
    pub fn event_count(&self) -> u64 {
        self.index().events
    }

    /// Appends `events` to `stream` as one atomic record if its version admits `expected`;
    /// resolves once they are durable. A conflict or a deleted stream writes nothing.
    pub async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: &[NewEvent<'_>],
    ) -> Result<Appended, Error> {
        check_name(stream)?;
        if events.is_empty() {
            return Err(Error::Empty);
        }
        for e in events {
            check_type(e.event_type)?;
        }
        let count = u32::try_from(events.len()).map_err(|_| Error::TooLarge {
            size: events.len(),
            max: self.inner.core.log().config().record_bytes_max,
        })?;
        self.inner.core.settle();
        let mut commit = Commit::new();
        let first = self.stage_events(&mut commit, stream, expected, events, count)?;
        let ticket = self.inner.core.submit(commit)?;
        let position = ticket.durable().await?;
        Ok(Appended {
            position,
            first_version: first,
            last_version: first + u64::from(count) - 1,
        })
    }

    /// Stages an append of `events` to `stream` into `commit`: checks `expected`, reserves
    /// the versions (given back if the commit is refused) and adds the EVENTS header and
    /// EVENT entries. Returns the first version. The caller submits the commit in the same
    /// synchronous step.
    fn stage_events(
        &self,
        commit: &mut Commit,
        stream: &str,
        expected: ExpectedVersion,
        events: &[NewEvent<'_>],
        count: u32,
    ) -> Result<u64, Error> {
        let first = self.reserve(stream, expected, count)?;
        let mut buf = Vec::new();
        codec::encode_events(&mut buf, first, count, stream);
        commit.push(KIND_EVENTS, &buf);
        for e in events {
            codec::encode_event(&mut buf, e.event_type, e.data);
            commit.push(KIND_EVENT, &buf);
        }
        let index = self.inner.index.clone();
        let name: Rc<str> = Rc::from(stream);
        commit.on_refused(move || unreserve(&index, &name, first, count));
        Ok(first)
    }

    /// Checks `expected` and the tombstone, then reserves `count` versions.
    fn reserve(&self, stream: &str, expected: ExpectedVersion, count: u32) -> Result<u64, Error> {
        let mut index = self.inner.index.borrow_mut();
        let s = index.stream_mut(stream);
        if let Some(version) = s.deleted {
            return Err(deleted(stream, version));
        }
        if s.deleting {
            return Err(deleted(stream, s.next));
        }
        moved_away(stream, s)?;
        if !expected.admits(s.next) {
            return Err(Error::Conflict {
                stream: stream.to_owned(),
                expected,
                actual: s.next,
            });
        }
        let first = s.next + 1;
        s.next += u64::from(count);
        Ok(first)
    }

    /// Deletes `stream` for good if its version admits `expected`: writes a tombstone and
    /// returns the version it was deleted at.
    ///
    /// The rule afterwards: reading the stream fails with [`Error::StreamDeleted`], appending
    /// to it fails the same way, and the name is never reused. Its events stay in the log
    /// (history is kept): the global stream and projections still see them, followed by no
    /// further event of that stream; [`Journal::stream_info`] reports it as deleted.
    pub async fn delete_stream(
        &self,
        stream: &str,
        expected: ExpectedVersion,
    ) -> Result<u64, Error> {
        check_name(stream)?;
        self.inner.core.settle();
        let version = {
            let mut index = self.inner.index.borrow_mut();
            let s = index.stream_mut(stream);
            if let Some(version) = s.deleted {
                return Err(deleted(stream, version));
            }
            if s.deleting {
                return Err(deleted(stream, s.next));
            }
            moved_away(stream, s)?;
            if !expected.admits(s.next) {
                return Err(Error::Conflict {
                    stream: stream.to_owned(),
                    expected,
                    actual: s.next,
                });
            }
            s.deleting = true;
            s.next
        };
        let mut payload = Vec::new();
        codec::encode_named(&mut payload, version, 0, stream, &[]);
        let mut commit = Commit::new();
        commit.push(KIND_TOMBSTONE, &payload);
        let (index, name) = (self.inner.index.clone(), Rc::<str>::from(stream));
        commit.on_refused(move || index.borrow_mut().stream_mut(&name).deleting = false);
        // Once durable, `Index::apply` marks the stream deleted and clears `deleting`.
        self.inner.core.submit(commit)?.durable().await?;
        Ok(version)
    }

    /// Stores a snapshot of `stream`'s state at `version` (durable when this resolves) and
    /// retires the snapshot it supersedes.
    pub async fn save_snapshot(
        &self,
        stream: &str,
        version: u64,
        schema: u32,
        state: &[u8],
    ) -> Result<(), Error> {
        check_name(stream)?;
        let mut payload = Vec::new();
        codec::encode_named(&mut payload, version, schema, stream, state);
        let mut commit = Commit::new();
        commit.push(KIND_SNAPSHOT, &payload);
        // `Index::apply` installs it and retires the one it supersedes.
        self.inner.core.commit(commit).await?;
        Ok(())
    }

    /// The latest snapshot of `stream`, if any.
    pub fn snapshot(&self, stream: &str) -> Result<Option<StoredSnapshot>, Error> {
        let stored = {
            let index = self.index();
            index.streams.get(stream).and_then(|s| s.snapshot)
        };
        let Some(stored) = stored else {
            return Ok(None);
        };
        let data = self.named_data(stored.record, KIND_SNAPSHOT)?;
        Ok(Some(StoredSnapshot {
            version: stored.number,
            schema: stored.small,
            data,
        }))
    }

    /// Stores projection `name`'s checkpoint (the next event to deliver) with `state`, and
    /// retires the checkpoint it supersedes. Durable when this resolves.
    pub async fn save_checkpoint(
        &self,
        name: &str,
        next: Position,
        state: &[u8],
    ) -> Result<(), Error> {
        check_name(name)?;
        self.inner.core.settle();
        let committed = self
            .inner
            .index
            .borrow()
            .checkpoints
            .get(name)
            .map(|c| c.next());
        if let Some(committed) = committed
            && next < committed
        {
            return Err(Error::CheckpointBehind {
                name: name.to_owned(),
                committed,
                requested: next,
            });
        }
        let mut payload = Vec::new();
        codec::encode_named(&mut payload, next.log, next.event, name, state);
        let mut commit = Commit::new();
        commit.push(KIND_CHECKPOINT, &payload);
        // `Index::apply` installs it (never behind the installed one) and retires the old.
        self.inner.core.commit(commit).await?;
        Ok(())
    }

    /// Projection `name`'s latest checkpoint on this shard, if it ever committed one.
    pub fn checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, Error> {
        let stored = self.index().checkpoints.get(name).copied();
        let Some(stored) = stored else {
            return Ok(None);
        };
        let state = self.named_data(stored.record, KIND_CHECKPOINT)?;
        Ok(Some(Checkpoint {
            next: stored.next(),
            state,
        }))
    }

    fn named_data(&self, position: u64, kind: u16) -> Result<AlignedVec<16>, Error> {
        let record = self.inner.log.read(position)?;
        let entry = record.entries().find(|e| e.kind == kind);
        let Some(named) = entry.and_then(|e| codec::decode_named(e.payload)) else {
            return Err(Error::Missing { position, kind });
        };
        let mut data = AlignedVec::<16>::with_capacity(named.data.len());
        data.extend_from_slice(named.data);
        Ok(data)
    }
}

/// Gives back versions reserved by a refused commit. Nothing can have been reserved since:
/// staging and submitting are one synchronous step.
fn unreserve(index: &RefCell<Index>, stream: &str, first: u64, count: u32) {
    let mut index = index.borrow_mut();
    let s = index.stream_mut(stream);
    assert_eq!(
        s.next,
        first + u64::from(count) - 1,
        "stream {stream}: a reservation was made between staging and refusal"
    );
    s.next = first - 1;
}

/// Refuses a write to a stream whose writer moved to another shard (or is moving).
fn moved_away(stream: &str, s: &super::index::Stream) -> Result<(), Error> {
    match s.sealed {
        Some((_, shard)) => Err(Error::Moved {
            stream: stream.to_owned(),
            shard: shard as usize,
        }),
        None if s.sealing => Err(Error::Moved {
            stream: stream.to_owned(),
            shard: usize::MAX,
        }),
        None => Ok(()),
    }
}

fn deleted(stream: &str, version: u64) -> Error {
    Error::StreamDeleted {
        stream: stream.to_owned(),
        version,
    }
}
