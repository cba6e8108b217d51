#!/usr/bin/env bash
# The entry of the `stageplan-check` pre-commit hook (.pre-commit-hooks.yaml): builds the planner
# from this checkout (cargo reuses the build on later runs) and runs `planner check` with the
# hook's arguments and the staged Dockerfiles pre-commit passes.
#
# Input: planner check arguments and file names. Output: planner check's report and exit code
# (1 when a finding is at or above --failure-threshold, default: any finding).
# With STAGEPLAN_PLANNER set to a planner binary, that binary is used and nothing is built.
set -euo pipefail
if [ -n "${STAGEPLAN_PLANNER:-}" ]; then
  exec "$STAGEPLAN_PLANNER" check "$@"
fi
root=$(cd "$(dirname "$0")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
if ! command -v cargo >/dev/null 2>&1; then
  echo "stageplan-check: cargo is not on PATH; install Rust (https://rustup.rs) to build the planner" >&2
  exit 2
fi
cargo build --quiet --locked --manifest-path "$root/Cargo.toml" -p planner --bin planner --target-dir "$target_dir"
exec "$target_dir/debug/planner" check "$@"
