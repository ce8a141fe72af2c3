//! Records: what `append` takes ([`RecordBuilder`]) and what readers return ([`Record`],
//! [`Entry`]).
//!
//! Invariants: a `Record` is only ever built over a frame that passed
//! [`crate::frame::decode_frame`], so its entry table is trusted; it keeps its backing bytes
//! (a memory map of a sealed segment or an in-memory commit chunk) alive through an `Rc`, so
//! payload slices are zero-copy and 16-byte aligned.

use std::rc::Rc;

use rkyv::api::high::{HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;

use crate::error::{AccessError, AppendError};
use crate::frame::{self, FRAME_HEADER_LEN, FrameHeader};
use crate::segment::mmap::Mapped;

/// One or more entries that are appended, and recovered, atomically.
///
/// ```
/// use quark_log::RecordBuilder;
/// let mut r = RecordBuilder::new();
/// r.push_bytes(1, b"state change");
/// r.push_bytes(2, b"outgoing message");
/// assert_eq!(r.entry_count(), 2);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RecordBuilder {
    bytes: Vec<u8>,
    parts: Vec<(u16, usize, usize)>,
}

impl RecordBuilder {
    /// An empty record; add entries before appending it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry of `kind` whose payload is `payload` as is.
    pub fn push_bytes(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(payload);
        self.parts.push((kind, start, payload.len()));
        self
    }

    /// Adds an entry of `kind` holding `value` archived with rkyv.
    ///
    /// ```
    /// #[derive(rkyv::Archive, rkyv::Serialize)]
    /// struct Event { id: u64 }
    /// let mut r = quark_log::RecordBuilder::new();
    /// r.push(7, &Event { id: 1 }).unwrap();
    /// ```
    pub fn push<T>(&mut self, kind: u16, value: &T) -> Result<&mut Self, AppendError>
    where
        T: for<'a> rkyv::Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>,
    {
        let bytes = rkyv::to_bytes::<rancor::Error>(value)
            .map_err(|e| AppendError::Serialize(e.to_string()))?;
        Ok(self.push_bytes(kind, &bytes))
    }

    /// Number of entries added so far.
    pub fn entry_count(&self) -> usize {
        self.parts.len()
    }

    /// Size of the record on disk, frame header included.
    pub fn frame_len(&self) -> usize {
        frame::record_frame_len(self.parts.iter().map(|&(_, _, l)| l))
    }

    /// Size counted against `record_bytes_max`: the frame without its header.
    pub fn size(&self) -> usize {
        self.frame_len() - FRAME_HEADER_LEN
    }

    pub(crate) fn parts(&self) -> Vec<(u16, &[u8])> {
        self.parts
            .iter()
            .map(|&(k, s, l)| (k, &self.bytes[s..s + l]))
            .collect()
    }
}

/// Bytes a record lives in.
#[derive(Clone)]
pub(crate) enum Backing {
    /// A sealed segment's memory map.
    Map(Rc<Mapped>),
    /// An in-memory chunk of the active segment (one group commit's frames).
    Mem(Rc<AlignedVec>),
}

impl Backing {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Backing::Map(m) => m.bytes(),
            Backing::Mem(v) => v.as_slice(),
        }
    }
}

/// A durable record read from the log. Cheap to clone; keeps its bytes alive.
#[derive(Clone)]
pub struct Record {
    pub(crate) header: FrameHeader,
    pub(crate) backing: Backing,
    /// Offset of the frame inside `backing`.
    pub(crate) at: usize,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("position", &self.position())
            .field("entries", &self.entry_count())
            .field("size", &self.size())
            .finish()
    }
}

impl Record {
    /// The record's position.
    pub fn position(&self) -> u64 {
        self.header.position
    }

    /// The position just past this record: where the next record of the same segment starts.
    pub fn end(&self) -> u64 {
        self.header.position + self.header.frame_len() as u64
    }

    /// Append time in microseconds since the Unix epoch (the writer's clock).
    pub fn time_us(&self) -> u64 {
        self.header.time_us
    }

    /// Bytes the record occupies on disk, frame header included.
    pub fn size(&self) -> usize {
        self.header.frame_len()
    }

    /// Number of entries.
    pub fn entry_count(&self) -> usize {
        self.header.entries as usize
    }

    /// The entries, in the order they were pushed.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        let b = self.backing.bytes();
        let body = &b[self.at + self.header.header_len()..self.at + self.header.frame_len()];
        frame::entries(body).map(|(kind, payload)| Entry { kind, payload })
    }

    /// The whole frame as stored on disk.
    pub fn frame_bytes(&self) -> &[u8] {
        &self.backing.bytes()[self.at..self.at + self.header.frame_len()]
    }
}

/// One entry of a record: a kind and a payload (usually an rkyv archive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The namespace the owner gave this entry (events, snapshots, jobs, ...).
    pub kind: u16,
    /// The payload bytes, 16-byte aligned.
    pub payload: &'a [u8],
}

impl<'a> Entry<'a> {
    /// Validates the payload as an rkyv archive of `T` and returns it zero-copy.
    pub fn access<T>(&self) -> Result<&'a T::Archived, AccessError>
    where
        T: rkyv::Archive,
        T::Archived: for<'b> CheckBytes<HighValidator<'b, rancor::Error>>,
    {
        rkyv::access::<T::Archived, rancor::Error>(self.payload)
            .map_err(|e| AccessError(e.to_string()))
    }

    /// Validates and deserializes the payload into an owned `T`.
    pub fn deserialize<T>(&self) -> Result<T, AccessError>
    where
        T: rkyv::Archive,
        T::Archived: for<'b> CheckBytes<HighValidator<'b, rancor::Error>>
            + rkyv::Deserialize<T, rkyv::api::high::HighDeserializer<rancor::Error>>,
    {
        rkyv::from_bytes::<T, rancor::Error>(self.payload).map_err(|e| AccessError(e.to_string()))
    }
}
