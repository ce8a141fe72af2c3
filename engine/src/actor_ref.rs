//! [`ActorRef`]: the address of a virtual actor, and its [`Call`] and [`Tell`] futures.
//!
//! Invariants: a reference is `Send + Sync` and cheap to clone; it caches the actor type's
//! table index and (for stateful types) the home shard, so a send does no registry or
//! placement lookup; its futures are `Send` (they hold only the message, the reply
//! receiver and thread-safe handles) and resolve their route on each poll, so they work on
//! a shard, on another shard, and on any other thread or runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use futures::channel::oneshot;

use crate::actor::{Actor, Handler, Message};
use crate::deadline::Armed;
use crate::engine::{IngressTx, Shared};
use crate::envelope::{Reply, ReplyTx, Routed, routed};
use crate::error::Error;
use crate::routing::{self, Route};
use crate::shard;

/// The address of actor `A` with a given key.
///
/// ```no_run
/// use quark::{Actor, ActorError, Context, Handler, Message};
/// # struct Greeter;
/// # impl Actor for Greeter { type Key = String;
/// #   async fn on_activate(_: &mut Context<Self>) -> Result<Self, ActorError> { Ok(Greeter) } }
/// # struct Hello(String);
/// # impl Message for Hello { type Reply = String; }
/// # impl Handler<Hello> for Greeter {
/// #   async fn handle(&mut self, m: Hello, _: &mut Context<Self>) -> Result<String, ActorError> {
/// #       Ok(format!("hello {}", m.0)) } }
/// # fn demo(engine: &quark::Engine) -> Result<(), quark::Error> {
/// let greeter = engine.actor::<Greeter>("g");
/// let reply = greeter.call_blocking(Hello("you".into()))?;
/// assert_eq!(reply, "hello you");
/// # Ok(()) }
/// ```
pub struct ActorRef<A: Actor> {
    shared: Arc<Shared>,
    key: A::Key,
    table: Option<u32>,
    home: Option<usize>,
}

impl<A: Actor> Clone for ActorRef<A> {
    fn clone(&self) -> Self {
        ActorRef {
            shared: self.shared.clone(),
            key: self.key.clone(),
            table: self.table,
            home: self.home,
        }
    }
}

impl<A: Actor> std::fmt::Debug for ActorRef<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorRef")
            .field("actor", &std::any::type_name::<A>())
            .field("key", &self.key)
            .field("home", &self.home)
            .finish()
    }
}

impl<A: Actor> ActorRef<A> {
    pub(crate) fn new(shared: Arc<Shared>, key: A::Key) -> Self {
        let table = shared.registry.index_of::<A>();
        let home = routing::stateful_home::<A>(&shared, &key);
        ActorRef {
            shared,
            key,
            table,
            home,
        }
    }

    /// The key this reference addresses.
    pub fn key(&self) -> &A::Key {
        &self.key
    }

    /// The home shard, for stateful actor types (stateless ones are served where called).
    pub fn home_shard(&self) -> Option<usize> {
        self.home
    }

    /// Sends `msg` and waits for the reply.
    pub fn call<M>(&self, msg: M) -> Call<'_, A, M>
    where
        A: Handler<M>,
        M: Message,
    {
        let (tx, rx) = oneshot::channel();
        Call {
            send: self.sending(msg, tx),
            rx,
            deadline: None,
            armed: None,
        }
    }

    /// Like [`call`](Self::call), failing with [`Error::Timeout`] when no reply came within
    /// `timeout` (queueing included). A late reply is discarded.
    pub fn call_timeout<M>(&self, msg: M, timeout: Duration) -> Call<'_, A, M>
    where
        A: Handler<M>,
        M: Message,
    {
        let mut call = self.call(msg);
        call.deadline = Some((Instant::now() + timeout, timeout));
        call
    }

    /// Sends `msg` without waiting for it to be handled; resolves once it is queued (it
    /// waits while the path is full).
    pub fn tell<M>(&self, msg: M) -> Tell<'_, A, M>
    where
        A: Handler<M>,
        M: Message,
    {
        Tell {
            send: self.sending(msg, ()),
        }
    }

    /// [`call`](Self::call) for plain threads; fails with [`Error::BlockingOnShard`] on a
    /// shard thread.
    pub fn call_blocking<M>(&self, msg: M) -> Result<M::Reply, Error>
    where
        A: Handler<M>,
        M: Message,
    {
        blocking(self.call(msg))
    }

