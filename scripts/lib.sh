# Shared shell functions for scripts/*.sh. Source it; it defines functions only.

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Debian packages the builds and tests use.
setup_apt() {
  local pkgs=(docker.io busybox-static chromium chromium-driver python3-venv)
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
