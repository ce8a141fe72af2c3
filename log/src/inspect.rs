//! Offline inspection of a log directory for the operator's tool: verify every frame, dump
//! records. Never writes: a torn tail is reported (as recovery would cut it), not cut.
//!
//! Invariants: the inspector holds the directory's lock for its whole life, so no `Log` can
//! write underneath it (and it refuses to run while one is open); it opens every file for
//! reading only, so it works on a read-only copy; everything it reports as corrupt names the
//! file, the offset and the position; it reads the tail segment in bounded chunks.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use rkyv::util::AlignedVec;

use crate::error::{CorruptReason, Corruption, IoFailure, OpenError};
use crate::frame::{self, HeaderProblem, SegmentKind};
use crate::reader::Snapshot;
use crate::recovery::{FORMAT_FILE, Truncation, position_at};
use crate::scan::{FileSource, Limits, scan_tail};
use crate::segment::{self, Sealed, corrupt};

/// A read-only view of a closed log directory.
///
/// ```no_run
/// let inspector = quark_log::Inspector::open("/var/lib/quark/shard-0").unwrap();
/// let report = inspector.verify().unwrap();
/// println!("{} records in {} segments", report.records, report.segments);
/// for record in inspector.snapshot().iter().take(10) {
///     println!("{:?}", record.unwrap());
/// }
/// ```
pub struct Inspector {
    sealed: Vec<Rc<Sealed>>,
    tail: Option<TailView>,
    snapshot: Snapshot,
    _lock: crate::dir_lock::DirLock,
}

struct TailView {
    base: u64,
    records: u64,
    valid: u64,
    torn: Option<Truncation>,
    damage: Option<Corruption>,
}

/// What [`Inspector::verify`] found in a log without damage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files.
    pub segments: usize,
    /// Records, all checked.
    pub records: u64,
    /// First stored position.
    pub first_position: u64,
    /// One past the last valid record.
    pub end: u64,
    /// A torn tail that recovery would cut on the next open.
    pub torn_tail: Option<Truncation>,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> IoFailure + 'a {
    move |e| IoFailure::new(op, path, e)
}

impl Inspector {
    /// Opens `dir` read-only. Fails if it is not a log or a process has it open. Assumes the
    /// log was written with the default `batch_bytes_max` (see [`Inspector::open_with`]).
    pub fn open(dir: impl AsRef<Path>) -> Result<Inspector, OpenError> {
        Self::open_with(dir, crate::Config::default().batch_bytes_max)
    }

    /// Like [`Inspector::open`], for a log written with `batch_bytes_max`: it bounds how far
    /// the last write can reach, which tells a torn tail from damage (as recovery does).
    pub fn open_with(
        dir: impl AsRef<Path>,
        batch_bytes_max: usize,
    ) -> Result<Inspector, OpenError> {
        let dir = dir.as_ref();
        let limits = Limits::new(batch_bytes_max);
        check_format(dir)?;
        let lock = crate::dir_lock::DirLock::take_blocking(dir)?;
        let mut segments = segment::list(dir)?.segments;
        let last = segments.pop();
        let mut sealed = Vec::new();
        for (base, path) in &segments {
            sealed.push(Rc::new(Sealed::open(path, *base, None)?));
        }
        let mut tail = None;
        let mut tail_chunks = None;
        if let Some((base, path)) = last {
            match inspect_tail(base, &path, limits)? {
                Tail::Sealed(s) => sealed.push(Rc::new(s)),
                Tail::Blank => {}
                Tail::Plain(view, data) => {
                    let chunks = Rc::new(RefCell::new(vec![(base, Rc::new(data))]));
                    tail_chunks = Some((base, chunks));
                    tail = Some(view);
                }
            }
        }
        let end = match (&tail, sealed.last()) {
            (Some(t), _) => t.base + t.valid,
            (None, Some(s)) => s.end().map_err(|e| s.as_corruption(e))?.unwrap_or(s.base()),
            (None, None) => 0,
        };
        let snapshot = Snapshot::from_parts(sealed.clone(), tail_chunks, end);
        Ok(Inspector {
            sealed,
            tail,
            snapshot,
            _lock: lock,
        })
    }

