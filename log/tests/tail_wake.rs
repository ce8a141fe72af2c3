//! The tailing reader is woken by each new durable append while the log stays open.
//!
//! `basic.rs` reads everything through a tail reader but closes the log before collecting, so
//! it would also pass if readers were woken only by `close`. Here the reader's future is polled
//! by hand with a counting waker: pending when caught up, woken by the append's group commit,
//! and ready with exactly that record on the next poll; no timing involved.

#![forbid(unsafe_code)]

mod common;

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use quark_log::Log;

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_caught_up_tail_reader_is_woken_by_each_append() {
    let dir = common::tempdir();
    let path = dir.path().join("log");
    common::run(move || async move {
        let log = Log::open(&path, common::small()).await.expect("open");
        log.append_bytes(1, b"before").await.expect("append");
        let mut tail = log.tail(log.durable_end());
        for i in 0..50u32 {
            let count = Arc::new(Count(AtomicUsize::new(0)));
            let waker = Waker::from(count.clone());
            let mut cx = Context::from_waker(&waker);
            let mut next = pin!(tail.next());
            assert!(next.as_mut().poll(&mut cx).is_pending(), "caught up: {i}");
            assert_eq!(count.0.load(Ordering::SeqCst), 0);
            let payload = format!("record {i}").into_bytes();
            let position = log.append_bytes(1, &payload).await.expect("append");
            assert!(
                count.0.load(Ordering::SeqCst) >= 1,
                "the append woke the reader: {i}"
            );
            let Poll::Ready(Some(Ok(record))) = next.as_mut().poll(&mut cx) else {
                panic!("woken reader has the new record: {i}");
            };
            assert_eq!(record.position(), position);
            assert_eq!(record.entries().next().expect("entry").payload, payload);
        }
        log.close().await.expect("close");
        // After close a caught-up reader ends.
        assert!(tail.next().await.is_none());
    });
}
