//! On-disk layout: the segment header and the record frame, byte by byte.
//!
//! This module owns every offset and constant of the format (see `docs/log-format.md`) and the
//! pure functions that encode and validate them. It does no I/O.
//!
//! Invariants:
//! - All integers are fixed-width little-endian; no `usize` is ever written.
//! - Every frame starts at a 16-byte aligned file offset and its length is a multiple of 16, so
//!   every entry payload starts 16-byte aligned (rkyv's archives need that alignment).
//! - A frame's CRC covers everything after the CRC field: the rest of the header and the body.
//!   A frame whose first 8 bytes are zero marks the end of written data.

use crate::error::CorruptReason;

/// Bytes reserved at the start of every segment file for its header (one O_DIRECT block).
pub const SEGMENT_HEADER_LEN: u64 = 4096;
/// The magic that opens every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"QUARKSEG";
/// The on-disk format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

// Segment header layout.
pub const SEG_MAGIC_OFFSET: usize = 0;
pub const SEG_VERSION_OFFSET: usize = SEG_MAGIC_OFFSET + 8;
pub const SEG_KIND_OFFSET: usize = SEG_VERSION_OFFSET + 4;
pub const SEG_BASE_OFFSET: usize = SEG_KIND_OFFSET + 4;
pub const SEG_END_OFFSET: usize = SEG_BASE_OFFSET + 8;
pub const SEG_CRC_OFFSET: usize = SEG_END_OFFSET + 8;
pub const SEG_HEADER_USED: usize = SEG_CRC_OFFSET + 4;
const _: () = assert!(SEG_HEADER_USED == 36);
const _: () = assert!(SEG_HEADER_USED as u64 <= SEGMENT_HEADER_LEN);

// Frame header layout.
pub const FRAME_LEN_OFFSET: usize = 0;
pub const FRAME_CRC_OFFSET: usize = FRAME_LEN_OFFSET + 4;
pub const FRAME_POSITION_OFFSET: usize = FRAME_CRC_OFFSET + 4;
pub const FRAME_TIME_OFFSET: usize = FRAME_POSITION_OFFSET + 8;
pub const FRAME_ENTRIES_OFFSET: usize = FRAME_TIME_OFFSET + 8;
pub const FRAME_FLAGS_OFFSET: usize = FRAME_ENTRIES_OFFSET + 4;
/// Length of a frame header.
pub const FRAME_HEADER_LEN: usize = FRAME_FLAGS_OFFSET + 4;
const _: () = assert!(FRAME_HEADER_LEN == 32);

// Entry header layout (inside a frame body).
pub const ENTRY_KIND_OFFSET: usize = 0;
pub const ENTRY_RESERVED_OFFSET: usize = ENTRY_KIND_OFFSET + 2;
pub const ENTRY_LEN_OFFSET: usize = ENTRY_RESERVED_OFFSET + 2;
pub const ENTRY_PAD_OFFSET: usize = ENTRY_LEN_OFFSET + 4;
/// Length of an entry header; the payload follows it.
pub const ENTRY_HEADER_LEN: usize = ENTRY_PAD_OFFSET + 8;
const _: () = assert!(ENTRY_HEADER_LEN == 16);

/// Alignment of frames and payloads.
pub const FRAME_ALIGN: usize = 16;
const _: () = assert!(FRAME_HEADER_LEN.is_multiple_of(FRAME_ALIGN));
const _: () = assert!(ENTRY_HEADER_LEN.is_multiple_of(FRAME_ALIGN));
const _: () = assert!(SEGMENT_HEADER_LEN.is_multiple_of(FRAME_ALIGN as u64));

/// Frame flag: the frame is a record.
pub const FLAG_RECORD: u32 = 0;
/// Frame flag: the frame seals its segment; its position is the segment's end.
pub const FLAG_SEAL: u32 = 1;

