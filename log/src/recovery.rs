//! Opening a log: directory checks, the lock, and crash recovery of the tail segment.
//!
//! Recovery rules (see `docs/log-format.md`, "Recovery rules"):
//! 1. Sealed segments are mapped and their headers checked; their frames are checked when read.
//! 2. The last segment is scanned by [`crate::scan`], which decides between "the torn end of
//!    the last, unacknowledged write" (cut: zero-filled, reported in the [`RecoveryReport`])
//!    and "damage with acknowledged data behind it" (`OpenError::Corrupt`).
//! 3. The decision is made before anything is written or removed: an open that fails on
//!    corruption leaves the segment files as it found them.
//! 4. A last segment whose header block is all zeros was being created when the process died;
//!    it held no acknowledged record and is removed.
//!
//! Opening reads with blocking `std::fs` calls (it runs once per log, before the shard serves
//! traffic); every change it makes goes through the storage seam.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rkyv::util::AlignedVec;

use crate::config::Config;
use crate::dir_lock::DirLock;
use crate::error::{CorruptReason, IoFailure, OpenError};
use crate::frame::{self, HeaderProblem, SEGMENT_HEADER_LEN, SegmentKind};
use crate::log::{Inner, Log, State};
use crate::notify::Notify;
use crate::scan::{Cut, FileSource, Limits, scan_tail};
use crate::segment::{self, Sealed, SealedError, corrupt};
use crate::stats::Stats;
use crate::storage::{OpenMode, Storage};
use crate::writer::{self, Active, BLOCK};

/// Name of the file that marks a directory as a Quark log, with the format version.
pub const FORMAT_FILE: &str = "FORMAT";
/// Contents of [`FORMAT_FILE`].
pub const FORMAT_TEXT: &str = "quark-log format 2\n";
/// Contents of [`FORMAT_FILE`] in a directory created by a version 1 build (still read).
pub const FORMAT_TEXT_V1: &str = "quark-log format 1\n";

/// Whether `text` is a `FORMAT` file this build reads.
pub(crate) fn format_readable(text: &[u8]) -> bool {
    text == FORMAT_TEXT.as_bytes() || text == FORMAT_TEXT_V1.as_bytes()
}

/// What recovery found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files after recovery, active one included.
    pub segments: usize,
    /// Durable end after recovery.
    pub durable_end: u64,
    /// Records found in the tail segment.
    pub tail_records: u64,
    /// Bytes cut from the tail segment, if any.
    pub truncation: Option<Truncation>,
    /// A tail segment created but never initialized, removed.
    pub removed_blank_segment: Option<PathBuf>,
    /// Unfinished compaction outputs removed.
    pub removed_leftovers: Vec<PathBuf>,
}

/// The torn or corrupt tail recovery cut off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// The segment file.
    pub path: PathBuf,
    /// File offset of the first byte cut.
    pub offset: u64,
    /// Position of the first byte cut (the new durable end).
    pub position: u64,
    /// Non-zero bytes cut (from `offset` to the last non-zero byte).
    pub bytes: u64,
    /// Frames cut: the damaged one plus valid frames found after it.
    pub frames: u64,
    /// Why the scan stopped.
    pub reason: Option<CorruptReason>,
}

