//! The work hash: a short digest of what each run did, so nothing can be optimized away and a
//! reader can tell two runs apart.
//!
//! Invariant: FNV-1a over little-endian `u64` words, so the digest is the same on every host for
//! the same work.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// An FNV-1a accumulator over `u64` words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkHash(u64);

impl Default for WorkHash {
    fn default() -> Self {
        WorkHash(OFFSET)
    }
}

impl WorkHash {
    /// Folds one word in.
    pub fn add(&mut self, word: u64) {
        for byte in word.to_le_bytes() {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }

    /// Folds some bytes in (length first, so `[] + [x]` differs from `[x] + []`).
    pub fn add_bytes(&mut self, bytes: &[u8]) {
        self.add(bytes.len() as u64);
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }

    /// Folds in a record the way every replay does it, cheaply and identically for all systems:
    /// its length and its first eight bytes.
    pub fn add_record(&mut self, bytes: &[u8]) {
        let mut head = [0u8; 8];
        let n = bytes.len().min(8);
        head[..n].copy_from_slice(&bytes[..n]);
        self.add(bytes.len() as u64);
        self.add(u64::from_le_bytes(head));
    }

    /// The digest so far.
    pub fn value(&self) -> u64 {
        self.0
    }

    /// Whether nothing was folded in.
    pub fn is_empty(&self) -> bool {
        self.0 == OFFSET
    }

    /// The eight-hex-digit form printed in reports.
    pub fn short(&self) -> String {
        format!("{:08x}", (self.0 >> 32) ^ (self.0 & 0xffff_ffff))
    }
}

#[cfg(test)]
mod tests {
    use super::WorkHash;

    #[test]
    fn order_and_content_change_the_hash() {
        let mut a = WorkHash::default();
        a.add(1);
        a.add(2);
        let mut b = WorkHash::default();
        b.add(2);
        b.add(1);
        assert_ne!(a, b);
        assert!(WorkHash::default().is_empty());
        assert!(!a.is_empty());
        assert_eq!(a.short().len(), 8);
    }
}
