//! [`LogError`]: a failure of a shard's log, carried through the journal and the engine's start
//! with the log's own typed error inside (not rendered into a string).
//!
//! The log's errors are not `Clone` (they hold `io::Error`s) while the engine's errors cross
//! shards and threads and are cloned; so each is held in an `Arc`. The log's enums are wrapped,
//! not mirrored: a new variant there needs no change here.
//!
//! Invariants: a corruption keeps its file, offset and position ([`LogError::corruption`]); a
//! locked log can be told apart ([`LogError::is_locked`]); two `LogError`s are equal when they
//! are the same kind of failure and render the same.

use std::sync::Arc;

use quark_log::{AppendError, Corruption, OpenError, ReadError};

/// A failure of a shard's log, with the log's typed error inside.
///
/// ```
/// use quark::LogError;
/// let e = LogError::from(quark_log::AppendError::Closed);
/// let LogError::Append(inner) = &e else { panic!() };
/// assert!(matches!(**inner, quark_log::AppendError::Closed));
/// assert!(!e.is_locked());
/// assert!(e.corruption().is_none());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Opening the log failed (locked, corrupt, I/O, configuration).
    #[error(transparent)]
    Open(Arc<OpenError>),
    /// An append was refused or lost (closed, failed, too large).
    #[error(transparent)]
    Append(Arc<AppendError>),
    /// A read failed (corruption, a record that is not there).
    #[error(transparent)]
    Read(Arc<ReadError>),
}

impl LogError {
    /// The corruption behind this failure, with its file, offset and position, if it is one.
    pub fn corruption(&self) -> Option<&Corruption> {
        match self {
            LogError::Open(e) => match &**e {
                OpenError::Corrupt(c) => Some(c),
                _ => None,
            },
            LogError::Read(e) => match &**e {
                ReadError::Corrupt(c) => Some(c),
                _ => None,
            },
            LogError::Append(_) => None,
        }
    }

    /// Whether the log is locked by another process (another engine on the same directory).
    pub fn is_locked(&self) -> bool {
        matches!(self, LogError::Open(e) if matches!(**e, OpenError::Locked(_)))
    }
}

impl PartialEq for LogError {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.to_string() == other.to_string()
    }
}

impl Eq for LogError {}

impl From<OpenError> for LogError {
    fn from(e: OpenError) -> Self {
        LogError::Open(Arc::new(e))
    }
}

impl From<AppendError> for LogError {
    fn from(e: AppendError) -> Self {
        LogError::Append(Arc::new(e))
    }
}

impl From<ReadError> for LogError {
    fn from(e: ReadError) -> Self {
        LogError::Read(Arc::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corruption_and_lock_are_kept() {
        let corruption = Corruption {
            path: "/d/shard-0/00000000000000000000.seg".into(),
            offset: 4096,
            position: 0,
            reason: quark_log::CorruptReason::Checksum,
        };
        let read = LogError::from(ReadError::Corrupt(corruption.clone()));
        assert_eq!(read.corruption(), Some(&corruption));
        let open = LogError::from(OpenError::Locked("/d/shard-0".into()));
        assert!(open.is_locked());
        assert_eq!(open.clone(), open);
        assert_ne!(open, read);
    }
}
