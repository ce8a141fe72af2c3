//! The partitioner's working state: a virtual assignment that moves are applied to one at a
//! time, each priced exactly, and the log of those moves.
//!
//! Invariants: `loads[s]` is always the sum of the vertex weights assigned to `s`; a move is
//! applied only if the target's load stays within its limit and the source's load stays at
//! or above its floor;
//! immovable vertices are never moved; `log[i].delta` is the exact change of the cost-weighted
//! cut caused by move `i`, so any prefix of the log has an exactly known cut.

use crate::graph::CommGraph;
use crate::layout::{ShardId, ShardLayout};

/// The hierarchical cost of a layout, turned into per-level coefficients.
///
/// With `W` the weight of a vertex's edges and `W_host(x)`, `W_numa(x)`, `W_core(x)`,
/// `W_shard(x)` the parts of it whose other end sits on the same host / NUMA node / core /
/// shard as shard `x`, the vertex's cost on `x` is
/// `other_host·W − host·W_host(x) − numa·W_numa(x)`
/// `− core·W_core(x) − shard·W_shard(x)`
/// with the coefficients below. Pricing a candidate is then O(1) once the four sums are
/// gathered, instead of O(neighbour shards) with a full cost matrix.
#[derive(Debug, Clone, Copy)]
struct Coefficients {
    host: u64,
    numa: u64,
    core: u64,
    shard: u64,
}

/// One move of the log with its exact effect on the cut.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoggedMove {
    pub vertex: u32,
    pub from: u32,
    pub to: u32,
    pub delta: i64,
    /// False for the first half of an exchange: the state right after it may break a limit,
    /// so no plan may end there.
    pub closes: bool,
}

/// Per-level sums of one vertex's edge weights, reset after every use.
struct Gathered {
    shard: Vec<u64>,
    core: Vec<u64>,
    numa: Vec<u64>,
    host: Vec<u64>,
    touched: Vec<u32>,
    buffer: Vec<u32>,
}

pub(crate) struct State<'a> {
    pub graph: &'a CommGraph,
    pub assignment: Vec<u32>,
    pub loads: Vec<u64>,
    pub limits: Vec<u64>,
    /// The lowest load a move may leave a shard at (all zero unless the caller sets them).
    pub floors: Vec<u64>,
    pub immovable: &'a [bool],
    pub log: Vec<LoggedMove>,
    core_of: Vec<u32>,
    numa_of: Vec<u32>,
    host_of: Vec<u32>,
    coefficients: Coefficients,
    gathered: Gathered,
    /// `cost[a * shards + b]`, the full matrix while it is small enough to stay in cache.
    cost_matrix: Option<Vec<u32>>,
    layout: &'a ShardLayout,
}

/// One bit per vertex: which vertices a pass must visit. A bitset, not `Vec<bool>`, because
/// marking every neighbour of each vertex that changed is a random write, and 1M vertices'
/// bits (128 KiB) stay in cache where bytes (1 MiB) do not.
pub(crate) struct Active(Vec<u64>);

impl Active {
    pub fn all(vertices: usize) -> Self {
        Self(vec![u64::MAX; vertices.div_ceil(64)])
    }

    #[inline]
    pub fn set(&mut self, v: u32) {
        self.0[v as usize / 64] |= 1 << (v % 64);
    }

    /// Clears `v`'s bit and returns whether it was set.
    #[inline]
    pub fn take(&mut self, v: u32) -> bool {
        let (word, bit) = (&mut self.0[v as usize / 64], 1u64 << (v % 64));
        let was = *word & bit != 0;
        *word &= !bit;
        was
    }
}

/// Vertices whose neighbours' values are loaded together by [`Block::load`].
pub(crate) const BLOCK_VERTICES: usize = 64;

/// One block of active vertices with a value per neighbour (a label or a shard), loaded in a
/// tight loop: on a large graph each load is a cache miss, and only a loop with nothing but
/// independent loads lets the CPU keep many misses in flight (about 3 times faster than
/// loading inside the per-vertex work at 1M vertices).
#[derive(Default)]
pub(crate) struct Block {
    pub vertices: Vec<u32>,
    pub starts: Vec<usize>,
    pub values: Vec<u32>,
}

impl Block {
    /// Takes the active vertices of `range` (clearing their flag; only movable ones if
    /// `movable_only`) and loads `value(u)` for every neighbour `u` of each.
    pub fn load(
        &mut self,
        state: &State<'_>,
        (active, movable_only): (&mut Active, bool),
        range: std::ops::Range<u32>,
        value: impl Fn(u32) -> u32,
    ) {
        self.vertices.clear();
        self.starts.clear();
        self.values.clear();
        self.starts.push(0);
        let (targets, _) = state.graph.adjacency();
        for v in range {
            if active.take(v) && (!movable_only || state.is_movable(v)) {
                let (start, end) = state.graph.row(v);
                self.values
                    .extend(targets[start..end].iter().map(|&u| value(u)));
                self.vertices.push(v);
                self.starts.push(self.values.len());
            }
        }
    }
}

