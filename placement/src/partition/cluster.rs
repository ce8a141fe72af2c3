//! Stage one of a plan: find communities, give each a shard, move whole communities.
//!
//! Communities come from size-constrained label propagation on the graph alone (not on the
//! assignment), so on a static graph every round finds the same communities. Each community
//! is then given the shard that already holds most of it, if the move keeps that shard under
//! its limit; communities mostly in place choose first, because they need the fewest moves per
//! unit of traffic made local. Moving whole communities is what single-vertex methods cannot
//! do: a game split 4/4 over two shards has no single move with a positive gain.
//!
//! Invariants: labels are vertex ids, processed in index order with ties broken toward the
//! current label and then the smaller id (determinism); no community outweighs
//! `cluster_weight_max`; moves go through `State::move_unpriced`, so capacity holds at every
//! step; the stage is one block in the log (see [`move_communities`]).

use super::state::State;

/// Members of every community, contiguous: `members[starts[c]..starts[c + 1]]`.
pub(crate) struct Groups {
    pub starts: Vec<usize>,
    pub members: Vec<u32>,
}

pub(crate) fn group(labels: &[u32]) -> Groups {
    let mut counts = vec![0usize; labels.len() + 1];
    for &label in labels {
        counts[label as usize + 1] += 1;
    }
    for i in 1..counts.len() {
        counts[i] += counts[i - 1];
    }
    let mut cursor = counts.clone();
    let mut members = vec![0u32; labels.len()];
    for (v, &label) in labels.iter().enumerate() {
        members[cursor[label as usize]] = v as u32;
        cursor[label as usize] += 1;
    }
    // Keep only non-empty communities.
    let mut starts = vec![0usize];
    for label in 0..labels.len() {
        if counts[label + 1] > counts[label] {
            starts.push(counts[label + 1]);
        }
    }
    Groups { starts, members }
}

/// A community's candidate shard: `votes` decides the order, `movable_weight` the loads.
struct Candidate {
    votes: u64,
    community: u32,
    shard: u32,
}

/// Every community's candidate shards (those holding a member) with its votes there, and its
/// movable weight per shard, flattened: `spread[spread_starts[c]..spread_starts[c + 1]]`.
fn candidates(
    state: &State<'_>,
    groups: &Groups,
    shards: &[u32],
) -> (Vec<Candidate>, Vec<(u32, u64)>, Vec<usize>) {
    let communities = groups.starts.len() - 1;
    let weights = state.graph.vertex_weights();
    // Immovable members anchor their community: their shard outvotes any movable weight.
    let anchor = state.graph.total_vertex_weight() + 1;
    let shard_count = state.loads.len();
    let mut per_shard = vec![0u64; shard_count];
    let mut movable_per_shard = vec![0u64; shard_count];
    let mut seen = vec![false; shard_count];
    let mut candidates = Vec::new();
    let mut spread: Vec<(u32, u64)> = Vec::new();
    let mut spread_starts = Vec::with_capacity(communities + 1);
    let mut touched = Vec::new();
    for c in 0..communities {
        spread_starts.push(spread.len());
        let range = groups.starts[c]..groups.starts[c + 1];
        for (&v, &s) in groups.members[range.clone()].iter().zip(&shards[range]) {
            if !std::mem::replace(&mut seen[s as usize], true) {
                touched.push(s);
            }
            let weight = u64::from(weights[v as usize]);
            if state.is_movable(v) {
                per_shard[s as usize] += weight;
                movable_per_shard[s as usize] += weight;
            } else {
                per_shard[s as usize] += anchor;
            }
        }
        touched.sort_unstable();
        for &s in &touched {
            let votes = per_shard[s as usize].max(1);
            candidates.push(Candidate {
                votes,
                community: c as u32,
                shard: s,
            });
            spread.push((s, movable_per_shard[s as usize]));
            per_shard[s as usize] = 0;
            movable_per_shard[s as usize] = 0;
            seen[s as usize] = false;
        }
        touched.clear();
    }
    spread_starts.push(spread.len());
    (candidates, spread, spread_starts)
}

/// Chooses a target shard per community so that projected loads stay in limits; returns
/// `(community, shard)` in the order chosen. Communities that fit nowhere are left out.
fn targets(state: &State<'_>, groups: &Groups, shards: &[u32]) -> Vec<(usize, u32)> {
    let (mut candidates, spread, spread_starts) = self::candidates(state, groups, shards);
    let communities = groups.starts.len() - 1;
    candidates.sort_unstable_by_key(|c| (std::cmp::Reverse(c.votes), c.community, c.shard));
    let mut projected = state.loads.clone();
    let mut done = vec![false; communities];
    let mut chosen = Vec::new();
    for candidate in &candidates {
        let c = candidate.community as usize;
        if done[c] {
            continue;
        }
        let to = candidate.shard;
        let spread = &spread[spread_starts[c]..spread_starts[c + 1]];
        let incoming: u64 = spread
            .iter()
            .filter(|&&(s, _)| s != to)
            .map(|&(_, w)| w)
            .sum();
        if incoming > 0 && projected[to as usize] + incoming > state.limits[to as usize] {
            continue;
        }
        projected[to as usize] += incoming;
        for &(s, w) in spread.iter().filter(|&&(s, _)| s != to) {
            projected[s as usize] -= w;
        }
        done[c] = true;
        chosen.push((c, to));
    }
    chosen
}

/// Moves communities to their targets, in the order their targets were chosen, until the log
/// holds `moves_max` moves. Moves that do not fit yet are retried after the others.
///
/// The stage is priced as one block: the cut is recomputed once at its end (one pass over the
/// edges) instead of pricing each move (one pass over the mover's edges each, which cost more
/// than the rest of the plan when most vertices move). A plan can therefore end before or
/// after the block, never inside it, and a block that does not lower the cut is undone.
pub(crate) fn move_communities(
    state: &mut State<'_>,
    groups: &Groups,
    moves_max: usize,
    cut_before: u64,
) {
    let first = state.log.len();
    // Members' shards in one tight loop of independent loads (members are scattered over the
    // graph, so each is a cache miss); each entry stays valid until that member moves.
    let shards: Vec<u32> = groups
        .members
        .iter()
        .map(|&v| state.assignment[v as usize])
        .collect();
    let chosen = targets(state, groups, &shards);
    let mut deferred = Vec::new();
    'communities: for &(c, to) in &chosen {
        let range = groups.starts[c]..groups.starts[c + 1];
        for (&v, &at) in groups.members[range.clone()].iter().zip(&shards[range]) {
            if state.log.len() >= moves_max {
                break 'communities;
            }
            if at != to && !state.move_unpriced(v, to) {
                deferred.push((v, to));
            }
        }
    }
    // Moves out of a full shard make room for moves into it: retry while that helps.
    while !deferred.is_empty() && state.log.len() < moves_max {
        let before = deferred.len();
        deferred.retain(|&(v, to)| state.log.len() >= moves_max || !state.move_unpriced(v, to));
        if deferred.len() == before {
            break;
        }
    }
    if state.log.len() == first {
        return;
    }
    let delta = state.cut() as i64 - cut_before as i64;
    if delta < 0 {
        state.close_block(delta);
    } else {
        while state.log.len() > first {
            state.undo();
        }
    }
}
