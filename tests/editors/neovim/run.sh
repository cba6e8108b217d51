#!/usr/bin/env bash
# Runs Neovim headless against `planner lsp` (tests/editors/neovim/lsp_test.lua) on a scratch
# Dockerfile and exits with its result.
#
# Usage: tests/editors/neovim/run.sh [PLANNER_BINARY]   (default: target/debug/planner)
# Needs: nvim (scripts/setup.sh installs Debian's neovim). Takes about a second.
set -euo pipefail
cd "$(dirname "$0")/../../.."
planner=$(realpath "${1:-target/debug/planner}")
[ -x "$planner" ] || { echo "no planner binary at $planner; run cargo build -p planner" >&2; exit 2; }
command -v nvim >/dev/null || { echo "nvim is missing; run scripts/setup.sh" >&2; exit 2; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cat > "$scratch/Dockerfile" <<'DOCKERFILE'
FROM golang:1.22 AS Build
RUN go build -o /app
FROM build AS test
RUN go test
FROM alpine AS prod
COPY --from=build /app /app
COPY --from=0 /x /x
CMD /app
DOCKERFILE

# --clean: no user config or plugins; the test's own settings only. XDG dirs in the scratch
# directory keep Neovim's state and logs out of the home directory.
export XDG_STATE_HOME="$scratch/state" XDG_DATA_HOME="$scratch/data" XDG_CACHE_HOME="$scratch/cache"
STAGEPLAN_PLANNER="$planner" STAGEPLAN_DOCKERFILE="$scratch/Dockerfile" \
  timeout 60 nvim --headless --clean -n -c "luafile tests/editors/neovim/lsp_test.lua"
