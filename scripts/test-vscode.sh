#!/usr/bin/env bash
# Runs only the VS Code extension's real-editor test: installs what it needs when missing (Debian
# packages, the npm packages of web/ and web/extension/, code-server 4.100.3 in .code-server/),
# builds the WASM packages when web/pkg is missing, then drives the packaged extension in
# code-server (web/extension/real-editor/). scripts/test.sh runs the same test after the others.
# Extra arguments go to node's test runner; UPDATE_THEMES=1 rewrites the recorded theme variables.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

setup_apt
setup_wasm
setup_node
setup_vscode_extension
setup_code_server
if [ ! -f web/pkg/node/planner_bg.wasm ] || [ ! -f web/pkg/web/planner_bg.wasm ]; then
  log "npm --prefix web run build:wasm"
  npm --prefix web run build:wasm
fi
log "web/extension: the extension in code-server"
cd web/extension
exec node --test --test-concurrency=1 "$@" real-editor/
