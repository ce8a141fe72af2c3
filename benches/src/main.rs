//! The benchmark harness (work in progress).
fn main() {}
