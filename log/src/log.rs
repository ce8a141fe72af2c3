//! The [`Log`] handle: appends, point reads, stats, close; and the state shared with the flusher.
//!
//! Invariants:
//! - Positions are byte offsets in one contiguous address space, strictly increasing in append
//!   order; segment `n + 1` starts where segment `n` ends.
//! - `durable_end` only grows, and every position below it that starts a record is durable (an
//!   append resolves only once `durable_end` passed its record's end).
//! - After a write failure the log is failed: pending and new appends get an error, reads of what
//!   was durable keep working.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use rkyv::util::AlignedVec;

use crate::config::{Config, Durability};
use crate::dir_lock::DirLock;
use crate::error::{AppendError, CloseError, IoFailure, ReadError};
use crate::frame::{self, Decoded, FRAME_HEADER_LEN, SEGMENT_HEADER_LEN};
use crate::notify::Notify;
use crate::reader::{Snapshot, TailReader};
use crate::record::{Backing, Record, RecordBuilder};
use crate::recovery::RecoveryReport;
use crate::segment::Sealed;
use crate::stats::Stats;
use crate::storage::{Device, Storage};
use crate::writer::{self, Active, Batch, Chunks};

/// Mutable state of one log.
pub(crate) struct State {
    pub sealed: BTreeMap<u64, Rc<Sealed>>,
    /// The flusher's segment; `None` while a flush holds it.
    pub active: Option<Active>,
    /// Base and durable chunks of the active segment, for readers.
    pub active_base: u64,
    pub active_chunks: Chunks,
    pub active_records: u64,
    pub pending: VecDeque<Batch>,
    /// Segment new appends are assigned to, and bytes assigned in it so far.
    pub assign_base: u64,
    pub assign_used: u64,
    pub next_position: u64,
    pub durable_end: u64,
    pub closing: bool,
    pub closed: bool,
    pub failed: Option<String>,
    /// Retired positions, by the base of the segment holding them.
    pub dead: HashMap<u64, HashSet<u64>>,
    /// A compaction is running (only one at a time).
    pub compacting: bool,
    /// The time stamped on the last record assigned a position: record times never go back,
    /// even when the wall clock does (time-based reads rely on it).
    pub time_us_last: u64,
    pub stats: Stats,
}

/// What one log's handles and its flusher share.
pub(crate) struct Inner {
    pub dir: PathBuf,
    /// Every file and directory operation goes through it (the storage seam).
    pub storage: Box<dyn Storage>,
    pub config: Config,
    pub state: RefCell<State>,
    /// Woken when `durable_end` moves, or the log closes or fails.
    pub durable: Notify,
    /// Woken when there is work for the flusher.
    pub work: Notify,
    pub recovery: RecoveryReport,
    pub lock: RefCell<Option<DirLock>>,
    pub flusher: RefCell<Option<glommio::task::JoinHandle<()>>>,
    /// The next segment file, zero-filled ahead of time, and the task preparing it.
    pub spare: RefCell<Option<writer::Spare>>,
    pub spare_task: RefCell<Option<glommio::task::JoinHandle<()>>>,
    /// `fdatasync` latencies in microseconds (`None` if the histogram could not be built).
    pub fsync_us: RefCell<Option<hdrhistogram::Histogram<u64>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Lets the flusher notice the log is gone and exit.
        self.work.notify_all();
        self.durable.notify_all();
    }
}

impl Inner {
    /// Makes the log directory's entries durable (a full `fsync` of the directory).
    pub(crate) async fn sync_dir(&self) -> Result<(), IoFailure> {
        self.storage
            .sync_dir(&self.dir)
            .await
            .map_err(|e| IoFailure::new("fsync dir", &self.dir, e))
    }

    pub(crate) fn record_fsync(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let mut st = self.state.borrow_mut();
        st.stats.fsyncs += 1;
        st.stats.fsync_latency_us_total += us;
        st.stats.fsync_latency_us_max = st.stats.fsync_latency_us_max.max(us);
        if let Some(h) = self.fsync_us.borrow_mut().as_mut() {
            h.saturating_record(us);
        }
    }

    pub(crate) fn install_sealed(&self, sealed: Rc<Sealed>) {
        let mut st = self.state.borrow_mut();
        st.sealed.insert(sealed.base(), sealed);
    }

