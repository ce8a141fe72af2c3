#!/usr/bin/env bash
# Line coverage of the core crates (log, engine, placement) with cargo-tarpaulin's LLVM engine,
# installed from crates.io when absent. Not part of CI: it rebuilds everything instrumented.
# Extra arguments go to cargo tarpaulin, e.g. `scripts/coverage.sh --out Html`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
need_build_deps
if ! cargo tarpaulin --version >/dev/null 2>&1; then
  say "installing cargo-tarpaulin (crates.io)"
  cargo install cargo-tarpaulin --locked || die "cargo install cargo-tarpaulin failed"
fi
exec cargo tarpaulin --engine llvm -p quark-log -p quark -p quark-placement \
  --target-dir target/coverage --skip-clean --out Stdout "$@"
