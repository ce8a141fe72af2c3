//! Readers: [`Snapshot`] (a synchronous iterator over a frozen view) and [`TailReader`]
//! (follows the log, waiting for new durable records).
//!
//! Invariants: a reader never yields a record at or past the durable end it observed, so it only
//! ever sees durable records; a snapshot keeps every segment it references alive (maps and
//! chunks are reference-counted), so compaction and retention never pull bytes from under it.

use std::rc::Rc;

use crate::error::ReadError;
use crate::log::{Inner, Log, read_chunks, seek_chunks};
use crate::record::Record;
use crate::segment::Sealed;
use crate::writer::Chunks;

#[derive(Clone)]
enum Seg {
    Sealed(Rc<Sealed>),
    Active { base: u64, chunks: Chunks },
}

impl Seg {
    fn base(&self) -> u64 {
        match self {
            Seg::Sealed(s) => s.base(),
            Seg::Active { base, .. } => *base,
        }
    }

    fn next_from(&self, position: u64, end: u64) -> Result<Option<Record>, ReadError> {
        match self {
            Seg::Sealed(s) => s.next_from(position),
            Seg::Active { base, chunks } => {
                let position = position.max(*base);
                if position >= end {
                    return Ok(None);
                }
                match read_chunks(chunks, position, end) {
                    // Not a record boundary: the next record after it.
                    Err(ReadError::NoRecord(_)) => seek_chunks(chunks, position, end),
                    other => other.map(Some),
                }
            }
        }
    }
}

/// A consistent view of the durable records at one moment. Cheap to take; iterate it with
/// [`Snapshot::iter`] or [`Snapshot::iter_from`].
///
/// ```no_run
/// # glommio::LocalExecutor::default().run(async {
/// # let log = quark_log::Log::open("/tmp/x", Default::default()).await.unwrap();
/// for record in log.snapshot().iter() {
///     let record = record.unwrap();
///     for entry in record.entries() {
///         println!("{} kind {} {} bytes", record.position(), entry.kind, entry.payload.len());
///     }
/// }
/// # });
/// ```
#[derive(Clone)]
pub struct Snapshot {
    segs: Vec<Seg>,
    end: u64,
}

impl Snapshot {
    pub(crate) fn of(inner: &Inner) -> Snapshot {
        let st = inner.state.borrow();
        let mut segs: Vec<Seg> = st
            .sealed
            .range(..st.active_base)
            .map(|(_, s)| Seg::Sealed(s.clone()))
            .collect();
        segs.push(Seg::Active {
            base: st.active_base,
            chunks: st.active_chunks.clone(),
        });
        Snapshot {
            segs,
            end: st.durable_end,
        }
    }

    /// A snapshot over sealed segments and an optional tail held in memory (offline tools).
    pub(crate) fn from_parts(
        sealed: Vec<Rc<Sealed>>,
        tail: Option<(u64, Chunks)>,
        end: u64,
    ) -> Snapshot {
        let mut segs: Vec<Seg> = sealed.into_iter().map(Seg::Sealed).collect();
        if let Some((base, chunks)) = tail {
            segs.push(Seg::Active { base, chunks });
        }
        Snapshot { segs, end }
    }

    /// The durable end this snapshot saw: it holds exactly the records below it.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The record starting at `position`.
    pub fn read(&self, position: u64) -> Result<Record, ReadError> {
        if position >= self.end {
            return Err(ReadError::PastEnd {
                position,
                end: self.end,
            });
        }
        let i = self.segs.partition_point(|s| s.base() <= position);
        match i.checked_sub(1).and_then(|i| self.segs.get(i)) {
            Some(Seg::Sealed(s)) => s.read(position),
            Some(Seg::Active { chunks, .. }) => read_chunks(chunks, position, self.end),
            None => Err(ReadError::NoRecord(position)),
        }
    }

