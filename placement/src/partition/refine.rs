//! Stage two of a plan: greedy single-vertex refinement (label propagation on shards).
//!
//! Each pass visits the vertices in index order and moves a vertex to the neighbouring shard
//! that lowers the cost-weighted cut the most, if that shard has room. Only strictly improving
//! moves are taken, so every move of this stage lowers the cut and a pass that moves nothing
//! ends the stage. After the first pass only vertices with a neighbour that moved since their
//! last visit are visited again: nothing else about them changed. A vertex whose best shard
//! is full leaves a wish for the exchange stage.
//!
//! Vertices are screened in blocks whose neighbours' shards are loaded together (see
//! `state::Block`); a vertex that looks worth moving is then gathered again from the current
//! assignment and priced exactly, so every logged gain is exact even though screening may
//! see shards a few vertices stale.
//!
//! Invariants: candidates are the shards holding a neighbour (a shard with none can only be
//! reached through the same NUMA node or host, which the cluster stage covers); ties go to
//! the lower shard id; capacity and immovability are enforced by [`State`].

use super::communities::holds_half;
use super::state::{Active, BLOCK_VERTICES, Block, State};

/// A vertex that would gain `gain` by moving to the full shard `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wish {
    pub vertex: u32,
    pub from: u32,
    pub to: u32,
    pub gain: u64,
}

/// The best shard with room and the best full shard for the gathered vertex `v`, as
/// `(score, shard)`; either is `(score here, from)` when nothing beats staying.
fn choose(state: &State<'_>, v: u32) -> ((u64, u32), (u64, u32)) {
    let from = state.assignment[v as usize];
    let here = state.score(from);
    let (mut best, mut wish) = ((here, from), (here, from));
    for &t in state.touched() {
        if t == from {
            continue;
        }
        let score = state.score(t);
        let beats = |b: (u64, u32)| score > b.0 || (score == b.0 && b.1 != from && t < b.1);
        if !state.fits(v, t) {
            if beats(wish) {
                wish = (score, t);
            }
        } else if beats(best) {
            best = (score, t);
        }
    }
    (best, wish)
}

/// Runs up to `passes` passes or until the log holds `moves_max` moves; returns the wishes
/// of the vertices visited (the latest per vertex).
pub(crate) fn refine(state: &mut State<'_>, passes: u32, moves_max: usize) -> Vec<Wish> {
    let vertices = state.graph.vertex_count() as u32;
    let mut active = Active::all(vertices as usize);
    let mut wishes: Vec<Wish> = Vec::new();
    let mut block = Block::default();
    for _ in 0..passes {
        let mut moved = 0usize;
        for first in (0..vertices).step_by(BLOCK_VERTICES) {
            let last = (first + BLOCK_VERTICES as u32).min(vertices);
            let assignment = &state.assignment;
            block.load(state, (&mut active, true), first..last, |u| {
                assignment[u as usize]
            });
            for (index, &v) in block.vertices.iter().enumerate() {
                if state.log.len() >= moves_max {
                    return latest(wishes);
                }
                let seen = &block.values[block.starts[index]..block.starts[index + 1]];
                // A vertex whose own shard holds half of its traffic cannot gain by moving: any
                // other shard, NUMA node or host holds at most the other half (costs are
                // monotone), so the cheap test below skips most vertices exactly.
                let (start, end) = state.graph.row(v);
                let weights = &state.graph.adjacency().1[start..end];
                if holds_half(seen, weights, state.assignment[v as usize]) {
                    continue;
                }
                state.gather_loaded(v, seen);
                let (best, wish) = choose(state, v);
                state.clear();
                let from = state.assignment[v as usize];
                if best.1 == from && wish.1 == from {
                    continue;
                }
                // Screening saw possibly stale shards: decide again on the exact picture.
                state.gather(v);
                let here = state.score(from);
                let (best, wish) = choose(state, v);
                state.clear();
                if wish.0 > best.0 {
                    wishes.push(Wish {
                        vertex: v,
                        from,
                        to: wish.1,
                        gain: wish.0 - here,
                    });
                }
                if best.1 != from {
                    state.apply(v, best.1, here as i64 - best.0 as i64);
                    moved += 1;
                    let (start, end) = state.graph.row(v);
                    let (targets, _) = state.graph.adjacency();
                    for &u in &targets[start..end] {
                        active.set(u);
                    }
                }
            }
        }
        if moved == 0 {
            break;
        }
    }
    latest(wishes)
}

/// Keeps the last wish of each vertex.
fn latest(mut wishes: Vec<Wish>) -> Vec<Wish> {
    wishes.reverse();
    wishes.sort_by_key(|w| w.vertex);
    wishes.dedup_by_key(|w| w.vertex);
    wishes
}
