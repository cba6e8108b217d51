#!/usr/bin/env bash
# Makes the two base images the seed example builds on, offline, with `docker import`:
#   stageplan-seed/golang:1.19  - Debian's Go 1.19 toolchain (golang-1.19-go + its src), the glibc
#                                 it links against, and busybox-static as /bin/sh & co.; stands in
#                                 for the article's golang:1.7.3 (about 500 MB, like the original).
#   stageplan-seed/runtime:1    - busybox-static and a CA bundle; stands in for alpine:latest after
#                                 the article's `apk --no-cache add ca-certificates` (about 2 MB).
# Needs the Debian packages golang-1.19-go and busybox-static (scripts/lib.sh setup_seed installs
# them). Idempotent: an image that already exists is kept. Nothing is pulled or downloaded.
set -euo pipefail
DOCKER=${DOCKER:-/usr/bin/docker}
GO_ROOT=/usr/lib/go-1.19
GO_SHARE=/usr/share/go-1.19

# log and busybox_root (the busybox rootfs the test base image uses too).
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

# Copies every shared library the toolchain's dynamically linked binaries need into $1.
copy_libraries() {
  local root=$1 bin lib
  for bin in "$GO_ROOT"/bin/* "$GO_ROOT"/pkg/tool/linux_amd64/*; do
    ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true
  done | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

make_golang() {
  local tag=stageplan-seed/golang:1.19
  if "$DOCKER" image inspect "$tag" >/dev/null 2>&1; then return; fi
  [ -x "$GO_ROOT/bin/go" ] || { echo "bases.sh: $GO_ROOT/bin/go is missing: apt-get install golang-1.19-go" >&2; exit 2; }
  log "docker import $tag (Go toolchain from $GO_ROOT)"
  local root
  root=$(mktemp -d)
  busybox_root "$root"
  mkdir -p "$root/usr/lib" "$root/usr/share" "$root/go/src" "$root/go/bin"
  cp -a "$GO_ROOT" "$root/usr/lib/"
  cp -a "$GO_SHARE" "$root/usr/share/"
  ln -s "$GO_ROOT/bin/go" "$root/usr/bin/go"
  ln -s "$GO_ROOT/bin/gofmt" "$root/usr/bin/gofmt"
  copy_libraries "$root"
  chmod 777 "$root/go"
  tar --numeric-owner -C "$root" -cf - . | "$DOCKER" import \
    --change "ENV PATH=/go/bin:$GO_ROOT/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change 'ENV GOPATH=/go' \
    --change 'ENV GOLANG_VERSION=1.19' \
    --change 'WORKDIR /go' \
    --change 'CMD ["/bin/sh"]' \
    - "$tag" >/dev/null
  rm -rf "$root"
}

make_runtime() {
  local tag=stageplan-seed/runtime:1
  if "$DOCKER" image inspect "$tag" >/dev/null 2>&1; then return; fi
  log "docker import $tag (busybox + CA certificates)"
  local root
  root=$(mktemp -d)
  busybox_root "$root"
  mkdir -p "$root/etc/ssl/certs"
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  fi
  tar --numeric-owner -C "$root" -cf - . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' \
    - "$tag" >/dev/null
  rm -rf "$root"
}

make_golang
make_runtime
