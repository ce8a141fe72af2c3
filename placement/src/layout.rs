//! Shard layout: which hardware threads run a shard, and what a message between two shards
//! costs.
//!
//! Shards are numbered host by host, NUMA node by NUMA node, core by core, so shards that are
//! close in the machine are close in number. The cost between two shards depends only on the
//! closest level they share (same core < same NUMA node < same host < other host); this
//! hierarchical shape is what lets the partitioner price a move in O(1) (see `partition`).
//! Invariants: at least one shard; costs are non-decreasing with distance; the cost of a shard
//! to itself is 0.

use crate::error::{Error, Result};
use crate::topology::Topology;

/// Index of a shard in a [`ShardLayout`] (dense, from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ShardId(pub u32);

impl ShardId {
    /// The index as `usize`, for slices.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A set of operating-system CPU indices, as `taskset -c` takes them.
///
/// # Example
/// ```
/// use quark_placement::layout::CpuSet;
/// let set = CpuSet::parse("0-2,8").unwrap();
/// assert!(set.contains(1) && set.contains(8) && !set.contains(3));
/// ```
/// Kept as sorted, disjoint, non-adjacent inclusive ranges, so a wide range such as
/// `0-4294967295` ("every cpu") costs one entry, not four billion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuSet(Vec<(u32, u32)>);

impl CpuSet {
    /// Parses a list like `0-3,8,10-11`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason| Error::InvalidSetting {
            name: "cpu_set",
            reason,
        };
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (first, last) = match part.split_once('-') {
                Some((a, b)) => (a.trim(), b.trim()),
                None => (part, part),
            };
            let first: u32 = first.parse().map_err(|_| bad("not a cpu number"))?;
            let last: u32 = last.parse().map_err(|_| bad("not a cpu number"))?;
            if last < first {
                return Err(bad("a range ends before it starts"));
            }
            ranges.push((first, last));
        }
        Ok(Self::from_ranges(ranges))
    }

    /// Sorts and merges ranges into the canonical form (so equal sets compare equal).
    fn from_ranges(mut ranges: Vec<(u32, u32)>) -> Self {
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (first, last) in ranges {
            match merged.last_mut() {
                Some(prev) if first <= prev.1.saturating_add(1) => prev.1 = prev.1.max(last),
                _ => merged.push((first, last)),
            }
        }
        Self(merged)
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: u32) -> bool {
        let i = self.0.partition_point(|&(_, last)| last < cpu);
        self.0.get(i).is_some_and(|&(first, _)| first <= cpu)
    }
}

impl FromIterator<u32> for CpuSet {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        Self::from_ranges(iter.into_iter().map(|cpu| (cpu, cpu)).collect())
    }
}

/// Relative cost of one message between two shards, by the closest level they share.
///
/// The defaults are relative weights, not times: a message between SMT siblings is cheapest,
/// one crossing the socket interconnect costs more, one crossing the network far more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Costs {
    /// Two shards on hardware threads of one physical core.
    pub same_core: u32,
    /// Two shards on one NUMA node.
    pub same_numa: u32,
    /// Two shards on one host, different NUMA nodes.
    pub same_host: u32,
    /// Two shards on different hosts.
    pub other_host: u32,
}

impl Default for Costs {
    fn default() -> Self {
        Self {
            same_core: 1,
            same_numa: 2,
            same_host: 3,
            other_host: 10,
        }
    }
}

impl Costs {
    fn validate(self) -> Result<Self> {
        let levels = [
            self.same_core,
            self.same_numa,
            self.same_host,
            self.other_host,
        ];
        if levels.windows(2).all(|w| w[0] <= w[1]) {
            Ok(self)
        } else {
            Err(Error::CostsNotMonotone(levels))
        }
    }
}

/// How many shards per physical core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShardsPer {
    /// One shard on the first allowed hardware thread of each core (the default: SMT
    /// siblings share execution units, so a second shard there mostly adds contention).
    #[default]
    PhysicalCore,
    /// One shard on every allowed hardware thread.
    HardwareThread,
}

