//! Communities for the cluster stage: size-constrained label propagation, seeded by a
//! capped union of heaviest-neighbour links and run in community order.
//!
//! Label propagation is memory-bound: every edge reads the label of a vertex anywhere in the
//! graph. Two things make it cheap enough for a million vertices in well under a second:
//! the seed (each vertex joins its heaviest neighbour's group while the group stays under the
//! weight cap, a union-find that reads each row once in order and so replaces the most
//! expensive first pass of propagation), and blocked loads: the neighbours' labels of a block
//! of vertices are read in one tight loop of independent loads the CPU overlaps, before the
//! branchy counting (a block sees labels as they were when it started: propagation is
//! asynchronous between blocks, synchronous within one; still deterministic).
//!
//! Invariants: the result depends only on the graph and the cap, never on the assignment, so
//! rounds on a static graph see the same communities; no community outweighs the cap; ties
//! go to the current label, then the smaller label (determinism).

use super::state::{BLOCK_VERTICES, Block, State};

/// Sums of edge weight per neighbouring label for one vertex: a small open-addressing table
/// sized to the vertex's degree, so it stays in L1 instead of a dense array the size of the
/// graph (the dense array made every edge a cache miss: ~4 times slower at 1M vertices).
struct LabelSums {
    labels: Vec<u32>,
    sums: Vec<u64>,
    used: Vec<u32>,
    mask: usize,
}

impl LabelSums {
    const EMPTY: u32 = u32::MAX;

    fn new() -> Self {
        Self {
            labels: Vec::new(),
            sums: Vec::new(),
            used: Vec::new(),
            mask: 0,
        }
    }

    /// Prepares for a vertex of `degree` neighbours.
    fn reset(&mut self, degree: usize) {
        let size = (degree * 2).next_power_of_two().max(8);
        if self.labels.len() < size {
            self.labels.resize(size, Self::EMPTY);
            self.sums.resize(size, 0);
        }
        self.mask = size - 1;
    }

    fn add(&mut self, label: u32, weight: u64) {
        let mut slot = (label.wrapping_mul(0x9e37_79b9) >> 7) as usize & self.mask;
        loop {
            if self.labels[slot] == label {
                self.sums[slot] += weight;
                return;
            }
            if self.labels[slot] == Self::EMPTY {
                self.labels[slot] = label;
                self.sums[slot] = weight;
                self.used.push(slot as u32);
                return;
            }
            slot = (slot + 1) & self.mask;
        }
    }

    fn get(&self, label: u32) -> u64 {
        let mut slot = (label.wrapping_mul(0x9e37_79b9) >> 7) as usize & self.mask;
        loop {
            match self.labels[slot] {
                l if l == label => return self.sums[slot],
                Self::EMPTY => return 0,
                _ => slot = (slot + 1) & self.mask,
            }
        }
    }

    fn clear(&mut self) {
        for &slot in &self.used {
            self.labels[slot as usize] = Self::EMPTY;
        }
        self.used.clear();
    }
}

/// The label with the most weight among those `allowed` (ties: keep `own`, then the smaller
/// label). The unconstrained best is found first and checked alone, because checking every
/// candidate's community weight is a random load each, and the best almost always passes.
fn best_label(table: &LabelSums, own: u32, allowed: impl Fn(u32) -> bool) -> (u64, u32) {
    let pick = |check: bool| {
        let mut best = (table.get(own), own);
        for &slot in &table.used {
            let (label, sum) = (table.labels[slot as usize], table.sums[slot as usize]);
            let better = sum > best.0 || (sum == best.0 && best.1 != own && label < best.1);
            if better && (!check || allowed(label)) {
                best = (sum, label);
            }
        }
        best
    };
    let free = pick(false);
    if allowed(free.1) { free } else { pick(true) }
}

/// Labels every vertex with a community id (a vertex id).
///
/// Only vertices with a neighbour whose label changed since their last visit are visited
/// again, so later passes cost a fraction of the first.
pub(crate) fn communities(state: &State<'_>, passes: u32, cluster_weight_max: u64) -> Vec<u32> {
    let graph = state.graph;
    let vertices = graph.vertex_count() as u32;
    let weights = graph.vertex_weights();
    let (mut labels, mut label_weight) = seed(state, cluster_weight_max);
    let mut active = vec![true; vertices as usize];
    let mut table = LabelSums::new();
    let mut block = Block::default();
    let (targets, edge_weights) = graph.adjacency();
    for _ in 0..passes {
        let mut changed = 0usize;
        for first in (0..vertices).step_by(BLOCK_VERTICES) {
            let last = (first + BLOCK_VERTICES as u32).min(vertices);
            block.load(state, (&mut active, false), first..last, |u| {
                labels[u as usize]
            });
            for (index, &v) in block.vertices.iter().enumerate() {
                let (start, end) = graph.row(v);
                let seen = &block.values[block.starts[index]..block.starts[index + 1]];
                table.reset(end - start);
                for (&label, &w) in seen.iter().zip(&edge_weights[start..end]) {
                    table.add(label, u64::from(w));
                }
                let own = labels[v as usize];
                let weight = u64::from(weights[v as usize]);
                let best = best_label(&table, own, |label| {
                    label == own || label_weight[label as usize] + weight <= cluster_weight_max
                });
                table.clear();
                if best.1 != own {
                    label_weight[own as usize] -= weight;
                    label_weight[best.1 as usize] += weight;
                    labels[v as usize] = best.1;
                    changed += 1;
                    for &u in &targets[start..end] {
                        active[u as usize] = true;
                    }
                }
            }
        }
        if changed == 0 {
            break;
        }
    }
    labels
}

/// The seed: a union-find where each vertex joins the group of its heaviest neighbour (ties:
/// the smaller id) if the joined group stays within `cap`. Returns each vertex's group root
/// as label, and the weight of every label.
fn seed(state: &State<'_>, cap: u64) -> (Vec<u32>, Vec<u64>) {
    let graph = state.graph;
    let vertices = graph.vertex_count();
    let (targets, edge_weights) = graph.adjacency();
    let mut parent: Vec<u32> = (0..vertices as u32).collect();
    let mut weight: Vec<u64> = graph
        .vertex_weights()
        .iter()
        .map(|&w| u64::from(w))
        .collect();
    for v in 0..vertices as u32 {
        let (start, end) = graph.row(v);
        let mut heaviest: Option<(u32, u32)> = None;
        for (&u, &w) in targets[start..end].iter().zip(&edge_weights[start..end]) {
            if heaviest.is_none_or(|(hw, hu)| w > hw || (w == hw && u < hu)) {
                heaviest = Some((w, u));
            }
        }
        let Some((_, u)) = heaviest else { continue };
        let (a, b) = (find(&mut parent, v), find(&mut parent, u));
        if a != b && weight[a as usize] + weight[b as usize] <= cap {
            // The smaller root id becomes the root: the result does not depend on sizes.
            let (root, child) = (a.min(b), a.max(b));
            parent[child as usize] = root;
            weight[root as usize] += weight[child as usize];
        }
    }
    let labels: Vec<u32> = (0..vertices as u32).map(|v| find(&mut parent, v)).collect();
    (labels, weight)
}

/// Root of `v`'s group, halving the path on the way.
fn find(parent: &mut [u32], mut v: u32) -> u32 {
    while parent[v as usize] != v {
        let grand = parent[parent[v as usize] as usize];
        parent[v as usize] = grand;
        v = grand;
    }
    v
}