    /// Publishes a durable batch: readers see it, appends waiting for it resolve.
    pub(crate) fn publish(&self, mut active: Active, batch: Batch) {
        let mut st = self.state.borrow_mut();
        assert!(batch.end > st.durable_end, "the durable end only grows");
        assert_eq!(
            active.base + active.written,
            batch.end,
            "published bytes were written"
        );
        active.records += batch.records;
        active
            .chunks
            .borrow_mut()
            .push((batch.first, Rc::new(batch.bytes)));
        st.active_base = active.base;
        st.active_chunks = active.chunks.clone();
        st.active_records = active.records;
        st.durable_end = batch.end;
        st.stats.group_commits += 1;
        st.stats.records += batch.records;
        st.stats.bytes += batch.end - batch.first;
        st.stats.durable_end = batch.end;
        st.stats.segments = st.sealed.len() as u64 + 1;
        st.active = Some(active);
        drop(st);
        self.durable.notify_all();
    }

    /// Marks the log failed after a write error.
    pub(crate) fn fail(&self, active: Active, msg: String) {
        let mut st = self.state.borrow_mut();
        st.failed = Some(msg);
        st.pending.clear();
        st.active = Some(active);
        drop(st);
        self.durable.notify_all();
    }

    /// Checks a record against the configuration without appending it.
    fn check(&self, rec: &RecordBuilder) -> Result<(), AppendError> {
        if rec.entry_count() == 0 {
            return Err(AppendError::Empty);
        }
        let size = rec.size();
        if size > self.config.record_bytes_max {
            return Err(AppendError::TooLarge {
                size,
                max: self.config.record_bytes_max,
            });
        }
        Ok(())
    }

    fn enqueue(&self, rec: &RecordBuilder) -> Result<(u64, u64), AppendError> {
        self.check(rec)?;
        let parts = rec.parts();
        let flen = rec.frame_len() as u64;
        let mut st = self.state.borrow_mut();
        if let Some(f) = &st.failed {
            return Err(AppendError::Failed(f.clone()));
        }
        if st.closing {
            return Err(AppendError::Closed);
        }
        // Every segment keeps room for its seal frame.
        let capacity = self.config.segment_bytes - SEGMENT_HEADER_LEN - FRAME_HEADER_LEN as u64;
        if st.assign_used + flen > capacity {
            st.assign_base = st.next_position;
            st.assign_used = 0;
        }
        let position = st.next_position;
        let segment_base = st.assign_base;
        // Clamped: a wall clock stepped back must not make a later record look older.
        let time_us = writer::now_us().max(st.time_us_last);
        st.time_us_last = time_us;
        let batch_max = self.config.batch_bytes_max;
        let fits = st.pending.back().is_some_and(|b| {
            b.segment_base == segment_base && b.bytes.len() + flen as usize <= batch_max
        });
        if !fits {
            st.pending.push_back(Batch {
                segment_base,
                first: position,
                end: position,
                records: 0,
                bytes: AlignedVec::new(),
            });
        }
        let Some(batch) = st.pending.back_mut() else {
            return Err(AppendError::Failed("internal: no pending batch".into()));
        };
        let start = batch.bytes.len();
        batch.bytes.resize(start + flen as usize, 0);
        // The frame names its commit (the batch's first position): recovery uses it to tell a
        // torn last write from damage in front of acknowledged frames.
        let commit = batch.first;
        frame::write_record(
            &mut batch.bytes.as_mut_slice()[start..],
            position,
            time_us,
            commit,
            &parts,
        );
        batch.end = position + flen;
        batch.records += 1;
        st.next_position = position + flen;
        st.assign_used += flen;
        st.stats.appends += 1;
        drop(st);
        self.work.notify_all();
        Ok((position, position + flen))
    }

    async fn wait_durable(&self, end: u64) -> Result<(), AppendError> {
        std::future::poll_fn(|cx| {
            let st = self.state.borrow();
            if st.durable_end >= end {
                return std::task::Poll::Ready(Ok(()));
            }
            if let Some(f) = &st.failed {
                return std::task::Poll::Ready(Err(AppendError::Failed(f.clone())));
            }
            if st.closed {
                return std::task::Poll::Ready(Err(AppendError::Closed));
            }
            self.durable.register(cx.waker());
            std::task::Poll::Pending
        })
        .await
    }

