//! Pinning: where shard threads may run.
//!
//! Regression: shards pinned to one CPU and spinning before they park starved the kernel's
//! io_uring workers completing their fdatasyncs (durable append p99 3.3 ms instead of 0.7 ms).
//! The default became `Pinning::NumaNode`. These tests read each shard thread's allowed CPUs
//! from `/proc/thread-self/status` on the shard itself and check them against the machine's
//! NUMA nodes (from `/sys`), so a silent return to single-CPU pinning fails here.

// Test code: a failed unwrap is a failed test (clippy.toml only covers #[test] bodies).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use quark::{Builder, Pinning, Shard};

/// Parses a kernel CPU list such as `0-3,8,10-11`.
fn parse_cpu_list(list: &str) -> BTreeSet<usize> {
    let mut cpus = BTreeSet::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<usize>().unwrap()..=b.parse().unwrap()),
            None => {
                cpus.insert(part.parse().unwrap());
            }
        }
    }
    cpus
}

/// The CPUs the calling thread may run on.
fn allowed_cpus() -> BTreeSet<usize> {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .unwrap();
    parse_cpu_list(line.trim_start_matches("Cpus_allowed_list:"))
}

/// The online CPUs of each NUMA node (one node holding every CPU where `/sys` has none).
fn numa_nodes() -> Vec<BTreeSet<usize>> {
    let online =
        parse_cpu_list(&std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap());
    let mut nodes = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/sys/devices/system/node") {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("node") && name[4..].parse::<usize>().is_ok() {
                let list = std::fs::read_to_string(entry.path().join("cpulist")).unwrap();
                let cpus: BTreeSet<usize> = parse_cpu_list(&list)
                    .intersection(&online)
                    .copied()
                    .collect();
                if !cpus.is_empty() {
                    nodes.push(cpus);
                }
            }
        }
    }
    if nodes.is_empty() {
        nodes.push(online);
    }
    nodes
}

/// Each shard's allowed CPUs, read on the shard's own thread.
fn shard_cpus(pinning: Pinning) -> Vec<BTreeSet<usize>> {
    let engine = Builder::new()
        .shards(2)
        .spin_before_park(None)
        .pinning(pinning)
        .start()
        .unwrap();
    let cpus = (0..2)
        .map(|n| {
            engine
                .run_on_blocking(n, |_shard: Shard| async move { allowed_cpus() })
                .unwrap()
        })
        .collect();
    engine.shutdown().unwrap();
    cpus
}

#[test]
fn by_default_a_shard_may_run_on_every_cpu_of_its_numa_node() {
    let nodes = numa_nodes();
    for cpus in shard_cpus(Pinning::default()) {
        assert!(
            nodes.contains(&cpus),
            "a shard's allowed CPUs {cpus:?} are not one NUMA node's {nodes:?}"
        );
    }
}

#[test]
fn core_pinning_gives_each_shard_one_cpu() {
    let shards = shard_cpus(Pinning::Core);
    for cpus in &shards {
        assert_eq!(
            cpus.len(),
            1,
            "a shard pinned to a core may run on {cpus:?}"
        );
    }
    let online = numa_nodes().into_iter().flatten().count();
    if online >= 2 {
        assert_ne!(shards[0], shards[1], "two shards pinned to the same CPU");
    }
}

#[test]
fn unpinned_shards_may_run_on_every_online_cpu() {
    let online: BTreeSet<usize> = numa_nodes().into_iter().flatten().collect();
    for cpus in shard_cpus(Pinning::None) {
        assert!(
            cpus.is_superset(&online),
            "an unbound shard may only run on {cpus:?}"
        );
    }
}