    /// Every valid record, for iteration with [`Snapshot::iter_from`].
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Damage in the tail segment that hides valid frames behind it (not a torn tail): the
    /// snapshot stops before it, and [`Inspector::verify`] reports it.
    pub fn tail_damage(&self) -> Option<&Corruption> {
        self.tail.as_ref().and_then(|t| t.damage.as_ref())
    }

    /// Checks every frame of every segment (CRC, position, layout, seals).
    pub fn verify(&self) -> Result<VerifyReport, Corruption> {
        let mut records = 0u64;
        for s in &self.sealed {
            let (_, n) = s.walk().map_err(|e| s.as_corruption(e))?;
            records += n;
        }
        if let Some(t) = &self.tail {
            if let Some(d) = &t.damage {
                return Err(d.clone());
            }
            records += t.records;
        }
        let first_position = match (self.sealed.first(), &self.tail) {
            (Some(s), _) => s.base(),
            (None, Some(t)) => t.base,
            (None, None) => 0,
        };
        Ok(VerifyReport {
            segments: self.sealed.len() + usize::from(self.tail.is_some()),
            records,
            first_position,
            end: self.snapshot.end(),
            torn_tail: self.tail.as_ref().and_then(|t| t.torn.clone()),
        })
    }
}

/// Checks `dir/FORMAT`, telling a missing file from an unreadable one and from a newer
/// format version.
pub(crate) fn check_format(dir: &Path) -> Result<(), OpenError> {
    let format = dir.join(FORMAT_FILE);
    match std::fs::read(&format) {
        Ok(t) if crate::recovery::format_readable(&t) => Ok(()),
        Ok(t) => match t.strip_prefix(b"quark-log format ") {
            Some(v) => Err(OpenError::UnsupportedVersion {
                path: format,
                version: String::from_utf8_lossy(v).trim().parse().unwrap_or(0),
            }),
            None => Err(OpenError::NotALog(dir.into(), "FORMAT file not recognized")),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => Err(OpenError::NotALog(dir.into(), "no FORMAT file")),
            Ok(_) => Err(OpenError::NotALog(dir.into(), "not a directory")),
            Err(e) => Err(IoFailure::new("stat", dir, e).into()),
        },
        Err(e) => Err(IoFailure::new("read", &format, e).into()),
    }
}

enum Tail {
    Sealed(Sealed),
    Blank,
    Plain(TailView, AlignedVec),
}

fn inspect_tail(base: u64, path: &Path, limits: Limits) -> Result<Tail, OpenError> {
    let src = FileSource::open(path).map_err(io("open", path))?;
    let block = src.header_block().map_err(io("read", path))?;
    let header = match frame::decode_segment_header(&block) {
        Ok(h) => h,
        Err(HeaderProblem::Blank) => return Ok(Tail::Blank),
        Err(HeaderProblem::Corrupt(r)) => return Err(corrupt(path, 0, base, r).into()),
        Err(HeaderProblem::Version(v)) => {
            return Err(OpenError::UnsupportedVersion {
                path: path.into(),
                version: v,
            });
        }
    };
    if header.base != base {
        return Err(corrupt(path, 0, base, CorruptReason::NameMismatch).into());
    }
    if header.kind == SegmentKind::Compacted {
        return Ok(Tail::Sealed(Sealed::open(path, base, None)?));
    }
    let scan = scan_tail(&src, &header, limits).map_err(io("read", path))?;
    if let Some(end) = scan.sealed {
        return Ok(Tail::Sealed(Sealed::open(path, base, Some(end))?));
    }
    let damage = scan
        .damage
        .map(|d| corrupt(path, d.offset, position_at(base, d.offset), d.reason));
    let torn = scan.cut.map(|c| Truncation::of(c, path, base));
    let view = TailView {
        base,
        records: scan.records,
        valid: scan.valid,
        torn,
        damage,
    };
    Ok(Tail::Plain(view, scan.data))
}
