//! Synthetic workloads: a Halo-Presence-like game service, a planted-community social graph,
//! a random graph, and a skewed memory load, all from a seed.
//!
//! Invariants: the same seed and size give the same workload bit for bit (a private
//! SplitMix64 generator, no global randomness); vertex ids carry no hint of the communities
//! (they are shuffled), so the partitioner cannot profit from numbering.

use crate::error::Result;
use crate::graph::CommGraph;
use crate::layout::ShardId;
use crate::memory::{ActorMemory, ShardLoad};
use crate::tracker::{self, Tracker};

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for test data.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// Shape of the Halo-like workload.
pub(crate) struct HaloShape {
    pub players: usize,
    pub epochs: u32,
    pub churn: f64,
    pub tracker_bytes: usize,
}

/// Players in games of 8, each game an actor the players report to and hear from, players
/// also talking to teammates; between epochs a share of players swap games. Traffic goes
/// through a real [`Tracker`] with decay, as it would in the engine.
pub(crate) fn halo(shape: &HaloShape, rng: &mut Rng) -> Result<CommGraph> {
    const TEAM: usize = 8;
    let games = (shape.players / TEAM).max(1);
    let players = games * TEAM;
    let mut seats: Vec<u64> = (0..players as u64).collect();
    rng.shuffle(&mut seats);
    // Every message counted: a simulated epoch carries a handful of messages per pair, where
    // the engine's window carries thousands (and samples).
    let config = tracker::Config {
        memory_bytes_max: shape.tracker_bytes,
        sample_every: 1,
        ..Default::default()
    };
    let mut tracker = Tracker::new(config)?;
    for _ in 0..shape.epochs {
        for game in 0..games {
            let game_actor = (players + game) as u64;
            let team = &seats[game * TEAM..(game + 1) * TEAM];
            for &player in team {
                for _ in 0..2 {
                    tracker.record(player, game_actor);
                    tracker.record(game_actor, player);
                }
                let mate = team[rng.below(TEAM as u64) as usize];
                tracker.record(player, mate);
            }
        }
        tracker.decay();
        let switches = (players as f64 * shape.churn) as usize;
        for _ in 0..switches {
            let a = rng.below(players as u64) as usize;
            let b = rng.below(players as u64) as usize;
            seats.swap(a, b);
        }
    }
    let graph = tracker::graph(tracker.edges());
    CommGraph::from_petgraph(&graph, |_| 1, |&m| m.min(u64::from(u32::MAX)) as u32)
}

/// A planted-partition graph: communities of 20 to 100 vertices, `inside` edges per vertex to
/// its own community and `outside` to anyone, weights 1 to 10.
pub(crate) fn communities(
    vertices: usize,
    inside: usize,
    outside: usize,
    rng: &mut Rng,
) -> Result<CommGraph> {
    let mut ids: Vec<u32> = (0..vertices as u32).collect();
    rng.shuffle(&mut ids);
    let mut edges = Vec::with_capacity(vertices * (inside + outside));
    let mut start = 0;
    while start < vertices {
        let size = (20 + rng.below(81) as usize).min(vertices - start);
        let members = &ids[start..start + size];
        for &v in members {
            for _ in 0..inside {
                let u = members[rng.below(size as u64) as usize];
                edges.push((v, u, 1 + rng.below(10) as u32));
            }
            for _ in 0..outside {
                let u = rng.below(vertices as u64) as u32;
                edges.push((v, u, 1 + rng.below(10) as u32));
            }
        }
        start += size;
    }
    CommGraph::from_edges(vec![1; vertices], &edges)
}

/// A uniform random graph with `degree` edges per vertex, weights 1 to 10.
pub(crate) fn random(vertices: usize, degree: usize, rng: &mut Rng) -> Result<CommGraph> {
    let mut edges = Vec::with_capacity(vertices * degree);
    for v in 0..vertices as u32 {
        for _ in 0..degree {
            let u = rng.below(vertices as u64) as u32;
            edges.push((v, u, 1 + rng.below(10) as u32));
        }
    }
    CommGraph::from_edges(vec![1; vertices], &edges)
}

/// Actor sizes for the memory workload: a heavy tail (Pareto, alpha 1.2) from 4 KiB up,
/// capped at 64 MiB, the way a few big caches dwarf many small actors.
pub(crate) fn actor_bytes(rng: &mut Rng) -> u64 {
    let pareto = 4096.0 / (1.0 - rng.unit()).powf(1.0 / 1.2);
    pareto.min(64.0 * 1024.0 * 1024.0) as u64
}

/// The skewed memory load: hash placement spreads actors evenly and their sizes are
/// heavy-tailed; a hot tenant's session caches (1 % of the actors, 1 to 32 MiB each) all live
/// on shards 0 and 1; every 50th actor is pinned. Each shard also holds unreported background
/// memory (an eighth of a fair share) and may use twice its fair share.
pub(crate) fn memory_load(
    actors: usize,
    shards: usize,
    rng: &mut Rng,
) -> (Vec<ActorMemory>, Vec<ShardLoad>) {
    let actors: Vec<ActorMemory> = (0..actors as u64)
        .map(|actor| {
            let (shard, memory_bytes) = if actor % 100 == 1 {
                let cache_bytes = (1u64 << 20) << rng.below(6);
                (rng.below(2), cache_bytes)
            } else {
                (rng.below(shards as u64), actor_bytes(rng))
            };
            let shard = ShardId(shard as u32);
            ActorMemory {
                actor,
                shard,
                memory_bytes,
                immovable: actor % 50 == 0,
            }
        })
        .collect();
    let total: u64 = actors.iter().map(|a| a.memory_bytes).sum();
    let background = total / shards as u64 / 8;
    let load = ShardLoad {
        memory_bytes_used: background,
        memory_bytes_limit: (total / shards as u64 + background) * 2,
        activations: 0,
        cpu_load: 0.0,
    };
    let mut loads = vec![load; shards];
    for a in &actors {
        loads[a.shard.index()].memory_bytes_used += a.memory_bytes;
        loads[a.shard.index()].activations += 1;
    }
    (actors, loads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_are_deterministic_and_sized() {
        let a = communities(500, 8, 2, &mut Rng::new(3)).unwrap();
        let b = communities(500, 8, 2, &mut Rng::new(3)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.vertex_count(), 500);
        assert!(a.edge_count() > 4_500 && a.edge_count() <= 5_000);
        let r = random(300, 5, &mut Rng::new(1)).unwrap();
        assert!(r.edge_count() > 1_450 && r.edge_count() <= 1_500);
        let shape = HaloShape {
            players: 80,
            epochs: 3,
            churn: 0.1,
            tracker_bytes: 1 << 20,
        };
        let h = halo(&shape, &mut Rng::new(9)).unwrap();
        assert_eq!(h.vertex_count(), 90);
        assert_eq!(h, halo(&shape, &mut Rng::new(9)).unwrap());
    }

    #[test]
    fn rng_below_stays_in_range_and_shuffle_permutes() {
        let mut rng = Rng::new(7);
        assert!((0..1000).all(|_| rng.below(10) < 10));
        let mut items: Vec<u32> = (0..50).collect();
        rng.shuffle(&mut items);
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(items, sorted);
    }
}
