//! Segment files: naming, listing, and reading sealed segments through memory maps.
//!
//! Invariants:
//! - A segment file is named by its base position (`{base:020}.seg`) and its header repeats
//!   that base; a mismatch is corruption.
//! - A sealed plain segment holds its records at `SEGMENT_HEADER_LEN + position - base`, then a
//!   seal frame whose position is the segment's end. Zero bytes before the seal are corruption.
//! - A compacted segment holds the live frames of its range packed in position order, then a
//!   seal frame; its header records the range's end.

#[allow(unsafe_code)]
pub(crate) mod mmap;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::error::{CorruptReason, Corruption, IoFailure, ReadError};
use crate::frame::{self, Decoded, HeaderProblem, SEGMENT_HEADER_LEN, SegmentHeader, SegmentKind};
use crate::record::{Backing, Record};
use mmap::Mapped;

/// File name suffix of segment files.
pub(crate) const SEGMENT_SUFFIX: &str = ".seg";
/// File name suffix of a compaction's output before it is renamed into place.
pub(crate) const COMPACT_SUFFIX: &str = ".compact";

/// The file name of the segment starting at `base`.
pub(crate) fn segment_name(base: u64) -> String {
    format!("{base:020}{SEGMENT_SUFFIX}")
}

/// Parses a segment file name back into its base position.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Segment files of `dir`, sorted by base, and leftover compaction files.
pub(crate) struct Listing {
    pub segments: Vec<(u64, PathBuf)>,
    pub leftovers: Vec<PathBuf>,
}

/// Lists the segment files of a log directory (offline tools; the log lists through its
/// storage and calls [`classify`]).
pub(crate) fn list(dir: &Path) -> Result<Listing, IoFailure> {
    let rd = std::fs::read_dir(dir).map_err(|e| IoFailure::new("read dir", dir, e))?;
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| IoFailure::new("read dir", dir, e))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(classify(dir, &names))
}

/// Sorts the entry `names` of `dir` into segment files (by base) and leftover compaction files.
pub(crate) fn classify(dir: &Path, names: &[String]) -> Listing {
    let mut listing = Listing {
        segments: Vec::new(),
        leftovers: Vec::new(),
    };
    for name in names {
        // Only regular files are the log's: a stray directory named like a segment or a
        // compaction output is ignored by open and verify alike.
        let is_file = || std::fs::metadata(dir.join(name)).is_ok_and(|m| m.is_file());
        if let Some(base) = parse_segment_name(name).filter(|_| is_file()) {
            listing.segments.push((base, dir.join(name)));
        } else if name.ends_with(COMPACT_SUFFIX) && is_file() {
            listing.leftovers.push(dir.join(name));
        }
    }
    listing.segments.sort_unstable_by_key(|(b, _)| *b);
    listing
}

/// Why a sealed segment could not be opened.
#[derive(Debug)]
pub(crate) enum SealedError {
    Corrupt(Corruption),
    Version(PathBuf, u32),
    Io(IoFailure),
}

impl From<Corruption> for SealedError {
    fn from(c: Corruption) -> Self {
        SealedError::Corrupt(c)
    }
}

impl std::fmt::Display for SealedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealedError::Corrupt(c) => c.fmt(f),
            SealedError::Version(p, v) => {
                write!(f, "{}: unsupported format version {v}", p.display())
            }
            SealedError::Io(e) => e.fmt(f),
        }
    }
}

fn bad_index(_: &ReadError) -> CorruptReason {
    CorruptReason::PositionMismatch
}

/// A sealed, immutable segment, read through a memory map.
pub(crate) struct Sealed {
    pub path: PathBuf,
    pub header: SegmentHeader,
    map: Rc<Mapped>,
    /// Compacted segments: `(position, file offset)` of every frame, in position order.
    index: Vec<(u64, usize)>,
    /// Compacted segments: the damage that stopped indexing, reported when a read reaches past
    /// the last indexed frame (as for a damaged frame of a plain sealed segment).
    damage: Option<Corruption>,
    /// The end position, once known (from the header, the writer, or a walk to the seal).
    end: Cell<Option<u64>>,
    /// Number of records, once known.
    pub records: Cell<Option<u64>>,
}