impl Truncation {
    /// What cutting `cut` from the segment at `path` (first position `base`) removes.
    pub(crate) fn of(cut: Cut, path: &Path, base: u64) -> Truncation {
        Truncation {
            path: path.to_path_buf(),
            offset: cut.from,
            position: position_at(base, cut.from),
            bytes: cut.to - cut.from,
            frames: cut.frames,
            reason: cut.reason,
        }
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> IoFailure + 'a {
    move |e| IoFailure::new(op, path, e)
}

/// Checks (or creates) the directory, takes the lock, then checks (or creates) its FORMAT file.
async fn prepare_dir(
    dir: &Path,
    config: &Config,
    storage: &dyn Storage,
) -> Result<DirLock, OpenError> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => return Err(OpenError::NotALog(dir.into(), "not a directory")),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !config.create_if_missing {
                return Err(OpenError::Missing(dir.into()));
            }
            create_dir_durably(dir, storage).await?;
        }
        Err(e) => return Err(IoFailure::new("stat", dir, e).into()),
    }
    // The lock comes first: two processes opening an empty directory must not both create it.
    let lock = DirLock::take(dir).await?;
    let format = dir.join(FORMAT_FILE);
    match std::fs::read(&format) {
        Ok(text) if format_readable(&text) => {}
        Ok(text) if text.starts_with(b"quark-log format ") => {
            let v = String::from_utf8_lossy(&text[17..])
                .trim()
                .parse()
                .unwrap_or(0);
            return Err(OpenError::UnsupportedVersion {
                path: format,
                version: v,
            });
        }
        Ok(_) => return Err(OpenError::NotALog(dir.into(), "FORMAT file not recognized")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let names = storage.list(dir).await.map_err(io("read dir", dir))?;
            // An interrupted first open leaves at most the FORMAT temp file behind.
            if names.iter().any(|n| n != FORMAT_TEMP) {
                return Err(OpenError::NotALog(dir.into(), "no FORMAT file, not empty"));
            }
            if !config.create_if_missing {
                return Err(OpenError::NotALog(
                    dir.into(),
                    "empty, create_if_missing is off",
                ));
            }
            create_format(dir, storage).await?;
        }
        Err(e) => return Err(IoFailure::new("read", &format, e).into()),
    }
    Ok(lock)
}

/// Name of the temp file `FORMAT` is written to before it is renamed into place.
const FORMAT_TEMP: &str = "FORMAT.tmp";

/// Creates `FORMAT` atomically: written to a temp file, synced, renamed, directory synced. A
/// crash leaves either no `FORMAT` (the directory still reads as empty) or a complete one.
async fn create_format(dir: &Path, storage: &dyn Storage) -> Result<(), IoFailure> {
    let temp = dir.join(FORMAT_TEMP);
    let format = dir.join(FORMAT_FILE);
    let file = storage
        .open(&temp, OpenMode::CreateTruncate)
        .await
        .map_err(io("create", &temp))?;
    let mut buf = file.alloc(BLOCK as usize);
    buf.as_bytes_mut().fill(0);
    buf.as_bytes_mut()[..FORMAT_TEXT.len()].copy_from_slice(FORMAT_TEXT.as_bytes());
    file.write_at(buf, 0).await.map_err(io("write", &temp))?;
    file.truncate(FORMAT_TEXT.len() as u64)
        .await
        .map_err(io("truncate", &temp))?;
    file.sync_data().await.map_err(io("fsync", &temp))?;
    file.close().await.map_err(io("close", &temp))?;
    storage
        .rename(&temp, &format)
        .await
        .map_err(io("rename", &temp))?;
    storage.sync_dir(dir).await.map_err(io("fsync dir", dir))
}

/// Creates `dir` and its missing parents, each entry made durable by a full `fsync` of the
/// directory holding it (a new `shard-N` directory is lost on power loss otherwise).
async fn create_dir_durably(dir: &Path, storage: &dyn Storage) -> Result<(), IoFailure> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d);
        at = d.parent();
    }
    storage
        .create_dir_all(dir)
        .await
        .map_err(io("create dir", dir))?;
    for d in missing.into_iter().rev() {
        if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            storage
                .sync_dir(parent)
                .await
                .map_err(io("fsync dir", parent))?;
        }
    }
    Ok(())
}

/// The valid bytes of a tail segment that stays the active one.
struct TailState {
    base: u64,
    path: PathBuf,
    valid: u64,
    records: u64,
    data: AlignedVec,
}

/// What recovery decided about the last segment, before anything is changed.
enum TailPlan {
    /// The tail stays the active segment, after the cut of its torn last write (if any).
    Active(TailState, Option<Truncation>),
    /// The last segment is sealed or compacted: a new active segment starts after it.
    Sealed(Sealed),
    /// Its header never became durable, so it never held a record: the file is removed.
    Blank,
}

