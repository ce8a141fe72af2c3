//! Workspace-wide integration tests live in `tests/tests/`.
