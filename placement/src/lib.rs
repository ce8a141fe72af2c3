//! Placement policy (work in progress).
