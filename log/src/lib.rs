//! Quark's durable, segmented, append-only log (work in progress).
