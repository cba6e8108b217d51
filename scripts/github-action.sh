#!/usr/bin/env bash
# The step of action.yml: turns the action's inputs (INPUT_* variables) into a `planner check`
# command, writes the report to the log or to output-file, and sets the outputs `results` and
# `exit-code` in $GITHUB_OUTPUT.
#
# Input: STAGEPLAN_PLANNER (the planner binary), INPUT_DOCKERFILE, INPUT_RECURSIVE, INPUT_FORMAT,
# INPUT_FAILURE_THRESHOLD, INPUT_OUTPUT_FILE, INPUT_TARGET, INPUT_BUILD_ARGS, INPUT_PLATFORM.
# Output: planner check's exit code. Tested by tests/ci/github-action.sh (outside GitHub).
set -uo pipefail
planner=${STAGEPLAN_PLANNER:-planner}
read -r -a paths <<<"${INPUT_DOCKERFILE:-Dockerfile}"
if [ "${INPUT_RECURSIVE:-false}" = "true" ] && [ "${paths[*]}" = "Dockerfile" ]; then
  paths=(.)
fi
args=(check --format "${INPUT_FORMAT:-github}" --failure-threshold "${INPUT_FAILURE_THRESHOLD:-info}")
for target in ${INPUT_TARGET:-}; do
  args+=(--target "$target")
done
while IFS= read -r pair; do
  [ -n "$pair" ] && args+=(--build-arg "$pair")
done <<<"${INPUT_BUILD_ARGS:-}"
[ -n "${INPUT_PLATFORM:-}" ] && args+=(--platform "$INPUT_PLATFORM")

report=$(mktemp)
"$planner" "${args[@]}" -- "${paths[@]}" >"$report"
status=$?
if [ -n "${INPUT_OUTPUT_FILE:-}" ]; then
  cp "$report" "$INPUT_OUTPUT_FILE"
  # Annotations only work from the log.
  [ "${INPUT_FORMAT:-github}" = "github" ] && cat "$report"
else
  cat "$report"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  delimiter="stageplan_$(date +%s%N)"
  {
    echo "results<<$delimiter"
    cat "$report"
    echo "$delimiter"
    echo "exit-code=$status"
  } >>"$GITHUB_OUTPUT"
fi
rm -f "$report"
exit "$status"
