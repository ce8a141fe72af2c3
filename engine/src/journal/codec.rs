//! The journal's entry kinds and their byte layouts inside log records.
//!
//! The log stores entries of opaque `u16` kinds; the journal owns the namespace `0x01xx`
//! ([`kinds::JOURNAL`](crate::durable::kinds::JOURNAL)). These kinds are not user API.
//! Every layout here is hand-encoded, fixed-width little-endian (no `usize` on disk), so the
//! global replay can decode an event's envelope without rkyv validation or allocation. The
//! user's event and snapshot bytes follow their header at a 16-byte aligned offset, so rkyv
//! archives inside them are accessed zero-copy.
//!
//! Invariants: `decode_*` never panics on hostile bytes (they return `None`); an encoder and
//! its decoder round-trip (unit tests below); a data offset is always a multiple of 16.

use crate::durable::kinds::JOURNAL;

/// Header of a batch of events of one stream: `count` [`KIND_EVENT`] entries follow it.
pub const KIND_EVENTS: u16 = JOURNAL.kind(0x00);
/// One event: its type name, then the user's bytes.
pub const KIND_EVENT: u16 = JOURNAL.kind(0x01);
/// A snapshot of a stream's folded state at a version.
pub const KIND_SNAPSHOT: u16 = JOURNAL.kind(0x02);
/// A stream's tombstone: the stream is deleted for good at that version.
pub const KIND_TOMBSTONE: u16 = JOURNAL.kind(0x03);
/// A projection's checkpoint (next position to read) and optional state.
pub const KIND_CHECKPOINT: u16 = JOURNAL.kind(0x04);
const _: () = assert!(KIND_EVENTS == 0x0100 && KIND_CHECKPOINT == 0x0104);

/// Every kind the journal writes.
pub const KINDS: &[u16] = &[
    KIND_EVENTS,
    KIND_EVENT,
    KIND_SNAPSHOT,
    KIND_TOMBSTONE,
    KIND_CHECKPOINT,
    KIND_SEALED,
    KIND_ADOPTED,
];

/// A stream's writer moved to another shard: the version it had then and the shard (named
/// layout: number = version, small = shard). Later appends on this shard are refused.
pub const KIND_SEALED: u16 = JOURNAL.kind(0x05);
/// This shard became a stream's writer: versions up to `number` are on other shards (named
/// layout: number = base version, small = 0).
pub const KIND_ADOPTED: u16 = JOURNAL.kind(0x06);

/// Longest stream or projection name, in bytes.
pub const NAME_BYTES_MAX: usize = 4096;
/// Longest event type name, in bytes.
pub const TYPE_BYTES_MAX: usize = 1024;

// EVENTS header: version_first u64 | count u32 | stream_len u32 | stream bytes.
const EVENTS_VERSION_OFFSET: usize = 0;
const EVENTS_COUNT_OFFSET: usize = EVENTS_VERSION_OFFSET + 8;
const EVENTS_STREAM_LEN_OFFSET: usize = EVENTS_COUNT_OFFSET + 4;
const EVENTS_STREAM_OFFSET: usize = EVENTS_STREAM_LEN_OFFSET + 4;
const _: () = assert!(EVENTS_STREAM_OFFSET == 16);

// EVENT entry: data_offset u32 | type_len u16 | reserved u16 | type bytes | pad | data.
const EVENT_DATA_AT_OFFSET: usize = 0;
const EVENT_TYPE_LEN_OFFSET: usize = EVENT_DATA_AT_OFFSET + 4;
const EVENT_TYPE_OFFSET: usize = EVENT_TYPE_LEN_OFFSET + 4;
const _: () = assert!(EVENT_TYPE_OFFSET == 8);

// SNAPSHOT / CHECKPOINT / TOMBSTONE: a u64, a u32, name_len u32, name bytes, pad, data.
const NAMED_U64_OFFSET: usize = 0;
const NAMED_U32_OFFSET: usize = NAMED_U64_OFFSET + 8;
const NAMED_LEN_OFFSET: usize = NAMED_U32_OFFSET + 4;
const NAMED_NAME_OFFSET: usize = NAMED_LEN_OFFSET + 4;
const _: () = assert!(NAMED_NAME_OFFSET == 16);

/// Rounds up to the next multiple of 16 (rkyv's alignment inside entries).
pub const fn align16(v: usize) -> usize {
    (v + 15) & !15
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The decoded header of a batch of events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventsHeader<'a> {
    /// Version of the batch's first event (versions start at 1).
    pub version_first: u64,
    /// Events in the batch.
    pub count: u32,
    /// The stream they belong to.
    pub stream: &'a str,
}

/// Encodes an EVENTS header into `out` (cleared first).
pub fn encode_events(out: &mut Vec<u8>, version_first: u64, count: u32, stream: &str) {
    out.clear();
    out.extend_from_slice(&version_first.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(stream.len() as u32).to_le_bytes());
    out.extend_from_slice(stream.as_bytes());
}

/// Decodes an EVENTS header.
pub fn decode_events(b: &[u8]) -> Option<EventsHeader<'_>> {
    let len = u32_at(b, EVENTS_STREAM_LEN_OFFSET)? as usize;
    let name = b.get(EVENTS_STREAM_OFFSET..EVENTS_STREAM_OFFSET.checked_add(len)?)?;
    Some(EventsHeader {
        version_first: u64_at(b, EVENTS_VERSION_OFFSET)?,
        count: u32_at(b, EVENTS_COUNT_OFFSET)?,
        stream: std::str::from_utf8(name).ok()?,
    })
}

