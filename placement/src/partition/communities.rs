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

use super::state::{Active, BLOCK_VERTICES, Block, State};

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
    // No label outweighs the cap, so the cap bounds every label weight kept in a `u32`.
    let cap = cluster_weight_max.min(u64::from(u32::MAX)) as u32;
    let vertices = state.graph.vertex_count() as u32;
    let (labels, label_weight) = seed(state, cap);
    let mut propagation = Propagation {
        labels,
        label_weight,
        active: Active::all(vertices as usize),
        table: LabelSums::new(),
        block: Block::default(),
        proposals: Vec::new(),
        cap,
    };
    for _ in 0..passes {
        let mut changed = 0usize;
        for first in (0..vertices).step_by(BLOCK_VERTICES) {
            let last = (first + BLOCK_VERTICES as u32).min(vertices);
            changed += propagation.block(state, first..last);
        }
        if changed == 0 {
            break;
        }
    }
    propagation.labels
}

/// The working state of label propagation.
struct Propagation {
    labels: Vec<u32>,
    label_weight: Vec<u32>,
    active: Active,
    table: LabelSums,
    block: Block,
    /// `(index in block, favourite label)` of the block's vertices that want to change.
    proposals: Vec<(usize, u32)>,
    cap: u32,
}

impl Propagation {
    /// Visits the active vertices of `range`; returns how many changed label.
    ///
    /// Three phases, so that the random loads of each come in tight independent loops: every
    /// vertex's favourite label (ignoring the cap), then a touch of the label weights the
    /// check will read, then the changes in order, with the exact cap check.
    fn block(&mut self, state: &State<'_>, range: std::ops::Range<u32>) -> usize {
        let labels = &self.labels;
        self.block
            .load(state, (&mut self.active, false), range, |u| {
                labels[u as usize]
            });
        self.proposals.clear();
        for index in 0..self.block.vertices.len() {
            let v = self.block.vertices[index];
            let own = self.labels[v as usize];
            // A label holding at least half of the vertex's traffic is its favourite (ties keep
            // the own label): most vertices pass this cheap test and need no counting.
            let (start, end) = state.graph.row(v);
            if holds_half(
                self.seen(index),
                &state.graph.adjacency().1[start..end],
                own,
            ) {
                continue;
            }
            self.count(state, index);
            let favourite = best_label(&self.table, own, |_| true).1;
            self.table.clear();
            if favourite != own {
                self.proposals.push((index, favourite));
            }
        }
        let mut touched = 0u32;
        for &(index, label) in &self.proposals {
            let own = self.labels[self.block.vertices[index] as usize];
            touched ^= self.label_weight[label as usize] ^ self.label_weight[own as usize];
        }
        std::hint::black_box(touched);
        let weights = state.graph.vertex_weights();
        let mut changed = 0;
        for p in 0..self.proposals.len() {
            let (index, favourite) = self.proposals[p];
            let v = self.block.vertices[index];
            let (own, weight) = (self.labels[v as usize], weights[v as usize]);
            let cap = u64::from(self.cap);
            let fits = move |label: u32, label_weight: &[u32]| {
                label == own || u64::from(label_weight[label as usize]) + u64::from(weight) <= cap
            };
            let target = if fits(favourite, &self.label_weight) {
                favourite
            } else {
                self.count(state, index);
                let best = best_label(&self.table, own, |label| fits(label, &self.label_weight));
                self.table.clear();
                best.1
            };
            if target != own {
                self.label_weight[own as usize] -= weight;
                self.label_weight[target as usize] += weight;
                self.labels[v as usize] = target;
                changed += 1;
                let (start, end) = state.graph.row(v);
                for &u in &state.graph.adjacency().0[start..end] {
                    self.active.set(u);
                }
            }
        }
        changed
    }

    /// The labels seen by the block's vertex `index`.
    fn seen(&self, index: usize) -> &[u32] {
        &self.block.values[self.block.starts[index]..self.block.starts[index + 1]]
    }

    /// Fills the table with the block's vertex `index`'s edge weight per label.
    fn count(&mut self, state: &State<'_>, index: usize) {
        let (start, end) = state.graph.row(self.block.vertices[index]);
        let edge_weights = &state.graph.adjacency().1[start..end];
        self.table.reset(end - start);
        let seen = &self.block.values[self.block.starts[index]..self.block.starts[index + 1]];
        for (&label, &w) in seen.iter().zip(edge_weights) {
            self.table.add(label, u64::from(w));
        }
    }
}

/// Whether the entries equal to `own` carry at least half of the total weight.
pub(crate) fn holds_half(values: &[u32], weights: &[u32], own: u32) -> bool {
    let (mut mine, mut total) = (0u64, 0u64);
    for (&value, &w) in values.iter().zip(weights) {
        total += u64::from(w);
        mine += if value == own { u64::from(w) } else { 0 };
    }
    2 * mine >= total
}

/// The seed: a union-find where each vertex joins the group of its heaviest neighbour (ties:
/// the smaller id) if the joined group stays within `cap`. Returns each vertex's group root
/// as label, and the weight of every label.
fn seed(state: &State<'_>, cap: u32) -> (Vec<u32>, Vec<u32>) {
    let graph = state.graph;
    let vertices = graph.vertex_count();
    let (targets, edge_weights) = graph.adjacency();
    let mut parent: Vec<u32> = (0..vertices as u32).collect();
    let mut weight: Vec<u32> = graph.vertex_weights().to_vec();
    let mut heaviest = Vec::with_capacity(BLOCK_VERTICES);
    for first in (0..vertices as u32).step_by(BLOCK_VERTICES) {
        let last = (first + BLOCK_VERTICES as u32).min(vertices as u32);
        // Rows are read in order; then the union-find's random loads are touched in a tight
        // loop (so they overlap) before the dependent finds and unions.
        heaviest.clear();
        for v in first..last {
            let (start, end) = graph.row(v);
            let mut best: Option<(u32, u32)> = None;
            for (&u, &w) in targets[start..end].iter().zip(&edge_weights[start..end]) {
                if best.is_none_or(|(bw, bu)| w > bw || (w == bw && u < bu)) {
                    best = Some((w, u));
                }
            }
            if let Some((_, u)) = best {
                heaviest.push((v, u));
            }
        }
        let touched = heaviest
            .iter()
            .fold(0u32, |t, &(_, u)| t ^ parent[u as usize]);
        std::hint::black_box(touched);
        for &(v, u) in &heaviest {
            let (a, b) = (find(&mut parent, v), find(&mut parent, u));
            let joined = u64::from(weight[a as usize]) + u64::from(weight[b as usize]);
            if a != b && joined <= u64::from(cap) {
                // The smaller root id becomes the root: the result does not depend on sizes.
                let (root, child) = (a.min(b), a.max(b));
                parent[child as usize] = root;
                weight[root as usize] += weight[child as usize];
            }
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
