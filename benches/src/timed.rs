//! The timed-append bookkeeping every append run shares: one appender's tally (counts, latency
//! histogram, work hash) and the merge of the appenders' tallies into an [`AppendRun`].
//!
//! Invariant: an append counts toward the whole run always, and toward the steady state (count
//! and latency `done - started`) only when it completed inside the window
//! ([`Window::counts`]); the caller times exactly the await it means and folds its own work-hash
//! inputs in.
use crate::latency::Latencies;
use crate::peers::{AppendLoad, AppendRun, PeerError};
use crate::size::Window;
use crate::work::WorkHash;
use std::future::Future;
use std::time::Instant;

/// One appender's tally.
#[derive(Default)]
pub struct Appender {
    /// Latency of each append acknowledged inside the window.
    pub latencies: Latencies,
    /// Appends acknowledged inside the window.
    pub in_window: u64,
    /// Appends acknowledged in the whole run.
    pub total: u64,
    /// Digest of what the system acknowledged.
    pub hash: WorkHash,
}

impl Appender {
    /// Counts one append that started at `started` and was acknowledged at `done`.
    pub fn acknowledged(&mut self, window: &Window, started: Instant, done: Instant) {
        self.total += 1;
        if window.counts(done) {
            self.in_window += 1;
            self.latencies.record(done - started);
        }
    }
}

impl AppendRun {
    /// An empty run over `window`, before any appender is merged in.
    pub fn over(window: &Window, durable: bool, durability: String) -> AppendRun {
        AppendRun {
            appends: 0,
            secs: window.measure_secs(),
            latencies: Latencies::new(),
            total: 0,
            hash: WorkHash::default(),
            durable,
            durability,
        }
    }

    /// Merges one appender's tally in.
    pub fn merge(&mut self, me: &Appender) {
        self.appends += me.in_window;
        self.total += me.total;
        self.latencies.merge(&me.latencies);
        self.hash.add(me.hash.value());
    }
}

/// Starts the window, spawns one tokio task `append_loop(index, connection, window)` per
/// connection, and merges their tallies in spawn order.
pub async fn tokio_appenders<C, Fut>(
    conns: Vec<C>,
    load: &AppendLoad,
    durable: bool,
    durability: String,
    mut append_loop: impl FnMut(usize, C, Window) -> Fut,
) -> Result<AppendRun, PeerError>
where
    Fut: Future<Output = Result<Appender, PeerError>> + Send + 'static,
{
    let window = Window::starting_now(load.warmup, load.measure);
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(append_loop(i, c, window)))
        .collect();
    let mut run = AppendRun::over(&window, durable, durability);
    for task in tasks {
        let me = task
            .await
            .map_err(|e| PeerError::because("appender task", e))??;
        run.merge(&me);
    }
    Ok(run)
}
