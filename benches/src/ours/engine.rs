//! Quark's engine as an [`ActorPeer`]: waiting for the `quark` engine API to land in the tree.
//!
//! Invariant: until it lands, every figure is "unavailable", never made up.
use crate::peers::PeerError;
use crate::peers::{ActivateLoad, ActivateRun, ActorPeer, MessageLoad, MessageRun, Peer};

/// Quark's engine: one shard per core.
#[derive(Debug, Default)]
pub struct QuarkEngine;

impl QuarkEngine {
    /// An engine started per run.
    pub fn new() -> QuarkEngine {
        QuarkEngine
    }
}

impl Peer for QuarkEngine {
    fn name(&self) -> &'static str {
        "quark"
    }
}

fn missing<T>() -> Result<T, PeerError> {
    Err(PeerError::Unavailable(
        "the quark engine API is not in the tree yet".to_owned(),
    ))
}

impl ActorPeer for QuarkEngine {
    fn tell_one_core(&self, _: &MessageLoad) -> Result<MessageRun, PeerError> {
        missing()
    }

    fn call_one_core(&self, _: &MessageLoad) -> Result<MessageRun, PeerError> {
        missing()
    }

    fn call_cross_core(&self, _: &MessageLoad) -> Result<MessageRun, PeerError> {
        missing()
    }

    fn activate(&self, _: &ActivateLoad) -> Result<ActivateRun, PeerError> {
        missing()
    }
}
