#!/usr/bin/env bash
# Builds the same Dockerfiles with stageplan's runner (its engine backend, and as `llb` its BuildKit
# backend, `--backend buildkit`), BuildKit (DOCKER_BUILDKIT=1 /usr/bin/docker build) and the classic
# builder (DOCKER_BUILDKIT=0) on one engine, and prints median wall times and ratios. Builders take turns within every repetition (A B C, then B C A, ...), and each ratio is
# the median of the per-repetition ratios.
#
# Cases:     wide      8 independent `sleep 1` stages + a final stage copying from all of them
#            unused    6 `sleep 1` stages the target does not need, built with --target app
#            chain30   30 stages, each FROM the previous one with one RUN
#            steps100  one stage of 100 small RUN steps
#            ctx200    COPY of a 200 MB / 5,000-file context
#            seed      examples/seed/Dockerfile (Go toolchain stage + small runtime stage)
# Scenarios: cold      no cache (--no-cache; the runner also gets an empty digest cache)
#            warm      everything cached (a priming build first, not timed)
#            change    one context file changed before each build, a different change for every
#                      build (ctx200 and seed only)
#
# Usage: bench/runner-vs-docker.sh [--reps N] [--cases a,b] [--scenarios a,b]
#                                  [--builders runner,llb,buildkit,classic] [--markdown FILE] [--keep]
# Sets up with scripts/lib.sh (apt packages, dockerd, the busybox test base, the seed bases) and a release runner
# (built here with cargo, or STAGEPLAN_RUNNER=/path/to/runner). Work files live in ${STAGEPLAN_BENCH_DIR:-/tmp/stageplan-bench};
# images are tagged stageplan-bench/* and removed at the end unless --keep.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

reps=3
cases=wide,unused,chain30,steps100,ctx200,seed
scenarios=cold,warm,change
builders=runner,llb,buildkit,classic
markdown=
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    --scenarios) scenarios=$2; shift 2 ;;
    --builders) builders=$2; shift 2 ;;
    --markdown) markdown=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "runner-vs-docker.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
IFS=, read -r -a case_list <<<"$cases"
IFS=, read -r -a scenario_list <<<"$scenarios"
IFS=, read -r -a builder_list <<<"$builders"

DOCKER=/usr/bin/docker
BASE=stageplan-test/busybox:1
work=${STAGEPLAN_BENCH_DIR:-/tmp/stageplan-bench}
mkdir -p "$work"

. scripts/lib.sh
setup_apt
setup_dockerd
setup_base_images
setup_seed
runner=${STAGEPLAN_RUNNER:-$repo/target/release/runner}
if [[ ",$builders," == *,runner,* || ",$builders," == *,llb,* ]] && [ -z "${STAGEPLAN_RUNNER:-}" ]; then
  log "cargo build --release -p runner"
  cargo build --release --locked -p runner 2>&1 | tail -1
fi

