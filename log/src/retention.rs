//! Retention: the owner retires records it no longer needs; compaction reclaims their space.
//!
//! The log never decides on its own that a record is dead: the engine retires finished jobs,
//! delivered outbox entries and superseded snapshots, and never retires events of event-sourced
//! actors. Retirements live in memory: after a restart the owner retires again what its own
//! recovery finds dead (a finished job's completion record says so).
//!
//! Invariants:
//! - Only sealed segments are compacted or deleted; the active segment never is.
//! - A segment whose records are all retired is unlinked; a segment with at least
//!   `compact_dead_ratio` of its records retired is rewritten into a new file holding the live
//!   frames byte for byte (same positions, same CRCs), which is made durable and then renamed
//!   over the old name. Either the old or the new file is visible after a crash, never a mix.
//! - Open snapshots keep reading the old file (its map keeps the inode alive).

use std::collections::HashSet;
use std::path::Path;
use std::rc::Rc;

use crate::error::{CompactError, IoFailure, ReadError, RetireError};
use crate::frame::{self, SEGMENT_HEADER_LEN, SegmentHeader, SegmentKind};
use crate::log::Log;
use crate::segment::{COMPACT_SUFFIX, Sealed};
use crate::storage::{OpenMode, Storage};
use crate::writer::{BLOCK, now_us};

/// What one [`Log::compact`] call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Segment files deleted (all their records were retired).
    pub segments_deleted: u64,
    /// Segment files rewritten without their retired records.
    pub segments_rewritten: u64,
    /// Bytes freed on disk.
    pub bytes_reclaimed: u64,
}

impl Log {
    /// Marks the record at `position` dead: compaction may drop it. Retiring twice is a no-op.
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// # let log = quark_log::Log::open("/tmp/x", Default::default()).await.unwrap();
    /// let job = log.append_bytes(3, b"job 42 enqueued").await.unwrap();
    /// // ... the job ran and its completion was recorded elsewhere ...
    /// log.retire(job).unwrap();
    /// log.compact().await.unwrap();
    /// # });
    /// ```
    pub fn retire(&self, position: u64) -> Result<(), RetireError> {
        self.inner.read(position)?;
        let mut st = self.inner.state.borrow_mut();
        if st.closed {
            return Err(RetireError::Closed);
        }
        let base = if position >= st.active_base {
            st.active_base
        } else {
            match st.sealed.range(..=position).next_back() {
                Some((b, _)) => *b,
                None => return Err(ReadError::NoRecord(position).into()),
            }
        };
        if st.dead.entry(base).or_default().insert(position) {
            st.stats.retired += 1;
        }
        Ok(())
    }

    /// Deletes sealed segments whose records are all retired and rewrites those with at least
    /// `compact_dead_ratio` of them retired. A call made while another compaction runs returns
    /// an empty report at once.
    pub async fn compact(&self) -> Result<CompactReport, CompactError> {
        let candidates = {
            let mut st = self.inner.state.borrow_mut();
            if st.closed {
                return Err(CompactError::Closed);
            }
            if st.compacting {
                return Ok(CompactReport::default());
            }
            st.compacting = true;
            st.sealed
                .iter()
                .filter_map(|(b, s)| st.dead.get(b).map(|d| (s.clone(), d.clone())))
                .collect::<Vec<_>>()
        };
        let _running = Running(self);
        let mut report = CompactReport::default();
        let mut deleted = false;
        for (seg, dead) in candidates {
            let records = match seg.records.get() {
                Some(r) => r,
                None => seg.walk().map_err(|e| seg.as_corruption(e))?.1,
            };
            seg.records.set(Some(records));
            if dead.len() as u64 >= records {
                self.delete_segment(&seg, &mut report).await?;
                deleted = true;
            } else if dead.len() as f64 >= records as f64 * self.inner.config.compact_dead_ratio {
                self.rewrite_segment(&seg, &dead, &mut report).await?;
            }
        }
        if deleted && self.is_durable() {
            self.inner.sync_dir().await?;
        }
        if report.segments_deleted + report.segments_rewritten > 0 {
            tracing::info!(
                deleted = report.segments_deleted,
                rewritten = report.segments_rewritten,
                bytes_reclaimed = report.bytes_reclaimed,
                "log compacted"
            );
        }
        let mut st = self.inner.state.borrow_mut();
        st.stats.segments_deleted += report.segments_deleted;
        st.stats.segments_rewritten += report.segments_rewritten;
        st.stats.bytes_reclaimed += report.bytes_reclaimed;
        st.stats.segments = st.sealed.len() as u64 + 1;
        Ok(report)
    }