/// Largest layout priced through a full cost matrix (4 MiB of `u32` at this size).
const MATRIX_SHARDS_MAX: usize = 1024;

impl<'a> State<'a> {
    pub fn new(
        graph: &'a CommGraph,
        layout: &'a ShardLayout,
        assignment: Vec<u32>,
        limits: Vec<u64>,
        immovable: &'a [bool],
    ) -> Self {
        let shards = layout.shards();
        let mut loads = vec![0u64; shards.len()];
        for (v, &s) in assignment.iter().enumerate() {
            loads[s as usize] += u64::from(graph.vertex_weights()[v]);
        }
        let costs = layout.costs();
        let coefficients = Coefficients {
            host: u64::from(costs.other_host - costs.same_host),
            numa: u64::from(costs.same_host - costs.same_numa),
            core: u64::from(costs.same_numa - costs.same_core),
            shard: u64::from(costs.same_core),
        };
        let (hosts, numas, cores) = layout.level_counts();
        let gathered = Gathered {
            shard: vec![0; shards.len()],
            core: vec![0; cores],
            numa: vec![0; numas],
            host: vec![0; hosts],
            touched: Vec::new(),
            buffer: Vec::new(),
        };
        let shard_count = shards.len();
        let cost_matrix = (shard_count <= MATRIX_SHARDS_MAX).then(|| {
            (0..shard_count * shard_count)
                .map(|i| {
                    let (a, b) = ((i / shard_count) as u32, (i % shard_count) as u32);
                    layout.cost(ShardId(a), ShardId(b))
                })
                .collect()
        });
        Self {
            graph,
            assignment,
            loads,
            floors: vec![0; limits.len()],
            limits,
            immovable,
            // Plans on large graphs log most vertices: reserve once instead of regrowing.
            log: Vec::with_capacity(graph.vertex_count() / 2),
            core_of: shards.iter().map(|s| s.core).collect(),
            numa_of: shards.iter().map(|s| s.numa).collect(),
            host_of: shards.iter().map(|s| s.host).collect(),
            coefficients,
            gathered,
            cost_matrix,
            layout,
        }
    }

    /// The cost-weighted cut of the current virtual assignment, computed from scratch.
    pub fn cut(&self) -> u64 {
        let (targets, weights) = self.graph.adjacency();
        let shards = self.loads.len();
        let mut doubled = 0u64;
        for v in 0..self.graph.vertex_count() as u32 {
            let here = self.assignment[v as usize];
            let (start, end) = self.graph.row(v);
            let pairs = targets[start..end].iter().zip(&weights[start..end]);
            doubled += match &self.cost_matrix {
                Some(matrix) => {
                    let row = &matrix[here as usize * shards..][..shards];
                    pairs
                        .map(|(&u, &w)| {
                            u64::from(w) * u64::from(row[self.assignment[u as usize] as usize])
                        })
                        .sum::<u64>()
                }
                None => pairs
                    .map(|(&u, &w)| {
                        let there = ShardId(self.assignment[u as usize]);
                        u64::from(w) * u64::from(self.layout.cost(ShardId(here), there))
                    })
                    .sum::<u64>(),
            };
        }
        doubled / 2
    }

    pub fn is_movable(&self, v: u32) -> bool {
        !self.immovable.get(v as usize).copied().unwrap_or(false)
    }

    /// Whether moving `v` to `to` keeps `to` within its limit and `v`'s shard at or above
    /// its floor.
    pub fn fits(&self, v: u32, to: u32) -> bool {
        let weight = u64::from(self.graph.vertex_weights()[v as usize]);
        let from = self.assignment[v as usize] as usize;
        self.loads[to as usize] + weight <= self.limits[to as usize]
            && self.loads[from] >= self.floors[from] + weight
    }

