//! The journal's read side on one shard: a stream forwards or backwards from a version, a
//! stream as of a point in time, the shard's global stream (filtered, or the raw replay
//! loop), and stream metadata.
//!
//! Invariants: reads see only durable events (the index holds durable records only, and a
//! stream is read up to its gap-free durable version); a stream read touches only the
//! records of that stream (index lookup, binary search, one log read per record); a deleted
//! stream reads as [`Error::StreamDeleted`].

use std::rc::Rc;

use super::error::Error;
use super::event::{Event, EventView, Position, for_each_in_record};
use super::index::Stream;
use super::store::Journal;

/// Which way a stream read goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the given version up.
    Forward,
    /// From the given version down (`u64::MAX` starts at the last event).
    Backward,
}

/// Which events a global read or a projection wants: any of the stream prefixes (all
/// streams if none) and any of the event types (all types if none).
///
/// ```
/// use quark::journal::Filter;
/// let f = Filter::all().stream_prefix("account-").event_type("Deposited");
/// assert!(f.matches("account-alice", "Deposited"));
/// assert!(!f.matches("account-alice", "Withdrawn"));
/// assert!(!f.matches("order-1", "Deposited"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    prefixes: Vec<String>,
    types: Vec<String>,
}

impl Filter {
    /// Every event.
    pub fn all() -> Filter {
        Filter::default()
    }

    /// Also accept streams starting with `prefix` (restricting to prefixes given so far).
    pub fn stream_prefix(mut self, prefix: impl Into<String>) -> Filter {
        self.prefixes.push(prefix.into());
        self
    }

    /// Also accept events of type `event_type` (restricting to types given so far).
    pub fn event_type(mut self, event_type: impl Into<String>) -> Filter {
        self.types.push(event_type.into());
        self
    }

    /// Whether an event of `event_type` in `stream` passes.
    pub fn matches(&self, stream: &str, event_type: &str) -> bool {
        let stream_ok =
            self.prefixes.is_empty() || self.prefixes.iter().any(|p| stream.starts_with(p));
        stream_ok && (self.types.is_empty() || self.types.iter().any(|t| t == event_type))
    }
}

/// What the journal knows about one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream's name.
    pub stream: String,
    /// Its version: the number of durable events (versions run from 1 to it).
    pub version: u64,
    /// Whether it was deleted (tombstoned); `version` is then its final version.
    pub deleted: bool,
    /// The version of its latest snapshot, if any.
    pub snapshot_version: Option<u64>,
    /// Log position of the record holding its first event.
    pub first_position: Option<u64>,
    /// Log position of the record holding its last durable event.
    pub last_position: Option<u64>,
}

/// The result of a global read: the events and where the next read starts.
#[derive(Debug, Clone)]
pub struct GlobalRead {
    /// The events read, in log order.
    pub events: Vec<Event>,
    /// The position to pass to the next read.
    pub next: Position,
}

fn info(name: &str, s: &Stream) -> StreamInfo {
    let last = s.chunk_index(s.durable).and_then(|i| s.chunks.get(i));
    StreamInfo {
        stream: name.to_owned(),
        version: s.deleted.unwrap_or(s.durable).min(s.durable),
        deleted: s.deleted.is_some(),
        snapshot_version: s.snapshot.map(|snap| snap.number),
        first_position: s
            .chunks
            .first()
            .filter(|_| s.durable > 0)
            .map(|c| c.position),
        last_position: last.map(|c| c.position),
    }
}