impl Sealed {
    /// Maps `path` and checks its header against `base`.
    pub(crate) fn open(path: &Path, base: u64, end: Option<u64>) -> Result<Sealed, SealedError> {
        let map = Mapped::open(path).map_err(SealedError::Io)?;
        let header = match frame::decode_segment_header(map.bytes()) {
            Ok(h) => h,
            Err(HeaderProblem::Blank) => {
                return Err(corrupt(path, 0, base, CorruptReason::BadMagic).into());
            }
            Err(HeaderProblem::Corrupt(r)) => return Err(corrupt(path, 0, base, r).into()),
            Err(HeaderProblem::Version(v)) => return Err(SealedError::Version(path.into(), v)),
        };
        if header.base != base {
            return Err(corrupt(path, 0, base, CorruptReason::NameMismatch).into());
        }
        let mut s = Sealed {
            path: path.to_path_buf(),
            header,
            map: Rc::new(map),
            index: Vec::new(),
            damage: None,
            end: Cell::new(end),
            records: Cell::new(None),
        };
        if header.kind == SegmentKind::Compacted {
            // Damage does not make the log unopenable: the frames before it stay readable,
            // and reads that reach it report it (as for a plain sealed segment).
            if let Err(e) = s.build_index() {
                s.damage = Some(match e {
                    ReadError::Corrupt(c) => c,
                    other => corrupt(path, 0, base, bad_index(&other)),
                });
                s.end.set(Some(header.end));
            }
        }
        Ok(s)
    }

    fn build_index(&mut self) -> Result<(), ReadError> {
        let b = self.map.bytes();
        let mut at = SEGMENT_HEADER_LEN as usize;
        let mut last = None;
        loop {
            let pos = frame::read_frame_header(b.get(at..).unwrap_or(&[]))
                .map_or(self.header.base, |h| h.position);
            match frame::decode_frame(b, at, None) {
                Ok(Decoded::Record(h)) => {
                    if last.is_some_and(|l| h.position <= l) || h.position < self.header.base {
                        return Err(self.corrupt_at(at, pos, CorruptReason::PositionMismatch));
                    }
                    last = Some(h.position);
                    self.index.push((h.position, at));
                    at += h.frame_len();
                }
                Ok(Decoded::Seal(end)) if end == self.header.end => break,
                Ok(Decoded::Seal(_)) => {
                    return Err(self.corrupt_at(at, pos, CorruptReason::PositionMismatch));
                }
                Ok(Decoded::End) => {
                    return Err(self.corrupt_at(at, pos, CorruptReason::MissingSeal));
                }
                Err(r) => return Err(self.corrupt_at(at, pos, r)),
            }
        }
        self.end.set(Some(self.header.end));
        self.records.set(Some(self.index.len() as u64));
        Ok(())
    }

    /// A compacted segment's answer for a position it has not indexed: the damage that stopped
    /// indexing if the position lies at or after it, else "no record".
    fn past_index(&self, position: u64) -> ReadError {
        match &self.damage {
            Some(d) if position >= d.position => ReadError::Corrupt(d.clone()),
            _ => ReadError::NoRecord(position),
        }
    }

    fn corrupt_at(&self, at: usize, position: u64, reason: CorruptReason) -> ReadError {
        ReadError::Corrupt(corrupt(&self.path, at as u64, position, reason))
    }

    /// Turns a read error from this segment into the corruption it stands for: walks and scans of
    /// a sealed segment only fail on damage (a missing seal, a frame out of place).
    pub(crate) fn as_corruption(&self, e: ReadError) -> Corruption {
        match e {
            ReadError::Corrupt(c) => c,
            ReadError::NoRecord(p) | ReadError::PastEnd { position: p, .. } => {
                corrupt(&self.path, 0, p, CorruptReason::MissingSeal)
            }
        }
    }

