//! Events as readers see them: [`EventView`] (borrowed, for the allocation-free replay loop),
//! [`Event`] (shard-local, zero-copy, keeps its log record alive), [`OwnedEvent`] (`Send`,
//! for callers outside the engine), [`Position`] (where an event sits in a shard's log), and
//! the walk over the events of one log record.
//!
//! Invariants: events are only ever built from durable log records whose EVENTS header and
//! EVENT entries decoded; an event's data starts 16-byte aligned, so `access`/`deserialize`
//! of rkyv archives work on it directly; entries of other kinds in the same record are
//! skipped, so other engine modules may share a record with events.

use std::ops::{Range, RangeInclusive};
use std::rc::Rc;

use quark_log::Record;
use rkyv::api::high::{HighDeserializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use rkyv::util::AlignedVec;

use super::codec::{self, KIND_EVENT, KIND_EVENTS};
use super::error::Error;

/// Where an event sits in one shard's log: the position of its record and its index among
/// the record's events. Ordered as the log is.
///
/// As a read or checkpoint position it means "the next event to deliver": `log` may also be
/// the end of the last record read (with `event` 0), which is where the next record starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// Position of the log record.
    pub log: u64,
    /// Index of the event among the record's events.
    pub event: u32,
}

impl Position {
    /// The start of the log.
    pub const START: Position = Position { log: 0, event: 0 };
}

/// One event borrowed from a log record, for the replay loop (no allocation).
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    /// Where the event is.
    pub position: Position,
    /// Its stream.
    pub stream: &'a str,
    /// Its version in the stream.
    pub version: u64,
    /// Its type name.
    pub event_type: &'a str,
    /// When its record was appended (microseconds since the Unix epoch, writer's clock).
    pub time_us: u64,
    /// The event's bytes (16-byte aligned).
    pub data: &'a [u8],
}

