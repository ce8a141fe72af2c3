//! Starting and stopping an engine.
//!
//! Start: build the channels (a full mesh of bounded glommio shared channels between shards,
//! one bounded ingress queue per shard), spawn one pinned executor thread per shard, wait
//! until every shard has connected its channels and is ready.
//!
//! Shutdown, in order: refuse outside work; stop timers on every shard; wait until the
//! engine is quiescent (no message queued, handled or in a channel, observed twice in a row
//! with identical counters); deactivate every activation; close logs; join the threads.
//! Each wait is bounded by the shutdown timeout, after which what is left fails with
//! [`Error::ShutDown`] or [`Error::ActorGone`].
//!
//! Invariants: shutdown never runs on a shard thread (it would wait for itself); it is
//! idempotent (the second call finds no threads).

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::channel::mpsc;
use glommio::channels::shared_channel;
use glommio::{LocalExecutorBuilder, Placement as CpuPlacement};

use crate::builder::{Builder, Pinning, Registry};
use crate::engine::{DRAINING, Engine, EngineHandle, STOPPED, Shared};
use crate::envelope::{LocalFuture, ShardTask};
use crate::error::Error;
use crate::shard::{self, ShardCore, Task};

/// How long a shard may take to connect its channels at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

static NEXT_ENGINE: AtomicU64 = AtomicU64::new(1);

type Senders = Vec<Option<shared_channel::SharedSender<Task>>>;
type Receivers = Vec<shared_channel::SharedReceiver<Task>>;

/// Builds the shard-to-shard mesh: `senders[i][j]` sends from shard i to shard j.
fn mesh(shards: usize, capacity: usize) -> (Vec<Senders>, Vec<Receivers>) {
    let mut senders: Vec<Senders> = (0..shards).map(|_| Vec::new()).collect();
    let mut receivers: Vec<Receivers> = (0..shards).map(|_| Vec::new()).collect();
    for (from, row) in senders.iter_mut().enumerate() {
        for (to, inbox) in receivers.iter_mut().enumerate() {
            if from == to {
                row.push(None);
                continue;
            }
            let (tx, rx) = shared_channel::new_bounded(capacity);
            row.push(Some(tx));
            inbox.push(rx);
        }
    }
    (senders, receivers)
}

fn cpu_for(shard: usize, pinning: Pinning) -> CpuPlacement {
    if pinning == Pinning::None {
        return CpuPlacement::Unbound;
    }
    let Ok(online) = glommio::CpuSet::online() else {
        return CpuPlacement::Unbound;
    };
    let mut cpus: Vec<(usize, usize)> = online.into_iter().map(|l| (l.cpu, l.numa_node)).collect();
    cpus.sort_unstable();
    cpus.dedup();
    if cpus.is_empty() {
        return CpuPlacement::Unbound;
    }
    let (cpu, node) = cpus[shard % cpus.len()];
    match pinning {
        Pinning::Core => CpuPlacement::Fixed(cpu),
        Pinning::NumaNode => match glommio::CpuSet::online() {
            Ok(set) => CpuPlacement::Fenced(set.filter(|l| l.numa_node == node)),
            Err(_) => CpuPlacement::Unbound,
        },
        Pinning::None => CpuPlacement::Unbound,
    }
}

/// Starts the engine described by `builder`.
pub(crate) fn start(mut builder: Builder, registry: Registry) -> Result<Engine, Error> {
    let shards = builder
        .shards
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if shards == 0 || shards > 1024 {
        return Err(Error::Start {
            reason: format!("shard count {shards} outside 1..=1024"),
        });
    }
    // Recorded before any log opens: the homes every shard computes depend on it.
    let layout = match &builder.data_dir {
        Some(dir) => {
            Some(crate::layout::open(dir, shards).map_err(|e| Error::Layout(Arc::new(e)))?)
        }
        None => None,
    };
    let capacity = builder.channel_capacity;
    let (ingress_tx, ingress_rx): (Vec<_>, Vec<_>) =
        (0..shards).map(|_| mpsc::channel::<Task>(capacity)).unzip();
    let id = NEXT_ENGINE.fetch_add(1, Ordering::Relaxed);
    let mut shared = Shared::new(
        id,
        shards,
        registry,
        std::mem::replace(
            &mut builder.placement,
            Box::new(crate::placement::HashPlacement),
        ),
        ingress_tx,
        capacity,
        std::mem::take(&mut builder.extensions),
    );
    shared.homes_moved = layout.is_some_and(|l| l.moved);
    let shared = Arc::new(shared);
    let (senders, receivers) = mesh(shards, capacity);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<usize, Error>>();
    let mut threads = Vec::with_capacity(shards);
    let parts = senders.into_iter().zip(receivers).zip(ingress_rx);
    for (n, ((senders, receivers), ingress)) in parts.enumerate() {
        let channels = Channels {
            senders,
            receivers,
            ingress,
        };
        match spawn_shard(&builder, &shared, n, channels, ready_tx.clone()) {
            Ok(handle) => threads.push(handle),
            Err(error) => {
                abort_start(&shared, threads);
                return Err(Error::Start {
                    reason: format!("shard {n}: {error}"),
                });
            }
        }
    }
    drop(ready_tx);
    wait_ready(&shared, threads, ready_rx, builder.shutdown_timeout)
}