/// Kind of a segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentKind {
    /// Written by the appender: position `p` lives at offset `SEGMENT_HEADER_LEN + p - base`.
    Plain,
    /// Written by compaction: live frames packed in position order; positions read from headers.
    Compacted,
}

/// A decoded segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub kind: SegmentKind,
    pub base: u64,
    /// End position for compacted segments, 0 for plain ones (their end is their seal frame).
    pub end: u64,
}

/// Rounds `v` up to the frame alignment.
pub const fn align16(v: usize) -> usize {
    (v + FRAME_ALIGN - 1) & !(FRAME_ALIGN - 1)
}

/// Size of an entry (header plus padded payload) carrying `payload_len` bytes.
pub const fn entry_size(payload_len: usize) -> usize {
    ENTRY_HEADER_LEN + align16(payload_len)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_le_bytes(a)
}

/// Encodes a segment header into the first `SEG_HEADER_USED` bytes of `out`.
pub fn encode_segment_header(h: &SegmentHeader, out: &mut [u8]) {
    assert!(out.len() >= SEG_HEADER_USED);
    out[SEG_MAGIC_OFFSET..SEG_MAGIC_OFFSET + 8].copy_from_slice(&SEGMENT_MAGIC);
    out[SEG_VERSION_OFFSET..SEG_VERSION_OFFSET + 4].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    let kind: u32 = match h.kind {
        SegmentKind::Plain => 0,
        SegmentKind::Compacted => 1,
    };
    out[SEG_KIND_OFFSET..SEG_KIND_OFFSET + 4].copy_from_slice(&kind.to_le_bytes());
    out[SEG_BASE_OFFSET..SEG_BASE_OFFSET + 8].copy_from_slice(&h.base.to_le_bytes());
    out[SEG_END_OFFSET..SEG_END_OFFSET + 8].copy_from_slice(&h.end.to_le_bytes());
    let crc = crc32fast::hash(&out[..SEG_CRC_OFFSET]);
    out[SEG_CRC_OFFSET..SEG_CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Why a segment header could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderProblem {
    /// The header block is all zeros: the file was created but its header never became durable.
    Blank,
    /// Not a Quark segment, or damaged.
    Corrupt(CorruptReason),
    /// A Quark segment of a format version this build does not read.
    Version(u32),
}

/// Decodes and validates a segment header.
pub fn decode_segment_header(b: &[u8]) -> Result<SegmentHeader, HeaderProblem> {
    // A file cut short or zero before the header was written never held a record: the header
    // is durable before any record of the segment is acknowledged.
    let used = &b[..b.len().min(SEG_HEADER_USED)];
    if used.iter().all(|&x| x == 0) {
        return Err(HeaderProblem::Blank);
    }
    if b.len() < SEG_HEADER_USED {
        return Err(HeaderProblem::Corrupt(CorruptReason::ShortHeader));
    }
    if b[SEG_MAGIC_OFFSET..SEG_MAGIC_OFFSET + 8] != SEGMENT_MAGIC {
        return Err(HeaderProblem::Corrupt(CorruptReason::BadMagic));
    }
    let crc = u32_at(b, SEG_CRC_OFFSET);
    if crc != crc32fast::hash(&b[..SEG_CRC_OFFSET]) {
        return Err(HeaderProblem::Corrupt(CorruptReason::HeaderChecksum));
    }
    let version = u32_at(b, SEG_VERSION_OFFSET);
    if version != FORMAT_VERSION {
        return Err(HeaderProblem::Version(version));
    }
    let kind = match u32_at(b, SEG_KIND_OFFSET) {
        0 => SegmentKind::Plain,
        1 => SegmentKind::Compacted,
        _ => return Err(HeaderProblem::Corrupt(CorruptReason::BadSegmentKind)),
    };
    Ok(SegmentHeader {
        kind,
        base: u64_at(b, SEG_BASE_OFFSET),
        end: u64_at(b, SEG_END_OFFSET),
    })
}

/// A frame header as read from disk, not yet checked against its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub body_len: u32,
    pub crc: u32,
    pub position: u64,
    pub time_us: u64,
    pub entries: u32,
    pub flags: u32,
}

impl FrameHeader {
    /// Total bytes the frame occupies (header plus body; bodies are multiples of 16).
    pub fn frame_len(&self) -> usize {
        FRAME_HEADER_LEN + self.body_len as usize
    }
}

/// Reads a frame header from the first 32 bytes of `b`, or `None` if they are all zero or
/// `b` is shorter than a header (callers probe arbitrary offsets, up to the last byte).
pub fn read_frame_header(b: &[u8]) -> Option<FrameHeader> {
    let head = b.get(..FRAME_HEADER_LEN)?;
    if head.iter().all(|&x| x == 0) {
        return None;
    }
    Some(FrameHeader {
        body_len: u32_at(b, FRAME_LEN_OFFSET),
        crc: u32_at(b, FRAME_CRC_OFFSET),
        position: u64_at(b, FRAME_POSITION_OFFSET),
        time_us: u64_at(b, FRAME_TIME_OFFSET),
        entries: u32_at(b, FRAME_ENTRIES_OFFSET),
        flags: u32_at(b, FRAME_FLAGS_OFFSET),
    })
}

/// What sits at a given offset of a byte range holding frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A valid record frame.
    Record(FrameHeader),
    /// A valid seal frame: the segment ends at `position`.
    Seal(u64),
    /// Zero bytes: nothing was written here.
    End,
}

