//! Stage four of a plan: refinement over coarsened graphs, started from the current virtual
//! placement (the uncoarsening half of a multilevel partitioner such as METIS or KaHIP).
//!
//! Single-vertex moves cannot move a group whose members each hold most of their traffic
//! where they are: on the Halo-like graph every game sits whole on one shard, but which games
//! share a shard is never optimised. So the graph is coarsened by heavy-edge matching, each
//! level pairing a vertex with its heaviest-linked unmatched neighbour **on the same shard**,
//! until a level shrinks by less than a tenth. Coarse vertices never span shards, so the
//! current placement projects onto every level exactly, with the same loads and the same cut.
//! From the coarsest level down, greedy refinement and pairwise exchange (the fine stages)
//! run on each level and the result is projected one level finer; the fine assignment that
//! comes out is applied to the state as one block.
//!
//! Invariants: a coarse vertex is no heavier than `weight_max` (so it can still move within
//! the tolerance) and holds immovable vertices only alone (an immovable coarse vertex is one
//! immovable vertex); every level's refinement keeps the state's limits and floors, and since
//! loads are the same on every level, so does the block; the block's delta is the sum of the
//! levels' exact deltas (the coarse cut equals the fine cut under projection); a block that
//! does not lower the cut or would pass `moves_max` is not applied. Deterministic: vertices
//! are matched in index order, ties to the lower id.

use super::refine;
use super::state::State;
use super::{cluster, communities, exchange};
use crate::graph::CommGraph;

/// Coarsening stops when a level keeps more than this share of the previous level's vertices.
const SHRINK_MIN: f64 = 0.9;

/// Most levels built (each at least a tenth smaller, so rarely reached).
const LEVELS_MAX: usize = 24;

/// One coarse level: its graph, the coarse vertex of every vertex of the finer level, and
/// which coarse vertices are immovable.
struct Level {
    graph: CommGraph,
    coarse_of: Vec<u32>,
    immovable: Vec<bool>,
}

/// Runs the stage on `state` (see the module docs). `passes` bounds each level's refinement.
pub(crate) fn multilevel(state: &mut State<'_>, passes: u32, weight_max: u64, moves_max: usize) {
    let levels = coarsen(state, weight_max);
    if levels.is_empty() {
        return;
    }
    // The current placement on the coarsest level (exact: coarse vertices never span shards).
    let mut assignment = project_up(&state.assignment, &levels);
    let mut delta = 0i64;
    for (index, level) in levels.iter().enumerate().rev() {
        let mut coarse = State::new(
            &level.graph,
            state.layout(),
            assignment,
            state.limits.clone(),
            &level.immovable,
        );
        coarse.floors.clone_from(&state.floors);
        let labels = communities::communities(&coarse, passes + 1, weight_max);
        let groups = cluster::group(&labels);
        let cut = coarse.cut();
        cluster::move_communities(&mut coarse, &groups, usize::MAX, cut);
        let wishes = refine::refine(&mut coarse, passes, usize::MAX);
        exchange::exchange(&mut coarse, wishes, usize::MAX);
        delta += coarse.log.iter().map(|m| m.delta).sum::<i64>();
        assignment = coarse.assignment;
        let finer = &levels[index].coarse_of;
        assignment = finer.iter().map(|&c| assignment[c as usize]).collect();
    }
    apply_block(state, &assignment, delta, moves_max);
}

/// Applies the fine `assignment` to `state` as one block of moves priced `delta`, if that
/// lowers the cut and fits within `moves_max`.
fn apply_block(state: &mut State<'_>, assignment: &[u32], delta: i64, moves_max: usize) {
    if delta >= 0 {
        return;
    }
    let changed: Vec<u32> = (0..assignment.len() as u32)
        .filter(|&v| assignment[v as usize] != state.assignment[v as usize])
        .collect();
    if changed.is_empty() || state.log.len() + changed.len() > moves_max {
        return;
    }
    for &v in &changed {
        state.apply_unchecked(v, assignment[v as usize], 0, false);
    }
    state.close_block(delta);
}

/// The current assignment of the finest graph carried up to the coarsest level.
fn project_up(assignment: &[u32], levels: &[Level]) -> Vec<u32> {
    let mut current = assignment.to_vec();
    for level in levels {
        let mut coarse = vec![0u32; level.graph.vertex_count()];
        for (v, &c) in level.coarse_of.iter().enumerate() {
            coarse[c as usize] = current[v];
        }
        current = coarse;
    }
    current
}

/// Builds the levels, finest first, until one shrinks by less than `1 - SHRINK_MIN`.
fn coarsen(state: &State<'_>, weight_max: u64) -> Vec<Level> {
    let mut levels: Vec<Level> = Vec::new();
    let mut shards = state.assignment.clone();
    let fine_immovable: Vec<bool> = (0..state.graph.vertex_count() as u32)
        .map(|v| !state.is_movable(v))
        .collect();
    while levels.len() < LEVELS_MAX {
        let (graph, immovable) = match levels.last() {
            Some(level) => (&level.graph, &level.immovable),
            None => (state.graph, &fine_immovable),
        };
        let (coarse_of, count) = matching(graph, &shards, immovable, weight_max);
        if count as f64 > SHRINK_MIN * graph.vertex_count() as f64 {
            break;
        }
        let mut coarse_shards = vec![0u32; count];
        let mut coarse_immovable = vec![false; count];
        for (v, &c) in coarse_of.iter().enumerate() {
            coarse_shards[c as usize] = shards[v];
            coarse_immovable[c as usize] |= immovable[v];
        }
        let Some(coarse) = contract(graph, &coarse_of, count) else {
            break;
        };
        shards = coarse_shards;
        levels.push(Level {
            graph: coarse,
            coarse_of,
            immovable: coarse_immovable,
        });
    }
    levels
}

