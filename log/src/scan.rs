//! The tail scan: what recovery and `quark-log verify` conclude about the last segment.
//!
//! The scan reads the segment in bounded chunks (never the whole file at once) and decides,
//! per the recovery table of `docs/log-format.md`:
//! 1. Frames are decoded from the first one until zero bytes (a clean end), a seal frame (the
//!    segment is sealed), or the first frame that fails validation (the stop point `P`).
//! 2. Behind `P`, every 16-byte offset up to the last non-zero byte is probed for a valid
//!    frame that names its own position. Such a frame proves the damage at `P` is **not** the
//!    torn end of the last write, and the scan reports damage, when it is
//!    - a seal frame (a seal is written only once every record of its segment is durable), or
//!    - a version 2 frame whose group commit started after `P` (commits are written one at a
//!      time, each durable before the next starts: the commit holding `P` was acknowledged), or
//!    - a version 1 frame (no commit id) further than one write's reach from `P`.
//!
//!    Otherwise the bytes from `P` to the last non-zero byte were the last, unacknowledged
//!    write: they are reported as the cut.
//! 3. A version 2 tail whose file is shorter than its header says it was created lost its end
//!    (an interrupted copy, a truncation): reported as damage, whatever the frames say.
//!
//! Invariants: memory is the valid prefix (which the caller keeps anyway) plus one chunk plus
//! at most one frame of `frame_bytes_max`; no length read from the file is trusted before it is
//! checked against that limit and the file's size. The scan never writes.

use std::io;

use rkyv::util::AlignedVec;

use crate::error::CorruptReason;
use crate::frame::{self, Decoded, FRAME_ALIGN, FRAME_HEADER_LEN, SEGMENT_HEADER_LEN};
use crate::frame::{FRAME_HEADER_LEN_V1, SegmentHeader};

/// Bytes read at a time.
pub(crate) const CHUNK: usize = 1 << 20;

/// Bytes that can be read at an offset: a segment file, or a slice in tests and fuzzing.
pub(crate) trait Source {
    /// Length of the file.
    fn len(&self) -> u64;
    /// Fills `buf` from `offset`; `offset + buf.len()` is at most `len()`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl Source for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let from = usize::try_from(offset).map_err(io::Error::other)?;
        let src = self
            .get(from..from + buf.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A segment file opened for reading, with its length taken once.
pub(crate) struct FileSource {
    file: std::fs::File,
    len: u64,
}

impl FileSource {
    pub(crate) fn open(path: &std::path::Path) -> io::Result<FileSource> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(FileSource { file, len })
    }

    /// Reads the header block (or as much of it as the file holds).
    pub(crate) fn header_block(&self) -> io::Result<Vec<u8>> {
        let n = self.len.min(SEGMENT_HEADER_LEN) as usize;
        let mut b = vec![0u8; n];
        self.read_exact_at(&mut b, 0)?;
        Ok(b)
    }
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
    }
}

/// How far frames may reach, from the log's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The largest frame a write can hold (`batch_bytes_max`): longer ones are damage.
    pub frame_bytes_max: u64,
    /// Version 1 frames only: how far one write reaches past the durable end.
    pub reach: u64,
}

impl Limits {
    pub(crate) fn new(batch_bytes_max: usize) -> Limits {
        let frame_bytes_max = batch_bytes_max as u64;
        Limits {
            frame_bytes_max,
            reach: frame_bytes_max.saturating_add(crate::writer::BLOCK),
        }
    }
}

/// Bytes recovery cuts: file offsets `[from, to)` (to the last non-zero byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cut {
    pub from: u64,
    pub to: u64,
    /// The frame at `from` plus the valid frames found behind it.
    pub frames: u64,
    /// Why the scan stopped (`None`: at zeros, with non-zero bytes behind them).
    pub reason: Option<CorruptReason>,
}

/// Damage that must not be cut: file offset and reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Damage {
    pub offset: u64,
    pub reason: CorruptReason,
}

/// What the scan of a plain tail segment found.
#[derive(Debug)]
pub(crate) struct TailScan {
    /// Valid data bytes after the segment header, which `data` holds.
    pub valid: u64,
    pub records: u64,
    pub data: AlignedVec,
    /// `Some(end)` if the segment ends with a seal frame.
    pub sealed: Option<u64>,
    /// The torn last write to cut.
    pub cut: Option<Cut>,
    /// Damage in front of acknowledged data (never together with `cut`).
    pub damage: Option<Damage>,
}

