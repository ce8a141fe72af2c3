//! The journal's typed errors and the expected-version type they refer to.
//!
//! Invariants: every [`Error`] says whether trying the same operation again may succeed
//! ([`Error::is_retryable`]); an error returned by an append or a delete means nothing of
//! that operation was acknowledged (a conflict, a deleted stream or bad input is detected
//! before anything is written); errors are `Send`, so they cross shards.

use std::fmt;

/// What an append expects the stream's current version to be (optimistic concurrency).
///
/// Versions count events: a stream's first event has version 1, and a stream with no event
/// has version 0.
///
/// ```
/// use quark::journal::ExpectedVersion;
/// assert!(ExpectedVersion::Any.admits(7));
/// assert!(ExpectedVersion::NoStream.admits(0));
/// assert!(!ExpectedVersion::Exact(3).admits(4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must have no event yet.
    NoStream,
    /// The stream's last event must have exactly this version.
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream at `actual` satisfies this expectation.
    pub fn admits(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(v) => v == actual,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// What a journal operation failed with.
///
/// ```
/// use quark::journal::{Error, ExpectedVersion};
/// let e = Error::Conflict {
///     stream: "account-alice".into(),
///     expected: ExpectedVersion::Exact(3),
///     actual: 5,
/// };
/// assert!(!e.is_retryable());
/// assert!(e.to_string().contains("account-alice"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream's version is not the expected one; nothing was written.
    #[error("stream {stream}: expected {expected}, but it is at version {actual}")]
    Conflict {
        /// The stream.
        stream: String,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's version (including appends still being made durable).
        actual: u64,
    },
    /// The stream was deleted (tombstoned); it can no longer be read or written.
    #[error("stream {stream} was deleted at version {version}")]
    StreamDeleted {
        /// The stream.
        stream: String,
        /// Its version when it was deleted.
        version: u64,
    },
    /// A stream, projection or event type name that is empty or too long.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name (truncated to 64 bytes).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An append with no event.
    #[error("an append needs at least one event")]
    Empty,
    /// This shard has no log (the engine was built without a data directory).
    #[error("no journal: the engine has no data directory")]
    NoJournal,
    /// An event-sourced actor persisted before recovering its state in `on_activate`.
    #[error("persist before recover: call ctx.recover() in on_activate")]
    NotRecovered,
    /// The stream's writer is now another shard (its home changed and that shard adopted
    /// the stream); nothing was written here. Writes routed through the engine go to the
    /// new writer, so trying again through `JournalHandle` or the actor succeeds.
    #[error("stream {stream} is now written on shard {shard}, not here")]
    Moved {
        /// The stream.
        stream: String,
        /// Its writer now (`usize::MAX` while the move is being made durable).
        shard: usize,
    },
    /// A projection checkpoint behind the one already committed: checkpoints only move
    /// forward (a restarted or duplicated runner must not rewind the projection).
    #[error("checkpoint {name}: {requested:?} is behind the committed {committed:?}")]
    CheckpointBehind {
        /// The projection.
        name: String,
        /// Its committed checkpoint.
        committed: super::event::Position,
        /// The refused one.
        requested: super::event::Position,
    },
    /// Serializing an event, a snapshot or a state failed.
    #[error("serializing failed: {0}")]
    Serialize(String),
    /// A stored event or snapshot did not decode as the expected type.
    #[error("stream {stream} version {version}: stored bytes do not decode: {reason}")]
    Decode {
        /// The stream.
        stream: String,
        /// The event's version (or the snapshot's).
        version: u64,
        /// What the decoder said.
        reason: String,
    },
    /// The append's record would exceed the log's `record_bytes_max` (or holds more than
    /// `u32::MAX` events, reported as `size` events); nothing was written.
    #[error("record of {size} bytes exceeds record_bytes_max {max}")]
    TooLarge {
        /// The record's size in bytes.
        size: usize,
        /// The log's `record_bytes_max`.
        max: usize,
    },
    /// The log failed: an append refused or lost (closed, failed), a read that met
    /// corruption. The log's typed error is kept ([`LogError::corruption`] gives the file,
    /// offset and position of damage).
    ///
    /// [`LogError::corruption`]: crate::LogError::corruption
    #[error("log failed: {0}")]
    Log(#[source] crate::LogError),
    /// The index names a log record that holds no journal entry of the expected kind: the
    /// log and the index disagree (a bug or damage that passed the checksums).
    #[error("no journal entry of kind {kind:#06x} at log position {position}")]
    Missing {
        /// The record's position.
        position: u64,
        /// The entry kind looked for.
        kind: u16,
    },
    /// The engine could not run the request (shut down, no such shard, a panic).
    #[error(transparent)]
    Engine(#[from] crate::Error),
}

impl Error {
    /// Whether trying the same operation again may succeed.
    ///
    /// Only engine-level transient failures (timeouts, an activation that went away) and a
    /// stream whose writer moved are retryable; a conflict, a deleted stream, bad input or a
    /// log failure fails the same way again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Engine(e) => e.is_retryable(),
            Error::Moved { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn name(name: &str, reason: &'static str) -> Error {
        let mut shown = name.to_owned();
        if shown.len() > 64 {
            let mut cut = 64;
            while !shown.is_char_boundary(cut) {
                cut -= 1;
            }
            shown.truncate(cut);
        }
        Error::InvalidName {
            name: shown,
            reason,
        }
    }
}

impl From<quark_log::AppendError> for Error {
    fn from(e: quark_log::AppendError) -> Self {
        match e {
            // Bad input, not a log failure: nothing was written and trying again fails again.
            quark_log::AppendError::TooLarge { size, max } => Error::TooLarge { size, max },
            other => Error::Log(other.into()),
        }
    }
}

impl From<quark_log::ReadError> for Error {
    fn from(e: quark_log::ReadError) -> Self {
        Error::Log(e.into())
    }
}

/// Checks a stream or projection name.
pub(crate) fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::name(name, "empty"));
    }
    if name.len() > super::codec::NAME_BYTES_MAX {
        return Err(Error::name(name, "longer than 4096 bytes"));
    }
    Ok(())
}

/// Checks an event type name.
pub(crate) fn check_type(event_type: &str) -> Result<(), Error> {
    if event_type.len() > super::codec::TYPE_BYTES_MAX {
        return Err(Error::name(event_type, "event type longer than 1024 bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_and_names() {
        assert!(ExpectedVersion::Exact(0).admits(0));
        assert!(!ExpectedVersion::NoStream.admits(1));
        assert!(check_name("").is_err());
        assert!(check_name(&"x".repeat(5000)).is_err());
        assert!(check_name("account-é").is_ok());
        let long = "é".repeat(100);
        let Err(Error::InvalidName { name, .. }) = check_name(&long.repeat(30)) else {
            panic!("a long name is refused");
        };
        assert!(name.len() <= 64);
        assert!(check_type(&"t".repeat(2000)).is_err());
        assert!(!Error::Empty.is_retryable());
    }
}
