#!/usr/bin/env bash
# Installs and starts everything stageplan's builds and tests need on a fresh Debian machine:
# Debian packages (docker.io, busybox-static, chromium), the wasm32 target, wasm-bindgen-cli at the
# version in Cargo.lock, the Python venv for the parser conformance test, npm packages, code-server
# for the extension's real-editor test, and dockerd.
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

setup_apt
setup_rust
setup_wasm
setup_node
setup_vscode_extension
setup_code_server
setup_conformance_venv
setup_editor_tests
setup_dockerd
setup_base_images
setup_seed
