//! A shard: one pinned glommio executor thread owning a share of the actors.
//!
//! Owns [`ShardCore`] (the shard's tables, channels, counters and life-cycle flags), the
//! public [`Shard`] handle that code running on a shard gets, and the shard's background
//! tasks: one receive loop per peer shard, one outbound pump per peer shard, the ingress
//! loop for outside threads, and one idle sweeper per actor type.
//!
//! Invariants: everything here is touched only by the shard's own thread (`Rc`, `Cell`);
//! the only shared state is the engine's immutable [`Shared`] and the counters; the
//! thread-local "current shard" is set for exactly the life of the shard's main future.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Instant;

use futures_lite::StreamExt;
use glommio::channels::shared_channel::{ConnectedReceiver, ConnectedSender};
use glommio::{GlommioError, ResourceType};

use crate::actor::Actor;
use crate::actor_ref::ActorRef;
use crate::engine::{EngineHandle, Shared};
use crate::envelope::ShardTask;
use crate::error::Error;
use crate::stats::{Counters, ShardStats, bump, drop_one};
use crate::table::{AnyTable, Table};

/// What crosses between shards and from outside threads into a shard.
pub(crate) type Task = Box<dyn ShardTask>;

thread_local! {
    static CURRENT: RefCell<Option<Rc<ShardCore>>> = const { RefCell::new(None) };
}

/// The shard running on this thread, if it belongs to engine `engine`.
pub(crate) fn current(engine: u64) -> Option<Rc<ShardCore>> {
    CURRENT.with(|current| {
        current
            .borrow()
            .as_ref()
            .filter(|core| core.shared.id == engine)
            .cloned()
    })
}

/// Whether this thread is a shard thread of any engine.
pub(crate) fn on_any_shard() -> bool {
    CURRENT.with(|current| current.borrow().is_some())
}

/// The sending side towards one peer shard.
pub(crate) struct Outbound {
    sender: ConnectedSender<Task>,
    /// Tasks the channel had no room for, in order, waiting for the pump.
    queue: RefCell<VecDeque<Task>>,
    capacity: usize,
    /// The pump holds a task it is still sending: nothing may overtake it.
    pumping: Cell<bool>,
    pump: RefCell<Option<Waker>>,
    blocked: RefCell<Vec<Waker>>,
}

/// The state of one shard, owned by its thread.
pub(crate) struct ShardCore {
    pub(crate) id: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) tables: Vec<Rc<dyn AnyTable>>,
    pub(crate) counters: Arc<Counters>,
    outbound: Vec<Option<Rc<Outbound>>>,
    draining: Cell<bool>,
    closing: Cell<bool>,
    stopped: Cell<bool>,
    /// Activation tasks alive (activating, serving or deactivating).
    live: Cell<u64>,
    closer: RefCell<Option<Waker>>,
    main: RefCell<Option<Waker>>,
    log: Option<quark_log::Log>,
    /// The durable core on `log`: every component's state machine, applied at open.
    durable: Option<crate::durable::Core>,
    /// The journal on the durable core.
    journal: Option<crate::journal::Journal>,
    pub(crate) deadlines: crate::deadline::Deadlines,
    /// Why closing the log failed, reported by the shard thread at exit.
    close_error: RefCell<Option<String>>,
    /// Senders on this shard holding back for a paused actor of a peer: (id, waker).
    pub(crate) held: RefCell<Vec<(u64, Waker)>>,
}

