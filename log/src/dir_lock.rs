//! The exclusive lock one process holds on a log directory while it has the log open.
//!
//! Invariants:
//! - The lock is an `flock` on a descriptor of the directory itself, not on a file inside it:
//!   a file can be unlinked (and recreated) while its holder runs, which let a second writer
//!   in; the directory cannot be removed from under an open log without removing the log.
//! - Taking the lock never sleeps on a shard thread: [`DirLock::take`] retries with glommio
//!   timers; only the offline [`DirLock::take_blocking`] (the `quark-log` tool) sleeps.

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use crate::error::{IoFailure, OpenError};

/// Attempts before a held lock is reported, and the pause between them: a process that forks
/// (to run a command) shares every descriptor with the child until it execs, so a log just
/// closed can look locked for a moment.
const ATTEMPTS: u32 = 20;
const PAUSE: Duration = Duration::from_millis(10);

/// A held lock on a log directory; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct DirLock {
    _dir: File,
}

enum Try {
    Taken(DirLock),
    Held(File),
}

fn try_once(dir: &Path, fd: Option<File>) -> Result<Try, OpenError> {
    let fd = match fd {
        Some(f) => f,
        None => File::open(dir).map_err(|e| IoFailure::new("open dir", dir, e))?,
    };
    match fd.try_lock() {
        Ok(()) => Ok(Try::Taken(DirLock { _dir: fd })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(Try::Held(fd)),
        Err(std::fs::TryLockError::Error(e)) => Err(IoFailure::new("lock", dir, e).into()),
    }
}

impl DirLock {
    /// Takes the lock on `dir`, retrying for up to 200 ms on glommio timers.
    pub(crate) async fn take(dir: &Path) -> Result<DirLock, OpenError> {
        let mut fd = None;
        for _ in 0..ATTEMPTS {
            match try_once(dir, fd.take())? {
                Try::Taken(lock) => return Ok(lock),
                Try::Held(f) => fd = Some(f),
            }
            glommio::timer::sleep(PAUSE).await;
        }
        match try_once(dir, fd)? {
            Try::Taken(lock) => Ok(lock),
            Try::Held(_) => Err(OpenError::Locked(dir.into())),
        }
    }

    /// Takes the lock on `dir` from a thread that may sleep (offline tools).
    pub(crate) fn take_blocking(dir: &Path) -> Result<DirLock, OpenError> {
        let mut fd = None;
        for _ in 0..ATTEMPTS {
            match try_once(dir, fd.take())? {
                Try::Taken(lock) => return Ok(lock),
                Try::Held(f) => fd = Some(f),
            }
            std::thread::sleep(PAUSE);
        }
        match try_once(dir, fd)? {
            Try::Taken(lock) => Ok(lock),
            Try::Held(_) => Err(OpenError::Locked(dir.into())),
        }
    }
}
