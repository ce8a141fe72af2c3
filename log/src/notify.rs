//! A single-threaded "something changed" notification for tasks of one glommio executor.
//!
//! Invariant: `notify_all` wakes every waker registered before it; a waiter re-checks its
//! condition after every wake-up, so spurious wake-ups are harmless and none is lost.

use std::cell::RefCell;
use std::task::Waker;

/// Wakers waiting for a change.
#[derive(Default)]
pub(crate) struct Notify {
    wakers: RefCell<Vec<Waker>>,
}

impl Notify {
    /// Registers `waker` to be woken at the next `notify_all`.
    pub(crate) fn register(&self, waker: &Waker) {
        // No de-duplication: waiters are polled again only after a wake, and the list is drained
        // on every notification, so duplicates stay rare and this stays O(1).
        self.wakers.borrow_mut().push(waker.clone());
    }

    /// Wakes every registered waker.
    pub(crate) fn notify_all(&self) {
        let wakers = std::mem::take(&mut *self.wakers.borrow_mut());
        for w in wakers {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn notify_wakes_each_registered_waker_once() {
        let n = Notify::default();
        let counts: Vec<_> = (0..3)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        for c in &counts {
            n.register(&Waker::from(c.clone()));
        }
        n.notify_all();
        n.notify_all(); // Nothing registered any more: no second wake.
        for c in &counts {
            assert_eq!(c.0.load(Ordering::SeqCst), 1);
        }
    }
}
