//! Read-only memory maps of sealed segment files: the only `unsafe` code of this crate.
//!
//! Soundness argument. `memmap2::Mmap::map` is unsafe because the mapped bytes could change (or
//! the file shrink, raising SIGBUS) while Rust holds `&[u8]` into them. This crate maps only
//! files that can no longer change:
//! 1. Only *sealed* segments are mapped: the writer has written their seal frame and never
//!    writes to that file again. Compaction never edits a file in place: it writes a new file
//!    and renames it over the old name, so existing maps keep the old, unchanged inode.
//! 2. A mapped file is never truncated: recovery truncates (zero-fills) only the tail segment,
//!    before anything is mapped, and retention deletes files by unlinking, which keeps the inode
//!    alive while a map refers to it.
//! 3. Other processes are kept out by the `LOCK` file every `Log` holds (an exclusive
//!    `flock`), and the offline tool refuses to run on a locked log. Processes that ignore the
//!    lock (an operator's editor) are outside what any mmap-based reader can defend against;
//!    every frame read from a map is CRC-checked before use, so such damage is reported as
//!    corruption rather than acted on.

use std::fs::File;
use std::path::Path;

use crate::error::IoFailure;

/// A read-only map of a whole sealed segment file.
pub(crate) struct Mapped {
    map: Option<memmap2::Mmap>,
}

impl Mapped {
    /// Maps `path` read-only. An empty file maps to an empty slice.
    pub(crate) fn open(path: &Path) -> Result<Mapped, IoFailure> {
        let file = File::open(path).map_err(|e| IoFailure::new("open segment", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| IoFailure::new("stat segment", path, e))?
            .len();
        if len == 0 {
            return Ok(Mapped { map: None });
        }
        // Safety: the file is a sealed segment, immutable for the life of this map and never
        // truncated while mapped (see the module documentation for the full argument).
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map_err(|e| IoFailure::new("mmap segment", path, e))?;
        // Replays read segments front to back; sealed segments were written with O_DIRECT, so
        // their first read comes from disk and benefits from aggressive read-ahead. Only a hint.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Mapped { map: Some(map) })
    }

    /// The mapped bytes (page-aligned, so 16-byte aligned).
    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}
