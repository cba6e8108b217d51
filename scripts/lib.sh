# Shared shell functions for scripts/*.sh. Source it; it defines functions only.

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Debian packages the builds and tests use (libcap2-bin, bzip2 and xz-utils: the differential
# suite sets file capabilities and makes bzip2/xz archives in its build contexts).
setup_apt() {
  local pkgs=(docker.io busybox-static chromium chromium-driver python3-venv iproute2 libcap2-bin bzip2 xz-utils openssh-client)
  local missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# The wasm32 target (the planner must build for it).
setup_rust() {
  if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
    log "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

# dockerd on /var/run/docker.sock, started in the background when not answering.
setup_dockerd() {
  if /usr/bin/docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; then
    return
  fi
  log "starting dockerd"
  mkdir -p /var/log
  nohup dockerd --host unix:///var/run/docker.sock >/var/log/stageplan-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    /usr/bin/docker -H unix:///var/run/docker.sock version >/dev/null 2>&1 && return
    sleep 1
  done
  echo "dockerd did not start; see /var/log/stageplan-dockerd.log" >&2
  tail -20 /var/log/stageplan-dockerd.log >&2 || true
  return 1
}

# Fills $1 with busybox and a symlink per applet, /tmp, /root and a passwd/group file with
# root and nobody (used here and by examples/seed/bases.sh).
busybox_root() {
  local root=$1
  mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/etc" "$root/root" "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list-full); do
    [ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done
  chmod 1777 "$root/tmp"
  chmod 700 "$root/root"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

# Test base images made with `docker import` (nothing can be pulled): stageplan-test/busybox:1 is a
# busybox-static rootfs (/bin/busybox, every applet as a symlink, /etc/passwd and /etc/group with
# root and a uid-1000 user "user", /tmp, /root, /home/user). Skipped when the tag exists.
setup_base_images() {
  local tag=stageplan-test/busybox:1
  if /usr/bin/docker image inspect "$tag" >/dev/null 2>&1; then
    return
  fi
  log "docker import $tag"
  local root
  root=$(mktemp -d)
  busybox_root "$root"
  # A uid-1000 user for the --chown and USER tests.
  mkdir -p "$root/home/user"
  printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
  chown 1000:1000 "$root/home/user"
  tar --numeric-owner --mtime=@0 -C "$root" -cf - . | /usr/bin/docker import - "$tag" >/dev/null
  rm -rf "$root"
}

# The seed example's offline base images (examples/seed/bases.sh): Debian's Go 1.19 toolchain
# imported as stageplan-seed/golang:1.19 and busybox + CA bundle as stageplan-seed/runtime:1.
setup_seed() {
  if ! dpkg-query -W -f='${Status}' golang-1.19-go 2>/dev/null | grep -q 'install ok installed'; then
    log "apt-get install golang-1.19-go"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends golang-1.19-go >/dev/null
  fi
  examples/seed/bases.sh
}

# Python venv .venv-conformance with the PyPI package `dockerfile` 3.4.0 (BuildKit v0.12.5's Go
# parser in a binary abi3 wheel; --only-binary so it never tries to build Go code). The parser
# conformance test (tests/it/conformance.rs) runs tests/conformance/dump.py with its python.
setup_conformance_venv() {
  local venv=.venv-conformance
  if "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("dockerfile") != "3.4.0")' 2>/dev/null; then
    return
  fi
  log "python3 -m venv $venv; pip install dockerfile==3.4.0"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: dockerfile==3.4.0
}

# The WebAssembly toolchain of web/: the wasm32 target and wasm-bindgen-cli at exactly the
# wasm-bindgen version in Cargo.lock (`--locked` is left out on purpose: one of the CLI's pinned
# dependencies is not served by the registry reachable here).
setup_wasm() {
  if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
    log "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  local version
  version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  if [ -z "$version" ]; then
    echo "Cargo.lock has no wasm-bindgen package" >&2
    return 1
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $version" ]; then
    log "cargo install wasm-bindgen-cli --version $version"
    cargo install wasm-bindgen-cli --version "$version" --force
  fi
}

# The npm packages of web/ (Vite, CodeMirror, binaryen, playwright-core), from package-lock.json.
setup_node() {
  if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
    log "npm ci (web)"
    npm --prefix web ci --no-audit --no-fund
  fi
}

# The npm packages of the VS Code extension (web/extension: esbuild, @vscode/vsce, @types/vscode),
# from its own package-lock.json; install scripts are skipped (esbuild's binary comes as a package).
setup_vscode_extension() {
  if [ ! -d web/extension/node_modules ] || [ web/extension/package-lock.json -nt web/extension/node_modules/.package-lock.json ]; then
    log "npm ci (web/extension)"
    npm --prefix web/extension ci --no-audit --no-fund --ignore-scripts
  fi
}

# code-server 4.100.3 (VS Code 1.100.3, the last release that runs on Node 20) in .code-server/,
# for the real-editor test of the VS Code extension (web/extension/test/real-editor/). Its install
# step builds VS Code's native modules (kerberos needs libkrb5-dev; the C++ headers are the running
# Node's own, through npm_config_nodedir) and runs @vscode/ripgrep's postinstall, which downloads
# a ripgrep build from GitHub unless the archive is already in its cache folder,
# $TMPDIR/vscode-ripgrep-cache-<package version>/ripgrep-<release>-<target>.tar.gz (read from
# @vscode/ripgrep 1.15.11's lib/postinstall.js and lib/download.js, the version code-server
# 4.100.3's lib/vscode/npm-shrinkwrap.json pins): that archive is made here from Debian's ripgrep.
# As root, npm runs install scripts only with unsafe_perm, and `yes` answers npm's prompts.
# Skipped when .code-server/ already holds that version with its install step finished (VS Code's
# modules in place and ripgrep unpacked).
CODE_SERVER_VERSION=4.100.3
setup_code_server() {
  local prefix=.code-server
  local package="$prefix/node_modules/code-server"
  if [ -x "$prefix/node_modules/.bin/code-server" ] &&
    grep -q "\"version\": \"$CODE_SERVER_VERSION\"" "$package/package.json" 2>/dev/null &&
    [ -x "$package/lib/vscode/node_modules/@vscode/ripgrep/bin/rg" ] &&
    [ -e "$package/lib/vscode/node_modules.asar" ]; then
    return
  fi
  local missing=()
  local p
  for p in libkrb5-dev ripgrep; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi

  local ripgrep_package=1.15.11 ripgrep_release=v13.0.0-10 ripgrep_target
  case "$(uname -m)" in
    x86_64) ripgrep_target=x86_64-unknown-linux-musl ;;
    aarch64) ripgrep_target=aarch64-unknown-linux-musl ;;
    *) echo "setup_code_server: no ripgrep target for $(uname -m)" >&2; return 1 ;;
  esac
  local tmp=${TMPDIR:-/tmp}
  local cache="$tmp/vscode-ripgrep-cache-$ripgrep_package"
  local archive="$cache/ripgrep-$ripgrep_release-$ripgrep_target.tar.gz"
  mkdir -p "$cache"
  local staging
  staging=$(mktemp -d)
  cp /usr/bin/rg "$staging/rg"
  tar -C "$staging" -czf "$archive" rg
  rm -rf "$staging"

  local node_prefix
  node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  if [ ! -f "$node_prefix/include/node/node.h" ]; then
    echo "setup_code_server: no Node headers in $node_prefix/include/node (code-server's native modules need them)" >&2
    return 1
  fi
  log "npm install code-server@$CODE_SERVER_VERSION (into $prefix; builds its native modules, a few minutes)"
  rm -rf "$prefix"
  mkdir -p "$prefix"
  printf '{ "private": true }\n' >"$prefix/package.json"
  npm_config_unsafe_perm=true npm_config_yes=true npm_config_nodedir="$node_prefix" \
    npm install --prefix "$prefix" --no-audit --no-fund --no-save "code-server@$CODE_SERVER_VERSION"
}

# Neovim from Debian (its built-in LSP client drives `planner lsp` in tests/editors/neovim) and
# the PyPI `pre-commit` in a venv (tests/ci/pre-commit.sh runs `pre-commit try-repo`).
setup_editor_tests() {
  if ! command -v nvim >/dev/null 2>&1; then
    log "apt-get install neovim"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends neovim >/dev/null
  fi
  local venv=.venv-precommit
  if ! "$venv/bin/pre-commit" --version 2>/dev/null | grep -q '^pre-commit 4\.'; then
    log "python3 -m venv $venv; pip install pre-commit 4"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'pre-commit>=4,<5'
  fi
}

# Optional, not run by setup.sh or CI: cargo-fuzz for the planner's fuzz targets
# (docs/fuzzing.md). It builds with nightly flags on the stable toolchain through
# RUSTC_BOOTSTRAP=1, so no nightly toolchain is needed.
setup_cargo_fuzz() {
  if cargo fuzz --version >/dev/null 2>&1; then
    return
  fi
  log "cargo install cargo-fuzz --locked"
  cargo install cargo-fuzz --locked
}
