//! Typed errors, one enum per operation (`OpenError`, `AppendError`, `ReadError`, ...).
//!
//! Invariants: every I/O error carries the operation and the path it concerned; corruption is
//! always reported with the segment file, the file offset and the position it was found at, and
//! is never turned into "end of log".

use std::io;
use std::path::PathBuf;

/// What exactly was wrong with bytes that failed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CorruptReason {
    #[error("fewer bytes than a header")]
    ShortHeader,
    #[error("not a Quark segment (bad magic)")]
    BadMagic,
    #[error("segment header checksum mismatch")]
    HeaderChecksum,
    #[error("unknown segment kind")]
    BadSegmentKind,
    #[error("segment header does not match its file name")]
    NameMismatch,
    #[error("frame length out of bounds")]
    BadLength,
    #[error("frame checksum mismatch")]
    Checksum,
    #[error("frame names a different position than where it lies")]
    PositionMismatch,
    #[error("unknown frame flags")]
    BadFlags,
    #[error("entry table does not tile the frame body")]
    BadEntry,
    #[error("frame offset not 16-byte aligned")]
    Misaligned,
    #[error("zero bytes before the segment's seal frame")]
    MissingSeal,
    #[error("valid frames follow a damaged frame further than one commit can reach")]
    DamageBeforeValidFrames,
    #[error("a frame names a group commit that starts after the frame")]
    BadCommit,
    #[error(
        "damage with a frame of a later, acknowledged group commit behind it \
         (not a torn last write)"
    )]
    AcknowledgedBehindDamage,
    #[error("damage with a valid seal frame behind it (not a torn last write)")]
    SealBehindDamage,
    #[error("segment file shorter than it was created: it was cut (an interrupted copy?)")]
    Truncated,
    #[error("segment does not follow the one before it: a segment is missing")]
    MissingSegment,
}

/// Corruption found in a segment file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("corrupt log segment {path}: {reason} at file offset {offset} (position {position})")]
pub struct Corruption {
    /// The segment file.
    pub path: PathBuf,
    /// Byte offset inside that file.
    pub offset: u64,
    /// Log position that offset corresponds to.
    pub position: u64,
    /// What was wrong.
    pub reason: CorruptReason,
}

/// An I/O failure with the operation and path that failed.
#[derive(Debug, thiserror::Error)]
#[error("{op} {path}: {source}")]
pub struct IoFailure {
    /// What was being done ("open", "write", "fdatasync", ...).
    pub op: &'static str,
    /// The file or directory concerned.
    pub path: PathBuf,
    /// The underlying error.
    #[source]
    pub source: io::Error,
}

impl IoFailure {
    pub(crate) fn new(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        IoFailure {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Errors of [`crate::Log::open`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    #[error("invalid log configuration: {0}")]
    Config(&'static str),
    #[error("{0} is not a Quark log directory ({1})")]
    NotALog(PathBuf, &'static str),
    #[error("{0} does not exist and create_if_missing is off")]
    Missing(PathBuf),
    #[error("log {0} is locked by another process")]
    Locked(PathBuf),
    #[error("log {path} uses format version {version}, this build reads versions 1 and 2")]
    UnsupportedVersion { path: PathBuf, version: u32 },
    #[error(transparent)]
    Corrupt(#[from] Corruption),
    #[error(transparent)]
    Io(#[from] IoFailure),
}

/// Errors of [`crate::Log::append`] and friends.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    #[error("record of {size} bytes exceeds record_bytes_max {max}")]
    TooLarge { size: usize, max: usize },
    #[error("a record needs at least one entry")]
    Empty,
    #[error("the log is closed")]
    Closed,
    #[error("the log stopped after an earlier write failure: {0}")]
    Failed(String),
    #[error("serializing the payload failed: {0}")]
    Serialize(String),
}

/// Errors of reads: [`crate::Log::read`], snapshots, iterators and tailing readers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    #[error("position {position} is at or past the durable end {end}")]
    PastEnd { position: u64, end: u64 },
    #[error("no record starts at position {0}")]
    NoRecord(u64),
    #[error(transparent)]
    Corrupt(#[from] Corruption),
}

/// Errors of [`crate::Entry::access`] and [`crate::Entry::deserialize`].
#[derive(Debug, thiserror::Error)]
#[error("entry payload failed rkyv validation: {0}")]
pub struct AccessError(pub String);

/// Errors of [`crate::Log::retire`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetireError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("the log is closed")]
    Closed,
}

/// Errors of [`crate::Log::compact`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompactError {
    #[error("the log is closed")]
    Closed,
    #[error(transparent)]
    Corrupt(#[from] Corruption),
    #[error(transparent)]
    Io(#[from] IoFailure),
}

/// Errors of [`crate::Log::close`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloseError {
    #[error("the log stopped after an earlier write failure: {0}")]
    Failed(String),
}
