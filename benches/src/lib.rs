//! The benchmark harness: every target of MISSION.md measured side by side with the systems a
//! user would pick instead, in one process and one run.
//!
//! Map: [`scenario`] is the contract and [`scenarios`] the registry (one module per scenario);
//! [`peers`] holds the capability traits and the peers (PostgreSQL, Redis, actix, ractor);
//! [`ours`] is Quark's side of the same traits; [`report`], [`json`] and [`svg`] render; the
//! [`runner`] ties them together for `main.rs` and the tests. Invariants: no figure is ever made
//! up or remembered, a peer that cannot run is reported "unavailable: why" and the run goes on,
//! and no test asserts a timing.
#![deny(unsafe_code)]

pub mod alloc;
pub mod cli;
pub mod error;
pub mod json;
pub mod latency;
pub mod machine;
pub mod ours;
pub mod peers;
pub mod progress;
pub mod quiet;
pub mod repeat;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod scenarios;
pub mod size;
pub mod svg;
pub mod timed;
pub mod work;

pub use error::Error;

/// Unit tests that measure heap bytes or run a shard take turns (tests share one process).
#[cfg(test)]
pub(crate) static TEST_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
