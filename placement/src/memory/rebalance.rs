//! The memory rebalance plan: greedy donor → receiver moves, biggest fitting actor first.
//!
//! Invariants (see the parent module for why they make rounds converge): an actor moves at
//! most once per plan; the receiver never ends above its high watermark nor at or above the
//! donor's level before the move; every move strictly lowers `sum(used² / limit)`; the donor
//! is above the target level (the fullest such shard that has an actor to give).

use super::{ActorMemory, Move, Plan, Policy, ShardLoad, Trigger, imbalance_of, validate};
use crate::error::{Error, Result};
use crate::layout::{ShardId, ShardLayout};

/// Plans which actors move where to bring memory back into balance.
///
/// `actors` needs only the largest actors of each shard: the rest is background that stays.
/// Each actor appears at most once ([`Error::DuplicateActor`] otherwise).
///
/// # Example
/// ```
/// use quark_placement::layout::{ShardId, ShardLayout};
/// use quark_placement::memory::{rebalance, ActorMemory, Policy, ShardLoad};
/// let layout = ShardLayout::flat(2).unwrap();
/// let load = |used| ShardLoad { memory_bytes_used: used, memory_bytes_limit: 1000,
///                               activations: 0, cpu_load: 0.0 };
/// let actor = |actor, memory_bytes| ActorMemory { actor, shard: ShardId(0), memory_bytes,
///                                                 immovable: false };
/// let actors = [actor(1, 300), actor(2, 200), actor(3, 50)];
/// let plan = rebalance(&[load(600), load(200)], &actors, &layout, &Policy::default()).unwrap();
/// // Shard 0 must shed 200 bytes: the one actor of exactly that size moves.
/// assert_eq!(plan.moves.len(), 1);
/// assert_eq!((plan.moves[0].actor, plan.moves[0].to), (2, ShardId(1)));
/// assert!(plan.imbalance_after_pct < 1.0);
/// ```
pub fn rebalance(
    loads: &[ShardLoad],
    actors: &[ActorMemory],
    layout: &ShardLayout,
    policy: &Policy,
) -> Result<Plan> {
    validate(loads, layout, policy)?;
    let mut seen = std::collections::HashSet::with_capacity(actors.len());
    for actor in actors {
        layout.shard(actor.shard)?;
        if !seen.insert(actor.actor) {
            return Err(Error::DuplicateActor(actor.actor));
        }
    }
    let limits: Vec<f64> = loads.iter().map(|l| l.memory_bytes_limit as f64).collect();
    let mut used: Vec<f64> = loads.iter().map(|l| l.memory_bytes_used as f64).collect();
    let utilisation =
        |used: &[f64]| -> Vec<f64> { used.iter().zip(&limits).map(|(u, l)| u / l).collect() };
    let before = imbalance_of(&utilisation(&used));
    let fullest = utilisation(&used).into_iter().fold(0.0, f64::max);
    let trigger = if before > policy.imbalance_trigger_pct {
        Trigger::Imbalance
    } else if fullest > policy.high_watermark {
        Trigger::Pressure
    } else {
        Trigger::None
    };
    let mut moves = Vec::new();
    if trigger != Trigger::None {
        let mut pools = pools(actors, loads.len());
        while moves.len() < policy.moves_max {
            let Some(m) = next_move(&used, &limits, &mut pools, layout, policy) else {
                break;
            };
            used[m.from.index()] -= m.memory_bytes as f64;
            used[m.to.index()] += m.memory_bytes as f64;
            moves.push(m);
        }
    }
    let after = imbalance_of(&utilisation(&used));
    Ok(Plan {
        moves,
        trigger,
        imbalance_before_pct: before,
        imbalance_after_pct: after,
    })
}

/// Movable, non-empty actors of each shard, sorted by size then id.
fn pools(actors: &[ActorMemory], shards: usize) -> Vec<Vec<(u64, u64)>> {
    let mut pools = vec![Vec::new(); shards];
    for a in actors.iter().filter(|a| !a.immovable && a.memory_bytes > 0) {
        pools[a.shard.index()].push((a.memory_bytes, a.actor));
    }
    for pool in &mut pools {
        pool.sort_unstable();
    }
    pools
}

fn next_move(
    used: &[f64],
    limits: &[f64],
    pools: &mut [Vec<(u64, u64)>],
    layout: &ShardLayout,
    policy: &Policy,
) -> Option<Move> {
    let shards = used.len();
    let utilisation: Vec<f64> = (0..shards).map(|s| used[s] / limits[s]).collect();
    let mean = utilisation.iter().sum::<f64>() / shards as f64;
    let target = mean * (1.0 + policy.imbalance_target_pct / 100.0);
    // Fullest first; a donor with nothing that fits anywhere gives way to the next one.
    let mut donors: Vec<usize> = (0..shards).filter(|&s| utilisation[s] > target).collect();
    donors.sort_by(|&a, &b| utilisation[b].total_cmp(&utilisation[a]).then(a.cmp(&b)));
    for d in donors {
        let excess = (utilisation[d] - target) * limits[d];
        let from = ShardId(d as u32);
        let mut receivers: Vec<usize> = (0..shards).filter(|&s| s != d).collect();
        // Receivers within one percentage point of each other count as equally empty, so the
        // nearer one (same NUMA node, then same host) wins: a cross-host migration costs more.
        receivers.sort_by_key(|&s| {
            (
                level_bin(utilisation[s]),
                layout.cost(from, ShardId(s as u32)),
                s,
            )
        });
        for r in receivers {
            let (ld, lr) = (limits[d], limits[r]);
            // The size that leaves donor and receiver equally full, and the bounds that keep
            // the move useful: the receiver stays under its high watermark and below the
            // donor's level, and the potential sum(used² / limit) strictly falls (x < 2·even).
            let even = (used[d] / ld - used[r] / lr) / (1.0 / ld + 1.0 / lr);
            let below = (policy.high_watermark * lr - used[r])
                .min(used[d] * lr / ld - used[r])
                .min(2.0 * even);
            if below <= 0.0 {
                continue;
            }
            let Some(index) = closest(&pools[d], excess.min(even), below) else {
                continue;
            };
            let (memory_bytes, actor) = pools[d].remove(index);
            return Some(Move {
                actor,
                from,
                to: ShardId(r as u32),
                memory_bytes,
            });
        }
    }
    None
}

/// A utilisation in whole percent, for comparisons that should not split hairs.
pub(super) fn level_bin(utilisation: f64) -> i64 {
    (utilisation * 100.0).floor() as i64
}

/// Index of the actor whose size is closest to `want` and strictly below `below` (ties go to
/// the larger), in a pool sorted by size.
fn closest(pool: &[(u64, u64)], want: f64, below: f64) -> Option<usize> {
    let fits = pool.partition_point(|&(bytes, _)| (bytes as f64) < below);
    if fits == 0 {
        return None;
    }
    let above = pool[..fits].partition_point(|&(bytes, _)| (bytes as f64) < want);
    let candidates = [above.checked_sub(1), (above < fits).then_some(above)];
    candidates.into_iter().flatten().min_by(|&a, &b| {
        let distance = |i: usize| (pool[i].0 as f64 - want).abs();
        distance(a).total_cmp(&distance(b)).then(b.cmp(&a))
    })
}
