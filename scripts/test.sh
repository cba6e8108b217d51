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

# `planner lsp` in a real editor: Debian's Neovim, headless, driven by a Lua script (about 1 s).
log "neovim: planner lsp in a real editor"
tests/editors/neovim/run.sh target/debug/planner

# The pre-commit hook through the real pre-commit (try-repo on a scratch repository, ~1 min).
log "pre-commit: the stageplan-check hook"
tests/ci/pre-commit.sh
# The GitHub Action's inputs and step script, outside GitHub (~1 s).
tests/ci/github-action.sh

# The playground and the WASM package (web/): build, then schema-types staleness, typecheck,
# wasm-bindgen-test, the nodejs package and its parity with the native planner, and the
# end-to-end tests in headless Chromium.
log "web: build and test"
npm --prefix web run build
npm --prefix web test

# The VS Code extension in a real VS Code: code-server 4.100.3 with the packaged .vsix, driven in
# headless Chromium (web/extension/real-editor/; about 1.5 minutes).
log "web/extension: the extension in code-server"
npm --prefix web/extension run test:code-server

# The README's main job as a smoke test: the seed's three forms build offline and run, and the
# size table prints (examples/seed/run.sh; the debug runner saves a release build here).
log "examples/seed/run.sh"
cargo build --locked -p runner
STAGEPLAN_RUNNER="$PWD/target/debug/runner" examples/seed/run.sh
