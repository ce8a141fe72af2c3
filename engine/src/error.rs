//! Typed errors of the engine.
//!
//! Owns [`Error`], what a call, a tell, `run_on` or the engine's life cycle can fail with, and
//! [`ActorError`], what a handler or an activation hook returns when it fails.
//!
//! Invariants: every [`Error`] says whether trying again may succeed
//! ([`Error::is_retryable`]); errors never carry a non-`Send` payload, because they cross
//! shards and threads.

use std::fmt;
use std::time::Duration;

/// What an engine operation failed with.
///
/// ```
/// use quark::Error;
/// let e = Error::Timeout { after: std::time::Duration::from_millis(5) };
/// assert!(e.is_retryable());
/// assert!(!Error::ShutDown.is_retryable());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The actor type was not registered with the builder.
    #[error("actor type {actor} is not registered with this engine")]
    Unregistered {
        /// The actor type's name.
        actor: &'static str,
    },
    /// The engine is shutting down or stopped; it takes no new work.
    #[error("the engine is shut down")]
    ShutDown,
    /// The activation that held the message went away without answering it.
    #[error("actor {actor} went away before answering")]
    ActorGone {
        /// The actor type's name.
        actor: &'static str,
    },
    /// No reply came before the call's deadline.
    #[error("no reply after {after:?}")]
    Timeout {
        /// The timeout the call carried.
        after: Duration,
    },
    /// The handler returned an error; the activation was deactivated.
    #[error("handler of {actor} failed: {reason}")]
    Handler {
        /// The actor type's name.
        actor: &'static str,
        /// The handler's error, rendered.
        reason: String,
    },
    /// The handler panicked; the activation was dropped.
    #[error("handler of {actor} panicked: {reason}")]
    Panicked {
        /// The actor type's name.
        actor: &'static str,
        /// The panic payload, when it was a string.
        reason: String,
    },
    /// `on_activate` failed (returned an error or panicked); the message was not handled.
    #[error("activation of {actor} failed: {reason}")]
    Activation {
        /// The actor type's name.
        actor: &'static str,
        /// Why, rendered.
        reason: String,
    },
    /// A blocking call was made on a shard thread, where it would stall every actor there.
    #[error("blocking call on a shard thread; await the async variant instead")]
    BlockingOnShard,
    /// A shard index outside `0..shards`.
    #[error("no shard {shard}: the engine has {shards}")]
    NoSuchShard {
        /// The index asked for.
        shard: usize,
        /// How many shards the engine has.
        shards: usize,
    },
    /// The engine could not start (bad configuration, executor failure).
    #[error("engine start failed: {reason}")]
    Start {
        /// Why, rendered.
        reason: String,
    },
    /// A shard's log could not be opened or read back at start; the log's typed error is
    /// kept (match [`LogError::is_locked`](crate::LogError::is_locked) for a directory in use
    /// by another engine, [`LogError::corruption`](crate::LogError::corruption) for damage).
    #[error("engine start failed: shard {shard}'s log in {path}: {source}")]
    Log {
        /// The shard.
        shard: usize,
        /// Its log directory.
        path: std::path::PathBuf,
        /// What the log said.
        #[source]
        source: crate::LogError,
    },
    /// The data directory's layout record could not be read, written or honoured (say, a
    /// start with fewer shards than the directory has logs); nothing was opened.
    #[error("engine start failed: {0}")]
    Layout(#[source] std::sync::Arc<crate::layout::LayoutError>),
    /// A shard thread failed while stopping (a panic outside handlers, a log close error).
    #[error("shard {shard} failed to stop cleanly: {reason}")]
    Stop {
        /// The shard.
        shard: usize,
        /// Why, rendered.
        reason: String,
    },
}

impl Error {
    /// Whether trying the same operation again may succeed.
    ///
    /// Timeouts, vanished activations and failed activations are transient; a handler error,
    /// a panic, an unregistered type or a stopped engine will fail the same way again.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Timeout { .. } | Error::ActorGone { .. } | Error::Activation { .. }
        )
    }
}

/// The error a handler or an `on_activate` hook returns.
///
/// Any `std::error::Error + Send + Sync` converts into it with `?`; [`ActorError::msg`] builds
/// one from text. Returning it from a handler fails that call with [`Error::Handler`] and
/// deactivates the activation. Expected business outcomes (say, "insufficient funds") belong
/// in the reply type instead.
///
/// ```
/// use quark::ActorError;
/// fn parse(s: &str) -> Result<u64, ActorError> {
///     Ok(s.parse::<u64>()?)
/// }
/// assert!(parse("x").is_err());
/// assert_eq!(ActorError::msg("boom").to_string(), "boom");
/// ```
pub struct ActorError {
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl ActorError {
    /// An error carrying just a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        let text: Box<dyn std::error::Error + Send + Sync> = message.to_string().into();
        ActorError { source: text }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for ActorError {
    fn from(error: E) -> Self {
        ActorError {
            source: Box::new(error),
        }
    }
}

impl fmt::Display for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl fmt::Debug for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.source, f)
    }
}

/// Renders a panic payload caught by `catch_unwind`.
pub(crate) fn panic_reason(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_are_retryable_and_the_rest_terminal() {
        let name = "A";
        let retryable = [
            Error::Timeout {
                after: Duration::from_millis(1),
            },
            Error::ActorGone { actor: name },
            Error::Activation {
                actor: name,
                reason: String::new(),
            },
        ];
        assert!(retryable.iter().all(Error::is_retryable));
        let terminal = [
            Error::ShutDown,
            Error::Unregistered { actor: name },
            Error::BlockingOnShard,
            Error::Handler {
                actor: name,
                reason: String::new(),
            },
            Error::Panicked {
                actor: name,
                reason: String::new(),
            },
        ];
        assert!(!terminal.iter().any(Error::is_retryable));
    }

    #[test]
    fn actor_errors_keep_their_message() {
        let parsed: Result<u8, ActorError> = "x".parse::<u8>().map_err(ActorError::from);
        assert!(parsed.is_err_and(|e| e.to_string().contains("invalid digit")));
        assert_eq!(format!("{:?}", ActorError::msg("m")), "\"m\"");
        let payload: Box<dyn std::any::Any + Send> = Box::new("static");
        assert_eq!(panic_reason(payload.as_ref()), "static");
        let payload: Box<dyn std::any::Any + Send> = Box::new(7u8);
        assert_eq!(panic_reason(payload.as_ref()), "non-string panic payload");
    }
}
