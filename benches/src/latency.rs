//! Latency recording: hdrhistogram in nanoseconds, reported in microseconds.
//!
//! Invariant: values beyond the histogram's range are clamped, never dropped, so a count always
//! equals the number of operations recorded.
use hdrhistogram::Histogram;
use std::time::Duration;

/// The highest latency we resolve (60 s); slower operations are clamped to it.
const HIGHEST_NS: u64 = 60_000_000_000;

/// A latency histogram in nanoseconds, three significant digits.
#[derive(Clone, Debug)]
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// An empty histogram.
    pub fn new() -> Latencies {
        // Constant, valid bounds (1 ns ..= 60 s, 3 digits): no input can make this fail, so a
        // failure would be a programming error.
        let histogram = Histogram::new_with_bounds(1, HIGHEST_NS, 3);
        Latencies(histogram.expect("hdrhistogram accepts constant bounds 1 ns..=60 s, 3 digits"))
    }

    /// Records one operation's latency.
    pub fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos())
            .unwrap_or(HIGHEST_NS)
            .max(1);
        self.0.saturating_record(ns.min(HIGHEST_NS));
    }

    /// Adds another histogram's samples (e.g. from another task or thread).
    pub fn merge(&mut self, other: &Latencies) {
        // Both histograms share bounds, so `add` cannot fail for lack of range; saturate anyway.
        for v in other.0.iter_recorded() {
            let value = v.value_iterated_to();
            let count = v.count_at_value();
            if self.0.record_n(value, count).is_err() {
                self.0.saturating_record(HIGHEST_NS);
            }
        }
    }

    /// How many operations were recorded.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The latency at `quantile` (0..=1) in microseconds.
    pub fn quantile_us(&self, quantile: f64) -> f64 {
        self.0.value_at_quantile(quantile) as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::Latencies;
    use std::time::Duration;

    #[test]
    fn quantiles_and_merge() {
        let mut a = Latencies::new();
        for us in 1..=100 {
            a.record(Duration::from_micros(us));
        }
        let mut b = Latencies::new();
        b.record(Duration::from_secs(3600));
        a.merge(&b);
        assert_eq!(a.count(), 101);
        let p50 = a.quantile_us(0.5);
        assert!((49.0..=52.0).contains(&p50), "p50 {p50}");
        assert!(a.quantile_us(1.0) >= 59_000_000.0);
    }
}
