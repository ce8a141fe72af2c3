//! Placement: which shard is an actor's home.
//!
//! Owns the [`Placement`] trait the engine consults for every stateful actor reference, and
//! [`HashPlacement`], the default (the specified hash `xxh64-v1` of the declared type name
//! and the key's stable bytes, see `stable_hash.rs`). The placement crate will supply a
//! directory-backed implementation; `routing` is the only caller of this trait.
//!
//! Invariants: `home` is a pure function of its inputs for the engine's lifetime (an
//! [`ActorRef`](crate::ActorRef) caches the answer), and the engine reduces it modulo the
//! shard count, so a placement can never route outside the engine. [`HashPlacement`] gives
//! the same answer on every build, Rust release and host (golden values in its tests).

use crate::actor::{Actor, name_of};
use crate::stable_hash::{home_hash, key_hash, reduce, with_scratch};
use crate::stable_key::StableKey;

/// The identity of an actor as placement sees it: its type's name and a hash of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorId {
    /// The actor type's declared [`Actor::NAME`] (its Rust path when it declares none).
    pub type_name: &'static str,
    /// XXH64 (seed 0) of the key's [`StableKey`](crate::StableKey) bytes: the same on every
    /// build and host.
    pub key_hash: u64,
}

impl ActorId {
    /// The identity of `key` of actor type `A`.
    pub fn of<A: Actor>(key: &A::Key) -> ActorId {
        ActorId {
            type_name: name_of::<A>(),
            key_hash: with_scratch(|bytes| {
                key.stable_bytes(bytes);
                key_hash(bytes)
            }),
        }
    }
}

/// Decides the home shard of stateful actors.
///
/// Contract:
/// 1. `home` returns the same shard for the same inputs while the engine runs.
/// 2. It is cheap and never blocks: it runs on the calling thread when a reference is made.
/// 3. Values `>= shards` are reduced modulo `shards` by the engine.
///
/// ```
/// use quark::{ActorId, Placement};
/// struct Everything0;
/// impl Placement for Everything0 {
///     fn home(&self, _actor: &ActorId, _shards: usize) -> usize { 0 }
/// }
/// ```
pub trait Placement: Send + Sync + 'static {
    /// The home shard of `actor` among `shards` shards.
    fn home(&self, actor: &ActorId, shards: usize) -> usize;
}

/// The default placement: XXH64 of the type name and the key hash (the `xxh64-v1` scheme,
/// recorded in the data directory), modulo the shard count.
///
/// ```
/// use quark::{ActorId, HashPlacement, Placement};
/// let id = ActorId { type_name: "Account", key_hash: 42 };
/// assert!(HashPlacement.home(&id, 4) < 4);
/// assert_eq!(HashPlacement.home(&id, 4), HashPlacement.home(&id, 4));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct HashPlacement;

impl Placement for HashPlacement {
    fn home(&self, actor: &ActorId, shards: usize) -> usize {
        reduce(home_hash(actor.type_name, actor.key_hash), shards)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stable_key::bytes_of;

    #[test]
    fn hash_placement_is_stable_in_range_and_spreads() {
        let mut per_shard = [0u32; 4];
        for key in 0..1000u64 {
            let id = ActorId {
                type_name: "T",
                key_hash: key_hash(&bytes_of(&key)),
            };
            let home = HashPlacement.home(&id, 4);
            assert_eq!(home, HashPlacement.home(&id, 4));
            per_shard[home] += 1;
        }
        assert!(per_shard.iter().all(|n| *n > 150), "{per_shard:?}");
        let id = ActorId {
            type_name: "T",
            key_hash: 1,
        };
        assert_eq!(
            HashPlacement.home(&id, 0),
            0,
            "zero shards is treated as one"
        );
    }

    /// Pins homes: these must never change under `xxh64-v1`, whatever the Rust release.
    #[test]
    fn hash_placement_homes_are_golden() {
        let alice = ActorId {
            type_name: "account",
            key_hash: key_hash(&bytes_of("alice")),
        };
        let homes: Vec<usize> = (1..=8).map(|n| HashPlacement.home(&alice, n)).collect();
        // 0x4D61_4927_4C75_419F modulo 1..=8 (see `stable_hash` for its derivation).
        let golden = 0x4D61_4927_4C75_419F_u64;
        let expected: Vec<usize> = (1..=8).map(|n| (golden % n) as usize).collect();
        assert_eq!(homes, expected);
        assert_eq!(homes, [0, 1, 1, 3, 3, 1, 1, 7]);
    }
}
