//! Pairwise exchange between shards that are too full to take a single move, as Orleans'
//! ActivationRepartitioner (after ActOp) does it.
//!
//! A vertex whose best shard has no room leaves a wish `(from, to, gain)` during refinement.
//! For each pair of shards, the best wishes `a → b` and `b → a` are paired and both moves
//! applied together; the pair is priced exactly after the first half is applied (their common
//! edge counts) and undone unless the cut strictly falls. Each wish tries a few partners,
//! since its best partner may be its own neighbour, whose exchange gains nothing.
//!
//! Invariants: the first half of an exchange is logged with `closes == false`, so a plan never
//! ends between the halves; after the second half both shards are within their limits and
//! floors, or no further outside them than before; each vertex takes part in at most one
//! exchange per call.

use std::collections::BTreeMap;

use super::refine::Wish;
use super::state::State;

/// Partners tried per wish: the best few on the other side. More finds a partner more often
/// (the best partner may be the vertex's own neighbour, whose exchange gains nothing) at a
/// cost linear in this number.
const PARTNERS_MAX: usize = 4;

/// Runs one exchange round; returns the number of exchanges kept.
pub(crate) fn exchange(state: &mut State<'_>, wishes: Vec<Wish>, moves_max: usize) -> usize {
    let wishes = group(state, wishes);
    let mut kept = 0;
    for (&(a, b), ab) in wishes.range(..) {
        if a > b {
            continue;
        }
        let Some(ba) = wishes.get(&(b, a)) else {
            continue;
        };
        let mut taken = vec![false; ba.len()];
        let mut first_free = 0;
        for wish in ab {
            if state.log.len() + 2 > moves_max {
                return kept;
            }
            while first_free < ba.len() && taken[first_free] {
                first_free += 1;
            }
            let partners = (first_free..ba.len())
                .filter(|&j| !taken[j])
                .take(PARTNERS_MAX);
            let partners: Vec<usize> = partners.collect();
            for j in partners {
                if swap(state, (a, wish.vertex), (b, ba[j].vertex)) {
                    taken[j] = true;
                    kept += 1;
                    break;
                }
            }
        }
    }
    kept
}

/// Exchanges `u` (on shard `a`) and `v` (on shard `b`) if both shards stay balanced and the
/// cut strictly falls; returns whether the exchange was kept.
fn swap(state: &mut State<'_>, (a, u): (u32, u32), (b, v): (u32, u32)) -> bool {
    let weights = state.graph.vertex_weights();
    let (wu, wv) = (
        u64::from(weights[u as usize]),
        u64::from(weights[v as usize]),
    );
    if !balanced_after(state, a, wu, wv) || !balanced_after(state, b, wv, wu) {
        return false;
    }
    let du = state.price(u, b);
    state.apply_unchecked(u, b, du, false);
    let dv = state.price(v, a);
    state.apply_unchecked(v, a, dv, true);
    if du + dv < 0 {
        return true;
    }
    state.undo();
    state.undo();
    false
}

/// Whether `shard` stays within its limit (or no higher than now) and at or above its floor
/// (or no lower than now) after losing `out` and gaining `incoming` weight.
fn balanced_after(state: &State<'_>, shard: u32, out: u64, incoming: u64) -> bool {
    let load = state.loads[shard as usize];
    let after = load - out + incoming;
    let under_limit = after <= state.limits[shard as usize] || after <= load;
    let over_floor = after >= state.floors[shard as usize] || after >= load;
    under_limit && over_floor
}

/// Wishes still valid (the vertex has not moved since), grouped by `(from, to)`, best gain
/// first, ties by vertex.
fn group(state: &State<'_>, wishes: Vec<Wish>) -> BTreeMap<(u32, u32), Vec<Wish>> {
    let mut grouped: BTreeMap<(u32, u32), Vec<Wish>> = BTreeMap::new();
    for wish in wishes {
        if state.assignment[wish.vertex as usize] == wish.from {
            grouped.entry((wish.from, wish.to)).or_default().push(wish);
        }
    }
    for list in grouped.values_mut() {
        list.sort_unstable_by_key(|w| (std::cmp::Reverse(w.gain), w.vertex));
    }
    grouped
}
