//! On-disk layout: the segment header and the record frame, byte by byte.
//!
//! This module owns every offset and constant of the format (see `docs/log-format.md`) and the
//! pure functions that encode and validate them. It does no I/O.
//!
//! Two format versions are read; version 2 is written:
//! - Version 1 frames have a 32-byte header. Version 2 frames set [`FLAG_COMMIT`] and have a
//!   48-byte header that also names the group commit that wrote them (the position where that
//!   commit's write started), which lets recovery tell a torn last write from damage in front
//!   of acknowledged data. Frames say their own version, so one segment may hold both (a v1
//!   tail continued by this build, a compaction of v1 frames).
//! - Version 2 segment headers also name the preceding segment and the size the file was
//!   created with, so a deleted segment or a truncated file is detected.
//!
//! Invariants:
//! - All integers are fixed-width little-endian; no `usize` is ever written.
//! - Every frame starts at a 16-byte aligned file offset and its length is a multiple of 16, so
//!   every entry payload starts 16-byte aligned (rkyv's archives need that alignment).
//! - A frame's CRC covers everything after the CRC field: the rest of the header and the body.
//!   A frame whose first 32 bytes are zero marks the end of written data.
//! - Decoding never panics and never trusts a length before checking it against the bytes.

use crate::error::CorruptReason;

/// Bytes reserved at the start of every segment file for its header (one O_DIRECT block).
pub const SEGMENT_HEADER_LEN: u64 = 4096;
/// The magic that opens every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"QUARKSEG";
/// The on-disk format version this crate writes.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format version this crate reads.
pub const FORMAT_VERSION_MIN: u32 = 1;

// Segment header layout (version 2; version 1 stops after SEG_END and puts its CRC there).
pub const SEG_MAGIC_OFFSET: usize = 0;
pub const SEG_VERSION_OFFSET: usize = SEG_MAGIC_OFFSET + 8;
pub const SEG_KIND_OFFSET: usize = SEG_VERSION_OFFSET + 4;
pub const SEG_BASE_OFFSET: usize = SEG_KIND_OFFSET + 4;
pub const SEG_END_OFFSET: usize = SEG_BASE_OFFSET + 8;
pub const SEG_PREV_OFFSET: usize = SEG_END_OFFSET + 8;
pub const SEG_FILE_BYTES_OFFSET: usize = SEG_PREV_OFFSET + 8;
pub const SEG_CRC_OFFSET: usize = SEG_FILE_BYTES_OFFSET + 8;
pub const SEG_HEADER_USED: usize = SEG_CRC_OFFSET + 4;
/// Where a version 1 header keeps its CRC (right after `SEG_END`).
pub const SEG_V1_CRC_OFFSET: usize = SEG_END_OFFSET + 8;
const _: () = assert!(SEG_HEADER_USED == 52);
const _: () = assert!(SEG_V1_CRC_OFFSET == 32);
const _: () = assert!(SEG_HEADER_USED as u64 <= SEGMENT_HEADER_LEN);

// Frame header layout. The first 32 bytes are the same in both versions.
pub const FRAME_LEN_OFFSET: usize = 0;
pub const FRAME_CRC_OFFSET: usize = FRAME_LEN_OFFSET + 4;
pub const FRAME_POSITION_OFFSET: usize = FRAME_CRC_OFFSET + 4;
pub const FRAME_TIME_OFFSET: usize = FRAME_POSITION_OFFSET + 8;
pub const FRAME_ENTRIES_OFFSET: usize = FRAME_TIME_OFFSET + 8;
pub const FRAME_FLAGS_OFFSET: usize = FRAME_ENTRIES_OFFSET + 4;
/// Length of a version 1 frame header.
pub const FRAME_HEADER_LEN_V1: usize = FRAME_FLAGS_OFFSET + 4;
pub const FRAME_COMMIT_OFFSET: usize = FRAME_HEADER_LEN_V1;
pub const FRAME_RESERVED_OFFSET: usize = FRAME_COMMIT_OFFSET + 8;
/// Length of the frame header this build writes (version 2).
pub const FRAME_HEADER_LEN: usize = FRAME_RESERVED_OFFSET + 8;
const _: () = assert!(FRAME_HEADER_LEN_V1 == 32);
const _: () = assert!(FRAME_HEADER_LEN == 48);

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
const _: () = assert!(FRAME_HEADER_LEN_V1.is_multiple_of(FRAME_ALIGN));
const _: () = assert!(ENTRY_HEADER_LEN.is_multiple_of(FRAME_ALIGN));
const _: () = assert!(SEGMENT_HEADER_LEN.is_multiple_of(FRAME_ALIGN as u64));