    /// The durable record at `position` (current state, no snapshot).
    pub(crate) fn read(&self, position: u64) -> Result<Record, ReadError> {
        let st = self.state.borrow();
        if position >= st.durable_end {
            return Err(ReadError::PastEnd {
                position,
                end: st.durable_end,
            });
        }
        if position >= st.active_base {
            return read_chunks(&st.active_chunks, position, st.durable_end);
        }
        let seg = st
            .sealed
            .range(..=position)
            .next_back()
            .map(|(_, s)| s.clone());
        drop(st);
        seg.ok_or(ReadError::NoRecord(position))?.read(position)
    }
}

/// Reads the record at `position` from the active segment's durable chunks.
pub(crate) fn read_chunks(chunks: &Chunks, position: u64, end: u64) -> Result<Record, ReadError> {
    if position >= end {
        return Err(ReadError::PastEnd { position, end });
    }
    let chunks = chunks.borrow();
    let i = chunks.partition_point(|(first, _)| *first <= position);
    let Some((first, bytes)) = i.checked_sub(1).and_then(|i| chunks.get(i)) else {
        return Err(ReadError::NoRecord(position));
    };
    let at = usize::try_from(position - first).map_err(|_| ReadError::NoRecord(position))?;
    match bytes.get(at..).and_then(frame::read_frame_header) {
        Some(h) if h.position == position => {}
        _ => return Err(ReadError::NoRecord(position)),
    }
    match frame::decode_frame(bytes.as_slice(), at, Some(position)) {
        Ok(Decoded::Record(h)) => Ok(Record {
            header: h,
            backing: Backing::Mem(bytes.clone()),
            at,
        }),
        _ => Err(ReadError::NoRecord(position)),
    }
}

/// The first record at or after `position` in the active segment's durable chunks, for
/// iteration from a position that need not start a record. Chunks start at record boundaries.
pub(crate) fn seek_chunks(
    chunks: &Chunks,
    position: u64,
    end: u64,
) -> Result<Option<Record>, ReadError> {
    let found = {
        let chunks = chunks.borrow();
        let i = chunks
            .partition_point(|(first, _)| *first <= position)
            .saturating_sub(1);
        chunks.iter().skip(i).find_map(|(first, bytes)| {
            let mut at = 0usize;
            while let Some(h) = bytes.get(at..).and_then(frame::read_frame_header) {
                let p = first + at as u64;
                if p >= position {
                    return Some(p);
                }
                at += h.frame_len();
            }
            None
        })
    };
    match found {
        Some(p) if p < end => read_chunks(chunks, p, end).map(Some),
        _ => Ok(None),
    }
}

/// Where a submitted record lies: it starts at `position` and ends just before `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The record's position.
    pub position: u64,
    /// One past its last byte: durable once [`Log::durable_end`] reaches it.
    pub end: u64,
}

/// A handle to one open log. Cheap to clone; all clones share the log. Lives on the glommio
/// executor that opened it (`!Send`).
///
/// ```no_run
/// # glommio::LocalExecutor::default().run(async {
/// use quark_log::{Config, Log, RecordBuilder};
/// let log = Log::open("/var/lib/quark/shard-0", Config::default()).await.unwrap();
/// let mut r = RecordBuilder::new();
/// r.push_bytes(1, b"hello");
/// let position = log.append(&r).await.unwrap();
/// let back = log.read(position).unwrap();
/// assert_eq!(back.entries().next().unwrap().payload, b"hello");
/// log.close().await.unwrap();
/// # });
/// ```
#[derive(Clone)]
pub struct Log {
    pub(crate) inner: Rc<Inner>,
}

impl Log {
    /// Opens (or creates) the log in `dir`, recovering from a crash if needed.
    ///
    /// Must be called on a glommio executor; the log's flusher task runs on it, and the log is
    /// used from that executor only. What recovery did is in [`Log::recovery_report`].
    ///
    /// # Panics
    /// Outside a glommio executor (it spawns the flusher with `glommio::spawn_local`).
    pub async fn open(dir: impl AsRef<Path>, config: Config) -> Result<Log, crate::OpenError> {
        Self::open_on(dir, config, Box::new(Device)).await
    }

