//! [`JournalHandle`]: the journal from outside the engine (any thread, any runtime). Each
//! call runs on the shard(s) concerned through `EngineHandle::run_on` and returns owned,
//! `Send` results.
//!
//! Invariants: a stream's writes happen on one shard (an event-sourced actor's home shard, or
//! the shard [`JournalHandle::stream_shard`] names for streams written from outside); reads
//! of one stream ask every shard and stitch the parts by version, so a stream whose older
//! history stayed on another shard (after a migration) still reads whole; the global read
//! over all shards keeps one position per shard and never reorders a shard's events.

use std::collections::BTreeMap;

use super::actor::{EventSourced, fold};
use super::error::{Error, ExpectedVersion};
use super::event::{OwnedEvent, Position};
use super::read::{Direction, Filter, StreamInfo};
use super::store::{Appended, Journal, NewEvent};
use crate::engine::EngineHandle;

/// An event to append from outside the engine: its type name and bytes, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventData {
    /// The event's type name.
    pub event_type: String,
    /// The event's bytes.
    pub data: Vec<u8>,
}

/// The result of a read of every shard's global stream.
#[derive(Debug, Clone)]
pub struct AllRead {
    /// The events, each shard's in log order, shards interleaved by append time.
    pub events: Vec<OwnedEvent>,
    /// Where each shard's next read starts (index: shard).
    pub next: Vec<Position>,
}

/// The journal of a running engine, usable from any thread. Cheap to clone.
///
/// ```no_run
/// # async fn demo(engine: &quark::Engine) -> Result<(), quark::journal::Error> {
/// use quark::journal::{Direction, EventData, ExpectedVersion, Filter, Position};
/// let journal = engine.journal();
/// let e = EventData { event_type: "Opened".into(), data: b"{}".to_vec() };
/// journal.append("order-1", ExpectedVersion::NoStream, vec![e]).await?;
/// let events = journal.read_stream("order-1", 1, Direction::Forward, 10).await?;
/// let from = vec![Position::START; engine.shards()];
/// let all = journal.read_all(&from, 1000, Filter::all()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct JournalHandle {
    engine: EngineHandle,
}

impl EngineHandle {
    /// The journal, for use from outside the engine.
    pub fn journal(&self) -> JournalHandle {
        JournalHandle {
            engine: self.clone(),
        }
    }
}

impl JournalHandle {
    /// The shard that stores appends made through this handle to `stream` (the `xxh64-v1`
    /// hash of the name, modulo the shard count). Streams of event-sourced actors live on
    /// the actor's home shard instead and must only be written by the actor.
    pub fn stream_shard(&self, stream: &str) -> usize {
        crate::routing::stream_home(&self.engine.shared, stream)
    }

    /// Runs `f` with shard `shard`'s journal there.
    async fn on<T, Fut>(
        &self,
        shard: usize,
        f: impl FnOnce(Journal) -> Fut + Send + 'static,
    ) -> Result<T, Error>
    where
        T: Send + 'static,
        Fut: Future<Output = Result<T, Error>> + 'static,
    {
        let run = self.engine.run_on(shard, move |s| async move {
            match s.journal().cloned() {
                Some(journal) => f(journal).await,
                None => Err(Error::NoJournal),
            }
        });
        run.await?
    }

    /// Runs `f` on every shard; results by shard.
    pub(super) async fn on_all<T, Fut>(
        &self,
        f: impl Fn(Journal) -> Fut + Clone + Send + 'static,
    ) -> Result<Vec<T>, Error>
    where
        T: Send + 'static,
        Fut: Future<Output = Result<T, Error>> + 'static,
    {
        let mut out = Vec::with_capacity(self.engine.shards());
        for shard in 0..self.engine.shards() {
            out.push(self.on(shard, f.clone()).await?);
        }
        Ok(out)
    }