    async fn delete_segment(
        &self,
        seg: &Sealed,
        report: &mut CompactReport,
    ) -> Result<(), IoFailure> {
        self.inner
            .storage
            .remove(&seg.path)
            .await
            .map_err(|e| IoFailure::new("remove", &seg.path, e))?;
        let mut st = self.inner.state.borrow_mut();
        st.sealed.remove(&seg.base());
        st.dead.remove(&seg.base());
        report.segments_deleted += 1;
        report.bytes_reclaimed += seg.file_len();
        Ok(())
    }

    async fn rewrite_segment(
        &self,
        seg: &Sealed,
        dead: &HashSet<u64>,
        report: &mut CompactReport,
    ) -> Result<(), CompactError> {
        let end = seg
            .end()
            .map_err(|e| seg.as_corruption(e))?
            .unwrap_or(seg.base());
        let mut out = vec![0u8; SEGMENT_HEADER_LEN as usize];
        let prev = seg.header.prev;
        let header = SegmentHeader::new(SegmentKind::Compacted, seg.base(), end, prev, 0);
        frame::encode_segment_header(&header, &mut out);
        let mut live = 0u64;
        for position in seg.positions().map_err(|e| seg.as_corruption(e))? {
            if dead.contains(&position) {
                continue;
            }
            let record = seg.read(position).map_err(|e| seg.as_corruption(e))?;
            out.extend_from_slice(record.frame_bytes());
            live += 1;
        }
        frame::encode_seal(&mut out, end, now_us());
        let tmp = self
            .inner
            .dir
            .join(format!("{:020}{COMPACT_SUFFIX}", seg.base()));
        let storage = &*self.inner.storage;
        write_new_file(storage, &tmp, &out, self.is_durable()).await?;
        storage
            .rename(&tmp, &seg.path)
            .await
            .map_err(|e| IoFailure::new("rename", &tmp, e))?;
        if self.is_durable() {
            self.inner.sync_dir().await?;
        }
        let new = Sealed::open(&seg.path, seg.base(), Some(end)).map_err(|e| {
            IoFailure::new(
                "map compacted segment",
                &seg.path,
                std::io::Error::other(e.to_string()),
            )
        })?;
        new.records.set(Some(live));
        let new_len = new.file_len();
        let mut st = self.inner.state.borrow_mut();
        st.sealed.insert(seg.base(), Rc::new(new));
        if let Some(d) = st.dead.get_mut(&seg.base()) {
            d.retain(|p| !dead.contains(p));
        }
        report.segments_rewritten += 1;
        report.bytes_reclaimed += seg.file_len().saturating_sub(new_len);
        Ok(())
    }
}

/// Clears the "compaction running" flag however `compact` ends (error or cancellation).
struct Running<'a>(&'a Log);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.inner.state.borrow_mut().compacting = false;
    }
}

/// Writes `bytes` (padded to whole blocks) to a new file with O_DIRECT, durably if asked.
async fn write_new_file(
    storage: &dyn Storage,
    path: &Path,
    bytes: &[u8],
    durable: bool,
) -> Result<(), IoFailure> {
    let err = |op| move |e| IoFailure::new(op, path, e);
    let file = storage
        .open(path, OpenMode::CreateTruncate)
        .await
        .map_err(err("create"))?;
    const CHUNK: usize = 1 << 20;
    let mut at = 0usize;
    while at < bytes.len() {
        let n = (bytes.len() - at).min(CHUNK);
        let len = (n as u64).div_ceil(BLOCK) as usize * BLOCK as usize;
        let mut buf = file.alloc(len);
        buf.as_bytes_mut()[..n].copy_from_slice(&bytes[at..at + n]);
        buf.as_bytes_mut()[n..].fill(0);
        let wrote = file.write_at(buf, at as u64).await.map_err(err("write"))?;
        if wrote != len {
            return Err(IoFailure::new(
                "write",
                path,
                std::io::Error::other("short write"),
            ));
        }
        at += n;
    }
    if durable {
        file.sync_data().await.map_err(err("fdatasync"))?;
    }
    file.close().await.map_err(err("close"))?;
    Ok(())
}