/// Heavy-edge matching within shards: returns the coarse vertex of every vertex and the
/// number of coarse vertices.
fn matching(
    graph: &CommGraph,
    shards: &[u32],
    immovable: &[bool],
    weight_max: u64,
) -> (Vec<u32>, usize) {
    const NONE: u32 = u32::MAX;
    let vertices = graph.vertex_count();
    let weights = graph.vertex_weights();
    let mut coarse_of = vec![NONE; vertices];
    let mut count = 0u32;
    for v in 0..vertices as u32 {
        if coarse_of[v as usize] != NONE {
            continue;
        }
        let mut mate: Option<(u32, u32)> = None;
        if !immovable[v as usize] {
            for (u, w) in graph.neighbors(v) {
                let free = coarse_of[u as usize] == NONE && u != v && !immovable[u as usize];
                let fits =
                    u64::from(weights[v as usize]) + u64::from(weights[u as usize]) <= weight_max;
                if free && fits && shards[u as usize] == shards[v as usize] {
                    let better = mate.is_none_or(|(mu, mw)| w > mw || (w == mw && u < mu));
                    if better {
                        mate = Some((u, w));
                    }
                }
            }
        }
        coarse_of[v as usize] = count;
        if let Some((u, _)) = mate {
            coarse_of[u as usize] = count;
        }
        count += 1;
    }
    (coarse_of, count as usize)
}

/// The coarse graph: vertex weights summed, edges between coarse vertices merged, edges
/// inside one coarse vertex dropped. `None` if a weight overflows `u32`.
fn contract(graph: &CommGraph, coarse_of: &[u32], count: usize) -> Option<CommGraph> {
    let mut vertex_weights = vec![0u32; count];
    let mut starts = vec![0usize; count + 1];
    for (v, &c) in coarse_of.iter().enumerate() {
        let w = &mut vertex_weights[c as usize];
        *w = w.checked_add(graph.vertex_weights()[v])?;
        starts[c as usize + 1] += 1;
    }
    for c in 0..count {
        starts[c + 1] += starts[c];
    }
    let mut members = vec![0u32; coarse_of.len()];
    let mut cursor = starts.clone();
    for (v, &c) in coarse_of.iter().enumerate() {
        members[cursor[c as usize]] = v as u32;
        cursor[c as usize] += 1;
    }
    let mut sums = vec![0u64; count];
    let mut touched: Vec<u32> = Vec::new();
    let mut edges: Vec<(u32, u32, u32)> = Vec::new();
    for c in 0..count as u32 {
        for &v in &members[starts[c as usize]..starts[c as usize + 1]] {
            for (u, w) in graph.neighbors(v) {
                let d = coarse_of[u as usize];
                if d > c {
                    if sums[d as usize] == 0 {
                        touched.push(d);
                    }
                    sums[d as usize] += u64::from(w);
                }
            }
        }
        touched.sort_unstable();
        for &d in &touched {
            let w = u32::try_from(sums[d as usize]).ok()?;
            edges.push((c, d, w));
            sums[d as usize] = 0;
        }
        touched.clear();
    }
    CommGraph::from_edges(vertex_weights, &edges).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contraction_merges_parallel_edges_and_drops_inner_ones() {
        // A path 0-1-2-3; 0 and 1 become coarse 0, 2 and 3 coarse 1.
        let graph =
            CommGraph::from_edges(vec![1, 2, 3, 4], &[(0, 1, 5), (1, 2, 7), (0, 3, 1)]).unwrap();
        let coarse = contract(&graph, &[0, 0, 1, 1], 2).unwrap();
        assert_eq!(coarse.vertex_weights(), &[3, 7]);
        assert_eq!(coarse.neighbors(0).collect::<Vec<_>>(), vec![(1, 8)]);
        assert_eq!(coarse.edge_count(), 1);
    }

    #[test]
    fn matching_pairs_heaviest_neighbours_on_the_same_shard_only() {
        // 0 links 1 (weight 2, same shard) and 2 (weight 9, other shard): it pairs with 1.
        let graph = CommGraph::from_edges(vec![1; 4], &[(0, 1, 2), (0, 2, 9), (2, 3, 1)]).unwrap();
        let (coarse_of, count) = matching(&graph, &[0, 0, 1, 1], &[false; 4], 10);
        assert_eq!(coarse_of, vec![0, 0, 1, 1]);
        assert_eq!(count, 2);
        // Immovable vertices and the weight cap keep vertices alone.
        let (coarse_of, count) = matching(&graph, &[0, 0, 1, 1], &[true, false, false, false], 10);
        assert_eq!((coarse_of, count), (vec![0, 1, 2, 2], 3));
        let (_, count) = matching(&graph, &[0, 0, 1, 1], &[false; 4], 1);
        assert_eq!(count, 4);
    }
}
