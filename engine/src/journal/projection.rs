//! Managed projections: a [`Projection`] folds the filtered global stream of every shard into
//! one read-model state per shard, and stores that state with each checkpoint, so a restart
//! resumes with exactly the state of the last committed event and applies every later event
//! once.
//!
//! Invariants: on each shard at most one runner per projection name; the state a runner
//! publishes (readable with [`Journal::projection_state`]) only ever holds events that came
//! through the subscription in order; a commit writes the state and the position after its
//! last applied event in one record (see `subscription.rs`).

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use rkyv::rancor;

use super::actor::Persistable;
use super::error::Error;
use super::event::Event;
use super::handle::JournalHandle;
use super::read::Filter;
use super::store::Journal;

/// A read model folded from the global stream, one state per shard.
///
/// ```no_run
/// use quark::journal::{Error, Event, Filter, Projection};
/// use std::collections::BTreeMap;
///
/// /// Events per stream.
/// struct Counts;
/// impl Projection for Counts {
///     type State = BTreeMap<String, u64>;
///     const NAME: &'static str = "counts";
///     fn filter() -> Filter { Filter::all().stream_prefix("account-") }
///     fn apply(state: &mut Self::State, event: &Event) -> Result<(), Error> {
///         *state.entry(event.stream().to_owned()).or_default() += 1;
///         Ok(())
///     }
/// }
/// # async fn demo(engine: &quark::Engine) -> Result<(), Error> {
/// engine.journal().start_projection::<Counts>().await?;
/// let per_shard: Vec<Option<BTreeMap<String, u64>>> =
///     engine.journal().projection_state::<Counts>().await?;
/// # Ok(()) }
/// ```
pub trait Projection: 'static {
    /// The read model of one shard; stored (rkyv) with every checkpoint.
    type State: Default + Persistable + Clone + Send;
    /// The projection's name: the name of its checkpoints in every shard's log.
    const NAME: &'static str;

    /// Which events it folds.
    fn filter() -> Filter;

    /// Folds one event into the state. Must be deterministic; an error stops the projection
    /// on that shard (after a restart it resumes from the last commit).
    fn apply(state: &mut Self::State, event: &Event) -> Result<(), Error>;

    /// Commit at least every this many applied events.
    fn commit_every() -> u64 {
        1024
    }

    /// Commit once caught up and this long after the first uncommitted event.
    fn commit_interval() -> std::time::Duration {
        std::time::Duration::from_millis(100)
    }
}

/// The runners of one shard, by projection name.
#[derive(Default)]
pub(crate) struct Runners {
    states: RefCell<Vec<(&'static str, Rc<dyn Any>)>>,
}

impl Journal {
    /// Starts projection `P` on this shard if it is not running yet: resumes its state and
    /// position from its checkpoint, catches up, then follows live appends until the log
    /// closes.
    pub fn start_projection<P: Projection>(&self) -> Result<(), Error> {
        if self
            .inner
            .runners
            .states
            .borrow()
            .iter()
            .any(|(n, _)| *n == P::NAME)
        {
            return Ok(());
        }
        let mut sub = self.subscribe(P::NAME, P::filter())?;
        let resumed = if sub.resumed_state().is_empty() {
            P::State::default()
        } else {
            rkyv::from_bytes::<P::State, rancor::Error>(sub.resumed_state()).map_err(|e| {
                Error::Decode {
                    stream: format!("projection {}", P::NAME),
                    version: 0,
                    reason: e.to_string(),
                }
            })?
        };
        let state = Rc::new(RefCell::new(resumed));
        let published: Rc<dyn Any> = state.clone();
        self.inner
            .runners
            .states
            .borrow_mut()
            .push((P::NAME, published));
        let shard = self.shard();
        glommio::spawn_local(async move {
            if let Err(error) = run::<P>(&mut sub, &state).await {
                tracing::warn!(%error, shard, projection = P::NAME, "projection stopped");
            }
        })
        .detach();
        Ok(())
    }

    /// A copy of projection `P`'s state on this shard (`None` if it was not started here).
    pub fn projection_state<P: Projection>(&self) -> Option<P::State> {
        let states = self.inner.runners.states.borrow();
        let (_, any) = states.iter().find(|(n, _)| *n == P::NAME)?;
        let state = any.downcast_ref::<RefCell<P::State>>()?;
        Some(state.borrow().clone())
    }
}

/// Applies events and commits state with position, until the log closes.
///
/// Commits after `commit_every` events, or once caught up and `commit_interval` after the
/// first uncommitted event, so a trickle of live events does not rewrite a large state for
/// every event. Uncommitted events are applied again after a restart, on top of the committed
/// state: exactly once either way. Returns `Ok` only when the log closed; a failed log, a state
/// too large for one record or an `apply` error is an `Err` (the projection stops).
pub(super) async fn run<P: Projection>(
    sub: &mut super::subscription::Subscription,
    state: &RefCell<P::State>,
) -> Result<(), Error> {
    let mut pending = 0u64;
    let mut due: Option<std::time::Instant> = None;
    loop {
        let next = match due {
            None => Some(sub.next().await),
            Some(at) => {
                // `Subscription::next` is cancel-safe: a timer that wins loses no event.
                let wait = at.saturating_duration_since(std::time::Instant::now());
                let event = async { Some(sub.next().await) };
                let timer = async {
                    glommio::timer::sleep(wait).await;
                    None
                };
                futures_lite::future::or(event, timer).await
            }
        };
        match next {
            Some(None) => return Ok(()),
            Some(Some(event)) => {
                P::apply(&mut state.borrow_mut(), &event?)?;
                pending += 1;
                due.get_or_insert_with(|| std::time::Instant::now() + P::commit_interval());
            }
            None => {}
        }
        let timely = due.is_some_and(|at| std::time::Instant::now() >= at) && sub.caught_up()?;
        if pending >= P::commit_every() || (pending > 0 && timely) {
            let bytes = rkyv::to_bytes::<rancor::Error>(&*state.borrow())
                .map_err(|e| Error::Serialize(e.to_string()))?;
            sub.commit_with(&bytes).await?;
            (pending, due) = (0, None);
        }
    }
}

impl JournalHandle {
    /// Starts projection `P` on every shard (a no-op where it already runs).
    pub async fn start_projection<P: Projection>(&self) -> Result<(), Error> {
        self.on_all(|j| async move { j.start_projection::<P>() })
            .await?;
        Ok(())
    }

    /// A copy of projection `P`'s state on every shard (index: shard; `None` where it was not
    /// started).
    pub async fn projection_state<P: Projection>(&self) -> Result<Vec<Option<P::State>>, Error> {
        self.on_all(|j| async move { Ok(j.projection_state::<P>()) })
            .await
    }
}
