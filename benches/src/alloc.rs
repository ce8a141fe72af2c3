//! A counting global allocator, so `actor.activate` can report live heap bytes per idle
//! activation for Quark and its peers alike, from the allocator rather than from RSS.
//!
//! Counting is off except while a [`Meter`] runs: outside it the only cost is one relaxed load of a
//! flag that never changes, so every other scenario runs at the system allocator's speed.
//! Soundness: every method forwards to [`System`] with the caller's arguments unchanged and
//! only adds relaxed atomic arithmetic on the side, so the `GlobalAlloc` contract (valid
//! layouts, pointers from this allocator) holds exactly when it holds for the caller.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicI64 = AtomicI64::new(0);

/// The system allocator, counting net bytes while a [`Meter`] runs.
pub struct Counting;

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count(delta: i64) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_add(delta, Ordering::Relaxed);
    }
}

// Safety: each method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counting touches no memory the allocator hands out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Safety: the caller's `layout` obligations are passed on to `System` unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // Safety: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Safety: `ptr` came from this allocator, which got it from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Safety: `ptr`/`layout` came from `System` through this allocator; `new_size` is the
        // caller's, checked by the caller as the contract requires.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// A running measurement of net heap bytes (allocations minus frees, any thread).
///
/// Only one meter may run at a time; the harness runs scenarios one after another.
#[derive(Debug)]
pub struct Meter {
    before: i64,
}

impl Meter {
    /// Starts counting.
    pub fn start() -> Meter {
        let before = LIVE.load(Ordering::SeqCst);
        COUNTING.store(true, Ordering::SeqCst);
        Meter { before }
    }

    /// Stops counting and returns the net bytes allocated since `start`.
    pub fn stop(self) -> i64 {
        COUNTING.store(false, Ordering::SeqCst);
        LIVE.load(Ordering::SeqCst) - self.before
    }
}

#[cfg(test)]
mod tests {
    use super::Meter;

    #[test]
    fn counts_live_bytes_and_frees() {
        // Other unit tests run on other threads of this process and allocate too (a few KiB
        // live at a time); sizes in MiB keep their noise far below the tolerance.
        const MIB: usize = 1 << 20;
        let _turn = crate::TEST_TURN.lock().unwrap_or_else(|p| p.into_inner());
        let meter = Meter::start();
        let kept = vec![1u8; 64 * MIB];
        drop(vec![1u8; 32 * MIB]);
        let bytes = meter.stop();
        let expected = (64 * MIB) as i64;
        assert!(
            (bytes - expected).abs() < MIB as i64,
            "{bytes} bytes, expected {expected}"
        );
        assert_eq!(kept.len(), 64 * MIB);
    }
}
