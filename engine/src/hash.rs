//! The hasher of the per-shard actor tables: fast on the send path, seeded per table.
//!
//! SipHash (std's default) cost a sixth of a one-shard tell in profiles. This hasher folds
//! each word into the state with a 64×64→128-bit multiply (as foldhash and wyhash do) and
//! starts from a random seed taken from `RandomState`, so keys chosen by an outsider cannot
//! be aimed at one bucket without knowing the seed.
//!
//! Invariants: equal keys hash equally within one table (one seed per table); the output
//! has its entropy spread over all 64 bits (hashbrown uses the top 7 for tags and the low
//! ones for buckets).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// Builds [`FoldHasher`]s with one random seed.
#[derive(Clone, Debug)]
pub(crate) struct SeededState {
    seed: u64,
}

impl SeededState {
    pub(crate) fn new() -> Self {
        SeededState {
            seed: RandomState::new().hash_one(0x5eed_u64) | 1,
        }
    }
}

impl BuildHasher for SeededState {
    type Hasher = FoldHasher;

    fn build_hasher(&self) -> FoldHasher {
        FoldHasher { state: self.seed }
    }
}

/// A multiply-fold hasher (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct FoldHasher {
    state: u64,
}

fn fold(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

impl FoldHasher {
    fn mix(&mut self, word: u64) {
        self.state = fold(self.state ^ word, MULTIPLIER);
    }
}

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.mix(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        fold(self.state, MULTIPLIER.rotate_left(32) | 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn equal_keys_agree_and_nearby_keys_spread() {
        let state = SeededState::new();
        assert_eq!(state.hash_one("alice"), state.hash_one("alice"));
        assert_ne!(state.hash_one("alice"), state.hash_one("alicf"));
        assert_ne!(state.hash_one((1u8, 2u8)), state.hash_one((2u8, 1u8)));
        // Sequential keys fill both the low bits (buckets) and the top 7 bits (tags).
        let low: HashSet<u64> = (0..4096u64).map(|k| state.hash_one(k) & 1023).collect();
        let top: HashSet<u64> = (0..4096u64).map(|k| state.hash_one(k) >> 57).collect();
        assert!(low.len() > 900, "{} low buckets", low.len());
        assert_eq!(top.len(), 128);
    }

    #[test]
    fn seeds_differ_between_tables() {
        let (a, b) = (SeededState::new(), SeededState::new());
        assert_ne!(a.hash_one(7u64), b.hash_one(7u64));
    }
}
