//! Quark's log as a [`LogPeer`]: waiting for the `quark-log` API to land in the tree.
//!
//! Invariant: until it lands, every figure is "unavailable", never made up.
use crate::peers::{AppendLoad, AppendRun, LogPeer, Peer, PeerError, ReplayLoad, ReplayRun};
use crate::progress::Progress;

/// Quark's log on one glommio shard.
#[derive(Debug, Default)]
pub struct QuarkLog;

impl QuarkLog {
    /// A log in a fresh temporary directory per run.
    pub fn new() -> QuarkLog {
        QuarkLog
    }
}

impl Peer for QuarkLog {
    fn name(&self) -> &'static str {
        "quark"
    }
}

const MISSING: &str = "the quark-log append API is not in the tree yet";

impl LogPeer for QuarkLog {
    fn append(&self, _load: &AppendLoad, _progress: &Progress) -> Result<AppendRun, PeerError> {
        Err(PeerError::Unavailable(MISSING.to_owned()))
    }

    fn replay(&self, _load: &ReplayLoad, _progress: &Progress) -> Result<ReplayRun, PeerError> {
        Err(PeerError::Unavailable(MISSING.to_owned()))
    }
}