/// Settings of [`ShardLayout::new`].
#[derive(Debug, Clone, Default)]
pub struct LayoutConfig {
    /// One shard per core or per thread.
    pub shards_per: ShardsPer,
    /// Only these CPUs (on every host) may run a shard; `None` allows all.
    pub cpu_set: Option<CpuSet>,
    /// Message costs between shards.
    pub costs: Costs,
}

/// One shard: where it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// The shard's index.
    pub id: ShardId,
    /// Host index in the topology.
    pub host: u32,
    /// NUMA node index over all hosts (dense, host by host).
    pub numa: u32,
    /// Physical core index over all hosts (dense).
    pub core: u32,
    /// Operating-system index of the hardware thread the shard is pinned to.
    pub cpu: u32,
}

/// Shards placed on a topology, with the costs between them.
///
/// # Example
/// ```
/// use quark_placement::layout::{LayoutConfig, ShardId, ShardLayout};
/// use quark_placement::topology::Topology;
/// let topology = Topology::uniform(2, 2, 2, 2, 8 << 30).unwrap();
/// let layout = ShardLayout::new(&topology, &LayoutConfig::default()).unwrap();
/// assert_eq!(layout.len(), 8); // one per physical core
/// assert!(layout.cost(ShardId(0), ShardId(1)) < layout.cost(ShardId(0), ShardId(2)));
/// assert!(layout.cost(ShardId(0), ShardId(2)) < layout.cost(ShardId(0), ShardId(4)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardLayout {
    shards: Vec<Shard>,
    costs: Costs,
    numa_memory_bytes: Vec<u64>,
    host_count: usize,
    core_count: usize,
}

impl ShardLayout {
    /// Places shards on `topology`, NUMA node by NUMA node.
    pub fn new(topology: &Topology, config: &LayoutConfig) -> Result<Self> {
        let costs = config.costs.validate()?;
        let allowed = |cpu: u32| config.cpu_set.as_ref().is_none_or(|set| set.contains(cpu));
        let mut shards = Vec::new();
        let mut numa_memory_bytes = Vec::new();
        let mut core_index = 0u32;
        for (host_index, host) in topology.hosts().iter().enumerate() {
            for node in &host.numa_nodes {
                let numa = to_u32(numa_memory_bytes.len())?;
                numa_memory_bytes.push(node.memory_bytes);
                for core in &node.cores {
                    let cpus = core.cpus.iter().copied().filter(|&cpu| allowed(cpu));
                    let take = match config.shards_per {
                        ShardsPer::PhysicalCore => 1,
                        ShardsPer::HardwareThread => usize::MAX,
                    };
                    for cpu in cpus.take(take) {
                        let id = ShardId(to_u32(shards.len())?);
                        let host = to_u32(host_index)?;
                        shards.push(Shard {
                            id,
                            host,
                            numa,
                            core: core_index,
                            cpu,
                        });
                    }
                    core_index += 1;
                }
            }
        }
        if shards.is_empty() {
            return Err(Error::NoCpuSelected);
        }
        let host_count = topology.hosts().len();
        Ok(Self {
            shards,
            costs,
            numa_memory_bytes,
            host_count,
            core_count: core_index as usize,
        })
    }

    /// `shards` shards on one host, one NUMA node, one core each: the simplest layout.
    pub fn flat(shards: usize) -> Result<Self> {
        let topology = Topology::uniform(1, 1, shards, 1, 0)?;
        Self::new(&topology, &LayoutConfig::default())
    }

    /// Number of shards.
    pub fn len(&self) -> usize {
        self.shards.len()
    }

