#!/usr/bin/env bash
# The main job: the benchmark harness on the embedded default, side by side with PostgreSQL
# and Redis (installed and started here when absent). Extra arguments go to the harness,
# e.g. `scripts/bench.sh --quick`, `scripts/bench.sh log.append --json out.json`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
need_build_deps
need_apt metis # gpmetis, the reference partitioner beside placement.locality
scripts/services.sh start
exec cargo run --release -p quark-benches -- "$@"