/// Position of file offset `offset` in a plain segment starting at `base`.
pub(crate) fn position_at(base: u64, offset: u64) -> u64 {
    base.saturating_add(offset.saturating_sub(SEGMENT_HEADER_LEN))
}

/// Reads and decides about the last segment (see [`crate::scan`]); changes nothing.
fn plan_tail(base: u64, path: &Path, config: &Config) -> Result<TailPlan, OpenError> {
    let src = FileSource::open(path).map_err(io("open", path))?;
    let block = src.header_block().map_err(io("read", path))?;
    let header = match frame::decode_segment_header(&block) {
        Ok(h) => h,
        Err(HeaderProblem::Blank) => return Ok(TailPlan::Blank),
        Err(HeaderProblem::Corrupt(r)) => return Err(corrupt(path, 0, base, r).into()),
        Err(HeaderProblem::Version(v)) => {
            return Err(OpenError::UnsupportedVersion {
                path: path.into(),
                version: v,
            });
        }
    };
    if header.base != base {
        return Err(corrupt(path, 0, base, CorruptReason::NameMismatch).into());
    }
    if header.kind == SegmentKind::Compacted {
        return Ok(TailPlan::Sealed(Sealed::open(path, base, None)?));
    }
    let limits = Limits::new(config.batch_bytes_max);
    let scan = scan_tail(&src, &header, limits).map_err(io("read", path))?;
    if let Some(d) = scan.damage {
        return Err(corrupt(path, d.offset, position_at(base, d.offset), d.reason).into());
    }
    if let Some(end) = scan.sealed {
        let sealed = Sealed::open(path, base, Some(end))?;
        sealed.records.set(Some(scan.records));
        return Ok(TailPlan::Sealed(sealed));
    }
    let cut = scan.cut.map(|c| Truncation::of(c, path, base));
    let tail = TailState {
        base,
        path: path.to_path_buf(),
        valid: scan.valid,
        records: scan.records,
        data: scan.data,
    };
    Ok(TailPlan::Active(tail, cut))
}