    /// [`call_timeout`](Self::call_timeout) for plain threads.
    pub fn call_timeout_blocking<M>(&self, msg: M, timeout: Duration) -> Result<M::Reply, Error>
    where
        A: Handler<M>,
        M: Message,
    {
        blocking(self.call_timeout(msg, timeout))
    }

    /// [`tell`](Self::tell) for plain threads.
    pub fn tell_blocking<M>(&self, msg: M) -> Result<(), Error>
    where
        A: Handler<M>,
        M: Message,
    {
        blocking(self.tell(msg))
    }

    fn sending<M, R>(&self, msg: M, reply: R) -> Sending<'_, A, M, R>
    where
        A: Handler<M>,
        M: Message,
        R: Reply<M::Reply>,
    {
        let env = self
            .table
            .map(|table| routed::<A, M, R>(self.key.clone(), table, msg, reply));
        Sending {
            target: self,
            env,
            ingress: None,
            spread: None,
        }
    }
}

fn blocking<T>(fut: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    if shard::on_any_shard() {
        return Err(Error::BlockingOnShard);
    }
    futures_lite::future::block_on(fut)
}

/// The sending half shared by calls and tells.
struct Sending<'r, A: Actor, M, R> {
    target: &'r ActorRef<A>,
    env: Option<Box<Routed<A, M, R>>>,
    ingress: Option<IngressTx>,
    spread: Option<usize>,
}

impl<A, M, R> Sending<'_, A, M, R>
where
    A: Handler<M>,
    M: Message,
    R: Reply<M::Reply>,
{
    /// Ready(Ok) once the message is handed over (or was already).
    fn poll_send(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        let target = self.target;
        let Some(table) = target.table else {
            return Poll::Ready(Err(Error::Unregistered {
                actor: std::any::type_name::<A>(),
            }));
        };
        if self.env.is_none() {
            return Poll::Ready(Ok(()));
        }
        let spread = &mut self.spread;
        let shared = &target.shared;
        let route = routing::route(shared, |here| match target.home {
            Some(home) => home,
            None => routing::home::<A>(shared, table, &target.key, here, spread),
        });
        match route {
            Route::Here(core) => routing::poll_local(&core, &mut self.env, cx.waker()),
            Route::Peer(core, home) => routing::poll_remote(
                shared,
                Some(&core),
                home,
                &mut self.env,
                &mut self.ingress,
                cx,
            ),
            Route::Outside(home) => {
                routing::poll_remote(shared, None, home, &mut self.env, &mut self.ingress, cx)
            }
        }
    }
}

/// The future of [`ActorRef::call`]: `Send`, resolves to the handler's reply.
pub struct Call<'r, A: Actor, M: Message> {
    send: Sending<'r, A, M, ReplyTx<M::Reply>>,
    rx: oneshot::Receiver<Result<M::Reply, Error>>,
    deadline: Option<(Instant, Duration)>,
    /// The wake-up at the deadline, forgotten when the call is dropped.
    armed: Option<Armed>,
}

impl<A, M> Call<'_, A, M>
where
    A: Handler<M>,
    M: Message,
{
    /// Err(Timeout) once the deadline passed; arms a wake-up the first time it waits.
    fn check_deadline(&mut self, cx: &TaskContext<'_>) -> Result<(), Error> {
        let Some((deadline, after)) = self.deadline else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            return Err(Error::Timeout { after });
        }
        if self.armed.is_none() {
            let engine = self.send.target.shared.id;
            self.armed = Some(Armed::new(engine, deadline, cx.waker().clone()));
        }
        Ok(())
    }
}

impl<A, M> Future for Call<'_, A, M>
where
    A: Handler<M>,
    M: Message,
{
    type Output = Result<M::Reply, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.send.poll_send(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Pending => {
                return match this.check_deadline(cx) {
                    Ok(()) => Poll::Pending,
                    Err(error) => Poll::Ready(Err(error)),
                };
            }
        }
        match Pin::new(&mut this.rx).poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            Poll::Ready(Err(_)) => Poll::Ready(Err(Error::ActorGone {
                actor: std::any::type_name::<A>(),
            })),
            Poll::Pending => match this.check_deadline(cx) {
                Ok(()) => Poll::Pending,
                Err(error) => Poll::Ready(Err(error)),
            },
        }
    }
}

/// The future of [`ActorRef::tell`]: `Send`, resolves once the message is queued.
pub struct Tell<'r, A: Actor, M> {
    send: Sending<'r, A, M, ()>,
}

impl<A, M> Future for Tell<'_, A, M>
where
    A: Handler<M>,
    M: Message,
{
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        self.get_mut().send.poll_send(cx)
    }
}