impl Journal {
    /// Up to `limit` events of `stream` from version `from` (inclusive; versions start at 1),
    /// forwards or backwards. An unknown stream reads as empty.
    pub fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<Event>, Error> {
        let (name, chunks, durable) = {
            let index = self.index();
            let Some((name, s)) = index.streams.get_key_value(stream) else {
                return Ok(Vec::new());
            };
            if let Some(version) = s.deleted {
                return Err(Error::StreamDeleted {
                    stream: stream.to_owned(),
                    version,
                });
            }
            let (lo, hi) = match direction {
                Direction::Forward => (from.max(1), s.durable),
                Direction::Backward => (1, from.min(s.durable)),
            };
            if lo > hi || limit == 0 {
                return Ok(Vec::new());
            }
            // The chunks overlapping lo..=hi. A stream adopted here has no chunk for its
            // versions up to `base` (they are on other shards): those are skipped, not an
            // end of the read.
            let a = s
                .chunks
                .partition_point(|c| c.first + u64::from(c.count) <= lo);
            let b = s.chunks.partition_point(|c| c.first <= hi);
            if a >= b {
                return Ok(Vec::new());
            }
            (name.clone(), s.chunks[a..b].to_vec(), (lo, hi))
        };
        let mut out = Vec::with_capacity(limit.min(1024));
        let (lo, hi) = durable;
        let take = |position: u64, out: &mut Vec<Event>, rev: bool| -> Result<(), Error> {
            let record = self.inner.log.read(position)?;
            let at = out.len();
            super::event::push_stream_events(&record, &name, lo..=hi, out);
            if rev {
                out[at..].reverse();
            }
            Ok(())
        };
        match direction {
            Direction::Forward => {
                for c in &chunks {
                    take(c.position, &mut out, false)?;
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Direction::Backward => {
                for c in chunks.iter().rev() {
                    take(c.position, &mut out, true)?;
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    /// The version `stream` had at `time_us` (microseconds since the Unix epoch, by the
    /// writer's clock): its last event appended at or before that time, 0 if none.
    pub fn version_at(&self, stream: &str, time_us: u64) -> Result<u64, Error> {
        let chunks = {
            let index = self.index();
            let Some(s) = index.streams.get(stream) else {
                return Ok(0);
            };
            let n = s.chunk_index(s.durable).map_or(0, |i| i + 1);
            s.chunks[..n].to_vec()
        };
        // Binary search on record times: appends are timed in log order.
        let (mut lo, mut hi) = (0usize, chunks.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let time = self.inner.log.read(chunks[mid].position)?.time_us();
            if time <= time_us {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo
            .checked_sub(1)
            .map_or(0, |i| chunks[i].first + u64::from(chunks[i].count) - 1))
    }

    /// Every event of `stream` appended at or before `time_us`: the stream as it was then.
    pub fn read_stream_as_of(&self, stream: &str, time_us: u64) -> Result<Vec<Event>, Error> {
        let version = self.version_at(stream, time_us)?;
        let limit = usize::try_from(version).unwrap_or(usize::MAX);
        self.read_stream(stream, 1, Direction::Forward, limit)
    }

    /// Up to `limit` events of this shard's global stream from `from`, passing `filter`.
    pub fn read_global(
        &self,
        from: Position,
        limit: usize,
        filter: &Filter,
    ) -> Result<GlobalRead, Error> {
        let mut events = Vec::new();
        let mut next = from;
        if limit == 0 {
            return Ok(GlobalRead { events, next });
        }
        let snapshot = self.inner.log.snapshot();
        for record in snapshot.iter_from(from.log) {
            let record = record?;
            let skip = if record.position() == from.log {
                from.event
            } else {
                0
            };
            let mut full = false;
            let mut last = None;
            let mut stream: Option<Rc<str>> = None;
            for_each_in_record(&record, |v| {
                if v.position.event < skip {
                    return true;
                }
                last = Some(v.position.event);
                if filter.matches(v.stream, v.event_type) {
                    events.push(super::event::event_of(&record, &v, &mut stream));
                }
                full = events.len() >= limit;
                !full
            });
            next = Position {
                log: record.end(),
                event: 0,
            };
            if full {
                // The record may hold more events: resume inside it.
                if let Some(i) = last {
                    next = Position {
                        log: record.position(),
                        event: i + 1,
                    };
                }
                break;
            }
        }
        Ok(GlobalRead { events, next })
    }

    /// The replay loop: calls `f` with every durable event of this shard from `from`, in log
    /// order, without allocating, until `f` returns `false`. Returns the number of events
    /// visited and the position after the last one.
    pub fn replay(
        &self,
        from: Position,
        mut f: impl FnMut(EventView<'_>) -> bool,
    ) -> Result<(u64, Position), Error> {
        let snapshot = self.inner.log.snapshot();
        let mut seen = 0u64;
        let mut next = from;
        for record in snapshot.iter_from(from.log) {
            let record = record?;
            let skip = if record.position() == from.log {
                from.event
            } else {
                0
            };
            let mut stopped_at = None;
            let go_on = for_each_in_record(&record, |v| {
                if v.position.event < skip {
                    return true;
                }
                seen += 1;
                stopped_at = Some(v.position.event);
                f(v)
            });
            next = Position {
                log: record.end(),
                event: 0,
            };
            if !go_on {
                if let Some(i) = stopped_at {
                    next = Position {
                        log: record.position(),
                        event: i + 1,
                    };
                }
                break;
            }
        }
        Ok((seen, next))
    }

    /// What the journal knows about `stream` (`None` if it never had an event or tombstone).
    pub fn stream_info(&self, stream: &str) -> Option<StreamInfo> {
        let index = self.index();
        let s = index.streams.get(stream)?;
        (s.durable > 0 || s.deleted.is_some() || s.snapshot.is_some()).then(|| info(stream, s))
    }

    /// Every stream of this shard whose name starts with `prefix` (`""` for all), by name.
    pub fn streams(&self, prefix: &str) -> Vec<StreamInfo> {
        let index = self.index();
        let mut out: Vec<StreamInfo> = index
            .streams
            .iter()
            .filter(|(name, s)| name.starts_with(prefix) && (s.durable > 0 || s.deleted.is_some()))
            .map(|(name, s)| info(name, s))
            .collect();
        out.sort_by(|a, b| a.stream.cmp(&b.stream));
        out
    }
}