    /// Like [`Log::open`], with every file and directory operation going through `storage`
    /// (the real [`Device`], or the simulated [`crate::storage::Sim`] in power-loss tests).
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// use quark_log::{Config, Log, storage::Device};
    /// let log = Log::open_on("/var/lib/quark/shard-0", Config::default(), Box::new(Device))
    ///     .await
    ///     .unwrap();
    /// # });
    /// ```
    ///
    /// # Panics
    /// Outside a glommio executor.
    pub async fn open_on(
        dir: impl AsRef<Path>,
        config: Config,
        storage: Box<dyn Storage>,
    ) -> Result<Log, crate::OpenError> {
        crate::recovery::open(dir.as_ref(), config, storage).await
    }

    /// Appends one record and resolves with its position once it is durable (see
    /// [`Durability`]). Concurrent appends share one write and one `fdatasync`.
    pub async fn append(&self, record: &RecordBuilder) -> Result<u64, AppendError> {
        let (position, end) = self.inner.enqueue(record)?;
        self.inner.wait_durable(end).await?;
        Ok(position)
    }

    /// Assigns `record` a position and queues it for the next group commit, without waiting:
    /// the record becomes durable (and [`Log::durable_end`] passes [`Submitted::end`]) whether
    /// or not anyone awaits [`Log::wait_durable`]. This is the cancel-safe half of
    /// [`Log::append`]: an owner that must learn every durable outcome (the engine's durable
    /// core) submits synchronously and applies the record once it is durable.
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// # let log = quark_log::Log::open("/tmp/x", Default::default()).await.unwrap();
    /// let mut r = quark_log::RecordBuilder::new();
    /// r.push_bytes(1, b"hello");
    /// let submitted = log.submit(&r).unwrap();
    /// log.wait_durable(submitted.end).await.unwrap();
    /// assert!(log.durable_end() >= submitted.end);
    /// # });
    /// ```
    pub fn submit(&self, record: &RecordBuilder) -> Result<Submitted, AppendError> {
        let (position, end) = self.inner.enqueue(record)?;
        Ok(Submitted { position, end })
    }

    /// Resolves once every byte below `end` is durable (see [`Log::submit`]); fails if the log
    /// failed or closed before that.
    pub async fn wait_durable(&self, end: u64) -> Result<(), AppendError> {
        self.inner.wait_durable(end).await
    }

    /// Appends several records, in order, and resolves with their positions once all are
    /// durable. Each record is still atomic on its own; the batch as a whole is not (a crash
    /// can keep a prefix of it). If one record is refused (too large, empty), none is appended.
    pub async fn append_batch(&self, records: &[RecordBuilder]) -> Result<Vec<u64>, AppendError> {
        for r in records {
            self.inner.check(r)?;
        }
        let mut positions = Vec::with_capacity(records.len());
        let mut end = 0;
        for r in records {
            let (position, e) = self.inner.enqueue(r)?;
            positions.push(position);
            end = e;
        }
        self.inner.wait_durable(end).await?;
        Ok(positions)
    }

    /// Appends a record holding one entry of `kind` with `payload` as is.
    pub async fn append_bytes(&self, kind: u16, payload: &[u8]) -> Result<u64, AppendError> {
        let mut r = RecordBuilder::new();
        r.push_bytes(kind, payload);
        self.append(&r).await
    }

    /// Appends a record holding one entry of `kind` with `value` archived by rkyv.
    pub async fn append_value<T>(&self, kind: u16, value: &T) -> Result<u64, AppendError>
    where
        T: for<'a> rkyv::Serialize<
                rkyv::api::high::HighSerializer<
                    AlignedVec,
                    rkyv::ser::allocator::ArenaHandle<'a>,
                    rkyv::rancor::Error,
                >,
            >,
    {
        let mut r = RecordBuilder::new();
        r.push(kind, value)?;
        self.append(&r).await
    }

    /// The durable record starting at `position`.
    pub fn read(&self, position: u64) -> Result<Record, ReadError> {
        self.inner.read(position)
    }

