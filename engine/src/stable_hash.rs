//! The one hash that decides where data lives: XXH64 (xxHash, 64-bit variant), as specified
//! in `doc/xxhash_spec.md` of the xxHash repository (Cyan4973/xxHash, spec version 0.1.1).
//!
//! Homes of actors and streams are stored facts, not just a routing detail: a history sits in
//! the log of the shard its home named when it was written. The hash must therefore give the
//! same answer on every build, Rust release and host, which `DefaultHasher` does not promise.
//! XXH64 is published, frozen and byte-order independent (inputs are read little-endian).
//!
//! [`HASH_VERSION`] names the algorithm and the way homes are derived from it; the data
//! directory records it (`layout.rs`). Changing anything here that changes an output is a new
//! version: the golden values in the tests below pin every output that is on disk.
//!
//! Invariants: [`xxh64`] matches the reference implementation (golden vectors below); no
//! function here reads a clock, a seed from the environment or a platform-dependent width.

/// The name of the homing scheme: XXH64 with seed 0 over the inputs documented on
/// [`home_hash`] and [`stream_hash`], reduced modulo the shard count. Recorded in the data
/// directory.
pub const HASH_VERSION: &str = "xxh64-v1";

const PRIME64_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME64_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME64_3: u64 = 0x1656_67B1_9E37_79F9;
const PRIME64_4: u64 = 0x85EB_CA77_C2B2_AE63;
const PRIME64_5: u64 = 0x27D4_EB2F_1656_67C5;

fn round(acc: u64, lane: u64) -> u64 {
    acc.wrapping_add(lane.wrapping_mul(PRIME64_2))
        .rotate_left(31)
        .wrapping_mul(PRIME64_1)
}

fn merge(acc: u64, lane_acc: u64) -> u64 {
    (acc ^ round(0, lane_acc))
        .wrapping_mul(PRIME64_1)
        .wrapping_add(PRIME64_4)
}

fn u64_le(b: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&b[..8]);
    u64::from_le_bytes(word)
}

fn u32_le(b: &[u8]) -> u64 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&b[..4]);
    u64::from(u32::from_le_bytes(word))
}

/// XXH64 of `input` with `seed`, per the xxHash specification.
///
/// ```
/// // The specification's vector for the empty input.
/// assert_eq!(quark::xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
/// ```
pub fn xxh64(input: &[u8], seed: u64) -> u64 {
    let mut rest = input;
    let mut acc = if input.len() >= 32 {
        let mut v = [
            seed.wrapping_add(PRIME64_1).wrapping_add(PRIME64_2),
            seed.wrapping_add(PRIME64_2),
            seed,
            seed.wrapping_sub(PRIME64_1),
        ];
        while rest.len() >= 32 {
            for (lane, acc) in v.iter_mut().enumerate() {
                *acc = round(*acc, u64_le(&rest[lane * 8..]));
            }
            rest = &rest[32..];
        }
        let mut acc = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for lane_acc in v {
            acc = merge(acc, lane_acc);
        }
        acc
    } else {
        seed.wrapping_add(PRIME64_5)
    };
    acc = acc.wrapping_add(input.len() as u64);
    while rest.len() >= 8 {
        acc ^= round(0, u64_le(rest));
        acc = acc
            .rotate_left(27)
            .wrapping_mul(PRIME64_1)
            .wrapping_add(PRIME64_4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        acc ^= u32_le(rest).wrapping_mul(PRIME64_1);
        acc = acc
            .rotate_left(23)
            .wrapping_mul(PRIME64_2)
            .wrapping_add(PRIME64_3);
        rest = &rest[4..];
    }
    for byte in rest {
        acc ^= u64::from(*byte).wrapping_mul(PRIME64_5);
        acc = acc.rotate_left(11).wrapping_mul(PRIME64_1);
    }
    acc ^= acc >> 33;
    acc = acc.wrapping_mul(PRIME64_2);
    acc ^= acc >> 29;
    acc = acc.wrapping_mul(PRIME64_3);
    acc ^ (acc >> 32)
}

/// The hash of a key: XXH64 (seed 0) of its [`StableKey`](crate::StableKey) byte encoding.
pub(crate) fn key_hash(key_bytes: &[u8]) -> u64 {
    xxh64(key_bytes, 0)
}

/// The home hash of an actor: XXH64 (seed 0) of `u32 LE len(type_name) ‖ type_name ‖ u64 LE
/// key_hash`, where `type_name` is the actor type's declared name and `key_hash` is
/// [`key_hash`] of its key. The length prefix keeps names and keys apart.
pub(crate) fn home_hash(type_name: &str, key_hash: u64) -> u64 {
    with_scratch(|input| {
        input.extend_from_slice(&(type_name.len() as u32).to_le_bytes());
        input.extend_from_slice(type_name.as_bytes());
        input.extend_from_slice(&key_hash.to_le_bytes());
        xxh64(input, 0)
    })
}

thread_local! {
    /// A reused buffer, so making an actor reference allocates nothing to hash its home.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's cleared scratch buffer (a fresh one if it is in use).
pub(crate) fn with_scratch<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            f(&mut buf)
        }
        Err(_) => f(&mut Vec::new()),
    })
}

