//! Explicit repair: the operator accepts the loss of everything from a position on.
//!
//! Recovery never cuts acknowledged records: damage with acknowledged data behind it fails
//! `Log::open`. An operator who decides to give that data up runs
//! `quark-log repair DIR --truncate-at POS`, which plans the cut (what is lost, in which files),
//! shows it, and applies it only when asked.
//!
//! Invariants:
//! - `POS` must be a record boundary inside the valid prefix of a plain segment (the start of
//!   a valid record, or the end of the last valid one, e.g. the position a corruption error
//!   named); every record before it stays, byte for byte.
//! - Applying deletes the later segments (newest first, then syncs the directory), then
//!   zero-fills the segment from `POS`'s offset to its last non-zero byte and restores its
//!   created size; a crash part-way leaves a log that opens to a prefix of the planned result.
//! - The plan holds the log's lock until it is applied or dropped.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::dir_lock::DirLock;
use crate::error::{IoFailure, OpenError};
use crate::frame::{self, HeaderProblem, SEGMENT_HEADER_LEN, SegmentKind};
use crate::inspect::check_format;
use crate::recovery::position_at;
use crate::scan::{FileSource, Limits, Source, extent, scan_tail};
use crate::segment;

/// Why a repair cannot be planned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepairError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("position {0} is not a record boundary in the valid records of a plain segment: {1}")]
    BadPosition(u64, &'static str),
    #[error(transparent)]
    Io(#[from] IoFailure),
}

/// A planned cut, holding the log's lock. Read it, then [`Repair::apply`] it or drop it.
///
/// ```no_run
/// let repair = quark_log::Repair::plan("/var/lib/quark/shard-0", 1_048_576, 2 << 20).unwrap();
/// println!("{repair}");
/// repair.apply().unwrap();
/// ```
#[derive(Debug)]
pub struct Repair {
    /// The segment cut from `offset` on.
    pub segment: PathBuf,
    /// File offset of the cut.
    pub offset: u64,
    /// The position cut from: the log's new end.
    pub position: u64,
    /// Non-zero bytes of `segment` from `offset` on, zeroed.
    pub bytes: u64,
    /// Valid records of `segment` from `position` on that are dropped (records behind damage
    /// further on are not counted).
    pub records: u64,
    /// Later segment files, deleted, with their sizes.
    pub later: Vec<(PathBuf, u64)>,
    /// The size `segment` was created with, restored if the file is shorter.
    restore_len: Option<u64>,
    _lock: DirLock,
}

impl Repair {
    /// Plans cutting the log in `dir` at `position`. `batch_bytes_max` is the log's (it bounds
    /// frame lengths). Changes nothing.
    pub fn plan(
        dir: impl AsRef<Path>,
        position: u64,
        batch_bytes_max: usize,
    ) -> Result<Repair, RepairError> {
        let dir = dir.as_ref();
        check_format(dir)?;
        let lock = DirLock::take_blocking(dir)?;
        let segments = segment::list(dir)?.segments;
        let i =
            segments
                .iter()
                .rposition(|(b, _)| *b <= position)
                .ok_or(RepairError::BadPosition(
                    position,
                    "before the first segment",
                ))?;
        let (base, path) = &segments[i];
        let bad = |why| RepairError::BadPosition(position, why);
        let src = FileSource::open(path).map_err(|e| IoFailure::new("open", path, e))?;
        let block = src
            .header_block()
            .map_err(|e| IoFailure::new("read", path, e))?;
        let header = match frame::decode_segment_header(&block) {
            Ok(h) if h.kind == SegmentKind::Plain && h.base == *base => h,
            Ok(_) | Err(HeaderProblem::Corrupt(_)) => return Err(bad("segment header unusable")),
            Err(HeaderProblem::Blank) => return Err(bad("segment never initialized")),
            Err(HeaderProblem::Version(_)) => return Err(bad("segment of an unknown version")),
        };
        let limits = Limits::new(batch_bytes_max);
        let scan = scan_tail(&src, &header, limits).map_err(|e| IoFailure::new("read", path, e))?;
        let records = records_from(scan.data.as_slice(), position - base).ok_or(bad(
            "not where a valid record starts or the valid records end",
        ))?;
        let offset = position - base + SEGMENT_HEADER_LEN;
        let to = extent(&src, offset).map_err(|e| IoFailure::new("read", path, e))?;
        let mut later = Vec::new();
        for (_, p) in &segments[i + 1..] {
            let len = std::fs::metadata(p)
                .map_err(|e| IoFailure::new("stat", p, e))?
                .len();
            later.push((p.clone(), len));
        }
        Ok(Repair {
            segment: path.clone(),
            offset,
            position: position_at(*base, offset),
            bytes: to - offset,
            records,
            later,
            restore_len: (header.file_bytes > src.len()).then_some(header.file_bytes),
            _lock: lock,
        })
    }

    /// Applies the plan: see the module documentation for the order of the steps.
    pub fn apply(self) -> Result<(), IoFailure> {
        for (p, _) in self.later.iter().rev() {
            std::fs::remove_file(p).map_err(|e| IoFailure::new("remove", p, e))?;
        }
        if let Some(dir) = self.segment.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| IoFailure::new("fsync dir", dir, e))?;
        }
        zero_fill(&self.segment, self.offset, self.offset + self.bytes)?;
        if let Some(len) = self.restore_len {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&self.segment)
                .map_err(|e| IoFailure::new("open", &self.segment, e))?;
            f.set_len(len)
                .and_then(|()| f.sync_all())
                .map_err(|e| IoFailure::new("extend", &self.segment, e))?;
        }
        Ok(())
    }
}