/// Scans the plain segment `src` whose header is `header`.
pub(crate) fn scan_tail(
    src: &(impl Source + ?Sized),
    header: &SegmentHeader,
    limits: Limits,
) -> io::Result<TailScan> {
    let base = header.base;
    let fwd = forward(src, base, limits)?;
    let mut scan = TailScan {
        valid: fwd.data.len() as u64,
        records: fwd.records,
        data: fwd.data,
        sealed: None,
        cut: None,
        damage: None,
    };
    let stop = SEGMENT_HEADER_LEN + scan.valid;
    match fwd.stop {
        Stop::Seal(end) => scan.sealed = Some(end),
        Stop::Overflow => {
            scan.damage = Some(Damage {
                offset: stop,
                reason: CorruptReason::BadLength,
            });
        }
        Stop::At(reason) => match behind(src, base, stop, reason, limits)? {
            Ok(cut) => scan.cut = cut,
            Err(d) => scan.damage = Some(d),
        },
    }
    let short = header.file_bytes > 0 && src.len() < header.file_bytes;
    if short && scan.sealed.is_none() && scan.damage.is_none() {
        scan.cut = None;
        scan.damage = Some(Damage {
            offset: src.len(),
            reason: CorruptReason::Truncated,
        });
    }
    Ok(scan)
}

enum Stop {
    Seal(u64),
    /// Zeros (`None`) or a frame failing validation.
    At(Option<CorruptReason>),
    /// Positions would pass `u64::MAX` (a crafted base).
    Overflow,
}

struct Forward {
    data: AlignedVec,
    records: u64,
    stop: Stop,
}

/// Makes `data` (the file's bytes from `SEGMENT_HEADER_LEN` on) hold at least `want` bytes, or
/// all the file has. Reads whole chunks, so the bytes past `want` serve the next frames.
fn fill(src: &(impl Source + ?Sized), data: &mut AlignedVec, want: u64) -> io::Result<()> {
    let have = data.len() as u64;
    if have >= want {
        return Ok(());
    }
    let from = SEGMENT_HEADER_LEN + have;
    let left = src.len().saturating_sub(from);
    let n = (want - have).max(CHUNK as u64).min(left);
    let n = usize::try_from(n).map_err(io::Error::other)?;
    let at = data.len();
    data.resize(at + n, 0);
    src.read_exact_at(&mut data.as_mut_slice()[at..], from)
}

/// Decodes frames from the segment's first one until the first that is not a record.
fn forward(src: &(impl Source + ?Sized), base: u64, limits: Limits) -> io::Result<Forward> {
    let mut data = AlignedVec::new();
    let mut at = 0usize;
    let mut records = 0u64;
    let stop = loop {
        let Some(pos) = base.checked_add(at as u64) else {
            break Stop::Overflow;
        };
        fill(src, &mut data, (at + FRAME_HEADER_LEN) as u64)?;
        let head = data.as_slice().get(at..).unwrap_or(&[]);
        if let Some(h) = frame::read_frame_header(head) {
            if h.frame_len() as u64 > limits.frame_bytes_max.max(FRAME_HEADER_LEN as u64) {
                break Stop::At(Some(CorruptReason::BadLength));
            }
            fill(src, &mut data, (at + h.frame_len()) as u64)?;
        }
        match frame::decode_frame(data.as_slice(), at, Some(pos)) {
            Ok(Decoded::Record(h)) => {
                records += 1;
                at += h.frame_len();
            }
            Ok(Decoded::Seal(end)) => break Stop::Seal(end),
            Ok(Decoded::End) => break Stop::At(None),
            Err(r) => break Stop::At(Some(r)),
        }
    };
    data.resize(at, 0);
    if data.capacity() > at + CHUNK {
        data.shrink_to_fit();
    }
    Ok(Forward {
        data,
        records,
        stop,
    })
}

