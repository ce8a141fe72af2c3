//! Runs a peer's client future on a tokio runtime that owns its own thread.
//!
//! DEPENDENCIES.md's bridge pattern keeps tokio clients off shard threads; here no shard is
//! running while a peer is measured, so the peer's clients get a whole current-thread runtime on
//! a dedicated thread, the cheapest way to drive them. Invariant: the caller blocks until the
//! future finishes; a panic in it becomes `PeerError::Unavailable`, never a crash of the harness.
use super::PeerError;
use std::future::Future;

/// Runs `make()`'s future to completion on a fresh current-thread tokio runtime on a new thread.
pub fn run<T, Fut>(name: &str, make: impl FnOnce() -> Fut + Send + 'static) -> Result<T, PeerError>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T, PeerError>>,
{
    let thread = std::thread::Builder::new()
        .name(format!("peer-{name}"))
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| PeerError::because("building the tokio runtime", e))?;
            rt.block_on(make())
        })
        .map_err(|e| PeerError::because("spawning the peer thread", e))?;
    thread
        .join()
        .map_err(|_| PeerError::Unavailable("the peer thread panicked".to_owned()))?
}