/// Validates the frame at `b[at..]` that should carry `position` (if given).
///
/// Checks length bounds, CRC, flags, the entry table and, when `expected` is `Some`, that the
/// header names that position. Never panics on hostile bytes.
pub fn decode_frame(b: &[u8], at: usize, expected: Option<u64>) -> Result<Decoded, CorruptReason> {
    if !at.is_multiple_of(FRAME_ALIGN) {
        return Err(CorruptReason::Misaligned);
    }
    if b.len() < at + FRAME_HEADER_LEN {
        if b.len() == at {
            return Ok(Decoded::End);
        }
        return Err(CorruptReason::ShortHeader);
    }
    let Some(h) = read_frame_header(&b[at..]) else {
        return Ok(Decoded::End);
    };
    let body_len = h.body_len as usize;
    if !body_len.is_multiple_of(FRAME_ALIGN) {
        return Err(CorruptReason::BadLength);
    }
    let Some(end) = at
        .checked_add(FRAME_HEADER_LEN + body_len)
        .filter(|&e| e <= b.len())
    else {
        return Err(CorruptReason::BadLength);
    };
    if h.crc != crc32fast::hash(&b[at + FRAME_POSITION_OFFSET..end]) {
        return Err(CorruptReason::Checksum);
    }
    if let Some(p) = expected
        && h.position != p
    {
        return Err(CorruptReason::PositionMismatch);
    }
    match h.flags {
        FLAG_SEAL if body_len == 0 && h.entries == 0 => Ok(Decoded::Seal(h.position)),
        FLAG_RECORD if h.entries > 0 => {
            check_entries(&b[at + FRAME_HEADER_LEN..end], h.entries)?;
            Ok(Decoded::Record(h))
        }
        _ => Err(CorruptReason::BadFlags),
    }
}

/// Checks that `count` entries tile `body` exactly.
fn check_entries(body: &[u8], count: u32) -> Result<(), CorruptReason> {
    let mut at = 0usize;
    for _ in 0..count {
        if body.len() < at + ENTRY_HEADER_LEN {
            return Err(CorruptReason::BadEntry);
        }
        let len = u32_at(body, at + ENTRY_LEN_OFFSET) as usize;
        at = at
            .checked_add(entry_size(len))
            .ok_or(CorruptReason::BadEntry)?;
        if at > body.len() {
            return Err(CorruptReason::BadEntry);
        }
    }
    if at != body.len() {
        return Err(CorruptReason::BadEntry);
    }
    Ok(())
}