/// Calls `f` with every event of `record`, in order. Returns `false` if `f` asked to stop.
/// A record without events calls nothing.
pub fn for_each_in_record(record: &Record, mut f: impl FnMut(EventView<'_>) -> bool) -> bool {
    let mut current: Option<(codec::EventsHeader<'_>, u32)> = None;
    let mut index = 0u32;
    for entry in record.entries() {
        match entry.kind {
            KIND_EVENTS => current = codec::decode_events(entry.payload).map(|h| (h, 0)),
            KIND_EVENT => {
                let Some((header, seen)) = current.as_mut() else {
                    continue;
                };
                let Some(layout) = codec::decode_event(entry.payload) else {
                    continue;
                };
                let p = entry.payload;
                let view = EventView {
                    position: Position {
                        log: record.position(),
                        event: index,
                    },
                    stream: header.stream,
                    version: header.version_first + u64::from(*seen),
                    event_type: std::str::from_utf8(&p[layout.type_at.0..layout.type_at.1])
                        .unwrap_or(""),
                    time_us: record.time_us(),
                    data: &p[layout.data_at.0..layout.data_at.1],
                };
                *seen += 1;
                index += 1;
                if !f(view) {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

/// The byte range of `inner` inside `outer` (both slices of the same frame).
fn range_in(outer: &[u8], inner: &[u8]) -> Range<u32> {
    let start = (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize);
    start as u32..(start + inner.len()) as u32
}

/// The shard-local [`Event`] for view `v` of `record`; `stream` caches the last stream
/// name so a record's events share one allocation.
pub(crate) fn event_of(record: &Record, v: &EventView<'_>, stream: &mut Option<Rc<str>>) -> Event {
    let name = match stream {
        Some(s) if &**s == v.stream => s.clone(),
        _ => {
            let s: Rc<str> = Rc::from(v.stream);
            *stream = Some(s.clone());
            s
        }
    };
    let frame = record.frame_bytes();
    Event {
        record: record.clone(),
        stream: name,
        version: v.version,
        index: v.position.event,
        event_type: range_in(frame, v.event_type.as_bytes()),
        data: range_in(frame, v.data),
    }
}

/// Appends to `out` the events of `record` that belong to `stream` with a version in
/// `versions`.
pub(crate) fn push_stream_events(
    record: &Record,
    stream: &Rc<str>,
    versions: RangeInclusive<u64>,
    out: &mut Vec<Event>,
) {
    let mut cache = Some(stream.clone());
    for_each_in_record(record, |v| {
        if v.stream == &**stream && versions.contains(&v.version) {
            out.push(event_of(record, &v, &mut cache));
        }
        true
    });
}

/// A durable event read on its shard: zero-copy, keeps its log record alive. Not `Send`;
/// use [`Event::to_owned_event`] to ship it elsewhere.
#[derive(Clone)]
pub struct Event {
    record: Record,
    stream: Rc<str>,
    version: u64,
    index: u32,
    event_type: Range<u32>,
    data: Range<u32>,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("stream", &self.stream)
            .field("version", &self.version)
            .field("type", &self.event_type())
            .field("position", &self.position())
            .finish()
    }
}

impl Event {
    /// The stream the event belongs to.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Its version in the stream (the stream's first event is version 1).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Where it sits in its shard's log.
    pub fn position(&self) -> Position {
        Position {
            log: self.record.position(),
            event: self.index,
        }
    }

    /// When its record was appended (microseconds since the Unix epoch, writer's clock).
    pub fn time_us(&self) -> u64 {
        self.record.time_us()
    }

    /// Its type name.
    pub fn event_type(&self) -> &str {
        let b = &self.record.frame_bytes()[self.event_type.start as usize..];
        std::str::from_utf8(&b[..self.event_type.len()]).unwrap_or("")
    }

    /// Its bytes (16-byte aligned; an rkyv archive for typed events).
    pub fn data(&self) -> &[u8] {
        &self.record.frame_bytes()[self.data.start as usize..self.data.end as usize]
    }

    /// The event as an rkyv archive of `T`, validated, zero-copy.
    pub fn access<T>(&self) -> Result<&T::Archived, Error>
    where
        T: rkyv::Archive,
        T::Archived: for<'b> CheckBytes<HighValidator<'b, rancor::Error>>,
    {
        rkyv::access::<T::Archived, rancor::Error>(self.data()).map_err(|e| self.decode_error(e))
    }

    /// The event deserialized into an owned `T`.
    pub fn deserialize<T>(&self) -> Result<T, Error>
    where
        T: rkyv::Archive,
        T::Archived: for<'b> CheckBytes<HighValidator<'b, rancor::Error>>
            + rkyv::Deserialize<T, HighDeserializer<rancor::Error>>,
    {
        rkyv::from_bytes::<T, rancor::Error>(self.data()).map_err(|e| self.decode_error(e))
    }

    fn decode_error(&self, e: rancor::Error) -> Error {
        Error::Decode {
            stream: self.stream.to_string(),
            version: self.version,
            reason: e.to_string(),
        }
    }

    /// A `Send` copy of the event, tagged with the shard it was read on.
    pub fn to_owned_event(&self, shard: usize) -> OwnedEvent {
        let mut data = AlignedVec::<16>::with_capacity(self.data().len());
        data.extend_from_slice(self.data());
        OwnedEvent {
            shard,
            position: self.position(),
            stream: self.stream.to_string(),
            version: self.version,
            event_type: self.event_type().to_owned(),
            time_us: self.time_us(),
            data,
        }
    }
}

/// A copy of a durable event that can travel between threads (what the engine-level read API
/// returns).
#[derive(Debug, Clone)]
pub struct OwnedEvent {
    /// The shard whose log holds the event.
    pub shard: usize,
    /// Where it sits in that log.
    pub position: Position,
    /// Its stream.
    pub stream: String,
    /// Its version in the stream.
    pub version: u64,
    /// Its type name.
    pub event_type: String,
    /// When its record was appended (microseconds since the Unix epoch).
    pub time_us: u64,
    /// Its bytes, 16-byte aligned.
    pub data: AlignedVec<16>,
}

impl OwnedEvent {
    /// The event deserialized into an owned `T`.
    pub fn deserialize<T>(&self) -> Result<T, Error>
    where
        T: rkyv::Archive,
        T::Archived: for<'b> CheckBytes<HighValidator<'b, rancor::Error>>
            + rkyv::Deserialize<T, HighDeserializer<rancor::Error>>,
    {
        rkyv::from_bytes::<T, rancor::Error>(&self.data).map_err(|e| Error::Decode {
            stream: self.stream.clone(),
            version: self.version,
            reason: e.to_string(),
        })
    }
}
