//! The machine as plain data: hosts → NUMA nodes → physical cores → hardware threads.
//!
//! A [`Topology`] is built from data (tests, other hosts' reports) or by the probe module from
//! the real machine; the policy never asks the hardware itself. Invariants checked by
//! [`Topology::new`]: every level is non-empty and a CPU (operating-system index) appears at
//! most once per host.

use crate::error::{Error, Result};

/// One hardware thread group sharing a physical core's execution units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Core {
    /// Operating-system indices of the core's hardware threads, first thread first.
    pub cpus: Vec<u32>,
}

/// A NUMA node: cores sharing one memory controller, and how much memory it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumaNode {
    /// The operating system's index of the node.
    pub os_index: u32,
    /// Local memory of the node in bytes (0 when unknown).
    pub memory_bytes: u64,
    /// Physical cores of the node.
    pub cores: Vec<Core>,
}

/// One machine of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// A name for reports (a hostname, or `host-N` for synthetic topologies).
    pub name: String,
    /// The host's NUMA nodes.
    pub numa_nodes: Vec<NumaNode>,
}

/// Hosts → NUMA nodes → cores → hardware threads.
///
/// # Example
/// ```
/// use quark_placement::topology::Topology;
/// // Two sockets (one NUMA node each), 4 cores per socket, 2 hardware threads per core.
/// let topology = Topology::uniform(1, 2, 4, 2, 16 << 30).unwrap();
/// assert_eq!(topology.core_count(), 8);
/// assert_eq!(topology.cpu_count(), 16);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    hosts: Vec<Host>,
}

impl Topology {
    /// Validates and wraps a list of hosts.
    pub fn new(hosts: Vec<Host>) -> Result<Self> {
        if hosts.is_empty() {
            return Err(Error::EmptyTopology("no host"));
        }
        for (host_index, host) in hosts.iter().enumerate() {
            if host.numa_nodes.is_empty() {
                return Err(Error::EmptyTopology("a host without NUMA node"));
            }
            let mut seen = std::collections::BTreeSet::new();
            for node in &host.numa_nodes {
                if node.cores.is_empty() {
                    return Err(Error::EmptyTopology("a NUMA node without core"));
                }
                for core in &node.cores {
                    if core.cpus.is_empty() {
                        return Err(Error::EmptyTopology("a core without hardware thread"));
                    }
                    for &cpu in &core.cpus {
                        if !seen.insert(cpu) {
                            return Err(Error::DuplicateCpu {
                                host: host_index,
                                cpu,
                            });
                        }
                    }
                }
            }
        }
        Ok(Self { hosts })
    }

    /// A regular topology: `hosts` identical hosts of `numa_per_host` nodes of
    /// `cores_per_numa` cores of `threads_per_core` threads.
    ///
    /// CPUs are numbered the way Linux numbers them on x86: first thread of every core
    /// (node by node), then the second thread of every core, and so on.
    pub fn uniform(
        hosts: usize,
        numa_per_host: usize,
        cores_per_numa: usize,
        threads_per_core: usize,
        memory_bytes_per_numa: u64,
    ) -> Result<Self> {
        let cores_per_host = numa_per_host * cores_per_numa;
        let cpu_of = |core: usize, thread: usize| -> Result<u32> {
            u32::try_from(thread * cores_per_host + core).map_err(|_| Error::InvalidSetting {
                name: "uniform",
                reason: "too many cpus",
            })
        };
        let mut list = Vec::with_capacity(hosts);
        for host in 0..hosts {
            let mut numa_nodes = Vec::with_capacity(numa_per_host);
            for numa in 0..numa_per_host {
                let mut cores = Vec::with_capacity(cores_per_numa);
                for core in 0..cores_per_numa {
                    let core_index = numa * cores_per_numa + core;
                    let cpus = (0..threads_per_core)
                        .map(|thread| cpu_of(core_index, thread))
                        .collect::<Result<Vec<_>>>()?;
                    cores.push(Core { cpus });
                }
                let os_index = u32::try_from(numa).unwrap_or(u32::MAX);
                numa_nodes.push(NumaNode {
                    os_index,
                    memory_bytes: memory_bytes_per_numa,
                    cores,
                });
            }
            list.push(Host {
                name: format!("host-{host}"),
                numa_nodes,
            });
        }
        Self::new(list)
    }

    /// The hosts, in order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Number of NUMA nodes over all hosts.
    pub fn numa_count(&self) -> usize {
        self.hosts.iter().map(|h| h.numa_nodes.len()).sum()
    }

    /// Number of physical cores over all hosts.
    pub fn core_count(&self) -> usize {
        self.numa_nodes().map(|(_, n)| n.cores.len()).sum()
    }

    /// Number of hardware threads over all hosts.
    pub fn cpu_count(&self) -> usize {
        self.numa_nodes()
            .flat_map(|(_, n)| &n.cores)
            .map(|c| c.cpus.len())
            .sum()
    }

    /// Every NUMA node with the index of its host.
    pub fn numa_nodes(&self) -> impl Iterator<Item = (usize, &NumaNode)> {
        self.hosts
            .iter()
            .enumerate()
            .flat_map(|(index, host)| host.numa_nodes.iter().map(move |node| (index, node)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_numbers_siblings_after_all_first_threads() {
        let topology = Topology::uniform(1, 2, 2, 2, 1).unwrap();
        let node0 = &topology.hosts()[0].numa_nodes[0];
        assert_eq!(node0.cores[0].cpus, vec![0, 4]);
        assert_eq!(node0.cores[1].cpus, vec![1, 5]);
        let node1 = &topology.hosts()[0].numa_nodes[1];
        assert_eq!(node1.cores[1].cpus, vec![3, 7]);
    }

    #[test]
    fn counts_cover_every_level() {
        let topology = Topology::uniform(3, 2, 4, 2, 1).unwrap();
        assert_eq!(topology.hosts().len(), 3);
        assert_eq!(topology.numa_count(), 6);
        assert_eq!(topology.core_count(), 24);
        assert_eq!(topology.cpu_count(), 48);
    }

    #[test]
    fn empty_levels_and_duplicates_are_rejected() {
        assert!(matches!(
            Topology::new(vec![]),
            Err(Error::EmptyTopology(_))
        ));
        let empty_host = Host {
            name: "h".into(),
            numa_nodes: vec![],
        };
        assert!(matches!(
            Topology::new(vec![empty_host]),
            Err(Error::EmptyTopology(_))
        ));
        let core = Core { cpus: vec![3] };
        let node = NumaNode {
            os_index: 0,
            memory_bytes: 0,
            cores: vec![core.clone(), core],
        };
        let host = Host {
            name: "h".into(),
            numa_nodes: vec![node],
        };
        assert_eq!(
            Topology::new(vec![host]),
            Err(Error::DuplicateCpu { host: 0, cpu: 3 })
        );
        assert!(Topology::uniform(1, 1, 0, 1, 0).is_err());
    }

    #[test]
    fn the_same_cpu_index_may_appear_on_two_hosts() {
        let topology = Topology::uniform(2, 1, 1, 1, 0).unwrap();
        assert_eq!(topology.cpu_count(), 2);
    }
}
