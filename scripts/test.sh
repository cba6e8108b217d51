#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh) and runs every test of the project.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/lib.sh

log "cargo test (workspace)"
cargo test --workspace --locked