/// Encodes one EVENT entry (type name, padding, data) into `out` (cleared first).
pub fn encode_event(out: &mut Vec<u8>, event_type: &str, data: &[u8]) {
    let data_at = align16(EVENT_TYPE_OFFSET + event_type.len());
    out.clear();
    out.reserve(data_at + data.len());
    out.extend_from_slice(&(data_at as u32).to_le_bytes());
    out.extend_from_slice(&(event_type.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(event_type.as_bytes());
    out.resize(data_at, 0);
    out.extend_from_slice(data);
}

/// Where an EVENT entry's type name and data lie inside its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventLayout {
    /// Byte range of the type name.
    pub type_at: (usize, usize),
    /// Byte range of the data (16-byte aligned start).
    pub data_at: (usize, usize),
}

/// Decodes an EVENT entry's layout, checking every range and that the type is UTF-8.
pub fn decode_event(b: &[u8]) -> Option<EventLayout> {
    let data_at = u32_at(b, EVENT_DATA_AT_OFFSET)? as usize;
    let type_len = u16_at(b, EVENT_TYPE_LEN_OFFSET)? as usize;
    let type_end = EVENT_TYPE_OFFSET + type_len;
    if !data_at.is_multiple_of(16) || data_at < type_end || data_at > b.len() {
        return None;
    }
    std::str::from_utf8(b.get(EVENT_TYPE_OFFSET..type_end)?).ok()?;
    Some(EventLayout {
        type_at: (EVENT_TYPE_OFFSET, type_end),
        data_at: (data_at, b.len()),
    })
}

/// A decoded SNAPSHOT, CHECKPOINT or TOMBSTONE entry: a number, a small number, a name and
/// trailing data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Named<'a> {
    /// Snapshot: the version. Checkpoint: the log position. Tombstone: the final version.
    pub number: u64,
    /// Snapshot: the schema fingerprint. Checkpoint: the event index. Tombstone: 0.
    pub small: u32,
    /// The stream or projection name.
    pub name: &'a str,
    /// Snapshot state or projection state (16-byte aligned in the payload).
    pub data: &'a [u8],
}

/// Encodes a named entry into `out` (cleared first).
pub fn encode_named(out: &mut Vec<u8>, number: u64, small: u32, name: &str, data: &[u8]) {
    let data_at = align16(NAMED_NAME_OFFSET + name.len());
    out.clear();
    out.reserve(data_at + data.len());
    out.extend_from_slice(&number.to_le_bytes());
    out.extend_from_slice(&small.to_le_bytes());
    out.extend_from_slice(&(name.len() as u32).to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.resize(data_at, 0);
    out.extend_from_slice(data);
}

/// Decodes a named entry.
pub fn decode_named(b: &[u8]) -> Option<Named<'_>> {
    let len = u32_at(b, NAMED_LEN_OFFSET)? as usize;
    let name_end = NAMED_NAME_OFFSET.checked_add(len)?;
    let name = std::str::from_utf8(b.get(NAMED_NAME_OFFSET..name_end)?).ok()?;
    let data = b.get(align16(name_end).min(b.len())..)?;
    Some(Named {
        number: u64_at(b, NAMED_U64_OFFSET)?,
        small: u32_at(b, NAMED_U32_OFFSET)?,
        name,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_header_round_trips_and_rejects_short_input() {
        let mut b = Vec::new();
        encode_events(&mut b, 42, 3, "account-alice");
        let h = decode_events(&b).unwrap();
        assert_eq!(h.version_first, 42);
        assert_eq!(h.count, 3);
        assert_eq!(h.stream, "account-alice");
        assert_eq!(decode_events(&b[..b.len() - 1]), None);
        assert_eq!(decode_events(&b[..10]), None);
    }

    #[test]
    fn event_entry_round_trips_with_aligned_data() {
        let mut b = Vec::new();
        for ty in ["", "Deposited", "a-rather-long-event-type-name"] {
            encode_event(&mut b, ty, b"payload");
            let l = decode_event(&b).unwrap();
            assert_eq!(&b[l.type_at.0..l.type_at.1], ty.as_bytes());
            assert_eq!(&b[l.data_at.0..l.data_at.1], b"payload");
            assert_eq!(l.data_at.0 % 16, 0);
        }
        // A data offset pointing outside the payload is refused, not sliced.
        b[0..4].copy_from_slice(&4096u32.to_le_bytes());
        assert_eq!(decode_event(&b), None);
    }

    #[test]
    fn named_entry_round_trips_and_survives_garbage() {
        let mut b = Vec::new();
        encode_named(&mut b, 9, 7, "statement", b"state");
        let n = decode_named(&b).unwrap();
        assert_eq!(
            (n.number, n.small, n.name, n.data),
            (9, 7, "statement", &b"state"[..])
        );
        encode_named(&mut b, 1, 0, "s", b"");
        assert_eq!(decode_named(&b).unwrap().data, b"");
        let garbage = [0xffu8; 40];
        assert_eq!(decode_named(&garbage), None);
        assert_eq!(decode_events(&garbage), None);
        assert_eq!(decode_event(&garbage), None);
    }
}
