//! Quark: the engine users embed (work in progress).
