#!/usr/bin/env bash
# Runs every check CI runs: formatting, clippy, and the whole test suite against real
# PostgreSQL and Redis servers on 127.0.0.1 (installed and started here when absent).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
need_build_deps
need_apt metis # gpmetis, the reference partitioner beside placement.locality
scripts/services.sh start

say "cargo fmt --check"
cargo fmt --all -- --check || die "formatting differs: run cargo fmt --all"
say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings || die "clippy found problems"
say "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast
fi
say "all checks passed"
