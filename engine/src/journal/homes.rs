//! Stable homes for streams: how a stream keeps exactly one writer, and its whole history,
//! when its home shard changes (a new shard count, a new hash, a renamed actor type).
//!
//! History stays in the log where it was written; reads of a stream ask every shard and
//! stitch the parts by version. Only the writer moves, by **adoption**, run the first time a
//! writer on the new home meets a stream that is new to its shard (when homes may have
//! moved, see `layout.rs`) or sealed there:
//!
//! 1. The stream's *arbiter* (the shard its name hashes to) takes its adoption lock, so two
//!    shards can never adopt one stream at once.
//! 2. Every other shard **seals** its part: it stops taking appends for the stream, lets the
//!    appends in flight become durable, writes a SEALED record (the version it ends at and
//!    the new writer) and answers with that version, the tombstone if any and its latest
//!    snapshot.
//! 3. The new writer writes one ADOPTED record (the highest version sealed: versions up to
//!    it are elsewhere), with a copy of the newest snapshot (live state moves home) and the
//!    tombstone when the stream was deleted, in that one record. Its index applies the record
//!    through the same code as at open; appends then continue at `base + 1`, and expected
//!    versions are checked against the whole stream.
//!
//! Invariants: at any time at most one shard takes appends for a stream (every other holder
//! is sealed before the adopter writes ADOPTED, and a sealed part refuses appends with
//! `Error::Moved`); a seal and an adoption are durable log records, so a restart keeps them;
//! an adoption never lowers a version. A move back (shrink after a grow) is the same
//! adoption the other way round. These are journal record kinds today; the durable core's
//! directory component is meant to absorb them.

use std::time::{Duration, Instant};

use super::codec::{self, KIND_ADOPTED, KIND_SEALED, KIND_SNAPSHOT, KIND_TOMBSTONE};
use super::error::{Error, check_name};
use super::index::Stream;
use super::store::{Journal, StoredSnapshot};
use crate::durable::Commit;
use crate::engine::EngineHandle;

/// How long a seal waits for appends in flight before giving up.
const SEAL_WAIT_MAX: Duration = Duration::from_secs(10);

/// What a sealed part tells the adopter.
pub(crate) struct Sealed {
    version: u64,
    deleted: Option<u64>,
    snapshot: Option<StoredSnapshot>,
}

/// Whether this shard's index holds anything of `s` (an entry may exist for a refused
/// append and hold nothing).
fn holds(s: &Stream) -> bool {
    s.next > 0 || s.deleted.is_some() || s.snapshot.is_some() || s.sealed.is_some() || s.base > 0
}

impl Journal {
    /// Whether this shard holds any part of `stream`.
    pub(crate) fn holds(&self, stream: &str) -> bool {
        self.index().streams.get(stream).is_some_and(holds)
    }

    /// Whether a writer here must adopt `stream` before appending: it is sealed here, or it
    /// is new here and `elsewhere` says it may have history on another shard.
    pub(crate) fn must_adopt(&self, stream: &str, elsewhere: bool) -> bool {
        match self.index().streams.get(stream) {
            Some(s) if holds(s) => s.sealed.is_some(),
            _ => elsewhere,
        }
    }

    /// Versions of `stream` up to this are on other shards (0: all history is here).
    pub(crate) fn base(&self, stream: &str) -> u64 {
        let index = self.index();
        index.streams.get(stream).map_or(0, |s| s.base)
    }

    /// Seals this shard's part of `stream` for the new writer `to`; `None` if it holds none.
    async fn seal(&self, stream: &str, to: usize) -> Result<Option<Sealed>, Error> {
        check_name(stream)?;
        self.inner.core.settle();
        {
            let mut index = self.inner.index.borrow_mut();
            let Some(s) = index.streams.get_mut(stream).filter(|s| holds(s)) else {
                return Ok(None);
            };
            if let Some((version, _)) = s.sealed {
                drop(index);
                return self.sealed_part(stream, version).map(Some);
            }
            // The arbiter's lock admits one adoption per stream at a time.
            assert!(!s.sealing, "two seals of one stream at once");
            s.sealing = true;
        }
        let version = match self.wait_for_appends(stream).await {
            Ok(version) => version,
            Err(error) => {
                self.inner.index.borrow_mut().stream_mut(stream).sealing = false;
                return Err(error);
            }
        };
        let mut payload = Vec::new();
        codec::encode_named(&mut payload, version, to as u32, stream, &[]);
        let mut commit = Commit::new();
        commit.push(KIND_SEALED, &payload);
        let (index, name) = (self.inner.index.clone(), std::rc::Rc::<str>::from(stream));
        commit.on_refused(move || index.borrow_mut().stream_mut(&name).sealing = false);
        // Once durable, `Index::apply` seals the stream (and clears `sealing`).
        self.inner.core.commit(commit).await?;
        self.sealed_part(stream, version).map(Some)
    }