/// File offset one past the last non-zero byte at or after `from` (`from` if none).
pub(crate) fn extent(src: &(impl Source + ?Sized), from: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut at = from;
    let mut last = from;
    while at < src.len() {
        let n = (src.len() - at).min(CHUNK as u64) as usize;
        src.read_exact_at(&mut buf[..n], at)?;
        if let Some(i) = buf[..n].iter().rposition(|&x| x != 0) {
            last = at + i as u64 + 1;
        }
        at += n as u64;
    }
    Ok(last)
}

/// A bounded window over the file for probing offsets in increasing order.
struct Window<'a, S: Source + ?Sized> {
    src: &'a S,
    start: u64,
    buf: Vec<u8>,
}

impl<'a, S: Source + ?Sized> Window<'a, S> {
    /// Up to `n` bytes at `off` (fewer at the end of the file).
    fn get(&mut self, off: u64, n: usize) -> io::Result<&[u8]> {
        let end = self.start + self.buf.len() as u64;
        let want = off.saturating_add(n as u64).min(self.src.len());
        if off < self.start || want > end {
            let len = (n.max(CHUNK) as u64).min(self.src.len().saturating_sub(off)) as usize;
            self.buf.resize(len, 0);
            self.src.read_exact_at(&mut self.buf, off)?;
            self.start = off;
        }
        let from = (off - self.start) as usize;
        let to = (want - self.start) as usize;
        Ok(self.buf.get(from..to).unwrap_or(&[]))
    }
}