    /// Appends `events` to `stream` (on [`stream_shard`](Self::stream_shard)) as one
    /// atomic record if its version admits `expected`; resolves once durable.
    pub async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<Appended, Error> {
        let stream = stream.to_owned();
        let engine = self.engine.clone();
        self.on(self.stream_shard(&stream), move |j| async move {
            // After the shard count or the hash changed, a stream new to its home may have
            // history on its old one: adopt it first, so it keeps one writer and its version.
            let elsewhere = engine.shared.homes_moved && engine.shards() > 1;
            if j.must_adopt(&stream, elsewhere) {
                super::homes::adopt(&engine, j.shard(), &stream).await?;
            }
            let new: Vec<NewEvent<'_>> = events
                .iter()
                .map(|e| NewEvent {
                    event_type: &e.event_type,
                    data: &e.data,
                })
                .collect();
            j.append(&stream, expected, &new).await
        })
        .await
    }

    /// Up to `limit` events of `stream` from version `from`, forwards or backwards, stitched
    /// from every shard holding part of it.
    pub async fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<OwnedEvent>, Error> {
        let name = stream.to_owned();
        let parts: Vec<Vec<OwnedEvent>> = self
            .on_all(move |j| {
                let name = name.clone();
                async move {
                    let events = j.read_stream(&name, from, direction, limit)?;
                    Ok(events.iter().map(|e| e.to_owned_event(j.shard())).collect())
                }
            })
            .await?;
        let mut all: Vec<OwnedEvent> = parts.into_iter().flatten().collect();
        match direction {
            Direction::Forward => all.sort_by_key(|e| e.version),
            Direction::Backward => all.sort_by_key(|e| std::cmp::Reverse(e.version)),
        }
        all.truncate(limit);
        Ok(all)
    }

    /// Every event of `stream` appended at or before `time_us` (microseconds since the Unix
    /// epoch): the stream as it was then.
    pub async fn read_stream_as_of(
        &self,
        stream: &str,
        time_us: u64,
    ) -> Result<Vec<OwnedEvent>, Error> {
        let name = stream.to_owned();
        let parts: Vec<Vec<OwnedEvent>> = self
            .on_all(move |j| {
                let name = name.clone();
                async move {
                    let events = j.read_stream_as_of(&name, time_us)?;
                    Ok(events.iter().map(|e| e.to_owned_event(j.shard())).collect())
                }
            })
            .await?;
        let mut all: Vec<OwnedEvent> = parts.into_iter().flatten().collect();
        all.sort_by_key(|e| e.version);
        Ok(all)
    }

    /// Up to `limit` events of shard `shard`'s global stream from `from`, passing `filter`,
    /// and the position to continue from.
    pub async fn read_shard(
        &self,
        shard: usize,
        from: Position,
        limit: usize,
        filter: Filter,
    ) -> Result<(Vec<OwnedEvent>, Position), Error> {
        self.on(shard, move |j| async move {
            let read = j.read_global(from, limit, &filter)?;
            let events = read.events.iter().map(|e| e.to_owned_event(j.shard()));
            Ok((events.collect(), read.next))
        })
        .await
    }

    /// Up to `limit_per_shard` events of every shard's global stream, from one position per
    /// shard (`from[shard]`, [`Position::START`] for shards missing from `from`).
    pub async fn read_all(
        &self,
        from: &[Position],
        limit_per_shard: usize,
        filter: Filter,
    ) -> Result<AllRead, Error> {
        let mut events = Vec::new();
        let mut next = Vec::with_capacity(self.engine.shards());
        for shard in 0..self.engine.shards() {
            let start = from.get(shard).copied().unwrap_or(Position::START);
            let (part, after) = self
                .read_shard(shard, start, limit_per_shard, filter.clone())
                .await?;
            events.extend(part);
            next.push(after);
        }
        // Stable sort: a shard's events keep their log order even with equal times.
        events.sort_by_key(|e| e.time_us);
        Ok(AllRead { events, next })
    }

    /// What the journal knows about `stream`, merged over the shards holding it.
    pub async fn stream_info(&self, stream: &str) -> Result<Option<StreamInfo>, Error> {
        let name = stream.to_owned();
        let parts = self
            .on_all(move |j| {
                let name = name.clone();
                async move { Ok(j.stream_info(&name)) }
            })
            .await?;
        Ok(merge_infos(parts.into_iter().flatten())
            .into_values()
            .next())
    }

