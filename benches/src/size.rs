//! Run sizes and measurement windows.
//!
//! Every scenario takes each parameter as a triple (tiny, quick, full), as TigerBeetle's
//! `bench.parameter` does: `Tiny` runs in `cargo test` so the code paths never rot, `Quick`
//! keeps the whole harness under a minute, `Full` is the published run. Invariant: the three sizes
//! run the same code; only the numbers differ.
use std::time::{Duration, Instant};

/// How big a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// One pass of every code path, for `cargo test`; figures are meaningless.
    Tiny,
    /// `--quick`: smaller runs, same code paths; everything under 60 s.
    Quick,
    /// The default: seconds of steady state per system.
    Full,
}

impl Size {
    /// Picks the parameter value for this size.
    pub fn pick<T>(self, tiny: T, quick: T, full: T) -> T {
        match self {
            Size::Tiny => tiny,
            Size::Quick => quick,
            Size::Full => full,
        }
    }

    /// The warm-up before any latency or throughput is recorded.
    pub fn warmup(self) -> Duration {
        self.pick(
            Duration::from_millis(50),
            Duration::from_millis(400),
            Duration::from_secs(1),
        )
    }

    /// The steady-state measurement window that follows the warm-up.
    pub fn measure(self) -> Duration {
        self.pick(
            Duration::from_millis(200),
            Duration::from_millis(1500),
            Duration::from_secs(5),
        )
    }
}

/// A warm-up followed by a steady-state window, fixed at creation.
///
/// An operation counts when it *completes* inside `[measure_from, end)`: that keeps the
/// throughput unbiased by operations straddling the edges.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// When the steady state starts.
    pub measure_from: Instant,
    /// When the steady state ends; workers stop starting operations here.
    pub end: Instant,
}

impl Window {
    /// A window starting now: `warmup`, then `measure`.
    pub fn starting_now(warmup: Duration, measure: Duration) -> Window {
        let measure_from = Instant::now() + warmup;
        Window {
            measure_from,
            end: measure_from + measure,
        }
    }

    /// Whether an operation completing at `done` is inside the steady state.
    pub fn counts(&self, done: Instant) -> bool {
        done >= self.measure_from && done < self.end
    }

    /// The steady state's length in seconds.
    pub fn measure_secs(&self) -> f64 {
        (self.end - self.measure_from).as_secs_f64()
    }
}
