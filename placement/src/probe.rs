//! Probes of the real machine, kept apart from the policy: the hardware topology (hwlocality),
//! the host's memory (sysinfo), and per-thread allocation counters for shards.
//!
//! Nothing in the policy modules calls these; the engine probes once (topology) or now and
//! then (memory) and hands plain data to the policy. That keeps every policy deterministic
//! and testable with synthetic machines.
//!
//! The allocation counters are the bookkeeping half of a counting allocator. The other half,
//! a `GlobalAlloc` that forwards to the system allocator and calls [`record_alloc`] /
//! [`record_dealloc`], needs an `unsafe impl`, which this crate forbids: it lives in the
//! binary that installs it (the engine or the benchmark harness). Invariant: the counters are
//! `const`-initialised thread-locals without destructors, so calling them from inside an
//! allocator never allocates and never panics, even while a thread exits.

use std::cell::Cell;

use hwlocality::object::TopologyObject;
use hwlocality::object::attributes::ObjectAttributes;
use hwlocality::object::types::ObjectType;

use crate::error::{Error, Result};
use crate::topology::{Core, Host, NumaNode, Topology};

/// Reads this machine's topology with hwloc: NUMA nodes (with their local memory), physical
/// cores and hardware threads. A machine where hwloc reports no core objects (some virtual
/// machines) gets one core per hardware thread.
///
/// # Example
/// ```
/// let topology = quark_placement::probe::topology().unwrap();
/// assert!(topology.core_count() >= 1);
/// ```
pub fn topology() -> Result<Topology> {
    let probe = |e: &dyn std::fmt::Display| Error::Probe(e.to_string());
    let hw = hwlocality::Topology::new().map_err(|e| probe(&e))?;
    let cores: Vec<&TopologyObject> = hw.objects_with_type(ObjectType::Core).collect();
    let threads: Vec<&TopologyObject> = hw.objects_with_type(ObjectType::PU).collect();
    let units = if cores.is_empty() { &threads } else { &cores };
    let mut numa_nodes = Vec::new();
    // A core goes to the first node it shares CPUs with, so that no CPU is listed twice even
    // where hwloc reports nodes overlapping (or nodes without CPUs, which are skipped).
    let mut placed = vec![false; units.len()];
    for node in hw.objects_with_type(ObjectType::NUMANode) {
        let Some(node_cpus) = node.cpuset() else {
            continue;
        };
        let memory_bytes = match node.attributes() {
            Some(ObjectAttributes::NUMANode(attributes)) => {
                attributes.local_memory().map_or(0, |bytes| bytes.get())
            }
            _ => 0,
        };
        let mut node_cores = Vec::new();
        for (index, unit) in units.iter().enumerate() {
            let Some(unit_cpus) = unit.cpuset() else {
                continue;
            };
            if placed[index] || !node_cpus.intersects(&*unit_cpus) {
                continue;
            }
            placed[index] = true;
            let cpus = unit_cpus
                .iter_set()
                .map(|index| u32::try_from(usize::from(index)).map_err(|e| probe(&e)))
                .collect::<Result<Vec<u32>>>()?;
            node_cores.push(Core { cpus });
        }
        if !node_cores.is_empty() {
            let os_index = node
                .os_index()
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or(0);
            numa_nodes.push(NumaNode {
                os_index,
                memory_bytes,
                cores: node_cores,
            });
        }
    }
    let name = sysinfo::System::host_name().unwrap_or_else(|_| "localhost".to_owned());
    Topology::new(vec![Host { name, numa_nodes }])
}

/// The host's memory as the operating system reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostMemory {
    /// Physical memory.
    pub total_bytes: u64,
    /// Memory available to new allocations without swapping.
    pub available_bytes: u64,
    /// Memory in use.
    pub used_bytes: u64,
}