# ---------------------------------------------------------------- case files
write_cases() {
  local d
  d=$work/wide; mkdir -p "$d"
  {
    for i in $(seq 1 8); do printf 'FROM %s AS s%d\nRUN sleep 1 && echo %d > /out-%d\n\n' "$BASE" "$i" "$i" "$i"; done
    printf 'FROM %s\n' "$BASE"
    for i in $(seq 1 8); do printf 'COPY --from=s%d /out-%d /\n' "$i" "$i"; done
  } >"$d/Dockerfile"

  d=$work/unused; mkdir -p "$d"
  {
    printf 'FROM %s AS base\nRUN echo base > /base\n\n' "$BASE"
    for i in $(seq 1 6); do printf 'FROM base AS unused%d\nRUN sleep 1 && echo %d > /u\n\n' "$i" "$i"; done
    printf 'FROM base AS app\nRUN echo app > /app\n\n'
    printf 'FROM app AS all\n'
    for i in $(seq 1 6); do printf 'COPY --from=unused%d /u /u%d\n' "$i" "$i"; done
  } >"$d/Dockerfile"

  d=$work/chain30; mkdir -p "$d"
  {
    printf 'FROM %s AS c0\nRUN echo 0 > /c0\n' "$BASE"
    for i in $(seq 1 29); do printf 'FROM c%d AS c%d\nRUN echo %d > /c%d\n' "$((i - 1))" "$i" "$i" "$i"; done
  } >"$d/Dockerfile"

  d=$work/steps100; mkdir -p "$d"
  {
    printf 'FROM %s\n' "$BASE"
    for i in $(seq 1 100); do printf 'RUN echo %d >> /steps\n' "$i"; done
  } >"$d/Dockerfile"

  d=$work/ctx200
  if [ ! -f "$d/.complete" ]; then
    log "generating the 200 MB / 5,000-file context in $d"
    rm -rf "$d"; mkdir -p "$d/files"
    head -c 200000000 /dev/urandom | split -b 40000 -a 4 -d - "$d/files/f"
    local n=0 f
    for f in "$d"/files/f*; do
      mkdir -p "$d/files/d$((n / 100))"
      mv "$f" "$d/files/d$((n / 100))/"
      n=$((n + 1))
    done
    # Older than the runner's racy window, as a context usually is.
    find "$d/files" -exec touch -d '1 hour ago' {} +
    touch "$d/.complete"
  fi
  printf 'FROM %s\nCOPY files /ctx/\n' "$BASE" >"$d/Dockerfile"
  printf '.complete\n' >"$d/.dockerignore"

  d=$work/seed; mkdir -p "$d"
  cp "$repo"/examples/seed/{Dockerfile,app.go,go.mod,.dockerignore} "$d/"
}

# The file each "change" scenario rewrites, per case.
change_file() {
  case "$1" in
    ctx200) echo "$work/ctx200/files/d0/f0000" ;;
    seed) echo "$work/seed/app.go" ;;
    *) echo "" ;;
  esac
}

change_counter=0
change_one() {
  local file
  file=$(change_file "$1")
  change_counter=$((change_counter + 1))
  case "$1" in
    ctx200) head -c 40000 /dev/urandom >"$file" ;;
    seed) printf '\n// change %s-%s\n' "$$" "$change_counter" >>"$file" ;;
  esac
}

# ---------------------------------------------------------------- one build
build_args() {
  case "$1" in
    unused) echo "--target app" ;;
    *) echo "" ;;
  esac
}

# build BUILDER CASE cold|warm -> runs one build, output to $work/last.log
build() {
  local builder=$1 name=$2 mode=$3 dir=$work/$2 extra tag=stageplan-bench/$2:$1
  extra=$(build_args "$name")
  local nocache=()
  [ "$mode" = cold ] && nocache=(--no-cache)
  case "$builder" in
    runner)
      local xdg=$work/xdg
      if [ "$mode" = cold ]; then xdg=$work/xdg-cold; rm -rf "$xdg"; fi
      # shellcheck disable=SC2086
      XDG_CACHE_HOME=$xdg "$runner" build "$dir" -f "$dir/Dockerfile" $extra -t "$tag" \
        --progress plain "${nocache[@]}" ;;
    llb)
      # shellcheck disable=SC2086
      "$runner" build "$dir" -f "$dir/Dockerfile" $extra -t "$tag" --backend buildkit \
        --progress plain "${nocache[@]}" ;;
    buildkit)
      # shellcheck disable=SC2086
      DOCKER_BUILDKIT=1 "$DOCKER" build -q $extra -t "$tag" "${nocache[@]}" "$dir" ;;
    classic)
      # shellcheck disable=SC2086
      DOCKER_BUILDKIT=0 "$DOCKER" build -q $extra -t "$tag" "${nocache[@]}" "$dir" ;;
  esac
}