    /// Always false: a layout has at least one shard.
    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }

    /// All shards, in id order.
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// One shard, or an error if `id` is not in the layout.
    pub fn shard(&self, id: ShardId) -> Result<&Shard> {
        self.shards.get(id.index()).ok_or(Error::ShardOutOfRange {
            shard: id.0,
            shards: self.len(),
        })
    }

    /// The costs this layout prices messages with.
    pub fn costs(&self) -> Costs {
        self.costs
    }

    /// Local memory of every NUMA node, indexed like [`Shard::numa`].
    pub fn numa_memory_bytes(&self) -> &[u64] {
        &self.numa_memory_bytes
    }

    /// Each shard's share of its NUMA node's memory (the node's memory split evenly among its
    /// shards): the default `memory_bytes_limit` for the memory policy.
    pub fn memory_bytes_per_shard(&self) -> Vec<u64> {
        let mut shards_per_numa = vec![0u64; self.numa_memory_bytes.len()];
        for shard in &self.shards {
            shards_per_numa[shard.numa as usize] += 1;
        }
        self.shards
            .iter()
            .map(|s| self.numa_memory_bytes[s.numa as usize] / shards_per_numa[s.numa as usize])
            .collect()
    }

    /// Number of hosts, NUMA nodes and cores the indices of [`Shard`] range over.
    pub fn level_counts(&self) -> (usize, usize, usize) {
        (
            self.host_count,
            self.numa_memory_bytes.len(),
            self.core_count,
        )
    }

    /// Cost of one message from shard `a` to shard `b`; 0 when `a == b`. Out-of-range shards
    /// are priced as another host, the most pessimistic answer.
    pub fn cost(&self, a: ShardId, b: ShardId) -> u32 {
        if a == b {
            return 0;
        }
        let (Some(x), Some(y)) = (self.shards.get(a.index()), self.shards.get(b.index())) else {
            return self.costs.other_host;
        };
        if x.core == y.core {
            self.costs.same_core
        } else if x.numa == y.numa {
            self.costs.same_numa
        } else if x.host == y.host {
            self.costs.same_host
        } else {
            self.costs.other_host
        }
    }
}

