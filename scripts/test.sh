#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh) and runs every test of the project.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/lib.sh

# The parser conformance test (tests/it/conformance.rs) finds the reference parser here.
export STAGEPLAN_CONFORMANCE_PYTHON="$PWD/.venv-conformance/bin/python"
# The runner's engine tests and its differential suite against the engine's BuildKit
# (runner/tests/, one test per golden case in runner/tests/differential/cases) run here too.
log "cargo test (workspace)"
cargo test --workspace --locked

# The playground and the WASM package (web/): build, then schema-types staleness, typecheck,
# wasm-bindgen-test, the nodejs package and its parity with the native planner, and the
# end-to-end tests in headless Chromium.
log "web: build and test"
npm --prefix web run build
npm --prefix web test

# The README's main job as a smoke test: the seed's three forms build offline and run, and the
# size table prints (examples/seed/run.sh; the debug runner saves a release build here).
log "examples/seed/run.sh"
cargo build --locked -p runner
STAGEPLAN_RUNNER="$PWD/target/debug/runner" examples/seed/run.sh
