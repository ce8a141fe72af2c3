//! Projections' subscriptions: follow one shard's global stream from a durable checkpoint,
//! filtered, catching up on history and then waiting for live appends (the log's
//! `TailReader`), and commit checkpoints back into the same log.
//!
//! Invariants:
//! - [`Subscription::position`] is always "the next event to deliver": every event before
//!   it was delivered (or filtered out), none at or after it was.
//! - A checkpoint is a durable log record holding that position (and the projection's state,
//!   if given); resuming from it delivers exactly the events after it. Committed events are
//!   never delivered again after a restart; events delivered after the last commit are
//!   delivered again (so a projection that commits its state with its checkpoint applies
//!   every event exactly once).
//! - A projection over all shards runs one subscription per shard under one name; each
//!   shard stores that projection's checkpoint in its own log, so it keeps one position per
//!   shard and shards never wait for each other.

use std::collections::VecDeque;

use quark_log::TailReader;
use rkyv::util::AlignedVec;

use super::error::{Error, check_name};
use super::event::{Event, Position, event_of, for_each_in_record};
use super::read::Filter;
use super::store::Journal;

/// A projection's live view of one shard's global stream.
///
/// ```no_run
/// # async fn demo(journal: quark::journal::Journal) -> Result<(), quark::journal::Error> {
/// use quark::journal::Filter;
/// let mut sub = journal.subscribe("deposits", Filter::all().event_type("Deposited"))?;
/// let mut total = 0u64;
/// while let Some(event) = sub.next().await {
///     total += event?.data().len() as u64;
///     sub.commit().await?; // resume after this event on restart
/// }
/// # Ok(()) }
/// ```
pub struct Subscription {
    journal: Journal,
    name: String,
    filter: Filter,
    tail: TailReader,
    /// Events read ahead, each with the position after it.
    queue: VecDeque<(Event, Position)>,
    position: Position,
    start: Position,
    state: AlignedVec<16>,
}

impl Journal {
    /// Subscribes projection `name` to this shard's global stream, resuming after its last
    /// committed checkpoint here (from the start of the log if it never committed).
    pub fn subscribe(&self, name: &str, filter: Filter) -> Result<Subscription, Error> {
        check_name(name)?;
        let (from, state) = match self.checkpoint(name)? {
            Some(c) => (c.next, c.state),
            None => (Position::START, AlignedVec::new()),
        };
        Ok(self.subscribe_from(name, filter, from, state))
    }

    fn subscribe_from(
        &self,
        name: &str,
        filter: Filter,
        from: Position,
        state: AlignedVec<16>,
    ) -> Subscription {
        Subscription {
            journal: self.clone(),
            name: name.to_owned(),
            filter,
            tail: self.inner.log.tail(from.log),
            queue: VecDeque::new(),
            position: from,
            start: from,
            state,
        }
    }
}

impl Subscription {
    /// The next matching event, waiting for one to be appended if the subscription has caught
    /// up. `None` once the log is closed (engine shutdown) and everything was delivered; an
    /// error if the log failed.
    pub async fn next(&mut self) -> Option<Result<Event, Error>> {
        loop {
            if let Some((event, after)) = self.queue.pop_front() {
                self.position = after;
                return Some(Ok(event));
            }
            let record = match self.tail.next().await {
                Some(Ok(record)) => record,
                Some(Err(error)) => return Some(Err(error.into())),
                // The tail ends when the log closes or fails: only a close is a clean end.
                None => {
                    let failure = self.journal.log().failure()?;
                    let failed = quark_log::AppendError::Failed(failure);
                    return Some(Err(Error::Log(failed.into())));
                }
            };
            let skip = if record.position() == self.start.log {
                self.start.event
            } else {
                0
            };
            let mut stream = None;
            let (queue, filter) = (&mut self.queue, &self.filter);
            for_each_in_record(&record, |v| {
                if v.position.event >= skip && filter.matches(v.stream, v.event_type) {
                    let after = Position {
                        log: record.position(),
                        event: v.position.event + 1,
                    };
                    queue.push_back((event_of(&record, &v, &mut stream), after));
                }
                true
            });
            let end = Position {
                log: record.end(),
                event: 0,
            };
            match self.queue.back_mut() {
                // Past the record's last match only unmatched events remain: skip them too.
                Some((_, after)) => *after = end,
                None => self.position = end,
            }
        }
    }

    /// Whether every durable matching event was delivered: nothing is read ahead and no
    /// record past the reader holds a matching event. Lets a caller stop after catching up
    /// instead of waiting for live appends. Costs a scan from the reader to the first
    /// matching record (or the durable end), so call it when the read-ahead is drained.
    pub fn caught_up(&self) -> Result<bool, Error> {
        if !self.queue.is_empty() {
            return Ok(false);
        }
        let from = Position {
            log: self.tail.position(),
            event: 0,
        };
        let mut found = false;
        self.journal.replay(from, |v| {
            found = self.filter.matches(v.stream, v.event_type);
            !found
        })?;
        Ok(!found)
    }

    /// The next event to deliver: what [`Subscription::commit`] stores.
    pub fn position(&self) -> Position {
        self.position
    }

    /// The projection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The state stored with the checkpoint this subscription resumed from (empty if none).
    pub fn resumed_state(&self) -> &[u8] {
        &self.state
    }

    /// Durably stores the checkpoint: a restart resumes after the last delivered event.
    pub async fn commit(&self) -> Result<(), Error> {
        self.commit_with(&[]).await
    }

    /// Durably stores the checkpoint together with the projection's `state` (one record, so
    /// state and position can never disagree after a crash).
    pub async fn commit_with(&self, state: &[u8]) -> Result<(), Error> {
        self.journal
            .save_checkpoint(&self.name, self.position, state)
            .await
    }
}