fn to_u32(value: usize) -> Result<u32> {
    u32::try_from(value).map_err(|_| Error::InvalidSetting {
        name: "layout",
        reason: "too large",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(topology: &Topology, config: LayoutConfig) -> ShardLayout {
        ShardLayout::new(topology, &config).unwrap()
    }

    #[test]
    fn two_sockets_with_smt_get_one_shard_per_physical_core_node_by_node() {
        let topology = Topology::uniform(1, 2, 4, 2, 32 << 30).unwrap();
        let layout = layout(&topology, LayoutConfig::default());
        assert_eq!(layout.len(), 8);
        let cpus: Vec<u32> = layout.shards().iter().map(|s| s.cpu).collect();
        assert_eq!(cpus, vec![0, 1, 2, 3, 4, 5, 6, 7]);
        let numa: Vec<u32> = layout.shards().iter().map(|s| s.numa).collect();
        assert_eq!(numa, vec![0, 0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(layout.numa_memory_bytes(), &[32 << 30, 32 << 30]);
        assert_eq!(layout.memory_bytes_per_shard(), vec![8 << 30; 8]);
    }

    #[test]
    fn smt_layout_per_thread_prices_siblings_cheapest() {
        let topology = Topology::uniform(1, 1, 2, 2, 0).unwrap();
        let config = LayoutConfig {
            shards_per: ShardsPer::HardwareThread,
            ..Default::default()
        };
        let layout = layout(&topology, config);
        assert_eq!(layout.len(), 4);
        // Shards 0 and 1 are the two threads (cpus 0 and 2) of core 0.
        assert_eq!((layout.shards()[0].cpu, layout.shards()[1].cpu), (0, 2));
        assert_eq!(
            layout.cost(ShardId(0), ShardId(1)),
            Costs::default().same_core
        );
        assert_eq!(
            layout.cost(ShardId(0), ShardId(2)),
            Costs::default().same_numa
        );
        assert_eq!(layout.cost(ShardId(3), ShardId(3)), 0);
    }

    #[test]
    fn four_numa_nodes_and_two_hosts_order_costs_by_distance() {
        let topology = Topology::uniform(2, 4, 2, 1, 0).unwrap();
        let layout = layout(&topology, LayoutConfig::default());
        assert_eq!(layout.len(), 16);
        assert_eq!(layout.level_counts(), (2, 8, 16));
        let c = Costs::default();
        assert_eq!(layout.cost(ShardId(0), ShardId(1)), c.same_numa);
        assert_eq!(layout.cost(ShardId(0), ShardId(7)), c.same_host);
        assert_eq!(layout.cost(ShardId(0), ShardId(8)), c.other_host);
        assert_eq!(layout.cost(ShardId(9), ShardId(8)), c.same_numa);
        assert_eq!(layout.cost(ShardId(0), ShardId(99)), c.other_host);
    }

    #[test]
    fn single_core_machine_has_one_shard() {
        let topology = Topology::uniform(1, 1, 1, 1, 0).unwrap();
        let layout = layout(&topology, LayoutConfig::default());
        assert_eq!(layout.len(), 1);
        assert!(layout.shard(ShardId(1)).is_err());
    }

    #[test]
    fn cpu_set_restricts_and_may_pick_the_second_thread() {
        let topology = Topology::uniform(1, 2, 2, 2, 0).unwrap();
        // cpus 0..3 are first threads, 4..7 second threads; allow core 0's sibling only.
        let cpu_set = Some(CpuSet::parse("4, 2-3").unwrap());
        let layout = layout(
            &topology,
            LayoutConfig {
                cpu_set,
                ..Default::default()
            },
        );
        let cpus: Vec<u32> = layout.shards().iter().map(|s| s.cpu).collect();
        assert_eq!(cpus, vec![4, 2, 3]);
        let none = LayoutConfig {
            cpu_set: Some(CpuSet::parse("100").unwrap()),
            ..Default::default()
        };
        assert_eq!(
            ShardLayout::new(&topology, &none),
            Err(Error::NoCpuSelected)
        );
    }

    /// Bug: `CpuSet::parse` expanded every range into a `BTreeSet` of single cpus, so a
    /// careless `0-4294967295` ("every cpu") tried to build a set of four billion entries
    /// (minutes of CPU, then out of memory) instead of selecting every cpu. Fix: the set keeps
    /// merged ranges.
    #[test]
    fn a_range_covering_every_cpu_is_cheap_and_selects_every_cpu() {
        let every = CpuSet::parse("0-4294967295").unwrap();
        assert!(every.contains(0) && every.contains(7) && every.contains(u32::MAX));
        let topology = Topology::uniform(1, 2, 2, 2, 0).unwrap();
        let config = LayoutConfig {
            cpu_set: Some(every),
            ..Default::default()
        };
        assert_eq!(layout(&topology, config).len(), 4);
        // Overlapping, adjacent and unordered parts give the same set as the plain list.
        let messy = CpuSet::parse("8, 2-3, 0-1, 3, 10-11, 9").unwrap();
        assert_eq!(messy, CpuSet::parse("0-3,8-11").unwrap());
        assert_eq!(messy, [0, 1, 2, 3, 8, 9, 10, 11].into_iter().collect());
        assert!(!messy.contains(4) && !messy.contains(7) && !messy.contains(12));
    }

    #[test]
    fn bad_cpu_lists_and_costs_are_rejected() {
        assert!(CpuSet::parse("3-1").is_err());
        assert!(CpuSet::parse("x").is_err());
        assert_eq!(CpuSet::parse("").unwrap(), CpuSet::default());
        let costs = Costs {
            same_core: 5,
            same_numa: 1,
            same_host: 2,
            other_host: 3,
        };
        let topology = Topology::uniform(1, 1, 1, 1, 0).unwrap();
        let config = LayoutConfig {
            costs,
            ..Default::default()
        };
        assert!(matches!(
            ShardLayout::new(&topology, &config),
            Err(Error::CostsNotMonotone(_))
        ));
    }
}