impl ShardCore {
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.get()
    }

    /// Timers stop firing once the engine starts draining.
    pub(crate) fn timers_stopped(&self) -> bool {
        self.draining.get() || self.closing.get()
    }

    pub(crate) fn live_add(&self) {
        self.live.set(self.live.get() + 1);
    }

    pub(crate) fn live_remove(&self) {
        let live = self.live.get().saturating_sub(1);
        self.live.set(live);
        let closer = if live == 0 {
            self.closer.borrow_mut().take()
        } else {
            None
        };
        if let Some(waker) = closer {
            waker.wake();
        }
    }

    /// The typed table `index`, shared (for activation tasks).
    pub(crate) fn typed_table<A: Actor>(&self, index: u32) -> Option<Rc<Table<A>>> {
        let table = self.tables.get(index as usize)?.clone();
        table.into_any().downcast::<Table<A>>().ok()
    }

    /// The most arrivals one actor's overflow holds before the receive loop waits: per
    /// peer, the arrival that paused it plus what that peer can have handed over before it
    /// sees the pause (its channel, its outbound queue and the task its pump holds), plus
    /// as much again for outside threads.
    pub(crate) fn overflow_max(&self) -> usize {
        (2 * self.shared.channel_capacity + 2) * (self.shared.shards + 1)
    }

    /// Asks peers to hold back messages for actor `id`; false when this shard has too
    /// many actors paused already.
    pub(crate) fn pause(&self, id: u64) -> bool {
        self.shared.pauses[self.id].insert(id)
    }

    /// Lifts the pause of actor `id`: every peer is told, since any of them may hold
    /// senders back for it (ones that never reached the overflow included).
    pub(crate) fn lift(&self, id: u64) {
        self.shared.pauses[self.id].remove(id);
        for peer in (0..self.shared.shards).filter(|peer| *peer != self.id) {
            // A peer that is gone needs no telling.
            let _ = self.submit_to_peer(peer, Box::new(crate::pause::Lifted(id)));
        }
    }

    /// Whether a task for `peer` can be taken now; otherwise parks `waker`.
    pub(crate) fn peer_has_room(&self, peer: usize, waker: &Waker) -> bool {
        let Some(Some(out)) = self.outbound.get(peer) else {
            return true; // submit_to_peer reports the bad index
        };
        if out.queue.borrow().len() < out.capacity {
            return true;
        }
        out.blocked.borrow_mut().push(waker.clone());
        false
    }

    /// Hands `task` to `peer` (the caller checked `peer_has_room`).
    pub(crate) fn submit_to_peer(&self, peer: usize, task: Task) -> Result<(), Error> {
        let Some(Some(out)) = self.outbound.get(peer) else {
            return Err(Error::NoSuchShard {
                shard: peer,
                shards: self.shared.shards,
            });
        };
        bump(&self.counters.sent);
        let direct = out.queue.borrow().is_empty() && !out.pumping.get();
        let task = if direct {
            match out.sender.try_send(task) {
                Ok(()) => return Ok(()),
                Err(GlommioError::WouldBlock(ResourceType::Channel(task))) => task,
                Err(GlommioError::Closed(ResourceType::Channel(task))) => {
                    drop_one(&self.counters.sent);
                    task.fail(Error::ShutDown);
                    return Err(Error::ShutDown);
                }
                Err(_) => {
                    // Never sent: keep `sent` equal to what peers will receive.
                    drop_one(&self.counters.sent);
                    return Err(Error::ShutDown);
                }
            }
        } else {
            task
        };
        out.queue.borrow_mut().push_back(task);
        if let Some(waker) = out.pump.borrow_mut().take() {
            waker.wake();
        }
        Ok(())
    }
}

/// A handle to the shard the current code runs on.
///
/// Given to [`EngineHandle::run_on`] closures and reachable from handlers through
/// [`Context::shard`](crate::Context::shard). Not `Send`: it stays on its shard.
///
/// ```no_run
/// # async fn demo(engine: &quark::Engine) -> Result<(), quark::Error> {
/// let id = engine.run_on(1, |shard| async move { shard.id() }).await?;
/// assert_eq!(id, 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Shard {
    core: Rc<ShardCore>,
}

impl Shard {
    pub(crate) fn new(core: Rc<ShardCore>) -> Self {
        Shard { core }
    }

    pub(crate) fn core(&self) -> &Rc<ShardCore> {
        &self.core
    }

    /// This shard's index in `0..shards`.
    pub fn id(&self) -> usize {
        self.core.id
    }

    /// How many shards the engine has.
    pub fn shards(&self) -> usize {
        self.core.shared.shards
    }

    /// A reference to an actor; calls from this shard to actors homed here do not cross
    /// threads.
    pub fn actor<A: Actor>(&self, key: impl Into<A::Key>) -> ActorRef<A> {
        ActorRef::new(self.core.shared.clone(), key.into())
    }

    /// The engine this shard belongs to.
    pub fn engine(&self) -> EngineHandle {
        EngineHandle::from_shared(self.core.shared.clone())
    }

    /// Activations of `key` of type `A` alive on this shard (0 or 1 for stateful types, up
    /// to the pool bound for stateless workers).
    pub fn activations_of<A: Actor>(&self, key: &A::Key) -> usize {
        let Some(index) = self.core.shared.registry.index_of::<A>() else {
            return 0;
        };
        self.core
            .table::<A>(index)
            .map_or(0, |table| usize::from(table.workers(key)))
    }

    /// Keys of type `A` with a mailbox on this shard.
    pub fn live_keys<A: Actor>(&self) -> usize {
        let Some(index) = self.core.shared.registry.index_of::<A>() else {
            return 0;
        };
        self.core
            .tables
            .get(index as usize)
            .map_or(0, |table| table.len())
    }