    /// The layout the state prices moves on.
    pub fn layout(&self) -> &'a ShardLayout {
        self.layout
    }

    /// Sums `v`'s edge weights per shard, core, NUMA node and host of the other end.
    ///
    /// The neighbours' shards are loaded first in a tight loop of independent loads, then
    /// summed: a random load into `assignment` is a cache miss on large graphs, and keeping
    /// the loads independent lets the CPU overlap them (about 3 times faster at 1M vertices).
    pub fn gather(&mut self, v: u32) {
        let (targets, weights) = self.graph.adjacency();
        let (start, end) = self.graph.row(v);
        let assignment = &self.assignment;
        let mut shards = std::mem::take(&mut self.gathered.buffer);
        shards.clear();
        shards.extend(targets[start..end].iter().map(|&u| assignment[u as usize]));
        let g = &mut self.gathered;
        for (&s, &w) in shards.iter().zip(&weights[start..end]) {
            let s = s as usize;
            let w = u64::from(w);
            if g.shard[s] == 0 {
                g.touched.push(s as u32);
            }
            g.shard[s] += w;
            g.core[self.core_of[s] as usize] += w;
            g.numa[self.numa_of[s] as usize] += w;
            g.host[self.host_of[s] as usize] += w;
        }
        self.gathered.buffer = shards;
    }

    /// Like [`Self::gather`], from shards loaded beforehand (see [`Block`]); exact only if no
    /// neighbour moved since they were loaded.
    pub fn gather_loaded(&mut self, v: u32, shards: &[u32]) {
        let (_, weights) = self.graph.adjacency();
        let (start, end) = self.graph.row(v);
        let g = &mut self.gathered;
        for (&s, &w) in shards.iter().zip(&weights[start..end]) {
            let s = s as usize;
            let w = u64::from(w);
            if g.shard[s] == 0 {
                g.touched.push(s as u32);
            }
            g.shard[s] += w;
            g.core[self.core_of[s] as usize] += w;
            g.numa[self.numa_of[s] as usize] += w;
            g.host[self.host_of[s] as usize] += w;
        }
    }

    /// The shards holding a neighbour of the last gathered vertex.
    pub fn touched(&self) -> &[u32] {
        &self.gathered.touched
    }

    /// How much cheaper the gathered vertex is on `shard` than on nowhere (higher is better).
    pub fn score(&self, shard: u32) -> u64 {
        let s = shard as usize;
        let (g, c) = (&self.gathered, &self.coefficients);
        c.host * g.host[self.host_of[s] as usize]
            + c.numa * g.numa[self.numa_of[s] as usize]
            + c.core * g.core[self.core_of[s] as usize]
            + c.shard * g.shard[s]
    }

    /// Clears the sums of the last gathered vertex.
    pub fn clear(&mut self) {
        let g = &mut self.gathered;
        for &s in &g.touched {
            let s = s as usize;
            g.shard[s] = 0;
            g.core[self.core_of[s] as usize] = 0;
            g.numa[self.numa_of[s] as usize] = 0;
            g.host[self.host_of[s] as usize] = 0;
        }
        g.touched.clear();
    }

    /// Applies a move already checked and priced by the caller.
    pub fn apply(&mut self, v: u32, to: u32, delta: i64) {
        debug_assert!(self.fits(v, to));
        self.apply_unchecked(v, to, delta, true);
    }

    /// Prices moving `v` to `to` (the change of the cut; negative is better).
    pub fn price(&mut self, v: u32, to: u32) -> i64 {
        self.gather(v);
        let from = self.assignment[v as usize];
        let delta = self.score(from) as i64 - self.score(to) as i64;
        self.clear();
        delta
    }

    /// Applies a move without checking the target's limit: only for the first half of an
    /// exchange (`closes == false`), whose second half restores the limits or is undone.
    pub fn apply_unchecked(&mut self, v: u32, to: u32, delta: i64, closes: bool) {
        let from = self.assignment[v as usize];
        debug_assert!(from != to && self.is_movable(v));
        let weight = u64::from(self.graph.vertex_weights()[v as usize]);
        self.loads[from as usize] -= weight;
        self.loads[to as usize] += weight;
        self.assignment[v as usize] = to;
        self.log.push(LoggedMove {
            vertex: v,
            from,
            to,
            delta,
            closes,
        });
    }

    /// Moves `v` to `to` if it is movable and fits, without pricing it: part of a block whose
    /// price is set by [`Self::close_block`]. Returns whether it moved.
    pub fn move_unpriced(&mut self, v: u32, to: u32) -> bool {
        let from = self.assignment[v as usize];
        if from == to || !self.is_movable(v) || !self.fits(v, to) {
            return false;
        }
        self.apply_unchecked(v, to, 0, false);
        true
    }

    /// Ends a block of unpriced moves: its last move carries the whole block's `delta` and is
    /// a point where a plan may end.
    pub fn close_block(&mut self, delta: i64) {
        if let Some(last) = self.log.last_mut() {
            last.delta = delta;
            last.closes = true;
        }
    }

    /// Takes back the last logged move.
    pub fn undo(&mut self) {
        if let Some(last) = self.log.pop() {
            let weight = u64::from(self.graph.vertex_weights()[last.vertex as usize]);
            self.loads[last.to as usize] -= weight;
            self.loads[last.from as usize] += weight;
            self.assignment[last.vertex as usize] = last.from;
        }
    }
}
