//! Placement: which shard is an actor's home.
//!
//! Owns the [`Placement`] trait the engine consults for every stateful actor reference, and
//! [`HashPlacement`], the default (a hash of type name and key). The placement crate will
//! supply a directory-backed implementation; routing calls only this trait.
//!
//! Invariants: `home` is a pure function of its inputs for the engine's lifetime (an
//! [`ActorRef`](crate::ActorRef) caches the answer), and the engine reduces it modulo the
//! shard count, so a placement can never route outside the engine.

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::actor::Actor;

/// The identity of an actor as placement sees it: its type's name and a hash of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorId {
    /// `std::any::type_name` of the actor type.
    pub type_name: &'static str,
    /// A hash of the key, stable within one build of the program.
    pub key_hash: u64,
}

impl ActorId {
    /// The identity of `key` of actor type `A`.
    pub fn of<A: Actor>(key: &A::Key) -> ActorId {
        // DefaultHasher::new() uses fixed keys: the same key hashes the same in every shard
        // and thread of this process, which is all routing needs.
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        ActorId {
            type_name: std::any::type_name::<A>(),
            key_hash: hasher.finish(),
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

/// The default placement: a hash of the type name and the key, modulo the shard count.
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
        let mut hasher = DefaultHasher::new();
        actor.type_name.hash(&mut hasher);
        actor.key_hash.hash(&mut hasher);
        let shards = shards.max(1) as u64;
        (hasher.finish() % shards) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_placement_is_stable_in_range_and_spreads() {
        let mut per_shard = [0u32; 4];
        for key in 0..1000u64 {
            let mut hasher = DefaultHasher::new();
            key.hash(&mut hasher);
            let id = ActorId {
                type_name: "T",
                key_hash: hasher.finish(),
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
}