/// Iterates `(kind, payload)` over a frame body already checked by [`decode_frame`].
pub fn entries(body: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        if at + ENTRY_HEADER_LEN > body.len() {
            return None;
        }
        let kind = u16_at(body, at + ENTRY_KIND_OFFSET);
        let len = u32_at(body, at + ENTRY_LEN_OFFSET) as usize;
        let start = at + ENTRY_HEADER_LEN;
        let payload = body.get(start..start + len)?;
        at += entry_size(len);
        Some((kind, payload))
    })
}

/// Appends one encoded record frame to `out` and returns its length.
pub fn encode_record(
    out: &mut Vec<u8>,
    position: u64,
    time_us: u64,
    parts: &[(u16, &[u8])],
) -> usize {
    let start = out.len();
    let len = record_frame_len(parts.iter().map(|(_, p)| p.len()));
    out.resize(start + len, 0);
    write_record(&mut out[start..], position, time_us, parts);
    len
}

/// Encodes one record frame into `frame`, which must be exactly the frame's length and zeroed.
///
/// The frame must start 16-byte aligned relative to the segment's data start; the writer
/// guarantees it because every frame length is a multiple of 16.
pub fn write_record(frame: &mut [u8], position: u64, time_us: u64, parts: &[(u16, &[u8])]) {
    assert!(!parts.is_empty(), "a record holds at least one entry");
    let body_len = frame.len() - FRAME_HEADER_LEN;
    assert_eq!(
        body_len % FRAME_ALIGN,
        0,
        "frame bodies are 16-byte multiples"
    );
    let body_len32 = u32::try_from(body_len).unwrap_or(u32::MAX);
    frame[FRAME_LEN_OFFSET..FRAME_LEN_OFFSET + 4].copy_from_slice(&body_len32.to_le_bytes());
    frame[FRAME_POSITION_OFFSET..FRAME_POSITION_OFFSET + 8]
        .copy_from_slice(&position.to_le_bytes());
    frame[FRAME_TIME_OFFSET..FRAME_TIME_OFFSET + 8].copy_from_slice(&time_us.to_le_bytes());
    let count = u32::try_from(parts.len()).unwrap_or(u32::MAX);
    frame[FRAME_ENTRIES_OFFSET..FRAME_ENTRIES_OFFSET + 4].copy_from_slice(&count.to_le_bytes());
    frame[FRAME_FLAGS_OFFSET..FRAME_FLAGS_OFFSET + 4].copy_from_slice(&FLAG_RECORD.to_le_bytes());
    let mut at = FRAME_HEADER_LEN;
    for (kind, payload) in parts {
        frame[at + ENTRY_KIND_OFFSET..at + ENTRY_KIND_OFFSET + 2]
            .copy_from_slice(&kind.to_le_bytes());
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        frame[at + ENTRY_LEN_OFFSET..at + ENTRY_LEN_OFFSET + 4].copy_from_slice(&len.to_le_bytes());
        let p = at + ENTRY_HEADER_LEN;
        frame[p..p + payload.len()].copy_from_slice(payload);
        at += entry_size(payload.len());
    }
    assert_eq!(at, frame.len(), "entry sizes must tile the body");
    let crc = crc32fast::hash(&frame[FRAME_POSITION_OFFSET..at]);
    frame[FRAME_CRC_OFFSET..FRAME_CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Appends a seal frame for a segment ending at `end` to `out`.
pub fn encode_seal(out: &mut Vec<u8>, end: u64, time_us: u64) {
    debug_assert_eq!(out.len() % FRAME_ALIGN, 0);
    let start = out.len();
    out.resize(start + FRAME_HEADER_LEN, 0);
    let frame = &mut out[start..];
    frame[FRAME_POSITION_OFFSET..FRAME_POSITION_OFFSET + 8].copy_from_slice(&end.to_le_bytes());
    frame[FRAME_TIME_OFFSET..FRAME_TIME_OFFSET + 8].copy_from_slice(&time_us.to_le_bytes());
    frame[FRAME_FLAGS_OFFSET..FRAME_FLAGS_OFFSET + 4].copy_from_slice(&FLAG_SEAL.to_le_bytes());
    let crc = crc32fast::hash(&frame[FRAME_POSITION_OFFSET..FRAME_HEADER_LEN]);
    frame[FRAME_CRC_OFFSET..FRAME_CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Frame length of a record with the given payload lengths.
pub fn record_frame_len(payload_lens: impl Iterator<Item = usize>) -> usize {
    FRAME_HEADER_LEN + payload_lens.map(entry_size).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_entries_align() {
        let mut out = Vec::new();
        let n = encode_record(&mut out, 4096, 7, &[(1, b"abc"), (2, &[9u8; 17])]);
        assert_eq!(n, out.len());
        assert_eq!(n % FRAME_ALIGN, 0);
        let Ok(Decoded::Record(h)) = decode_frame(&out, 0, Some(4096)) else {
            panic!("frame must decode");
        };
        assert_eq!(h.entries, 2);
        assert_eq!(h.time_us, 7);
        let body = &out[FRAME_HEADER_LEN..h.frame_len()];
        let got: Vec<_> = entries(body).collect();
        assert_eq!(got, vec![(1u16, &b"abc"[..]), (2u16, &[9u8; 17][..])]);
        for (_, p) in entries(body) {
            let offset = p.as_ptr() as usize - out.as_ptr() as usize;
            assert_eq!(offset % FRAME_ALIGN, 0);
        }
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let mut out = Vec::new();
        encode_record(&mut out, 64, 1, &[(3, b"hello world")]);
        for byte in 0..out.len() {
            for bit in 0..8 {
                let mut b = out.clone();
                b[byte] ^= 1 << bit;
                let r = decode_frame(&b, 0, Some(64));
                assert!(
                    !matches!(r, Ok(Decoded::Record(_))),
                    "flip at byte {byte} bit {bit} went undetected: {r:?}"
                );
            }
        }
    }

    #[test]
    fn zeros_are_the_end_and_seal_decodes() {
        let zeros = [0u8; 64];
        assert_eq!(decode_frame(&zeros, 0, Some(0)), Ok(Decoded::End));
        let mut out = Vec::new();
        encode_seal(&mut out, 999, 5);
        assert_eq!(decode_frame(&out, 0, Some(999)), Ok(Decoded::Seal(999)));
        assert_eq!(
            decode_frame(&out, 0, Some(1)),
            Err(CorruptReason::PositionMismatch)
        );
    }

    #[test]
    fn truncated_frame_is_reported_not_panicking() {
        let mut out = Vec::new();
        encode_record(&mut out, 0, 0, &[(1, &[1u8; 100])]);
        for cut in 1..out.len() {
            let r = decode_frame(&out[..cut], 0, Some(0));
            assert!(r.is_err(), "cut at {cut} gave {r:?}");
        }
    }

    #[test]
    fn segment_header_round_trips_and_rejects_damage() {
        let mut b = vec![0u8; SEGMENT_HEADER_LEN as usize];
        assert_eq!(decode_segment_header(&b), Err(HeaderProblem::Blank));
        let h = SegmentHeader {
            kind: SegmentKind::Compacted,
            base: 12,
            end: 99,
        };
        encode_segment_header(&h, &mut b);
        assert_eq!(decode_segment_header(&b), Ok(h));
        b[SEG_BASE_OFFSET] ^= 1;
        assert_eq!(
            decode_segment_header(&b),
            Err(HeaderProblem::Corrupt(CorruptReason::HeaderChecksum))
        );
    }
}
