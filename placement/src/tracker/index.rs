//! The tracker's index from actor pair to counter: open addressing with linear probing.
//!
//! Why not `std::collections::HashMap`: on the message path a new pair costs a lookup, the
//! removal of the evicted pair and an insertion, and each is a cache miss on a large table.
//! hashbrown keeps control bytes and entries in separate arrays, so a probe touches two cache
//! lines; here a bucket holds the pair and its counter together, so a probe touches one, and
//! the insertion lands where the failed lookup already looked.
//!
//! Invariants: the table is a power of two at most half full, so probes are short and always
//! end at an empty bucket; deletion shifts later entries of the same probe run back (no
//! tombstones), so every stored pair is reachable from its home bucket without a gap.

use super::ActorId;

const EMPTY: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    pair: (ActorId, ActorId),
    slot: u32,
}

#[derive(Debug, Clone)]
pub(super) struct PairIndex {
    buckets: Vec<Bucket>,
    shift: u32,
    len: usize,
}

impl PairIndex {
    /// A table for up to `items` pairs (at most half full).
    pub fn with_capacity(items: usize) -> Self {
        let size = (items.max(1) * 2).next_power_of_two();
        let empty = Bucket {
            pair: (0, 0),
            slot: EMPTY,
        };
        Self {
            buckets: vec![empty; size],
            shift: 64 - size.trailing_zeros(),
            len: 0,
        }
    }

    /// Heap bytes of the table.
    pub fn bytes(&self) -> usize {
        self.buckets.capacity() * size_of::<Bucket>()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    fn home(&self, pair: (ActorId, ActorId)) -> usize {
        // Fibonacci hashing on a mix of both ids: the high bits are well spread.
        let mixed = (pair.0 ^ pair.1.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (mixed >> self.shift) as usize
    }

    fn mask(&self) -> usize {
        self.buckets.len() - 1
    }

    /// The counter slot of `pair`, if tracked.
    #[inline]
    pub fn get(&self, pair: (ActorId, ActorId)) -> Option<u32> {
        let mut at = self.home(pair);
        loop {
            let bucket = &self.buckets[at];
            if bucket.slot == EMPTY {
                return None;
            }
            if bucket.pair == pair {
                return Some(bucket.slot);
            }
            at = (at + 1) & self.mask();
        }
    }

    /// Stores `pair → slot`; `pair` must not be tracked yet and the table not full.
    pub fn insert(&mut self, pair: (ActorId, ActorId), slot: u32) {
        debug_assert!(self.len < self.buckets.len() / 2 + 1);
        let mut at = self.home(pair);
        while self.buckets[at].slot != EMPTY {
            at = (at + 1) & self.mask();
        }
        self.buckets[at] = Bucket { pair, slot };
        self.len += 1;
    }

    /// Forgets `pair` (nothing happens if it is not tracked).
    pub fn remove(&mut self, pair: (ActorId, ActorId)) {
        let mask = self.mask();
        let mut hole = self.home(pair);
        loop {
            let bucket = self.buckets[hole];
            if bucket.slot == EMPTY {
                return;
            }
            if bucket.pair == pair {
                break;
            }
            hole = (hole + 1) & mask;
        }
        self.len -= 1;
        // Backward shift: move later members of the run into the hole when their home does
        // not lie strictly between the hole and their position.
        let mut at = hole;
        loop {
            at = (at + 1) & mask;
            let bucket = self.buckets[at];
            if bucket.slot == EMPTY {
                break;
            }
            let home = self.home(bucket.pair);
            let distance_home = at.wrapping_sub(home) & mask;
            let distance_hole = at.wrapping_sub(hole) & mask;
            if distance_home >= distance_hole {
                self.buckets[hole] = bucket;
                hole = at;
            }
        }
        self.buckets[hole].slot = EMPTY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The index agrees with a `BTreeMap` model under any mix of inserts and removals.
        #[test]
        fn index_matches_a_model(ops in prop::collection::vec((0u64..40, any::<bool>()), 0..400)) {
            let mut index = PairIndex::with_capacity(40);
            let mut model: BTreeMap<(u64, u64), u32> = BTreeMap::new();
            for (i, &(key, insert)) in ops.iter().enumerate() {
                let pair = (key, key * 7 + 1);
                if insert && !model.contains_key(&pair) {
                    index.insert(pair, i as u32);
                    model.insert(pair, i as u32);
                } else if !insert {
                    index.remove(pair);
                    model.remove(&pair);
                }
                prop_assert_eq!(index.len(), model.len());
            }
            for key in 0..40u64 {
                let pair = (key, key * 7 + 1);
                prop_assert_eq!(index.get(pair), model.get(&pair).copied());
            }
        }
    }
}
