//! Memory-aware placement: where a new activation goes, and which actors move when shards'
//! memory is out of balance or under pressure.
//!
//! Utilisation is `memory_bytes_used / memory_bytes_limit` per shard; imbalance is how far the
//! fullest shard is above the mean, in percent of the mean. A rebalance starts when imbalance
//! exceeds `imbalance_trigger_pct` or a shard is above its high watermark, and then moves
//! actors until every shard is within `imbalance_target_pct` of the mean: the gap between the
//! two thresholds is the hysteresis that keeps small drifts from starting a new round.
//!
//! Fewest moves: each move takes the fullest shard that has an actor to give as donor and
//! the emptiest shard as receiver, and picks the donor's actor whose size is closest to what
//! the donor must shed (at most what would leave the two equally full), so one big actor is
//! preferred over many small ones. Convergence: every move strictly lowers the potential
//! `sum(used² / limit)` (the receiver never ends at or above the donor's level, and the actor
//! is smaller than twice the equalising amount), so moves cannot cycle; each actor moves at
//! most once per plan, and a plan makes at most `moves_max` moves.
//!
//! Invariants: no immovable actor moves; no receiver ends above its high watermark; plans are
//! deterministic (ties go to the nearer shard in the topology, then
//! the lower id).

use crate::error::{Error, Result};
use crate::layout::{ShardId, ShardLayout};
use crate::tracker::ActorId;

/// What the engine reports about one shard (indexed by shard id).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShardLoad {
    /// Bytes in use (the counting allocator's figure).
    pub memory_bytes_used: u64,
    /// Bytes the shard may use (its share of its NUMA node or of the host's limit).
    pub memory_bytes_limit: u64,
    /// Live activations.
    pub activations: u64,
    /// CPU busy share, 0 to 1.
    pub cpu_load: f64,
}

/// A per-actor memory estimate, reported for the largest actors only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorMemory {
    /// The actor.
    pub actor: ActorId,
    /// Where it lives.
    pub shard: ShardId,
    /// Its estimated size.
    pub memory_bytes: u64,
    /// Pinned actors never move.
    pub immovable: bool,
}

/// Thresholds of the memory policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Never place on, and never move to, a shard that would end above this utilisation.
    pub high_watermark: f64,
    /// A new activation stays on its home shard while the home is at most this full.
    pub low_watermark: f64,
    /// A rebalance starts above this imbalance (percent).
    pub imbalance_trigger_pct: f64,
    /// A rebalance stops at or below this imbalance (percent).
    pub imbalance_target_pct: f64,
    /// Most moves in one plan.
    pub moves_max: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            high_watermark: 0.85,
            low_watermark: 0.70,
            imbalance_trigger_pct: 15.0,
            imbalance_target_pct: 5.0,
            moves_max: 64,
        }
    }
}

/// One actor to migrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// The actor.
    pub actor: ActorId,
    /// Its shard now.
    pub from: ShardId,
    /// Its shard after the move.
    pub to: ShardId,
    /// Its estimated size.
    pub memory_bytes: u64,
}

/// Why a rebalance ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Nothing to do.
    None,
    /// Imbalance crossed `imbalance_trigger_pct`.
    Imbalance,
    /// A shard is above its high watermark.
    Pressure,
}

/// A memory rebalance decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The moves, each actor at most once.
    pub moves: Vec<Move>,
    /// What started the rebalance.
    pub trigger: Trigger,
    /// Imbalance (percent) now.
    pub imbalance_before_pct: f64,
    /// Imbalance (percent) once the moves are done, by the estimates.
    pub imbalance_after_pct: f64,
}

/// How far the fullest shard is above the mean utilisation, in percent of the mean.
pub fn imbalance_pct(loads: &[ShardLoad]) -> f64 {
    imbalance_of(&utilisations(loads))
}

fn utilisations(loads: &[ShardLoad]) -> Vec<f64> {
    loads
        .iter()
        .map(|l| l.memory_bytes_used as f64 / l.memory_bytes_limit.max(1) as f64)
        .collect()
}