/// Applies the plan for the last segment: the cut or the removal. Returns the active tail.
async fn apply_tail(
    plan: Option<TailPlan>,
    last: Option<&Path>,
    storage: &dyn Storage,
    sealed: &mut BTreeMap<u64, Rc<Sealed>>,
    report: &mut RecoveryReport,
) -> Result<Option<TailState>, OpenError> {
    match (plan, last) {
        (Some(TailPlan::Active(t, cut)), _) => {
            if let Some(c) = cut {
                tracing::warn!(
                    path = %c.path.display(), offset = c.offset, position = c.position,
                    bytes = c.bytes, frames = c.frames, reason = ?c.reason,
                    "cutting the torn last write of the log"
                );
                zero_fill(storage, &c.path, c.offset, c.offset + c.bytes).await?;
                report.truncation = Some(c);
            }
            Ok(Some(t))
        }
        (Some(TailPlan::Sealed(s)), _) => {
            sealed.insert(s.base(), Rc::new(s));
            Ok(None)
        }
        (Some(TailPlan::Blank), Some(path)) => {
            let shown = path.display();
            tracing::warn!(path = %shown, "removing a segment whose creation never finished");
            storage.remove(path).await.map_err(io("remove", path))?;
            report.removed_blank_segment = Some(path.to_path_buf());
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Zeroes file offsets `[from, to)` durably. Writes are whole blocks (O_DIRECT): the bytes of
/// the first block before `from` are read and written back unchanged.
async fn zero_fill(
    storage: &dyn Storage,
    path: &Path,
    from: u64,
    to: u64,
) -> Result<(), IoFailure> {
    let f = storage
        .open(path, OpenMode::Existing)
        .await
        .map_err(io("open", path))?;
    let start = from - from % BLOCK;
    let end = to.div_ceil(BLOCK) * BLOCK;
    let keep = f
        .read_at(start, (from - start) as usize)
        .await
        .map_err(io("read", path))?;
    // One bounded chunk at a time: the cut may reach far into a large file.
    let mut at = start;
    while at < end {
        let len = (end - at).min(crate::scan::CHUNK as u64) as usize;
        let mut buf = f.alloc(len);
        buf.as_bytes_mut().fill(0);
        if at == start {
            buf.as_bytes_mut()[..keep.len()].copy_from_slice(&keep);
        }
        f.write_at(buf, at).await.map_err(io("zero-fill", path))?;
        at += len as u64;
    }
    f.sync_data().await.map_err(io("fdatasync", path))?;
    f.close().await.map_err(io("close", path))
}

impl From<SealedError> for OpenError {
    fn from(e: SealedError) -> Self {
        match e {
            SealedError::Corrupt(c) => OpenError::Corrupt(c),
            SealedError::Version(path, version) => OpenError::UnsupportedVersion { path, version },
            SealedError::Io(e) => OpenError::Io(e),
        }
    }
}

/// Opens the log in `dir`: see the module documentation.
pub(crate) async fn open(
    dir: &Path,
    config: Config,
    storage: Box<dyn Storage>,
) -> Result<Log, OpenError> {
    config.validate()?;
    let lock = prepare_dir(dir, &config, &*storage).await?;
    let names = storage.list(dir).await.map_err(io("read dir", dir))?;
    let listing = segment::classify(dir, &names);
    let mut sealed = BTreeMap::new();
    let mut segments = listing.segments;
    let last = segments.pop();
    for (base, path) in &segments {
        sealed.insert(*base, Rc::new(Sealed::open(path, *base, None)?));
    }
    // Decide about the tail before changing anything: damage leaves the files as they were.
    let plan = match &last {
        Some((base, path)) => Some(plan_tail(*base, path, &config)?),
        None => None,
    };
    let mut report = RecoveryReport::default();
    let spare = dir.join(writer::SPARE_NAME);
    if names.iter().any(|n| n == writer::SPARE_NAME) && spare.is_file() {
        storage.remove(&spare).await.map_err(io("remove", &spare))?;
        report.removed_leftovers.push(spare);
    }
    for leftover in &listing.leftovers {
        storage
            .remove(leftover)
            .await
            .map_err(io("remove", leftover))?;
        report.removed_leftovers.push(leftover.clone());
    }
    let last_path = last.as_ref().map(|(_, p)| p.as_path());
    let tail = apply_tail(plan, last_path, &*storage, &mut sealed, &mut report).await?;
    // Where a fresh active segment starts (only needed without a tail): after the last sealed
    // one, else where the removed blank segment started, else at 0.
    let fresh_base = match (&tail, sealed.values().next_back()) {
        (Some(t), _) => t.base,
        (None, Some(s)) => s.end().map_err(|e| s.as_corruption(e))?.unwrap_or(0),
        (None, None) => last.as_ref().map_or(0, |(b, _)| *b),
    };
    let prev = sealed.keys().next_back().copied();
    let opened = Opened {
        sealed,
        lock,
        report,
        tail,
        fresh_base,
        prev,
    };
    let inner = build_inner(dir, config, storage, opened).await?;
    let r = &inner.recovery;
    tracing::info!(
        dir = %dir.display(), segments = r.segments, durable_end = r.durable_end,
        tail_records = r.tail_records, truncated = r.truncation.is_some(), "log opened"
    );
    let flusher = glommio::spawn_local(writer::flusher(Rc::downgrade(&inner))).detach();
    *inner.flusher.borrow_mut() = Some(flusher);
    Ok(Log { inner })
}

/// What opening found, handed to `build_inner`.
struct Opened {
    sealed: BTreeMap<u64, Rc<Sealed>>,
    lock: DirLock,
    report: RecoveryReport,
    tail: Option<TailState>,
    fresh_base: u64,
    /// Base of the last sealed segment, which a fresh active segment follows.
    prev: Option<u64>,
}

async fn build_inner(
    dir: &Path,
    config: Config,
    storage: Box<dyn Storage>,
    opened: Opened,
) -> Result<Rc<Inner>, OpenError> {
    let Opened {
        sealed,
        lock,
        mut report,
        tail,
        fresh_base,
        prev,
    } = opened;
    let active_base = tail.as_ref().map_or(fresh_base, |t| t.base);
    let state = State {
        sealed,
        active: None,
        active_base,
        active_chunks: Rc::new(RefCell::new(Vec::new())),
        active_records: 0,
        pending: VecDeque::new(),
        assign_base: active_base,
        assign_used: 0,
        next_position: active_base,
        durable_end: active_base,
        closing: false,
        closed: false,
        failed: None,
        dead: HashMap::new(),
        compacting: false,
        time_us_last: 0,
        stats: Stats::default(),
    };
    let inner = Rc::new(Inner {
        dir: dir.to_path_buf(),
        storage,
        config,
        state: RefCell::new(state),
        durable: Notify::default(),
        work: Notify::default(),
        recovery: RecoveryReport::default(),
        lock: RefCell::new(Some(lock)),
        flusher: RefCell::new(None),
        spare: RefCell::new(None),
        spare_task: RefCell::new(None),
        // 1 us to 60 s at 3 significant digits; stats just lack percentiles if this fails.
        fsync_us: RefCell::new(hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3).ok()),
    });
    let active = match tail {
        Some(t) => open_active(&*inner.storage, t).await?,
        None => writer::create_segment(&inner, fresh_base, prev).await?,
    };
    let end = active.base + active.written;
    {
        let mut st = inner.state.borrow_mut();
        st.active_chunks = active.chunks.clone();
        st.active_records = active.records;
        st.assign_used = active.written;
        st.next_position = end;
        st.durable_end = end;
        st.stats.durable_end = end;
        st.stats.segments = st.sealed.len() as u64 + 1;
        report.segments = st.sealed.len() + 1;
        report.durable_end = end;
        report.tail_records = active.records;
        st.time_us_last = last_time_us(&active.chunks, &st.sealed);
        st.active = Some(active);
    }
    // The report is only known now; `Inner` is not shared yet, so it can still be replaced.
    let mut inner = inner;
    if let Some(i) = Rc::get_mut(&mut inner) {
        i.recovery = report;
    }
    Ok(inner)
}

/// The time of the last durable record (0 for an empty log), so new record times never go
/// below it.
fn last_time_us(chunks: &crate::writer::Chunks, sealed: &BTreeMap<u64, Rc<Sealed>>) -> u64 {
    let mut last = None;
    for (_, bytes) in chunks.borrow().iter() {
        let mut at = 0usize;
        while let Some(h) = bytes.get(at..).and_then(crate::frame::read_frame_header) {
            last = Some(h.time_us);
            at += h.frame_len();
        }
    }
    if let Some(t) = last {
        return t;
    }
    let Some(seg) = sealed.values().next_back() else {
        return 0;
    };
    let position = seg.positions().ok().and_then(|p| p.last().copied());
    position
        .and_then(|p| seg.read(p).ok())
        .map_or(0, |r| r.time_us())
}

async fn open_active(storage: &dyn Storage, t: TailState) -> Result<Active, OpenError> {
    let file = storage
        .open(&t.path, OpenMode::Existing)
        .await
        .map_err(|e| IoFailure::new("open segment", &t.path, e))?;
    let tail_start = (t.valid - t.valid % BLOCK) as usize;
    let tail = t.data.as_slice()[tail_start..].to_vec();
    let chunks = Rc::new(RefCell::new(Vec::new()));
    if t.valid > 0 {
        chunks.borrow_mut().push((t.base, Rc::new(t.data)));
    }
    Ok(Active {
        base: t.base,
        path: t.path,
        file,
        written: t.valid,
        tail,
        chunks,
        records: t.records,
    })
}