/// Frame kind: the frame is a record.
pub const FLAG_RECORD: u32 = 0;
/// Frame kind: the frame seals its segment; its position is the
/// segment's end.
pub const FLAG_SEAL: u32 = 1;
/// Flag bit: a version 2 frame, whose 48-byte header names its group commit.
pub const FLAG_COMMIT: u32 = 0x100;

/// "No preceding segment" in a version 2 segment header.
pub const NO_PREV: u64 = u64::MAX;

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
    /// The format version the header was written with.
    pub version: u32,
    pub kind: SegmentKind,
    pub base: u64,
    /// End position for compacted segments, 0 for plain ones (their end is their seal frame).
    pub end: u64,
    /// Version 2: base of the segment this one follows, `None` for the log's first segment.
    /// Version 1 headers do not say (`None`).
    pub prev: Option<u64>,
    /// Version 2 plain segments: the size the file was created with (a shorter file was cut).
    /// 0 where unknown (version 1, compacted segments).
    pub file_bytes: u64,
}

impl SegmentHeader {
    /// A version 2 header for a new segment.
    pub fn new(kind: SegmentKind, base: u64, end: u64, prev: Option<u64>, file_bytes: u64) -> Self {
        SegmentHeader {
            version: FORMAT_VERSION,
            kind,
            base,
            end,
            prev,
            file_bytes,
        }
    }
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

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Encodes a version 2 segment header into the first `SEG_HEADER_USED` bytes of `out`.
pub fn encode_segment_header(h: &SegmentHeader, out: &mut [u8]) {
    assert!(out.len() >= SEG_HEADER_USED);
    assert_eq!(
        h.version, FORMAT_VERSION,
        "only the current version is written"
    );
    put(out, SEG_MAGIC_OFFSET, &SEGMENT_MAGIC);
    put(out, SEG_VERSION_OFFSET, &FORMAT_VERSION.to_le_bytes());
    let kind: u32 = match h.kind {
        SegmentKind::Plain => 0,
        SegmentKind::Compacted => 1,
    };
    put(out, SEG_KIND_OFFSET, &kind.to_le_bytes());
    put(out, SEG_BASE_OFFSET, &h.base.to_le_bytes());
    put(out, SEG_END_OFFSET, &h.end.to_le_bytes());
    put(
        out,
        SEG_PREV_OFFSET,
        &h.prev.unwrap_or(NO_PREV).to_le_bytes(),
    );
    put(out, SEG_FILE_BYTES_OFFSET, &h.file_bytes.to_le_bytes());
    let crc = crc32fast::hash(&out[..SEG_CRC_OFFSET]);
    put(out, SEG_CRC_OFFSET, &crc.to_le_bytes());
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

/// Decodes and validates a segment header (version 1 or 2).
pub fn decode_segment_header(b: &[u8]) -> Result<SegmentHeader, HeaderProblem> {
    // A file cut short or zero before the header was written never held a record: the header
    // is durable before any record of the segment is acknowledged.
    let used = &b[..b.len().min(SEG_HEADER_USED)];
    if used.iter().all(|&x| x == 0) {
        return Err(HeaderProblem::Blank);
    }
    if b.len() < SEG_V1_CRC_OFFSET + 4 {
        return Err(HeaderProblem::Corrupt(CorruptReason::ShortHeader));
    }
    if b[SEG_MAGIC_OFFSET..SEG_MAGIC_OFFSET + 8] != SEGMENT_MAGIC {
        return Err(HeaderProblem::Corrupt(CorruptReason::BadMagic));
    }
    let version = u32_at(b, SEG_VERSION_OFFSET);
    let crc_at = match version {
        1 => SEG_V1_CRC_OFFSET,
        2 if b.len() >= SEG_HEADER_USED => SEG_CRC_OFFSET,
        2 => return Err(HeaderProblem::Corrupt(CorruptReason::ShortHeader)),
        // A damaged version field fails the CRC of either layout; check before blaming it.
        v => {
            let v1 = crc32fast::hash(&b[..SEG_V1_CRC_OFFSET]) == u32_at(b, SEG_V1_CRC_OFFSET);
            let v2 = b.len() >= SEG_HEADER_USED
                && crc32fast::hash(&b[..SEG_CRC_OFFSET]) == u32_at(b, SEG_CRC_OFFSET);
            if v1 || v2 {
                return Err(HeaderProblem::Version(v));
            }
            return Err(HeaderProblem::Corrupt(CorruptReason::HeaderChecksum));
        }
    };
    if u32_at(b, crc_at) != crc32fast::hash(&b[..crc_at]) {
        return Err(HeaderProblem::Corrupt(CorruptReason::HeaderChecksum));
    }
    let kind = match u32_at(b, SEG_KIND_OFFSET) {
        0 => SegmentKind::Plain,
        1 => SegmentKind::Compacted,
        _ => return Err(HeaderProblem::Corrupt(CorruptReason::BadSegmentKind)),
    };
    let (prev, file_bytes) = if version == 1 {
        (None, 0)
    } else {
        let prev = u64_at(b, SEG_PREV_OFFSET);
        (
            (prev != NO_PREV).then_some(prev),
            u64_at(b, SEG_FILE_BYTES_OFFSET),
        )
    };
    Ok(SegmentHeader {
        version,
        kind,
        base: u64_at(b, SEG_BASE_OFFSET),
        end: u64_at(b, SEG_END_OFFSET),
        prev,
        file_bytes,
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
    /// Version 2: the position where the group commit that wrote this frame started (a unique,
    /// increasing id of that commit). `None` for a version 1 frame.
    pub commit: Option<u64>,
}

impl FrameHeader {
    /// Length of this frame's header: 32 bytes (version 1) or 48 (version 2).
    pub fn header_len(&self) -> usize {
        if self.commit.is_some() {
            FRAME_HEADER_LEN
        } else {
            FRAME_HEADER_LEN_V1
        }
    }

    /// Total bytes the frame occupies (header plus body; bodies are multiples of 16).
    pub fn frame_len(&self) -> usize {
        self.header_len() + self.body_len as usize
    }
}

/// Reads a frame header from the start of `b`, or `None` if its first 32 bytes are all zero or
/// `b` is shorter than the header (callers probe arbitrary offsets, up to the last byte).
pub fn read_frame_header(b: &[u8]) -> Option<FrameHeader> {
    let head = b.get(..FRAME_HEADER_LEN_V1)?;
    if head.iter().all(|&x| x == 0) {
        return None;
    }
    let flags = u32_at(b, FRAME_FLAGS_OFFSET);
    let commit = if flags & FLAG_COMMIT != 0 {
        Some(u64_at(b.get(..FRAME_HEADER_LEN)?, FRAME_COMMIT_OFFSET))
    } else {
        None
    };
    Some(FrameHeader {
        body_len: u32_at(b, FRAME_LEN_OFFSET),
        crc: u32_at(b, FRAME_CRC_OFFSET),
        position: u64_at(b, FRAME_POSITION_OFFSET),
        time_us: u64_at(b, FRAME_TIME_OFFSET),
        entries: u32_at(b, FRAME_ENTRIES_OFFSET),
        flags,
        commit,
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
    let Some(rest) = b.get(at..) else {
        return Err(CorruptReason::ShortHeader);
    };
    if rest.is_empty() {
        return Ok(Decoded::End);
    }
    if rest.len() < FRAME_HEADER_LEN_V1 {
        return Err(CorruptReason::ShortHeader);
    }
    let Some(h) = read_frame_header(rest) else {
        if rest[..FRAME_HEADER_LEN_V1].iter().all(|&x| x == 0) {
            return Ok(Decoded::End);
        }
        return Err(CorruptReason::ShortHeader);
    };
    let body_len = h.body_len as usize;
    if !body_len.is_multiple_of(FRAME_ALIGN) {
        return Err(CorruptReason::BadLength);
    }
    let Some(end) = h
        .header_len()
        .checked_add(body_len)
        .filter(|&e| e <= rest.len())
    else {
        return Err(CorruptReason::BadLength);
    };
    if h.position.checked_add(end as u64).is_none() {
        return Err(CorruptReason::BadLength);
    }
    if h.crc != crc32fast::hash(&rest[FRAME_POSITION_OFFSET..end]) {
        return Err(CorruptReason::Checksum);
    }
    if let Some(p) = expected
        && h.position != p
    {
        return Err(CorruptReason::PositionMismatch);
    }
    if h.commit.is_some() && u64_at(rest, FRAME_RESERVED_OFFSET) != 0 {
        return Err(CorruptReason::BadFlags);
    }
    // A commit starts at or before each of its frames.
    if h.commit.is_some_and(|c| c > h.position) {
        return Err(CorruptReason::BadCommit);
    }
    match h.flags & !FLAG_COMMIT {
        FLAG_SEAL if body_len == 0 && h.entries == 0 => Ok(Decoded::Seal(h.position)),
        FLAG_RECORD if h.entries > 0 => {
            check_entries(&rest[h.header_len()..end], h.entries)?;
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
    commit: u64,
    parts: &[(u16, &[u8])],
) -> usize {
    let start = out.len();
    let len = record_frame_len(parts.iter().map(|(_, p)| p.len()));
    out.resize(start + len, 0);
    write_record(&mut out[start..], position, time_us, commit, parts);
    len
}

/// Encodes one version 2 record frame into `frame`, which must be exactly the frame's length
/// and zeroed. `commit` is where the group commit carrying it starts (its batch's first
/// position), at or before `position`.
///
/// The frame must start 16-byte aligned relative to the segment's data start; the writer
/// guarantees it because every frame length is a multiple of 16.
pub fn write_record(
    frame: &mut [u8],
    position: u64,
    time_us: u64,
    commit: u64,
    parts: &[(u16, &[u8])],
) {
    assert!(!parts.is_empty(), "a record holds at least one entry");
    assert!(
        commit <= position,
        "a commit starts at or before its frames"
    );
    let body_len = frame.len() - FRAME_HEADER_LEN;
    assert_eq!(
        body_len % FRAME_ALIGN,
        0,
        "frame bodies are 16-byte multiples"
    );
    let count = u32::try_from(parts.len()).unwrap_or(u32::MAX);
    let body_len32 = u32::try_from(body_len).unwrap_or(u32::MAX);
    write_header(
        frame,
        body_len32,
        position,
        time_us,
        count,
        FLAG_RECORD,
        commit,
    );
    let mut at = FRAME_HEADER_LEN;
    for (kind, payload) in parts {
        put(frame, at + ENTRY_KIND_OFFSET, &kind.to_le_bytes());
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        put(frame, at + ENTRY_LEN_OFFSET, &len.to_le_bytes());
        put(frame, at + ENTRY_HEADER_LEN, payload);
        at += entry_size(payload.len());
    }
    assert_eq!(at, frame.len(), "entry sizes must tile the body");
    let crc = crc32fast::hash(&frame[FRAME_POSITION_OFFSET..at]);
    put(frame, FRAME_CRC_OFFSET, &crc.to_le_bytes());
}

/// Writes a version 2 frame header (all but the CRC) into `frame`.
fn write_header(
    frame: &mut [u8],
    body_len: u32,
    position: u64,
    time_us: u64,
    entries: u32,
    kind: u32,
    commit: u64,
) {
    put(frame, FRAME_LEN_OFFSET, &body_len.to_le_bytes());
    put(frame, FRAME_POSITION_OFFSET, &position.to_le_bytes());
    put(frame, FRAME_TIME_OFFSET, &time_us.to_le_bytes());
    put(frame, FRAME_ENTRIES_OFFSET, &entries.to_le_bytes());
    put(
        frame,
        FRAME_FLAGS_OFFSET,
        &(kind | FLAG_COMMIT).to_le_bytes(),
    );
    put(frame, FRAME_COMMIT_OFFSET, &commit.to_le_bytes());
}

/// Appends a version 2 seal frame for a segment ending at `end` to `out`. A seal is written by
/// a commit of its own, so its commit is its position.
pub fn encode_seal(out: &mut Vec<u8>, end: u64, time_us: u64) {
    debug_assert_eq!(out.len() % FRAME_ALIGN, 0);
    let start = out.len();
    out.resize(start + FRAME_HEADER_LEN, 0);
    let frame = &mut out[start..];
    write_header(frame, 0, end, time_us, 0, FLAG_SEAL, end);
    let crc = crc32fast::hash(&frame[FRAME_POSITION_OFFSET..FRAME_HEADER_LEN]);
    put(frame, FRAME_CRC_OFFSET, &crc.to_le_bytes());
}

/// Frame length of a (version 2) record with the given payload lengths.
pub fn record_frame_len(payload_lens: impl Iterator<Item = usize>) -> usize {
    FRAME_HEADER_LEN + payload_lens.map(entry_size).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_entries_align() {
        let mut out = Vec::new();
        let n = encode_record(&mut out, 4096, 7, 4000, &[(1, b"abc"), (2, &[9u8; 17])]);
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
        encode_record(&mut out, 64, 1, 64, &[(3, b"hello world")]);
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
        encode_record(&mut out, 0, 0, 0, &[(1, &[1u8; 100])]);
        for cut in 1..out.len() {
            let r = decode_frame(&out[..cut], 0, Some(0));
            assert!(r.is_err(), "cut at {cut} gave {r:?}");
        }
    }

    #[test]
    fn segment_header_round_trips_and_rejects_damage() {
        let mut b = vec![0u8; SEGMENT_HEADER_LEN as usize];
        assert_eq!(decode_segment_header(&b), Err(HeaderProblem::Blank));
        let h = SegmentHeader::new(SegmentKind::Compacted, 12, 99, Some(3), 0);
        encode_segment_header(&h, &mut b);
        assert_eq!(decode_segment_header(&b), Ok(h));
        b[SEG_BASE_OFFSET] ^= 1;
        assert_eq!(
            decode_segment_header(&b),
            Err(HeaderProblem::Corrupt(CorruptReason::HeaderChecksum))
        );
    }
}