    /// The shards holding events of `stream`, with the version each holds.
    pub async fn holders(&self, stream: &str) -> Result<Vec<(usize, u64)>, Error> {
        let name = stream.to_owned();
        let versions = self
            .on_all(move |j| {
                let name = name.clone();
                async move { Ok(j.stream_info(&name).map(|i| i.version)) }
            })
            .await?;
        let held = versions.into_iter().enumerate();
        Ok(held
            .filter_map(|(s, v)| v.filter(|v| *v > 0).map(|v| (s, v)))
            .collect())
    }

    /// Every stream whose name starts with `prefix` (`""` for all), merged over shards.
    pub async fn streams(&self, prefix: &str) -> Result<Vec<StreamInfo>, Error> {
        let prefix = prefix.to_owned();
        let parts = self
            .on_all(move |j| {
                let prefix = prefix.clone();
                async move { Ok(j.streams(&prefix)) }
            })
            .await?;
        Ok(merge_infos(parts.into_iter().flatten())
            .into_values()
            .collect())
    }

    /// Deletes `stream` for good (see [`Journal::delete_stream`] for the rule afterwards),
    /// on the shard holding its latest events.
    pub async fn delete_stream(
        &self,
        stream: &str,
        expected: ExpectedVersion,
    ) -> Result<u64, Error> {
        let name = stream.to_owned();
        let versions = self
            .on_all(move |j| {
                let name = name.clone();
                let writer = !j.must_adopt(&name, false);
                async move { Ok(j.stream_info(&name).map(|i| (writer, i.version))) }
            })
            .await?;
        // The writer: the part that is not sealed (the highest version breaks ties).
        let holder = versions
            .iter()
            .enumerate()
            .filter_map(|(shard, v)| v.map(|(writer, v)| (writer, v, shard)))
            .max()
            .map_or_else(|| self.stream_shard(stream), |(_, _, shard)| shard);
        let name = stream.to_owned();
        self.on(holder, move |j| async move {
            j.delete_stream(&name, expected).await
        })
        .await
    }

    /// The state of event-sourced actor `key` as it was at `version` (the fold of events
    /// 1..=`version`, from a snapshot at or below it when there is one).
    pub async fn state_at<A>(&self, key: A::Key, version: u64) -> Result<A::State, Error>
    where
        A: EventSourced,
        A::State: Send,
    {
        let Some(home) = self.engine.home_shard::<A>(&key) else {
            return Err(crate::Error::Unregistered {
                actor: std::any::type_name::<A>(),
            }
            .into());
        };
        let engine = self.engine.clone();
        self.on(home, move |j| async move {
            let stream = super::actor::stream_of::<A>(&j, &key);
            let folded = fold::<A>(&engine, &j, &stream, Some(version)).await;
            folded.map(|(state, _)| state)
        })
        .await
    }

    /// Projection `name`'s committed checkpoint on each shard (index: shard).
    pub async fn checkpoints(&self, name: &str) -> Result<Vec<Option<Position>>, Error> {
        let name = name.to_owned();
        self.on_all(move |j| {
            let name = name.clone();
            async move { Ok(j.checkpoint(&name)?.map(|c| c.next)) }
        })
        .await
    }
}

/// Merges per-shard infos of the same stream: the shard with the highest version wins,
/// deleted if any part is.
fn merge_infos(infos: impl Iterator<Item = StreamInfo>) -> BTreeMap<String, StreamInfo> {
    let mut out: BTreeMap<String, StreamInfo> = BTreeMap::new();
    for info in infos {
        match out.get_mut(&info.stream) {
            None => {
                out.insert(info.stream.clone(), info);
            }
            Some(known) => {
                let deleted = known.deleted || info.deleted;
                if info.version > known.version {
                    *known = info;
                }
                known.deleted = deleted;
            }
        }
    }
    out
}
