//! The engine handle: shared immutable state, actor references, running code on shards,
//! counters.
//!
//! Owns [`Shared`] (what every shard and handle sees: registry, placement, ingress queues,
//! counters, life-cycle state), [`EngineHandle`] (cheap to clone, `Send + Sync`), and
//! [`Engine`] (the owner, which shuts down on `shutdown()` or drop).
//!
//! Invariants: `Shared` is immutable after start except for atomics; outside threads reach
//! a shard only through its bounded ingress queue; once the engine leaves `RUNNING`,
//! outside threads get [`Error::ShutDown`] for new work.

use std::future::Future;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures_lite::FutureExt;

use crate::actor::Actor;
use crate::actor_ref::ActorRef;
use crate::builder::Registry;
use crate::envelope::{LocalFuture, ShardTask};
use crate::error::{Error, panic_reason};
use crate::placement::Placement;
use crate::routing::{self, Route};
use crate::shard::{self, Shard, ShardCore, Task};
use crate::stats::{Counters, ShardStats};

/// The sending half of a shard's ingress queue (outside threads to shard).
pub(crate) type IngressTx = mpsc::Sender<Task>;

pub(crate) const RUNNING: u8 = 0;
pub(crate) const DRAINING: u8 = 1;
pub(crate) const STOPPED: u8 = 2;

/// What every shard and handle of one engine shares.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) shards: usize,
    pub(crate) registry: Registry,
    pub(crate) placement: Box<dyn Placement>,
    pub(crate) ingress: Vec<IngressTx>,
    pub(crate) counters: Vec<Arc<Counters>>,
    pub(crate) channel_capacity: usize,
    pub(crate) state: AtomicU8,
    pub(crate) extensions: crate::builder::Extensions,
    /// Streams may have history away from their home (the data directory ran with another
    /// shard count or hash, see `layout.rs`): writers check before starting a stream.
    pub(crate) homes_moved: bool,
    /// Per shard: the actors it asked its peers to hold messages back for.
    pub(crate) pauses: Vec<crate::pause::PauseSet>,
    /// Hashes (table, key) into the ids the pause sets hold; one seed for all shards.
    ids: crate::hash::SeededState,
    spread: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(
        id: u64,
        shards: usize,
        registry: Registry,
        placement: Box<dyn Placement>,
        ingress: Vec<IngressTx>,
        channel_capacity: usize,
        extensions: crate::builder::Extensions,
    ) -> Self {
        Shared {
            id,
            shards,
            registry,
            placement,
            ingress,
            counters: (0..shards).map(|_| Arc::new(Counters::default())).collect(),
            channel_capacity,
            state: AtomicU8::new(RUNNING),
            extensions,
            homes_moved: false,
            pauses: (0..shards).map(|_| Default::default()).collect(),
            ids: crate::hash::SeededState::new(),
            spread: AtomicUsize::new(0),
        }
    }

    /// The id of actor `key` of table `table`, the same on every shard of this engine.
    pub(crate) fn target_id<A: Actor>(&self, table: u32, key: &A::Key) -> u64 {
        use std::hash::BuildHasher;
        self.ids.hash_one((table, key))
    }

    pub(crate) fn extension<T: 'static>(&self) -> Option<&T> {
        let value = self.extensions.get(&std::any::TypeId::of::<T>())?;
        value.downcast_ref::<T>()
    }

    pub(crate) fn accepts_outside_work(&self) -> bool {
        self.state.load(Ordering::Acquire) == RUNNING
    }

    /// The next shard for a stateless call from outside the engine (round-robin).
    pub(crate) fn next_spread(&self) -> usize {
        self.spread.fetch_add(1, Ordering::Relaxed) % self.shards.max(1)
    }
}

/// A cheap, cloneable, thread-safe handle to a running engine.
///
/// ```no_run
/// # use quark::EngineHandle;
/// # fn demo(handle: EngineHandle) {
/// let copy = handle.clone();
/// std::thread::spawn(move || println!("{} shards", copy.shards()));
/// # }
/// ```
#[derive(Clone)]
pub struct EngineHandle {
    pub(crate) shared: Arc<Shared>,
}

