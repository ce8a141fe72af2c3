//! Progress on stderr while the harness runs: which scenario, which system, which phase.
//!
//! Invariant: progress never goes to stdout, which carries only the final table.
use std::time::Instant;

/// Where the run is; cheap to pass around by reference.
#[derive(Clone, Debug)]
pub struct Progress {
    started: Instant,
    index: usize,
    total: usize,
    scenario: String,
}

impl Progress {
    /// A progress line prefix for scenario `index` (1-based) of `total`.
    pub fn new(started: Instant, index: usize, total: usize, scenario: &str) -> Progress {
        Progress {
            started,
            index,
            total,
            scenario: scenario.to_owned(),
        }
    }

    /// Prints one progress line about `system`.
    pub fn say(&self, system: &str, what: &str) {
        eprintln!(
            "[bench {:>5.1}s {}/{}] {} · {}: {}",
            self.started.elapsed().as_secs_f64(),
            self.index,
            self.total,
            self.scenario,
            system,
            what
        );
    }
}