/// The home hash of a stream appended from outside the engine: XXH64 (seed 0) of the
/// stream name's UTF-8 bytes.
pub(crate) fn stream_hash(stream: &str) -> u64 {
    xxh64(stream.as_bytes(), 0)
}

/// A hash reduced to one of `shards` shards (zero shards counts as one).
pub(crate) fn reduce(hash: u64, shards: usize) -> usize {
    (hash % shards.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors of the reference implementation (xxhsum / XXH64 of xxHash 0.8), covering
    /// every tail path: empty, 1..3 bytes, 4..7, 8..31, and the 32-byte stripe loop.
    #[test]
    fn xxh64_matches_the_reference_vectors() {
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        assert_eq!(xxh64(b"message digest", 0), 0x066E_D728_FCEE_B3BE);
        assert_eq!(
            xxh64(b"abcdefghijklmnopqrstuvwxyz", 0),
            0xCFE1_F278_FA89_835C
        );
        assert_eq!(
            xxh64(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                0
            ),
            0xAAA4_6907_D304_7814
        );
        assert_eq!(xxh64(b"", 1), 0xD5AF_BA13_36A3_BE4B);
        // Bytes `i * 7 + 3` of every length where a different path ends, seed 0x1234, as
        // computed by the `xxhash-rust` crate (0.8.21).
        let expected: [(usize, u64); 18] = [
            (0, 0x6E01_C031_7D5C_53D0),
            (1, 0xF0E5_A9EF_B6FF_A77A),
            (3, 0x6EFF_9567_ADEA_527E),
            (4, 0xF9EC_1E8D_5A51_5194),
            (5, 0xFEBB_1FB1_9C44_97A1),
            (7, 0x47A3_C908_C07B_52BF),
            (8, 0x5B13_2578_3B26_D5B2),
            (9, 0x0746_2F5C_10CE_102E),
            (15, 0x65A7_3C36_CA5D_3A04),
            (16, 0xADA4_9F7B_F80C_C44B),
            (31, 0x8BE3_68B2_6863_E7FC),
            (32, 0xDA91_6A22_78BF_4CD2),
            (33, 0x6A77_9C2C_5C26_CADB),
            (63, 0xF026_AE84_64B2_5737),
            (64, 0xE15D_D2BB_4DA6_C7BF),
            (65, 0x5F43_6B78_E24B_6303),
            (100, 0x9C7C_53D7_8F06_0EFD),
            (200, 0x9DAA_AB3B_2609_2489),
        ];
        for (len, hash) in expected {
            let input: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            assert_eq!(xxh64(&input, 0x1234), hash, "length {len}");
        }
    }

    // Computed with the `xxhash-rust` crate (0.8.21) from the inputs spelled out below.
    const GOLDEN_ALICE_KEY: u64 = 0xD0E8_598D_83EA_677A;
    const GOLDEN_ALICE_HOME: u64 = 0x4D61_4927_4C75_419F;
    const GOLDEN_ORDER_1: u64 = 0x3BAF_4120_AA43_A0AD;

    /// Pins what is on disk: the home of these actors and streams must never change within
    /// `xxh64-v1`.
    #[test]
    fn homes_are_pinned() {
        assert_eq!(HASH_VERSION, "xxh64-v1");
        let key = key_hash(b"\x05\x00\x00\x00alice");
        let mut input = b"\x07\x00\x00\x00account".to_vec();
        input.extend_from_slice(&key.to_le_bytes());
        assert_eq!(home_hash("account", key), xxh64(&input, 0));
        assert_eq!(key, GOLDEN_ALICE_KEY);
        assert_eq!(home_hash("account", key), GOLDEN_ALICE_HOME);
        assert_eq!(stream_hash("order-1"), GOLDEN_ORDER_1);
        assert_eq!(reduce(stream_hash("order-1"), 1), 0);
        assert_eq!(reduce(7, 0), 0);
    }
}
