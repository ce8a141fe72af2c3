//! The in-memory index of one shard's journal: stream → the log records holding its events,
//! its latest snapshot and its tombstone; projection name → its latest checkpoint.
//!
//! It is never stored: it is the journal's [`StateMachine`], so the durable core derives it
//! from the log (one scan at open, then each record once durable), the only source of truth.
//! Appends, tombstones, snapshots and checkpoints change it only here, in [`Index::apply`].
//! Reading a stream is then a hash lookup, a binary search over the stream's records and one
//! log read per record: O(events read), not O(log).
//!
//! Invariants:
//! - A stream's `chunks` are sorted by version and cover its local versions up to `durable`
//!   without gap: `1..=durable`, or `base+1..=durable` for a stream adopted at `base` (its
//!   earlier history is on other shards; chunks below `base` from before it moved away stay
//!   indexed). Records that became durable out of order wait above `durable` until the gap
//!   fills.
//! - A sealed stream (its writer moved to another shard) takes no more appends here.
//! - `durable <= next`: `next` counts versions reserved by appends still being made durable,
//!   and is what expected-version checks compare against; readers never see past `durable`.
//! - Only durable records are ever indexed (the core applies durable records only).
//! - A stream's snapshot and a projection's checkpoint only move forward: an older one
//!   arriving later (a race between two writers) is retired, not installed.

use std::collections::HashMap;
use std::rc::Rc;

use quark_log::Record;

use super::codec::{
    self, KIND_ADOPTED, KIND_CHECKPOINT, KIND_SEALED, KIND_SNAPSHOT, KIND_TOMBSTONE, KINDS,
};
use super::event::{Position, for_each_in_record};
use crate::durable::{Effects, StateMachine, kinds};

/// One record's share of a stream: `count` events from version `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub first: u64,
    pub position: u64,
    pub count: u32,
}

/// A stored snapshot or checkpoint: the record holding it and what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stored {
    /// The log record holding it.
    pub record: u64,
    /// Snapshot: its version. Checkpoint: the log position to read next.
    pub number: u64,
    /// Snapshot: its schema fingerprint. Checkpoint: the event index to read next.
    pub small: u32,
}

impl Stored {
    /// A checkpoint's next position.
    pub(crate) fn next(&self) -> Position {
        Position {
            log: self.number,
            event: self.small,
        }
    }
}

/// What the index knows about one stream.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    pub chunks: Vec<Chunk>,
    pub durable: u64,
    pub next: u64,
    /// Chunks waiting above a gap in `1..=durable`.
    pub above: u32,
    pub snapshot: Option<Stored>,
    /// A tombstone append is in flight: appends are refused.
    pub deleting: bool,
    /// The durable tombstone's version: reads and appends are refused.
    pub deleted: Option<u64>,
    /// Versions up to `base` were written on other shards (the stream was adopted here).
    pub base: u64,
    /// The stream moved to another shard: (its version then, the shard). Appends refused.
    pub sealed: Option<(u64, u32)>,
    /// A seal is being made durable: appends are refused.
    pub sealing: bool,
}

impl Stream {
    /// Adds a durable chunk, keeping `chunks` sorted and `durable` at the gap-free prefix.
    ///
    /// The common case (the next versions, in order) touches only the vector's end: the
    /// binary searches run only while chunks wait above a gap.
    pub(crate) fn insert(&mut self, chunk: Chunk) {
        let end = chunk.first + u64::from(chunk.count) - 1;
        if self.chunks.last().is_none_or(|c| c.first < chunk.first) {
            self.chunks.push(chunk);
        } else {
            let at = self.chunks.partition_point(|c| c.first < chunk.first);
            debug_assert!(self.chunks.get(at).is_none_or(|c| c.first != chunk.first));
            self.chunks.insert(at, chunk);
        }
        self.next = self.next.max(end);
        if chunk.first > self.durable + 1 {
            self.above += 1;
            return;
        }
        self.durable = self.durable.max(end);
        while self.above > 0 {
            let Some(c) = self.chunk_holding(self.durable + 1) else {
                break;
            };
            self.durable = c.first + u64::from(c.count) - 1;
            self.above -= 1;
        }
    }

    /// Marks the stream moved away at `version` to shard `to`.
    pub(crate) fn seal(&mut self, version: u64, to: u32) {
        self.sealed = Some((version, to));
        self.sealing = false;
    }

    /// Makes this shard the stream's writer from `base` on (versions up to `base` are on
    /// other shards).
    pub(crate) fn adopt(&mut self, base: u64) {
        // The adopter writes `base >= durable`; a log from before stable homes may hold a
        // fork, where keeping the longer local history is the only safe reading.
        let base = base.max(self.durable);
        self.base = base;
        self.durable = base;
        self.next = self.next.max(base);
        self.sealed = None;
    }

