//! The operator's tool (placeholder until the inspect module lands).
fn main() {}