    /// The value of type `T` given to [`Builder::extension`](crate::Builder::extension).
    pub fn extension<T: 'static>(&self) -> Option<&T> {
        self.core.shared.extension::<T>()
    }

    /// This shard's log, opened at start in `<data_dir>/shard-<id>` (`None` without a data
    /// directory). Event-sourced actors journal here (see [`Shard::journal`]).
    pub fn log(&self) -> Option<&quark_log::Log> {
        self.core.log.as_ref()
    }

    /// This shard's journal (event streams, snapshots, projections) on its log; `None`
    /// without a data directory.
    pub fn journal(&self) -> Option<&crate::journal::Journal> {
        self.core.journal.as_ref()
    }

    /// This shard's counters.
    pub fn stats(&self) -> ShardStats {
        self.core.counters.snapshot(self.core.id)
    }
}

/// Everything a shard thread needs to start.
pub(crate) struct Init {
    pub(crate) id: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) senders: Vec<Option<ConnectedSender<Task>>>,
    pub(crate) receivers: Vec<ConnectedReceiver<Task>>,
    pub(crate) ingress: futures::channel::mpsc::Receiver<Task>,
    pub(crate) log_dir: Option<std::path::PathBuf>,
    pub(crate) log_config: quark_log::Config,
}

/// Builds the shard, starts its background tasks, and runs until it is closed.
///
/// `ready` hears `Ok` once the shard takes work, or why it could not start.
pub(crate) async fn run(
    init: Init,
    ready: impl FnOnce(Result<(), crate::Error>),
) -> Result<(), String> {
    let Init {
        id,
        shared,
        senders,
        receivers,
        ingress,
        log_dir,
        log_config,
    } = init;
    let log_path = log_dir.clone().unwrap_or_default();
    let log = match log_dir {
        None => None,
        Some(dir) => match quark_log::Log::open(&dir, log_config).await {
            Ok(log) => Some(log),
            Err(error) => {
                let error = crate::Error::Log {
                    shard: id,
                    path: dir,
                    source: error.into(),
                };
                let reason = error.to_string();
                ready(Err(error));
                return Err(reason);
            }
        },
    };
    // Every durable component's state is rebuilt from the log (one scan) before the shard
    // takes any work.
    let (durable, journal) = match log.clone().map(|log| open_durable(log, id)) {
        None => (None, None),
        Some(Ok((durable, journal))) => (Some(durable), Some(journal)),
        Some(Err(error)) => {
            if let Some(log) = &log {
                let _ = log.close().await;
            }
            let error = match error {
                crate::durable::OpenError::Read(source) => crate::Error::Log {
                    shard: id,
                    path: log_path,
                    source: source.into(),
                },
                other => crate::Error::Start {
                    reason: format!("rebuilding shard {id}'s durable state: {other}"),
                },
            };
            let reason = error.to_string();
            ready(Err(error));
            return Err(reason);
        }
    };
    let tables = shared.registry.make_tables();
    let capacity = shared.channel_capacity;
    let outbound = senders
        .into_iter()
        .map(|sender| {
            sender.map(|sender| {
                Rc::new(Outbound {
                    sender,
                    queue: RefCell::new(VecDeque::new()),
                    capacity,
                    pumping: Cell::new(false),
                    pump: RefCell::new(None),
                    blocked: RefCell::new(Vec::new()),
                })
            })
        })
        .collect::<Vec<_>>();
    let core = Rc::new(ShardCore {
        id,
        counters: shared.counters[id].clone(),
        shared,
        tables,
        outbound,
        draining: Cell::new(false),
        closing: Cell::new(false),
        stopped: Cell::new(false),
        live: Cell::new(0),
        closer: RefCell::new(None),
        main: RefCell::new(None),
        log,
        durable,
        journal,
        deadlines: crate::deadline::Deadlines::default(),
        close_error: RefCell::new(None),
        held: RefCell::new(Vec::new()),
    });
    CURRENT.with(|current| *current.borrow_mut() = Some(core.clone()));
    start_background(&core, receivers, ingress);
    ready(Ok(()));
    futures_lite::future::poll_fn(|cx| {
        if core.stopped.get() {
            return Poll::Ready(());
        }
        *core.main.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    })
    .await;
    CURRENT.with(|current| *current.borrow_mut() = None);
    match core.close_error.borrow_mut().take() {
        Some(reason) => Err(reason),
        None => Ok(()),
    }
}