/// Decides what the non-zero bytes from file offset `stop` on are: the torn last write
/// (`Ok(cut)`), or damage in front of acknowledged data (`Err`).
fn behind(
    src: &(impl Source + ?Sized),
    base: u64,
    stop: u64,
    reason: Option<CorruptReason>,
    limits: Limits,
) -> io::Result<Result<Option<Cut>, Damage>> {
    let to = extent(src, stop)?;
    if to == stop {
        return Ok(Ok(None));
    }
    let stop_pos = base.saturating_add(stop - SEGMENT_HEADER_LEN);
    let damage = |reason| {
        Ok(Err(Damage {
            offset: stop,
            reason,
        }))
    };
    let mut window = Window {
        src,
        start: 0,
        buf: Vec::new(),
    };
    let mut frames = 1u64;
    let mut off = stop + FRAME_ALIGN as u64;
    while off + FRAME_HEADER_LEN_V1 as u64 <= to {
        let Some(pos) = base.checked_add(off - SEGMENT_HEADER_LEN) else {
            break;
        };
        let head = window.get(off, FRAME_HEADER_LEN)?;
        let named = frame::read_frame_header(head).filter(|h| h.position == pos);
        let Some(h) = named.filter(|h| h.frame_len() as u64 <= limits.frame_bytes_max) else {
            off += FRAME_ALIGN as u64;
            continue;
        };
        let bytes = window.get(off, h.frame_len())?;
        match frame::decode_frame(bytes, 0, Some(pos)) {
            Ok(Decoded::Seal(_)) => return damage(CorruptReason::SealBehindDamage),
            Ok(Decoded::Record(h)) => {
                match h.commit {
                    Some(c) if c > stop_pos => {
                        return damage(CorruptReason::AcknowledgedBehindDamage);
                    }
                    None if off - stop > limits.reach => {
                        return damage(CorruptReason::DamageBeforeValidFrames);
                    }
                    _ => {}
                }
                frames += 1;
                off += h.frame_len() as u64;
            }
            _ => off += FRAME_ALIGN as u64,
        }
    }
    Ok(Ok(Some(Cut {
        from: stop,
        to,
        frames,
        reason,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::SegmentKind;

    /// Frame length of the test records: 48-byte header, 16-byte entry header, 48 payload.
    const F: usize = 112;
    const H: usize = SEGMENT_HEADER_LEN as usize;

    fn header() -> SegmentHeader {
        SegmentHeader::new(SegmentKind::Plain, 0, 0, None, 0)
    }

    /// A segment of `records` records, `per_commit` to a group commit.
    fn segment(records: usize, per_commit: usize) -> Vec<u8> {
        let mut b = vec![0u8; H];
        let mut commit = 0;
        for i in 0..records {
            let pos = (b.len() - H) as u64;
            if i % per_commit == 0 {
                commit = pos;
            }
            frame::encode_record(&mut b, pos, 0, commit, &[(1, &[i as u8; 40])]);
        }
        b.resize(b.len() + 8192, 0);
        b
    }

    fn limits() -> Limits {
        Limits::new(1 << 20)
    }

    #[test]
    fn clean_tail_scans_to_the_end() {
        let b = segment(5, 1);
        let s = scan_tail(&b[..], &header(), limits()).unwrap();
        assert_eq!((s.records, s.valid), (5, 5 * F as u64));
        assert_eq!((s.cut, s.damage), (None, None));
        assert_eq!(s.data.as_slice(), &b[H..H + 5 * F]);
    }

    #[test]
    fn torn_last_commit_is_cut() {
        // Commits of 4 records; damage in the middle of the last commit.
        let mut b = segment(12, 4);
        let at = H + 9 * F;
        b[at + 60] ^= 0xff;
        let s = scan_tail(&b[..], &header(), limits()).unwrap();
        assert_eq!(s.damage, None);
        assert_eq!(s.records, 9);
        let cut = s.cut.unwrap();
        assert_eq!((cut.from, cut.frames), (at as u64, 3));
        assert_eq!(cut.reason, Some(CorruptReason::Checksum));
        // The extent ends at the last non-zero byte: the payload, not its padding.
        assert_eq!(cut.to, (H + 11 * F + 48 + 16 + 40) as u64);
    }

    #[test]
    fn damage_with_a_later_commit_behind_is_corruption() {
        // Damage in the second-to-last commit: the last commit's frames prove it acknowledged,
        // however close they are.
        let mut b = segment(12, 4);
        let at = H + 6 * F;
        b[at + 60] ^= 0xff;
        let s = scan_tail(&b[..], &header(), limits()).unwrap();
        assert_eq!(s.cut, None);
        let d = s.damage.unwrap();
        assert_eq!(
            (d.offset, d.reason),
            (at as u64, CorruptReason::AcknowledgedBehindDamage)
        );
        assert_eq!(s.records, 6);
    }

    #[test]
    fn zeroed_block_with_a_later_commit_behind_is_corruption() {
        let mut b = segment(12, 4);
        let at = H + 4 * F;
        b[at..at + F].fill(0);
        let s = scan_tail(&b[..], &header(), limits()).unwrap();
        let d = s.damage.unwrap();
        assert_eq!(
            (d.offset, d.reason),
            (at as u64, CorruptReason::AcknowledgedBehindDamage)
        );
    }

    #[test]
    fn seal_behind_damage_is_corruption() {
        let mut b = vec![0u8; H];
        for i in 0..4u64 {
            let pos = (b.len() - H) as u64;
            frame::encode_record(&mut b, pos, 0, 0, &[(1, &[i as u8; 40])]);
        }
        let end = (b.len() - H) as u64;
        frame::encode_seal(&mut b, end, 0);
        b[H + 20] ^= 1;
        let s = scan_tail(&b[..], &header(), limits()).unwrap();
        let d = s.damage.unwrap();
        assert_eq!(
            (d.offset, d.reason),
            (H as u64, CorruptReason::SealBehindDamage)
        );
    }

    #[test]
    fn garbage_after_zeros_is_cut() {
        let mut b = segment(2, 1);
        let end = H + 2 * F;
        b[end + 100] = 7;
        let s = scan_tail(&b[..], &header(), limits()).unwrap();
        assert_eq!(s.records, 2);
        let cut = s.cut.unwrap();
        assert_eq!(
            (cut.from, cut.to, cut.reason),
            (end as u64, end as u64 + 101, None)
        );
    }

    #[test]
    fn short_file_is_truncation() {
        let b = segment(3, 1);
        let mut h = header();
        h.file_bytes = b.len() as u64 + 4096;
        let s = scan_tail(&b[..], &h, limits()).unwrap();
        assert_eq!(s.damage.unwrap().reason, CorruptReason::Truncated);
        assert_eq!(s.records, 3);
    }

    #[test]
    fn base_near_the_end_of_position_space_does_not_overflow() {
        let b = segment(3, 1);
        let mut h = header();
        h.base = u64::MAX - 8;
        let s = scan_tail(&b[..], &h, limits()).unwrap();
        assert!(s.damage.is_some() || s.cut.is_some());
    }
}