/// Writes zeros over file offsets `[from, to)` of `path`, one bounded chunk at a time, and
/// makes them durable. The tool runs offline, on no executor: plain blocking writes.
fn zero_fill(path: &Path, from: u64, to: u64) -> Result<(), IoFailure> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| IoFailure::new("open", path, e))?;
    let zeros = vec![0u8; (to - from).min(crate::scan::CHUNK as u64) as usize];
    let mut at = from;
    while at < to {
        let n = (to - at).min(zeros.len() as u64) as usize;
        f.write_all_at(&zeros[..n], at)
            .map_err(|e| IoFailure::new("zero-fill", path, e))?;
        at += n as u64;
    }
    f.sync_data()
        .map_err(|e| IoFailure::new("fdatasync", path, e))
}

/// Records of the valid prefix `data` from data offset `at` on, if `at` is a frame boundary.
fn records_from(data: &[u8], at: u64) -> Option<u64> {
    let at = usize::try_from(at).ok()?;
    let mut off = 0usize;
    let mut records = None;
    while off <= data.len() {
        if off == at {
            records = Some(0);
        }
        let Some(h) = frame::read_frame_header(&data[off..]) else {
            break;
        };
        if let Some(r) = records.as_mut() {
            *r += 1;
        }
        off += h.frame_len();
    }
    records
}

impl std::fmt::Display for Repair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "cut {}: from offset {} (position {}): {} non-zero bytes, \
             {} valid records before damage",
            self.segment.display(),
            self.offset,
            self.position,
            self.bytes,
            self.records
        )?;
        for (p, len) in &self.later {
            writeln!(f, "delete {} ({len} bytes)", p.display())?;
        }
        if self.restore_len.is_some() {
            writeln!(
                f,
                "restore the size of {} (it was cut short)",
                self.segment.display()
            )?;
        }
        write!(f, "every record from position {} on is lost", self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_found_and_others_refused() {
        let mut b = Vec::new();
        for i in 0..3u64 {
            let pos = b.len() as u64;
            frame::encode_record(&mut b, pos, 0, pos, &[(1, &[i as u8; 20])]);
        }
        let f = b.len() as u64 / 3;
        assert_eq!(records_from(&b, 0), Some(3));
        assert_eq!(records_from(&b, f), Some(2));
        assert_eq!(records_from(&b, 3 * f), Some(0));
        assert_eq!(records_from(&b, 16), None);
        assert_eq!(records_from(&b, 4 * f), None);
    }
}