/// The channel ends one shard owns.
struct Channels {
    senders: Senders,
    receivers: Receivers,
    ingress: mpsc::Receiver<Task>,
}

type ShardThread = glommio::ExecutorJoinHandle<Result<(), String>>;

/// Starts shard `n`'s thread: connect its channels, open its log, run until closed.
fn spawn_shard(
    builder: &Builder,
    shared: &Arc<Shared>,
    n: usize,
    channels: Channels,
    ready: std::sync::mpsc::Sender<Result<usize, Error>>,
) -> glommio::Result<ShardThread, ()> {
    let mut exec = LocalExecutorBuilder::new(cpu_for(n, builder.pinning))
        .name(&format!("quark-{}-shard-{n}", shared.id));
    if let Some(spin) = builder.spin_before_park {
        exec = exec.spin_before_park(spin);
    }
    let shared = shared.clone();
    let log_dir = builder
        .data_dir
        .as_ref()
        .map(|dir| dir.join(format!("shard-{n}")));
    let log_config = builder.log_config.clone();
    exec.spawn(move || async move {
        let span = tracing::info_span!("shard", engine = shared.id, shard = n);
        let _entered = span.enter();
        let Channels {
            senders,
            receivers,
            ingress,
        } = channels;
        let Some((senders, receivers)) = connect(senders, receivers).await else {
            let reason = "could not connect the shard channels".to_string();
            let _ = ready.send(Err(Error::Start {
                reason: reason.clone(),
            }));
            return Err(reason);
        };
        let init = shard::Init {
            id: n,
            shared,
            senders,
            receivers,
            ingress,
            log_dir,
            log_config,
        };
        shard::run(init, move |outcome| {
            let _ = ready.send(outcome.map(|()| n));
        })
        .await
    })
}

fn wait_ready(
    shared: &Arc<Shared>,
    threads: Vec<ShardThread>,
    ready: std::sync::mpsc::Receiver<Result<usize, Error>>,
    shutdown_timeout: Duration,
) -> Result<Engine, Error> {
    // No deadline here: opening a log may take a long recovery. Every shard either
    // reports or drops its sender (error or panic), and connecting has its own timeout.
    for _ in 0..shared.shards {
        let error = match ready.recv() {
            Ok(Ok(_)) => continue,
            Ok(Err(error)) => error,
            Err(_) => Error::Start {
                reason: "a shard thread died while starting".to_string(),
            },
        };
        abort_start(shared, threads);
        return Err(error);
    }
    Ok(Engine {
        handle: EngineHandle::from_shared(shared.clone()),
        threads,
        shutdown_timeout,
    })
}

/// Stops what started of a failed start (shards that are up close at once).
fn abort_start(shared: &Arc<Shared>, threads: Vec<ShardThread>) {
    shared.state.store(STOPPED, Ordering::Release);
    for n in 0..shared.shards {
        let _ = send_control(shared, n, Box::new(Close(Instant::now())));
    }
    drop(threads); // Threads stuck connecting give up after CONNECT_TIMEOUT.
}

/// Connects every channel end concurrently (each waits for its peer to connect).
async fn connect(
    senders: Senders,
    receivers: Receivers,
) -> Option<(
    Vec<Option<shared_channel::ConnectedSender<Task>>>,
    Vec<shared_channel::ConnectedReceiver<Task>>,
)> {
    let senders = futures::future::join_all(senders.into_iter().map(|tx| async move {
        match tx {
            Some(tx) => Some(tx.connect().await),
            None => None,
        }
    }));
    let receivers = futures::future::join_all(receivers.into_iter().map(|rx| rx.connect()));
    let both = async { Some(futures::future::join(senders, receivers).await) };
    let timeout = async {
        glommio::timer::sleep(CONNECT_TIMEOUT).await;
        None
    };
    futures_lite::future::or(both, timeout).await
}