    /// The first position of this segment's range.
    pub(crate) fn base(&self) -> u64 {
        self.header.base
    }

    fn offset_of(&self, position: u64) -> Option<usize> {
        let rel = position.checked_sub(self.header.base)?;
        usize::try_from(rel.checked_add(SEGMENT_HEADER_LEN)?).ok()
    }

    fn record(&self, h: frame::FrameHeader, at: usize) -> Record {
        Record {
            header: h,
            backing: Backing::Map(self.map.clone()),
            at,
        }
    }

    /// The record starting exactly at `position`.
    pub(crate) fn read(&self, position: u64) -> Result<Record, ReadError> {
        if self.header.kind == SegmentKind::Compacted {
            let i = self
                .index
                .binary_search_by_key(&position, |(p, _)| *p)
                .map_err(|_| self.past_index(position))?;
            let at = self.index[i].1;
            return match frame::decode_frame(self.map.bytes(), at, Some(position)) {
                Ok(Decoded::Record(h)) => Ok(self.record(h, at)),
                Ok(_) => Err(ReadError::NoRecord(position)),
                Err(r) => Err(self.corrupt_at(at, position, r)),
            };
        }
        let b = self.map.bytes();
        let at = self
            .offset_of(position)
            .ok_or(ReadError::NoRecord(position))?;
        // A header naming another position means `position` is not a record boundary; only a
        // header that names it and then fails validation is corruption.
        match b.get(at..).and_then(frame::read_frame_header) {
            Some(h) if h.position == position => {}
            _ => return Err(ReadError::NoRecord(position)),
        }
        match frame::decode_frame(b, at, Some(position)) {
            Ok(Decoded::Record(h)) => Ok(self.record(h, at)),
            Ok(_) => Err(ReadError::NoRecord(position)),
            Err(r) => Err(self.corrupt_at(at, position, r)),
        }
    }

    /// The first record at or after `position`, or `None` past this segment's last record.
    pub(crate) fn next_from(&self, position: u64) -> Result<Option<Record>, ReadError> {
        let position = position.max(self.header.base);
        if self.header.kind == SegmentKind::Compacted {
            let i = self.index.partition_point(|(p, _)| *p < position);
            let Some(&(p, at)) = self.index.get(i) else {
                return match &self.damage {
                    Some(d) => Err(ReadError::Corrupt(d.clone())),
                    None => Ok(None),
                };
            };
            return match frame::decode_frame(self.map.bytes(), at, Some(p)) {
                Ok(Decoded::Record(h)) => Ok(Some(self.record(h, at))),
                Ok(_) => Err(self.corrupt_at(at, p, CorruptReason::BadFlags)),
                Err(r) => Err(self.corrupt_at(at, p, r)),
            };
        }
        let b = self.map.bytes();
        let at = self
            .offset_of(position)
            .ok_or(ReadError::NoRecord(position))?;
        let decoded = if at >= b.len() {
            Ok(Decoded::End)
        } else {
            frame::decode_frame(b, at, Some(position))
        };
        match decoded {
            Ok(Decoded::Record(h)) => Ok(Some(self.record(h, at))),
            Ok(Decoded::Seal(_)) => Ok(None),
            // Zeros (or the end of the file) are past the seal, in a gap left by a deleted
            // segment, inside a record, or a hole; the checked walk tells which.
            Ok(Decoded::End) => match self.end()? {
                Some(end) if position >= end => Ok(None),
                _ => self.seek(position),
            },
            // `position` may be inside a record (a caller's `--from`, a tail from an arbitrary
            // position) rather than a damaged boundary: the checked walk tells which.
            Err(_) => self.seek(position),
        }
    }