    /// A consistent view of every durable record at this moment, for synchronous iteration.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::of(&self.inner)
    }

    /// A reader that yields every durable record from `position` on (the first one at or after
    /// it, if `position` does not start a record) and then waits for more.
    pub fn tail(&self, position: u64) -> TailReader {
        TailReader::new(self.clone(), position)
    }

    /// One past the last durable byte: every record below it is durable, none at or above it.
    pub fn durable_end(&self) -> u64 {
        self.inner.state.borrow().durable_end
    }

    /// The first position still covered by a segment file (0 for a log that never deleted a
    /// segment). Iterating from it yields the first stored record, which may start later if
    /// compaction dropped the records before it.
    pub fn first_position(&self) -> u64 {
        let st = self.inner.state.borrow();
        st.sealed.keys().next().copied().unwrap_or(st.active_base)
    }

    /// Counters for the harness and for operators.
    pub fn stats(&self) -> Stats {
        let st = self.inner.state.borrow();
        let mut stats = st.stats.clone();
        stats.retired_held = st.dead.values().map(|d| d.len() as u64).sum();
        drop(st);
        if let Some(h) = self.inner.fsync_us.borrow().as_ref() {
            stats.fsync_latency_us_p50 = h.value_at_quantile(0.5);
            stats.fsync_latency_us_p99 = h.value_at_quantile(0.99);
        }
        stats
    }

    /// What recovery found and did when this log was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Why the log failed (a write or `fdatasync` error), if it did: appends are refused for
    /// good and tail readers end.
    pub fn failure(&self) -> Option<String> {
        self.inner.state.borrow().failed.clone()
    }

    /// Whether [`Log::close`] was called (appends are refused from then on).
    pub fn is_closed(&self) -> bool {
        let st = self.inner.state.borrow();
        st.closing || st.closed
    }

    /// Whether appends are `fdatasync`ed.
    pub fn is_durable(&self) -> bool {
        self.inner.config.durability == Durability::Fsync
    }

    /// Stops accepting appends, waits for pending ones to become durable, then releases the
    /// files and the directory lock. Later appends fail with [`AppendError::Closed`]; tailing
    /// readers finish once they have read everything.
    pub async fn close(&self) -> Result<(), CloseError> {
        self.inner.state.borrow_mut().closing = true;
        self.inner.work.notify_all();
        let handle = self.inner.flusher.borrow_mut().take();
        if let Some(h) = handle {
            h.await;
        }
        writer::drop_spare(&self.inner).await;
        let active = {
            let mut st = self.inner.state.borrow_mut();
            st.closed = true;
            st.active.take()
        };
        if let Some(a) = active {
            let _ = a.file.close().await;
        }
        self.inner.lock.borrow_mut().take();
        self.inner.durable.notify_all();
        match self.inner.state.borrow().failed.clone() {
            Some(f) => Err(CloseError::Failed(f)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Record times never go back (issue: time-based reads assumed a monotonic wall clock, so
    //! a clock stepped back made later records look older and `read_stream_as_of` cut them).
    //! Fix: the log stamps `max(now, last stamped)`, and reopening starts from the last
    //! durable record's time.

    use super::*;

    fn tempdir() -> tempfile::TempDir {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tmp");
        let _ = std::fs::create_dir_all(&base);
        tempfile::tempdir_in(base).expect("tempdir")
    }

    fn run<F: Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
        glommio::LocalExecutorBuilder::default()
            .io_memory(256 << 10)
            .spawn(f)
            .expect("spawn")
            .join()
            .expect("join");
    }

    #[test]
    fn record_times_never_go_back_even_across_reopen() {
        let dir = tempdir();
        let path = dir.path().to_path_buf();
        run(move || async move {
            let config = Config {
                durability: Durability::NoSyncUnsafe,
                ..Config::default()
            };
            let log = Log::open(&path, config.clone()).await.unwrap();
            // The wall clock "was" an hour ahead when the last record was written.
            let ahead = writer::now_us() + 3_600_000_000;
            log.inner.state.borrow_mut().time_us_last = ahead;
            let mut r = RecordBuilder::new();
            r.push_bytes(1, b"a");
            let first = log.append(&r).await.unwrap();
            let second = log.append(&r).await.unwrap();
            assert_eq!(log.read(first).unwrap().time_us(), ahead);
            assert!(log.read(second).unwrap().time_us() >= ahead);
            log.close().await.unwrap();
            let log = Log::open(&path, config).await.unwrap();
            let third = log.append(&r).await.unwrap();
            assert!(
                log.read(third).unwrap().time_us() >= ahead,
                "reopen keeps the floor"
            );
            log.close().await.unwrap();
        });
    }
}