    /// The chunk holding `version`, if indexed.
    pub(crate) fn chunk_holding(&self, version: u64) -> Option<Chunk> {
        let i = self.chunks.partition_point(|c| c.first <= version);
        let c = *self.chunks.get(i.checked_sub(1)?)?;
        (version < c.first + u64::from(c.count)).then_some(c)
    }

    /// Index in `chunks` of the chunk holding `version` (`version` within `1..=durable`).
    pub(crate) fn chunk_index(&self, version: u64) -> Option<usize> {
        let i = self
            .chunks
            .partition_point(|c| c.first <= version)
            .checked_sub(1)?;
        let c = self.chunks.get(i)?;
        (version < c.first + u64::from(c.count)).then_some(i)
    }
}

/// The index of one shard's journal.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub streams: HashMap<Rc<str>, Stream>,
    pub checkpoints: HashMap<Rc<str>, Stored>,
    /// Events indexed (durable).
    pub events: u64,
}

impl Index {
    /// The stream's entry, created empty if unknown.
    pub(crate) fn stream_mut(&mut self, name: &str) -> &mut Stream {
        // Allocates the key only for a new stream.
        let key = match self.streams.get_key_value(name) {
            Some((key, _)) => key.clone(),
            None => Rc::from(name),
        };
        self.streams.entry(key).or_default()
    }

    /// Indexes one durable record; records it supersedes (old snapshots and checkpoints) are
    /// retired through `effects`.
    pub(crate) fn apply(&mut self, record: &Record, effects: &mut Effects) {
        let mut batch: Option<(Rc<str>, Chunk)> = None;
        let mut events = 0u64;
        for_each_in_record(record, |v| {
            events += 1;
            match &mut batch {
                Some((name, chunk)) if &**name == v.stream => chunk.count += 1,
                _ => {
                    if let Some((name, chunk)) = batch.take() {
                        self.stream_mut(&name).insert(chunk);
                    }
                    let chunk = Chunk {
                        first: v.version,
                        position: record.position(),
                        count: 1,
                    };
                    batch = Some((Rc::from(v.stream), chunk));
                }
            }
            true
        });
        if let Some((name, chunk)) = batch {
            self.stream_mut(&name).insert(chunk);
        }
        self.events += events;
        for entry in record.entries() {
            let Some(named) = (match entry.kind {
                KIND_SNAPSHOT | KIND_TOMBSTONE | KIND_CHECKPOINT | KIND_SEALED | KIND_ADOPTED => {
                    codec::decode_named(entry.payload)
                }
                _ => None,
            }) else {
                continue;
            };
            let stored = Stored {
                record: record.position(),
                number: named.number,
                small: named.small,
            };
            match entry.kind {
                KIND_SNAPSHOT => {
                    let s = self.stream_mut(named.name);
                    let newer = s.snapshot.is_none_or(|old| old.number <= named.number);
                    if newer {
                        if let Some(old) = s.snapshot.replace(stored) {
                            effects.retire(old.record);
                        }
                    } else {
                        effects.retire(record.position());
                    }
                }
                KIND_TOMBSTONE => {
                    let s = self.stream_mut(named.name);
                    s.deleted = Some(named.number);
                    s.deleting = false;
                }
                KIND_SEALED => self.stream_mut(named.name).seal(named.number, named.small),
                KIND_ADOPTED => self.stream_mut(named.name).adopt(named.number),
                _ => self.checkpoint(named.name, stored, effects),
            }
        }
    }

    /// Installs a durable checkpoint unless the one installed is further along.
    fn checkpoint(&mut self, name: &str, stored: Stored, effects: &mut Effects) {
        if let Some(old) = self.checkpoints.get_mut(name) {
            if old.next() > stored.next() {
                effects.retire(stored.record);
            } else {
                effects.retire(old.record);
                *old = stored;
            }
            return;
        }
        self.checkpoints.insert(Rc::from(name), stored);
    }
}

impl StateMachine for Index {
    fn namespace(&self) -> kinds::Namespace {
        kinds::JOURNAL
    }

    fn kinds(&self) -> &'static [u16] {
        KINDS
    }

    fn apply(&mut self, record: &Record, effects: &mut Effects) {
        Index::apply(self, record, effects);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_chunks_wait_for_the_gap() {
        let mut s = Stream::default();
        s.insert(Chunk {
            first: 3,
            position: 200,
            count: 2,
        });
        assert_eq!(s.durable, 0, "versions 1..=2 are not durable yet");
        assert_eq!(s.next, 4);
        s.insert(Chunk {
            first: 1,
            position: 100,
            count: 2,
        });
        assert_eq!(s.durable, 4);
        assert_eq!(s.chunk_holding(2).map(|c| c.position), Some(100));
        assert_eq!(s.chunk_holding(4).map(|c| c.position), Some(200));
        assert_eq!(s.chunk_holding(5), None);
        assert_eq!(s.chunk_index(3), Some(1));
    }
}