# timed BUILDER CASE MODE -> prints seconds
timed() {
  local t0 t1
  t0=$(date +%s.%N)
  if ! build "$@" >"$work/last.log" 2>&1; then
    echo "build failed: $*" >&2
    tail -20 "$work/last.log" >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A times
# Runs one case/scenario for all builders, rotating their order every repetition.
measure() {
  local name=$1 scenario=$2 r i b
  if [ "$scenario" = change ] && [ -z "$(change_file "$name")" ]; then return; fi
  if [ "$scenario" != cold ]; then
    for b in "${builder_list[@]}"; do build "$b" "$name" warm >/dev/null 2>&1 || true; done
  fi
  for r in $(seq 1 "$reps"); do
    local n=${#builder_list[@]}
    for i in $(seq 0 $((n - 1))); do
      b=${builder_list[$(((i + r) % n))]}
      # A change of its own for every build: the runner's BuildKit backend and docker build share
      # BuildKit's cache, so a change made once per repetition would be paid by whichever ran first.
      [ "$scenario" = change ] && change_one "$name"
      local mode=warm
      [ "$scenario" = cold ] && mode=cold
      local t
      t=$(timed "$b" "$name" "$mode")
      times[$name,$scenario,$b]+="$t "
      printf '  %-9s %-7s %-9s rep %d: %7.3f s\n' "$name" "$scenario" "$b" "$r" "$t" >&2
    done
  done
}

# Median over repetitions of time(A)/time(B).
ratio() {
  local a=(${times[$1,$2,$3]:-}) b=(${times[$1,$2,$4]:-}) k out=""
  [ ${#a[@]} -gt 0 ] && [ ${#b[@]} -gt 0 ] || { echo "-"; return; }
  for k in "${!a[@]}"; do out+=$(awk -v x="${a[$k]}" -v y="${b[$k]}" 'BEGIN { printf "%.3f ", x / y }'); done
  echo "$out" | median | awk '{ printf "%.2f", $1 }'
}

write_cases
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "engine: $("$DOCKER" version -f '{{.Server.Version}} (API {{.Server.APIVersion}})'), $(nproc) CPUs, $reps repetitions"
for name in "${case_list[@]}"; do
  for scenario in "${scenario_list[@]}"; do
    measure "$name" "$scenario"
  done
done

# ---------------------------------------------------------------- report
table() {
  local header="| case | scenario |" rule="|---|---|" b name scenario
  for b in "${builder_list[@]}"; do header+=" $b (s) |"; rule+="---:|"; done
  local has_runner=0
  [[ ",$builders," == *,runner,* ]] && has_runner=1
  if [ $has_runner = 1 ]; then
    for b in "${builder_list[@]}"; do [ "$b" = runner ] || { header+=" runner / $b |"; rule+="---:|"; }; done
  fi
  local has_llb=0
  [[ ",$builders," == *,llb,* && ",$builders," == *,buildkit,* ]] && has_llb=1
  [ $has_llb = 1 ] && { header+=" llb / buildkit |"; rule+="---:|"; }
  echo "$header"; echo "$rule"
  for name in "${case_list[@]}"; do
    for scenario in "${scenario_list[@]}"; do
      [ -n "${times[$name,$scenario,${builder_list[0]}]:-}" ] || continue
      local line="| $name | $scenario |"
      for b in "${builder_list[@]}"; do line+=" $(echo "${times[$name,$scenario,$b]}" | median | awk '{ printf "%.2f", $1 }') |"; done
      if [ $has_runner = 1 ]; then
        for b in "${builder_list[@]}"; do [ "$b" = runner ] || line+=" $(ratio "$name" "$scenario" runner "$b") |"; done
      fi
      [ $has_llb = 1 ] && line+=" $(ratio "$name" "$scenario" llb buildkit) |"
      echo "$line"
    done
  done
}

result=$(table)
echo
echo "$result"
if [ -n "$markdown" ]; then
  {
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`bench/runner-vs-docker.sh --reps $reps\` on $(nproc) CPUs,"
    echo "dockerd $("$DOCKER" version -f '{{.Server.Version}}'), $("$DOCKER" info -f '{{.Images}}') images in the store, load average $load_start at the"
    echo "start and $(cut -d' ' -f1-3 /proc/loadavg) at the end (1, 5, 15 min). Median wall time of $reps runs;"
    echo "ratios are medians of per-run ratios (below 1: the runner, or its BuildKit backend \`llb\`, is faster)."
    echo
    echo "$result"
  } >"$markdown"
  log "wrote $markdown"
fi

if [ "$keep" = 0 ]; then
  for name in "${case_list[@]}"; do
    for b in "${builder_list[@]}"; do "$DOCKER" image rm "stageplan-bench/$name:$b" >/dev/null 2>&1 || true; done
  done
fi
