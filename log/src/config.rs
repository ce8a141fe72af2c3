//! Log configuration and its validation.
//!
//! Invariant: a validated [`Config`] always lets the largest allowed record, its frame header and a
//! seal frame fit in one segment and in one group-commit batch.

use crate::error::OpenError;
use crate::frame::{FRAME_HEADER_LEN, SEGMENT_HEADER_LEN};

/// How appends are made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every group commit is written with O_DIRECT and followed by `fdatasync`; an append resolves
    /// only after both. Survives kill -9 and power loss.
    #[default]
    Fsync,
    /// Group commits are written with O_DIRECT but never `fdatasync`ed. Survives a process crash
    /// on most file systems, but **not** power loss: for tests and users who accept that.
    NoSyncUnsafe,
}

/// Settings of a log. `Config::default()` is the durable production default.
#[derive(Clone, Debug)]
pub struct Config {
    /// Size of each segment file, zero-filled when created. A multiple of 4096, at least 64 KiB.
    /// The active segment's durable bytes are also kept in memory (served to readers).
    pub segment_bytes: u64,
    /// Largest record (all entries with their headers) accepted by `append`.
    pub record_bytes_max: usize,
    /// Most bytes one group commit writes. Bounds how far a torn write can reach, which
    /// recovery relies on to tell a torn tail from corruption.
    pub batch_bytes_max: usize,
    /// Durability of appends.
    pub durability: Durability,
    /// Create the directory and an empty log when it is missing.
    pub create_if_missing: bool,
    /// Compaction rewrites a sealed segment once at least this fraction of its records is dead.
    pub compact_dead_ratio: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            segment_bytes: 16 << 20,
            record_bytes_max: 1 << 20,
            batch_bytes_max: 2 << 20,
            durability: Durability::Fsync,
            create_if_missing: true,
            compact_dead_ratio: 0.5,
        }
    }
}

impl Config {
    /// Checks the relations between the settings.
    pub(crate) fn validate(&self) -> Result<(), OpenError> {
        if !self.segment_bytes.is_multiple_of(4096) || self.segment_bytes < 64 << 10 {
            return Err(OpenError::Config(
                "segment_bytes must be a multiple of 4096, >= 64 KiB",
            ));
        }
        if self.record_bytes_max == 0 || self.record_bytes_max > u32::MAX as usize / 2 {
            return Err(OpenError::Config("record_bytes_max must be in 1..2 GiB"));
        }
        let frame_max = (self.record_bytes_max + FRAME_HEADER_LEN) as u64;
        if frame_max + FRAME_HEADER_LEN as u64 + SEGMENT_HEADER_LEN > self.segment_bytes {
            return Err(OpenError::Config(
                "record_bytes_max does not fit in a segment",
            ));
        }
        if self.batch_bytes_max < frame_max as usize {
            return Err(OpenError::Config(
                "batch_bytes_max must hold the largest record",
            ));
        }
        if !(self.compact_dead_ratio > 0.0 && self.compact_dead_ratio <= 1.0) {
            return Err(OpenError::Config("compact_dead_ratio must be in (0, 1]"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_bad_relations_are_refused() {
        assert!(Config::default().validate().is_ok());
        let bad = [
            Config {
                segment_bytes: 100_000,
                ..Config::default()
            },
            Config {
                segment_bytes: 32 << 10,
                ..Config::default()
            },
            Config {
                record_bytes_max: 0,
                ..Config::default()
            },
            Config {
                segment_bytes: 1 << 20,
                record_bytes_max: 1 << 20,
                ..Config::default()
            },
            Config {
                batch_bytes_max: 1024,
                ..Config::default()
            },
            Config {
                compact_dead_ratio: 0.0,
                ..Config::default()
            },
            Config {
                compact_dead_ratio: f64::NAN,
                ..Config::default()
            },
        ];
        for c in bad {
            assert!(matches!(c.validate(), Err(OpenError::Config(_))), "{c:?}");
        }
    }
}
