#!/usr/bin/env bash
# The README's main job: the Go hello-world of the original multi-stage-builds article in its three
# forms, built offline on the local engine, run, and compared by image size.
#   1. one fat Dockerfile                       (Dockerfile.fat)
#   2. two Dockerfiles + build.sh               (Dockerfile.build, Dockerfile.run; docker create/cp)
#   3. one multi-stage Dockerfile               (Dockerfile; `--target builder` stops at the builder)
# Form 3 is built with stageplan's runner (`runner build`) and, for comparison, with BuildKit
# (`DOCKER_BUILDKIT=1 /usr/bin/docker build`) on the same engine. The runner also builds form 1,
# and its leak report shows why multi-stage builds exist: the fat image ships the sources and the
# Go toolchain, the multi-stage image ships neither.
# Sets up what it needs with scripts/setup.sh (dockerd, busybox-static, Debian's Go toolchain, and
# the two imported base images). Options: --no-runner builds form 3 with BuildKit only;
# STAGEPLAN_RUNNER=/path/to/runner uses that binary instead of building target/release/runner.
# Leaves the images tagged stageplan-seed/href-counter:* for inspection; removes its containers.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
seed=examples/seed
DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=1
use_runner=1
for arg in "$@"; do
  case "$arg" in
    --no-runner) use_runner=0 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

scripts/setup.sh
. scripts/lib.sh

img=stageplan-seed/href-counter
leaks_fat=$(mktemp)
leaks_multi=$(mktemp)
trap 'rm -f "$leaks_fat" "$leaks_multi"' EXIT
# The leak report of a runner build's summary: its warnings, the clean line and the biggest
# directories the image adds.
leak_report() { grep -E '^(warning: line|leak report|biggest directories|  +[0-9.]+ [kMG]?B  /)' "$1" || true; }
if [ "$use_runner" = 1 ]; then
  if [ -n "${STAGEPLAN_RUNNER:-}" ]; then
    runner=$STAGEPLAN_RUNNER
  else
    log "cargo build --release -p runner"
    cargo build --release --locked -p runner
    runner=$repo/target/release/runner
  fi
fi

log "form 1: fat image (Dockerfile.fat)"
"$DOCKER" build -q -t "$img:fat" -f "$seed/Dockerfile.fat" "$seed" >/dev/null

log "form 2: builder pattern (build.sh: Dockerfile.build, docker create/cp, Dockerfile.run)"
DOCKER="$DOCKER" "$seed/build.sh"

log "form 3: multi-stage Dockerfile with BuildKit (default target and --target builder)"
"$DOCKER" build -q -t "$img:multi-buildkit" -f "$seed/Dockerfile" "$seed" >/dev/null
"$DOCKER" build -q --target builder -t "$img:builder-buildkit" -f "$seed/Dockerfile" "$seed" >/dev/null

if [ "$use_runner" = 1 ]; then
  log "form 3: multi-stage Dockerfile with stageplan's runner (default target and --target builder)"
  "$runner" build "$seed" -f "$seed/Dockerfile" -t "$img:multi" --progress plain 2>&1 | tee "$leaks_multi"
  "$runner" build "$seed" -f "$seed/Dockerfile" --target builder -t "$img:builder" --progress plain
  log "form 1: fat image with stageplan's runner, for its leak report"
  "$runner" build "$seed" -f "$seed/Dockerfile.fat" -t "$img:fat-runner" --progress plain 2>"$leaks_fat"
fi

log "running the images"
images=("$img:fat" "$img:two-file" "$img:multi-buildkit")
[ "$use_runner" = 1 ] && images+=("$img:multi")
for image in "${images[@]}"; do
  printf '%-46s ' "$image:"
  "$DOCKER" run --rm --network none "$image"
done

# Size in MB (the engine's own 1000-based figure) and layer count of an image.
size_mb() { "$DOCKER" image inspect -f '{{.Size}}' "$1" | awk '{printf "%.1f", $1/1000000}'; }
layers() { "$DOCKER" image inspect -f '{{len .RootFS.Layers}}' "$1"; }
row() { printf '| %-34s | %-44s | %10s | %6s |\n' "$1" "$2" "$(size_mb "$2") MB" "$(layers "$2")"; }

echo
printf '| %-34s | %-44s | %10s | %6s |\n' form image size layers
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..36})" "$(printf -- '-%.0s' {1..46})" "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..8})"
row "1 fat Dockerfile" "$img:fat"
row "2 build.sh: toolchain image" "$img:build"
row "2 build.sh: runtime image" "$img:two-file"
row "3 multi-stage, BuildKit: builder" "$img:builder-buildkit"
row "3 multi-stage, BuildKit: final" "$img:multi-buildkit"
if [ "$use_runner" = 1 ]; then
  row "3 multi-stage, runner: builder" "$img:builder"
  row "3 multi-stage, runner: final" "$img:multi"
  final=$img:multi
else
  final=$img:multi-buildkit
fi
echo
awk -v fat="$(size_mb "$img:fat")" -v final="$(size_mb "$final")" \
  'BEGIN { printf "multi-stage final image: %.1f MB instead of %.1f MB for the fat image (%.0fx smaller), from one Dockerfile and one command\n", final, fat, fat / final }'
if [ "$use_runner" = 1 ]; then
  echo
  echo "leak report of the fat image (Dockerfile.fat, built by the runner):"
  leak_report "$leaks_fat"
  echo
  echo "leak report of the multi-stage image (Dockerfile):"
  leak_report "$leaks_multi"
fi
