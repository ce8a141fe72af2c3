//! What machine a run happened on: cores, memory, kernel (the JSON's `machine` object).
//!
//! Invariant: read from the host at run time, never assumed.
use serde::Serialize;
use sysinfo::{MemoryRefreshKind, RefreshKind, System};

/// The machine a run happened on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// Logical CPUs available to this process.
    pub cores: usize,
    /// Total memory in GiB, rounded to 0.1.
    pub memory_gib: f64,
    /// The kernel release, or "unknown".
    pub kernel: String,
}

impl Machine {
    /// Reads this host.
    pub fn probe() -> Machine {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let refresh = RefreshKind::nothing().with_memory(MemoryRefreshKind::everything());
        let memory_gib = System::new_with_specifics(refresh).map_or(0.0, |s| {
            let gib = s.total_memory() as f64 / f64::from(1u32 << 30);
            (gib * 10.0).round() / 10.0
        });
        let kernel = System::kernel_version().unwrap_or_else(|_| "unknown".to_owned());
        Machine {
            cores,
            memory_gib,
            kernel,
        }
    }
}