/// Reads the host's memory with sysinfo.
///
/// # Example
/// ```
/// let memory = quark_placement::probe::host_memory().unwrap();
/// assert!(memory.total_bytes >= memory.available_bytes);
/// ```
pub fn host_memory() -> Result<HostMemory> {
    let mut system = sysinfo::System::new().map_err(|e| Error::Probe(e.to_string()))?;
    system.refresh_memory();
    Ok(HostMemory {
        total_bytes: system.total_memory(),
        available_bytes: system.available_memory(),
        used_bytes: system.used_memory(),
    })
}

/// CPU time the calling thread has run, in nanoseconds (the thread CPU clock,
/// `CLOCK_THREAD_CPUTIME_ID`). On a machine shared with other work this is what a computation
/// would take on a core of its own, where wall time also counts waiting.
///
/// Why the clock and not `/proc/thread-self/schedstat`: the kernel brings a running thread's
/// schedstat up to date only at a scheduler tick or a switch, so a computation of a few
/// milliseconds could read as zero; the clock accounts the running slice up to the call.
/// `None` where the platform has no such clock.
///
/// # Example
/// ```
/// let before = quark_placement::probe::thread_cpu_ns().unwrap();
/// let after = quark_placement::probe::thread_cpu_ns().unwrap();
/// assert!(after >= before);
/// ```
pub fn thread_cpu_ns() -> Option<u64> {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let seconds = u64::try_from(now.tv_sec).ok()?;
    let nanos = u64::try_from(now.tv_nsec).ok()?;
    seconds.checked_mul(1_000_000_000)?.checked_add(nanos)
}

thread_local! {
    static ALLOCATED_BYTES: Cell<i64> = const { Cell::new(0) };
}

/// Counts an allocation of `bytes` on the calling thread (call from a counting allocator).
#[inline]
pub fn record_alloc(bytes: usize) {
    let _ = ALLOCATED_BYTES.try_with(|c| c.set(c.get().wrapping_add(bytes as i64)));
}

/// Counts a deallocation of `bytes` on the calling thread.
#[inline]
pub fn record_dealloc(bytes: usize) {
    let _ = ALLOCATED_BYTES.try_with(|c| c.set(c.get().wrapping_sub(bytes as i64)));
}

/// Bytes allocated minus bytes freed by the calling thread since it started. Memory freed by
/// another thread than the one that allocated it shows up as negative on the freeing thread;
/// shards own their actors' memory, so on a shard thread the figure is the shard's.
pub fn thread_allocated_bytes() -> i64 {
    ALLOCATED_BYTES.try_with(Cell::get).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_has_a_topology_with_memory() {
        let topology = topology().unwrap();
        assert_eq!(topology.hosts().len(), 1);
        assert!(topology.numa_count() >= 1);
        assert!(topology.cpu_count() >= topology.core_count());
        let memory_bytes: u64 = topology.numa_nodes().map(|(_, n)| n.memory_bytes).sum();
        let host = host_memory().unwrap();
        assert!(host.total_bytes > 0 && host.available_bytes <= host.total_bytes);
        // hwloc and sysinfo should agree on the order of magnitude of memory.
        assert!(memory_bytes <= host.total_bytes * 2);
    }

    /// Regression: the schedstat file this read before lags a running thread by up to a
    /// scheduler tick, so in release builds (where this loop takes about 2 ms) it often read
    /// the same value before and after. The thread CPU clock must see the work.
    #[test]
    fn thread_cpu_time_grows_with_work() {
        let before = thread_cpu_ns().unwrap();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        let after = thread_cpu_ns().unwrap();
        // At least a hundred microseconds of work, whatever the optimisation level.
        assert!(
            after >= before + 100_000,
            "before {before} ns, after {after} ns"
        );
    }

    #[test]
    fn allocation_counters_are_per_thread() {
        let start = thread_allocated_bytes();
        record_alloc(1000);
        record_dealloc(300);
        assert_eq!(thread_allocated_bytes() - start, 700);
        let other = std::thread::spawn(|| {
            record_alloc(5);
            thread_allocated_bytes()
        });
        assert_eq!(other.join().unwrap(), 5);
        assert_eq!(thread_allocated_bytes() - start, 700);
    }
}