fn imbalance_of(utilisation: &[f64]) -> f64 {
    let mean = utilisation.iter().sum::<f64>() / utilisation.len().max(1) as f64;
    let max = utilisation.iter().copied().fold(0.0, f64::max);
    if mean <= 0.0 {
        0.0
    } else {
        (max - mean) / mean * 100.0
    }
}

fn validate(loads: &[ShardLoad], layout: &ShardLayout, policy: &Policy) -> Result<()> {
    if loads.len() != layout.len() {
        let (expected, actual) = (layout.len(), loads.len());
        return Err(Error::LengthMismatch {
            what: "shard loads",
            expected,
            actual,
        });
    }
    if loads.iter().any(|l| l.memory_bytes_limit == 0) {
        return Err(Error::InvalidSetting {
            name: "memory_bytes_limit",
            reason: "zero",
        });
    }
    let p = policy;
    let ordered = 0.0 < p.low_watermark && p.low_watermark <= p.high_watermark;
    if !(ordered && p.high_watermark.is_finite()) {
        let reason = "need 0 < low <= high";
        return Err(Error::InvalidSetting {
            name: "watermarks",
            reason,
        });
    }
    if !(0.0 <= p.imbalance_target_pct && p.imbalance_target_pct <= p.imbalance_trigger_pct) {
        let reason = "need 0 <= target <= trigger";
        return Err(Error::InvalidSetting {
            name: "imbalance",
            reason,
        });
    }
    Ok(())
}

/// Chooses the shard for a new activation of `memory_bytes` whose home (by hash or caller)
/// is `home`.
///
/// The home keeps it while it stays under the low watermark; otherwise the shard with the
/// most headroom that stays under the high watermark takes it (shards within one percentage
/// point count as equal; ties: nearer to home, less CPU, fewer activations, lower id). No
/// shard above its high watermark is ever chosen.
///
/// # Example
/// ```
/// use quark_placement::layout::{ShardId, ShardLayout};
/// use quark_placement::memory::{place, Policy, ShardLoad};
/// let layout = ShardLayout::flat(2).unwrap();
/// let load = |used| ShardLoad { memory_bytes_used: used, memory_bytes_limit: 100,
///                               activations: 0, cpu_load: 0.0 };
/// let loads = [load(90), load(10)];
/// // Home shard 0 is over its high watermark (0.85), so shard 1 gets the actor.
/// assert_eq!(place(&loads, &layout, ShardId(0), 1, &Policy::default()).unwrap(), ShardId(1));
/// ```
pub fn place(
    loads: &[ShardLoad],
    layout: &ShardLayout,
    home: ShardId,
    memory_bytes: u64,
    policy: &Policy,
) -> Result<ShardId> {
    validate(loads, layout, policy)?;
    layout.shard(home)?;
    // In f64: a huge estimate must read as "too big", not overflow (or wrap to a small sum).
    let after = |s: usize| {
        (loads[s].memory_bytes_used as f64 + memory_bytes as f64)
            / loads[s].memory_bytes_limit as f64
    };
    if after(home.index()) <= policy.low_watermark {
        return Ok(home);
    }
    let mut best: Option<(usize, f64)> = None;
    for s in 0..loads.len() {
        let utilisation = after(s);
        if utilisation > policy.high_watermark {
            continue;
        }
        let better = match best {
            None => true,
            Some((b, best_utilisation)) => {
                // Within one percentage point shards count as equally full (see rebalance).
                let key = |x: usize, u: f64| {
                    let cost = layout.cost(home, ShardId(x as u32));
                    (
                        rebalance::level_bin(u),
                        cost,
                        loads[x].cpu_load,
                        loads[x].activations,
                    )
                };
                key(s, utilisation).partial_cmp(&key(b, best_utilisation))
                    == Some(std::cmp::Ordering::Less)
            }
        };
        if better {
            best = Some((s, utilisation));
        }
    }
    best.map(|(s, _)| ShardId(s as u32))
        .ok_or(Error::NoHeadroom { memory_bytes })
}

mod rebalance;
pub use rebalance::rebalance;

#[cfg(test)]
mod tests;