/// Opens the durable core on `log` with every component's state machine registered.
fn open_durable(
    log: quark_log::Log,
    shard: usize,
) -> Result<(crate::durable::Core, crate::journal::Journal), crate::durable::OpenError> {
    let index = crate::journal::Journal::machine();
    let (core, scanned) = crate::durable::Core::open(log, vec![index.clone()])?;
    tracing::debug!(
        shard,
        records = scanned.records,
        retired = scanned.retired,
        "durable state rebuilt"
    );
    Ok((
        core.clone(),
        crate::journal::Journal::new(core, index, shard),
    ))
}

fn start_background(
    core: &Rc<ShardCore>,
    receivers: Vec<ConnectedReceiver<Task>>,
    ingress: futures::channel::mpsc::Receiver<Task>,
) {
    for receiver in receivers {
        glommio::spawn_local(receive(core.clone(), receiver)).detach();
    }
    glommio::spawn_local(receive_ingress(core.clone(), ingress)).detach();
    glommio::spawn_local(crate::deadline::pump(core.clone())).detach();
    for out in core.outbound.iter().flatten() {
        glommio::spawn_local(pump(core.clone(), out.clone())).detach();
    }
    for table in &core.tables {
        glommio::spawn_local(sweep(core.clone(), table.clone())).detach();
    }
}

async fn execute(core: &Rc<ShardCore>, task: Task) {
    if let Some(wait) = task.run(core) {
        wait.await;
    }
    bump(&core.counters.received);
}

async fn receive(core: Rc<ShardCore>, receiver: ConnectedReceiver<Task>) {
    while let Some(task) = receiver.recv().await {
        execute(&core, task).await;
    }
}

async fn receive_ingress(core: Rc<ShardCore>, mut ingress: futures::channel::mpsc::Receiver<Task>) {
    while let Some(task) = ingress.next().await {
        execute(&core, task).await;
    }
}

async fn pump(core: Rc<ShardCore>, out: Rc<Outbound>) {
    loop {
        let next = futures_lite::future::poll_fn(|cx| {
            if let Some(task) = out.queue.borrow_mut().pop_front() {
                return Poll::Ready(Some(task));
            }
            if core.stopped.get() {
                return Poll::Ready(None);
            }
            *out.pump.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        let Some(task) = next else { return };
        out.pumping.set(true);
        for waker in std::mem::take(&mut *out.blocked.borrow_mut()) {
            waker.wake();
        }
        if let Err(GlommioError::Closed(ResourceType::Channel(task))) = out.sender.send(task).await
        {
            drop_one(&core.counters.sent);
            task.fail(Error::ShutDown);
        }
        out.pumping.set(false);
    }
}

async fn sweep(core: Rc<ShardCore>, table: Rc<dyn AnyTable>) {
    let period = table.tick_period();
    while !core.closing.get() {
        glommio::timer::sleep(period).await;
        table.tick();
    }
}

/// Stops timers from firing (first step of a graceful shutdown).
pub(crate) fn begin_drain(core: &ShardCore) {
    core.draining.set(true);
}

/// Deactivates everything, waits for the activations to finish (until `deadline`), and
/// lets the shard's main future return.
pub(crate) async fn close(core: Rc<ShardCore>, deadline: Instant) {
    core.closing.set(true);
    for table in &core.tables {
        table.stop_all();
    }
    let wait = futures_lite::future::poll_fn(|cx| {
        if core.live.get() == 0 {
            return Poll::Ready(());
        }
        *core.closer.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    });
    let grace = deadline.saturating_duration_since(Instant::now());
    let late = futures_lite::future::or(
        async {
            wait.await;
            false
        },
        async {
            glommio::timer::sleep(grace).await;
            true
        },
    )
    .await;
    if late {
        // Turns still running are abandoned with the executor; what waits behind them is
        // failed here so its callers hear about it.
        let mut failed = 0;
        for table in &core.tables {
            failed += table.abandon(&Error::ShutDown);
        }
        for _ in 0..failed {
            drop_one(&core.counters.inflight);
        }
        tracing::warn!(
            shard = core.id,
            live = core.live.get(),
            failed,
            "activations did not stop in time"
        );
    }
    if let Some(durable) = &core.durable
        && let Err(error) = durable.close().await
    {
        *core.close_error.borrow_mut() = Some(format!("closing the log: {error}"));
    }
    core.stopped.set(true);
    for out in core.outbound.iter().flatten() {
        if let Some(waker) = out.pump.borrow_mut().take() {
            waker.wake();
        }
    }
    if let Some(waker) = core.main.borrow_mut().take() {
        waker.wake();
    }
}