/// Runs engine-internal work on a shard, bypassing the "refuse outside work" gate.
fn send_control(shared: &Shared, shard: usize, task: Task) -> Result<(), Error> {
    let Some(tx) = shared.ingress.get(shard) else {
        return Err(Error::NoSuchShard {
            shard,
            shards: shared.shards,
        });
    };
    let mut tx = tx.clone();
    let mut task = Some(task);
    futures_lite::future::block_on(futures_lite::future::poll_fn(|cx| {
        match tx.poll_ready(cx) {
            std::task::Poll::Pending => std::task::Poll::Pending,
            std::task::Poll::Ready(Err(_)) => std::task::Poll::Ready(Err(Error::ShutDown)),
            std::task::Poll::Ready(Ok(())) => {
                let Some(task) = task.take() else {
                    return std::task::Poll::Ready(Ok(()));
                };
                let counter = &shared.counters[shard].ingress_sent;
                counter.fetch_add(1, Ordering::AcqRel);
                let sent = tx.start_send(task).map_err(|_| Error::ShutDown);
                if sent.is_err() {
                    counter.fetch_sub(1, Ordering::AcqRel);
                }
                std::task::Poll::Ready(sent)
            }
        }
    }))
}

/// Stops timers on a shard.
struct Drain;

impl ShardTask for Drain {
    fn run(self: Box<Self>, core: &Rc<ShardCore>) -> Option<LocalFuture<'static, ()>> {
        shard::begin_drain(core);
        None
    }
    fn fail(self: Box<Self>, _error: Error) {}
    fn boxed(self: Box<Self>) -> Box<dyn ShardTask> {
        self
    }
}

/// Deactivates everything on a shard and ends its executor.
struct Close(Instant);

impl ShardTask for Close {
    fn run(self: Box<Self>, core: &Rc<ShardCore>) -> Option<LocalFuture<'static, ()>> {
        glommio::spawn_local(shard::close(core.clone(), self.0)).detach();
        None
    }
    fn fail(self: Box<Self>, _error: Error) {}
    fn boxed(self: Box<Self>) -> Box<dyn ShardTask> {
        self
    }
}

/// Waits until no message is queued, handled or travelling, seen twice with the same
/// counters; false when `deadline` passed first.
fn wait_quiescent(shared: &Shared, deadline: Instant) -> bool {
    let mut last: Option<Vec<[u64; 6]>> = None;
    loop {
        let now: Vec<[u64; 6]> = shared.counters.iter().map(|c| c.fingerprint()).collect();
        let idle = now.iter().all(|c| c[2] == 0);
        let sent: u64 = now.iter().map(|c| c[3] + c[5]).sum();
        let received: u64 = now.iter().map(|c| c[4]).sum();
        if idle && sent == received && last.as_ref() == Some(&now) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        last = Some(now);
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The shutdown sequence (see the module docs).
pub(crate) fn shutdown(engine: &mut Engine) -> Result<(), Error> {
    if engine.threads.is_empty() {
        return Ok(());
    }
    if shard::on_any_shard() {
        return Err(Error::BlockingOnShard);
    }
    let shared = engine.handle.shared.clone();
    let deadline = Instant::now() + engine.shutdown_timeout;
    shared.state.store(DRAINING, Ordering::Release);
    // Best effort on every shard: one that died already reports itself when joined.
    for n in 0..shared.shards {
        if let Err(error) = send_control(&shared, n, Box::new(Drain)) {
            tracing::warn!(shard = n, %error, "shard did not take the drain request");
        }
    }
    if !wait_quiescent(&shared, deadline) {
        tracing::warn!("shutdown timeout: messages still in flight are dropped");
    }
    let close_by = Instant::now().max(deadline);
    for n in 0..shared.shards {
        if let Err(error) = send_control(&shared, n, Box::new(Close(close_by))) {
            tracing::warn!(shard = n, %error, "shard did not take the close request");
        }
    }
    shared.state.store(STOPPED, Ordering::Release);
    let mut outcome = Ok(());
    for (n, thread) in std::mem::take(&mut engine.threads).into_iter().enumerate() {
        let reason = match thread.join() {
            Ok(Ok(())) => continue,
            Ok(Err(reason)) => reason,
            Err(error) => error.to_string(),
        };
        outcome = Err(Error::Stop { shard: n, reason });
    }
    outcome
}
