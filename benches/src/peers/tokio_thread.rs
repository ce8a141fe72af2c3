//! Runs a peer's client future on a tokio runtime that owns its own thread(s).
//!
//! DEPENDENCIES.md's bridge pattern keeps tokio clients off shard threads; here no shard is
//! running while a peer is measured. The database peers' clients ([`run_multi`]) get a
//! multi-threaded runtime with one worker per core, as a server-side application would run
//! them, so the clients' own work never bounds the server's figure; the actor libraries that
//! run on tokio ([`run`]) get one current-thread runtime, since their scenarios compare one
//! core against one core. Invariant: the caller blocks until the future finishes; a panic in it
//! becomes `PeerError::Unavailable`, never a crash of the harness.
use super::PeerError;
use std::future::Future;

/// The worker threads of [`run_multi`]'s runtime: one per core this process may use.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `make()`'s future to completion on a fresh current-thread tokio runtime on a new thread.
pub fn run<T, Fut>(name: &str, make: impl FnOnce() -> Fut + Send + 'static) -> Result<T, PeerError>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T, PeerError>>,
{
    on_thread(name, move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PeerError::because("building the tokio runtime", e))?
            .block_on(make())
    })
}

/// Runs `make()`'s future to completion on a fresh multi-threaded tokio runtime with
/// [`workers`] worker threads; tasks the future spawns spread over them.
pub fn run_multi<T, Fut>(
    name: &str,
    make: impl FnOnce() -> Fut + Send + 'static,
) -> Result<T, PeerError>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T, PeerError>>,
{
    on_thread(name, move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers())
            .thread_name("peer-client")
            .enable_all()
            .build()
            .map_err(|e| PeerError::because("building the tokio runtime", e))?
            .block_on(make())
    })
}

fn on_thread<T: Send + 'static>(
    name: &str,
    body: impl FnOnce() -> Result<T, PeerError> + Send + 'static,
) -> Result<T, PeerError> {
    let thread = std::thread::Builder::new()
        .name(format!("peer-{name}"))
        .spawn(body)
        .map_err(|e| PeerError::because("spawning the peer thread", e))?;
    thread
        .join()
        .map_err(|_| PeerError::Unavailable("the peer thread panicked".to_owned()))?
}