    /// The first record at or after `position`, found by a checked walk from the segment's
    /// base: damage on the way is reported where it lies, never skipped.
    fn seek(&self, position: u64) -> Result<Option<Record>, ReadError> {
        let b = self.map.bytes();
        let mut pos = self.header.base;
        loop {
            let at = self.offset_of(pos).ok_or(ReadError::NoRecord(pos))?;
            match frame::decode_frame(b, at, Some(pos)) {
                Ok(Decoded::Record(h)) if pos >= position => return Ok(Some(self.record(h, at))),
                Ok(Decoded::Record(h)) => pos += h.frame_len() as u64,
                Ok(Decoded::Seal(_)) => return Ok(None),
                Ok(Decoded::End) => {
                    return Err(self.corrupt_at(at, pos, CorruptReason::MissingSeal));
                }
                Err(r) => return Err(self.corrupt_at(at, pos, r)),
            }
        }
    }

    /// The end position (the seal's), walking (and checking) every frame once if it is not
    /// known yet. The walk checks CRCs so that damage is reported at the damaged frame, not
    /// where a corrupt length would have led a header-only walk.
    pub(crate) fn end(&self) -> Result<Option<u64>, ReadError> {
        if let Some(e) = self.end.get() {
            return Ok(Some(e));
        }
        let (end, records) = self.walk()?;
        self.end.set(Some(end));
        self.records.set(Some(records));
        Ok(Some(end))
    }

    /// Walks every frame to the seal, validating each. Returns the end position and the number
    /// of records.
    pub(crate) fn walk(&self) -> Result<(u64, u64), ReadError> {
        if self.header.kind == SegmentKind::Compacted {
            for &(p, at) in &self.index {
                if let Err(r) = frame::decode_frame(self.map.bytes(), at, Some(p)) {
                    return Err(self.corrupt_at(at, p, r));
                }
            }
            if let Some(d) = &self.damage {
                return Err(ReadError::Corrupt(d.clone()));
            }
            return Ok((self.header.end, self.index.len() as u64));
        }
        let b = self.map.bytes();
        let mut pos = self.header.base;
        let mut records = 0u64;
        loop {
            let at = self.offset_of(pos).ok_or(ReadError::NoRecord(pos))?;
            match frame::decode_frame(b, at, Some(pos)) {
                Ok(Decoded::Record(h)) => {
                    records += 1;
                    pos += h.frame_len() as u64;
                }
                Ok(Decoded::Seal(end)) => return Ok((end, records)),
                Ok(Decoded::End) => {
                    return Err(self.corrupt_at(at, pos, CorruptReason::MissingSeal));
                }
                Err(r) => return Err(self.corrupt_at(at, pos, r)),
            }
        }
    }

    /// Positions of every record, in order (used by compaction).
    pub(crate) fn positions(&self) -> Result<Vec<u64>, ReadError> {
        if self.header.kind == SegmentKind::Compacted {
            if let Some(d) = &self.damage {
                return Err(ReadError::Corrupt(d.clone()));
            }
            return Ok(self.index.iter().map(|(p, _)| *p).collect());
        }
        let mut out = Vec::new();
        let mut pos = self.header.base;
        while let Some(r) = self.next_from(pos)? {
            out.push(r.position());
            pos = r.end();
        }
        Ok(out)
    }

    /// Size of the file on disk.
    pub(crate) fn file_len(&self) -> u64 {
        self.map.bytes().len() as u64
    }
}

/// Builds a [`Corruption`].
pub(crate) fn corrupt(
    path: &Path,
    offset: u64,
    position: u64,
    reason: CorruptReason,
) -> Corruption {
    Corruption {
        path: path.to_path_buf(),
        offset,
        position,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_lookalikes() {
        for base in [0u64, 1, 4096, u64::MAX] {
            assert_eq!(parse_segment_name(&segment_name(base)), Some(base));
        }
        assert_eq!(segment_name(42), "00000000000000000042.seg");
        for bad in [
            "42.seg",
            "0000000000000000004x.seg",
            "00000000000000000042.sex",
            "FORMAT",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }
}