    /// The first record at or after `position`, if any.
    pub fn next_from(&self, position: u64) -> Result<Option<Record>, ReadError> {
        if position >= self.end {
            return Ok(None);
        }
        let mut i = self
            .segs
            .partition_point(|s| s.base() <= position)
            .saturating_sub(1);
        let mut position = position;
        loop {
            let Some(seg) = self.segs.get(i) else {
                return Ok(None);
            };
            if let Some(r) = seg.next_from(position, self.end)? {
                debug_assert!(r.position() < self.end);
                return Ok(Some(r));
            }
            i += 1;
            if let Some(next) = self.segs.get(i) {
                position = position.max(next.base());
            }
        }
    }

    /// Iterates every record of the snapshot in position order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// Iterates the records at or after `position` (which need not start a record). Stops
    /// after yielding an error.
    pub fn iter_from(&self, position: u64) -> Iter<'_> {
        let seg = self
            .segs
            .partition_point(|s| s.base() <= position)
            .saturating_sub(1);
        Iter {
            snapshot: self,
            position,
            seg,
            done: false,
        }
    }
}

/// Iterator over a [`Snapshot`]. Remembers its segment, so each step is one frame decode.
pub struct Iter<'a> {
    snapshot: &'a Snapshot,
    position: u64,
    seg: usize,
    done: bool,
}

impl Iter<'_> {
    fn step(&mut self) -> Result<Option<Record>, ReadError> {
        let snapshot = self.snapshot;
        if self.position >= snapshot.end {
            return Ok(None);
        }
        loop {
            let Some(seg) = snapshot.segs.get(self.seg) else {
                return Ok(None);
            };
            if let Some(r) = seg.next_from(self.position, snapshot.end)? {
                self.position = r.end();
                return Ok(Some(r));
            }
            self.seg += 1;
            if let Some(next) = snapshot.segs.get(self.seg) {
                self.position = self.position.max(next.base());
            }
        }
    }
}

impl Iterator for Iter<'_> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Follows a log from a position: yields every durable record, then waits (without polling)
/// until more become durable. Ends with `None` once the log is closed (or failed) and everything
/// durable was read.
///
/// ```no_run
/// # glommio::LocalExecutor::default().run(async {
/// # let log = quark_log::Log::open("/tmp/x", Default::default()).await.unwrap();
/// let mut tail = log.tail(0);
/// while let Some(record) = tail.next().await {
///     let record = record.unwrap();
///     println!("exporting {}", record.position());
/// }
/// # });
/// ```
pub struct TailReader {
    log: Log,
    snapshot: Snapshot,
    position: u64,
}

impl TailReader {
    pub(crate) fn new(log: Log, position: u64) -> TailReader {
        let snapshot = log.snapshot();
        TailReader {
            log,
            snapshot,
            position,
        }
    }

    /// The position the next record will be at or after.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next durable record, waiting for one if the reader has caught up.
    pub async fn next(&mut self) -> Option<Result<Record, ReadError>> {
        loop {
            if self.position < self.snapshot.end {
                match self.snapshot.next_from(self.position) {
                    Ok(Some(r)) => {
                        self.position = r.end();
                        return Some(Ok(r));
                    }
                    Ok(None) => self.position = self.snapshot.end,
                    Err(e) => return Some(Err(e)),
                }
                continue;
            }
            if !self.wait_past(self.position).await {
                return None;
            }
            self.snapshot = self.log.snapshot();
        }
    }

    /// Waits until the durable end passes `position`; `false` if the log closed or failed first.
    async fn wait_past(&self, position: u64) -> bool {
        let inner = &self.log.inner;
        std::future::poll_fn(|cx| {
            let st = inner.state.borrow();
            if st.durable_end > position {
                return std::task::Poll::Ready(true);
            }
            if st.closed || st.failed.is_some() {
                return std::task::Poll::Ready(false);
            }
            inner.durable.register(cx.waker());
            std::task::Poll::Pending
        })
        .await
    }
}