impl EngineHandle {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        EngineHandle { shared }
    }

    /// A reference to actor `A` with `key`; never fails (an unregistered type fails calls).
    ///
    /// ```no_run
    /// # use quark::{Actor, ActorError, Context};
    /// # struct Account;
    /// # impl Actor for Account { type Key = String;
    /// #   async fn on_activate(_: &mut Context<Self>) -> Result<Self, ActorError> {
    /// #       Ok(Account) } }
    /// # fn demo(engine: &quark::Engine) {
    /// let alice = engine.actor::<Account>("alice");
    /// # }
    /// ```
    pub fn actor<A: Actor>(&self, key: impl Into<A::Key>) -> ActorRef<A> {
        ActorRef::new(self.shared.clone(), key.into())
    }

    /// The value of type `T` given to [`Builder::extension`](crate::Builder::extension).
    pub fn extension<T: 'static>(&self) -> Option<&T> {
        self.shared.extension::<T>()
    }

    /// How many shards the engine runs.
    pub fn shards(&self) -> usize {
        self.shared.shards
    }

    /// The home shard of stateful actor `key` of type `A` (`None` for unregistered or
    /// stateless types, whose calls are served where they are made).
    pub fn home_shard<A: Actor>(&self, key: &A::Key) -> Option<usize> {
        routing::stateful_home::<A>(&self.shared, key)
    }

    /// A snapshot of every shard's counters, indexed by shard.
    pub fn stats(&self) -> Vec<ShardStats> {
        let counters = self.shared.counters.iter().enumerate();
        counters.map(|(shard, c)| c.snapshot(shard)).collect()
    }

    /// Activations alive now, over all shards.
    pub fn active_activations(&self) -> u64 {
        self.stats().iter().map(|s| s.active).sum()
    }

    /// Runs `f` on shard `shard` and returns its output. Works from any thread (the future
    /// is `Send`) and from shards (a call to the current shard spawns locally).
    ///
    /// ```no_run
    /// # async fn demo(engine: &quark::Engine) -> Result<(), quark::Error> {
    /// let shards = engine.run_on(0, |shard| async move { shard.shards() }).await?;
    /// # Ok(()) }
    /// ```
    pub fn run_on<F, Fut, T>(&self, shard: usize, f: F) -> RunOn<T>
    where
        F: FnOnce(Shard) -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let task: Task = Box::new(RunTask { f, tx });
        let error = (shard >= self.shared.shards).then_some(Error::NoSuchShard {
            shard,
            shards: self.shared.shards,
        });
        RunOn {
            shared: self.shared.clone(),
            shard,
            task: Some(task),
            ingress: None,
            rx,
            error,
        }
    }

    /// [`run_on`](Self::run_on) for plain threads: blocks until the output is back.
    /// Fails with [`Error::BlockingOnShard`] on a shard thread.
    pub fn run_on_blocking<F, Fut, T>(&self, shard: usize, f: F) -> Result<T, Error>
    where
        F: FnOnce(Shard) -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        if shard::on_any_shard() {
            return Err(Error::BlockingOnShard);
        }
        futures_lite::future::block_on(self.run_on(shard, f))
    }
}

/// A closure to run on a shard, and where its output goes.
struct RunTask<F, T> {
    f: F,
    tx: oneshot::Sender<Result<T, Error>>,
}

impl<F, Fut, T> ShardTask for RunTask<F, T>
where
    F: FnOnce(Shard) -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    fn run(self: Box<Self>, core: &Rc<ShardCore>) -> Option<LocalFuture<'static, ()>> {
        let RunTask { f, tx } = *self;
        let shard = Shard::new(core.clone());
        glommio::spawn_local(async move {
            let outcome = AssertUnwindSafe(async move { f(shard).await })
                .catch_unwind()
                .await;
            let result = outcome.map_err(|payload| Error::Panicked {
                actor: "run_on",
                reason: panic_reason(payload.as_ref()),
            });
            let _ = tx.send(result);
        })
        .detach();
        None
    }

    fn fail(self: Box<Self>, error: Error) {
        let _ = self.tx.send(Err(error));
    }

    fn boxed(self: Box<Self>) -> Box<dyn ShardTask> {
        self
    }
}

/// The future of [`EngineHandle::run_on`]; `Send`, so any runtime can await it.
pub struct RunOn<T> {
    shared: Arc<Shared>,
    shard: usize,
    task: Option<Task>,
    ingress: Option<IngressTx>,
    rx: oneshot::Receiver<Result<T, Error>>,
    error: Option<Error>,
}

impl<T> Future for RunOn<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(error) = this.error.take() {
            return Poll::Ready(Err(error));
        }
        if this.task.is_some() {
            let target = this.shard;
            let sent = match routing::route(&this.shared, |_| target) {
                Route::Here(core) => {
                    if let Some(wait) = this.task.take().and_then(|task| task.run(&core)) {
                        glommio::spawn_local(wait).detach();
                    }
                    Poll::Ready(Ok(()))
                }
                Route::Peer(core, peer) => routing::poll_remote(
                    &this.shared,
                    Some(&core),
                    peer,
                    &mut this.task,
                    &mut this.ingress,
                    cx,
                ),
                Route::Outside(peer) => {
                    let (shared, task) = (&this.shared, &mut this.task);
                    routing::poll_remote(shared, None, peer, task, &mut this.ingress, cx)
                }
            };
            match sent {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Ready(Ok(())) => {}
            }
        }
        match Pin::new(&mut this.rx).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            Poll::Ready(Err(_)) => Poll::Ready(Err(Error::ShutDown)),
        }
    }
}

/// The running engine. Dereferences to [`EngineHandle`]; shuts down when dropped.
///
/// ```
/// let engine = quark::Builder::new().shards(1).spin_before_park(None).start()?;
/// assert_eq!(engine.shards(), 1);
/// engine.shutdown()?;
/// # Ok::<(), quark::Error>(())
/// ```
pub struct Engine {
    pub(crate) handle: EngineHandle,
    pub(crate) threads: Vec<glommio::ExecutorJoinHandle<Result<(), String>>>,
    pub(crate) shutdown_timeout: Duration,
}

impl Engine {
    /// A cloneable handle for other threads.
    pub fn handle(&self) -> EngineHandle {
        self.handle.clone()
    }

    /// Graceful shutdown: refuses new outside work, stops timers, waits until in-flight
    /// messages are handled (up to the builder's shutdown timeout), deactivates every
    /// activation, closes the logs and joins the shard threads.
    pub fn shutdown(mut self) -> Result<(), Error> {
        crate::lifecycle::shutdown(&mut self)
    }
}

impl Deref for Engine {
    type Target = EngineHandle;

    fn deref(&self) -> &EngineHandle {
        &self.handle
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.threads.is_empty() || shard::on_any_shard() {
            return;
        }
        if let Err(error) = crate::lifecycle::shutdown(self) {
            tracing::warn!(%error, "engine shutdown on drop failed");
        }
    }
}

pub(crate) use crate::lifecycle::start;