    /// Waits until every version reserved for `stream` is durable (appends in flight either
    /// landed or gave their versions back); returns the durable version.
    async fn wait_for_appends(&self, stream: &str) -> Result<u64, Error> {
        let started = Instant::now();
        loop {
            let (durable, next) = {
                let index = self.index();
                let s = index.streams.get(stream);
                s.map_or((0, 0), |s| (s.durable, s.next))
            };
            if durable >= next {
                return Ok(durable);
            }
            if started.elapsed() > SEAL_WAIT_MAX {
                return Err(Error::Moved {
                    stream: stream.to_owned(),
                    shard: usize::MAX,
                });
            }
            glommio::timer::sleep(Duration::from_micros(200)).await;
        }
    }

    fn sealed_part(&self, stream: &str, version: u64) -> Result<Sealed, Error> {
        let deleted = {
            let index = self.index();
            index.streams.get(stream).and_then(|s| s.deleted)
        };
        Ok(Sealed {
            version,
            deleted,
            snapshot: self.snapshot(stream)?,
        })
    }

    /// Makes this shard `stream`'s writer after every other part was sealed (`parts`): one
    /// ADOPTED record, with the newest snapshot and the tombstone when there are.
    async fn adopt_here(&self, stream: &str, parts: Vec<Sealed>) -> Result<(), Error> {
        let (sealed_here, local_snapshot) = {
            let index = self.index();
            match index.streams.get(stream).filter(|s| holds(s)) {
                // An earlier adoption already made this shard the writer.
                Some(s) if s.sealed.is_none() && !parts.iter().any(|p| p.version > s.durable) => {
                    return Ok(());
                }
                Some(s) => (s.sealed.is_some(), s.snapshot.map(|snap| snap.number)),
                None => (false, None),
            }
        };
        let base = parts.iter().map(|p| p.version).max().unwrap_or(0);
        let deleted = parts.iter().filter_map(|p| p.deleted).max();
        let snapshot = parts
            .into_iter()
            .filter_map(|p| p.snapshot)
            .max_by_key(|snap| snap.version)
            .filter(|snap| local_snapshot.is_none_or(|v| v < snap.version));
        if base == 0 && deleted.is_none() && snapshot.is_none() && !sealed_here {
            return Ok(()); // A new stream: nothing to adopt.
        }
        let mut commit = Commit::new();
        let mut buf = Vec::new();
        codec::encode_named(&mut buf, base, 0, stream, &[]);
        commit.push(KIND_ADOPTED, &buf);
        if let Some(snap) = &snapshot {
            codec::encode_named(&mut buf, snap.version, snap.schema, stream, &snap.data);
            commit.push(KIND_SNAPSHOT, &buf);
        }
        if let Some(version) = deleted {
            codec::encode_named(&mut buf, version, 0, stream, &[]);
            commit.push(KIND_TOMBSTONE, &buf);
        }
        // Applied by the core once durable: the same `Index::apply` as at open.
        self.inner.core.commit(commit).await?;
        tracing::debug!(stream, base, shard = self.shard(), "stream adopted");
        Ok(())
    }
}

/// Makes shard `writer` the one writer of `stream` (see the module docs); a no-op for a
/// stream no other shard holds. Runs the protocol on the stream's arbiter shard.
pub(crate) async fn adopt(engine: &EngineHandle, writer: usize, stream: &str) -> Result<(), Error> {
    let arbiter = crate::routing::stream_home(&engine.shared, stream);
    let handle = engine.clone();
    let name = stream.to_owned();
    let run = engine.run_on(arbiter, move |shard| async move {
        let journal = shard.journal().cloned().ok_or(Error::NoJournal)?;
        let _turn = journal.inner.adoptions.lock().await;
        let mut parts = Vec::new();
        for other in (0..handle.shards()).filter(|s| *s != writer) {
            let name = name.clone();
            let sealed = handle.run_on(other, move |shard| async move {
                let journal = shard.journal().cloned().ok_or(Error::NoJournal)?;
                journal.seal(&name, writer).await
            });
            parts.extend(sealed.await??);
        }
        let adopted = handle.run_on(writer, move |shard| async move {
            let journal = shard.journal().cloned().ok_or(Error::NoJournal)?;
            journal.adopt_here(&name, parts).await
        });
        adopted.await?
    });
    run.await?
}
