//! Quark's side of each scenario: the same capability traits as the peers, implemented on
//! `quark-log` and the `quark` engine.
pub mod engine;
pub mod events;
pub mod log;
