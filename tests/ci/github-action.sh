#!/usr/bin/env bash
# Tests the GitHub Action outside GitHub: action.yml's inputs each reach scripts/github-action.sh
# (parsed with PyYAML from the pre-commit venv), and the script, run as the action's step runs
# it (INPUT_* variables, GITHUB_OUTPUT), gives planner check's report, exit code and outputs.
# What cannot be tested here: the runner itself (`cargo install` on GitHub's machines, the
# annotations and SARIF upload shown by GitHub). Takes about a second.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
python=$repo/.venv-precommit/bin/python
[ -x "$python" ] || { echo "the pre-commit venv is missing; run scripts/setup.sh" >&2; exit 2; }
export STAGEPLAN_PLANNER=$repo/target/debug/planner
[ -x "$STAGEPLAN_PLANNER" ] || { echo "no planner at $STAGEPLAN_PLANNER; run cargo build -p planner" >&2; exit 2; }
passed=0 failed=0
result() { if [ "$1" = 0 ]; then passed=$((passed + 1)); echo "ok   $2"; else failed=$((failed + 1)); echo "FAIL $2"; fi; }

"$python" - "$repo/action.yml" <<'PY' && result 0 "every input of action.yml is passed to the script" || result 1 "every input of action.yml is passed to the script"
import sys, yaml
action = yaml.safe_load(open(sys.argv[1]))
step = next(s for s in action["runs"]["steps"] if s.get("id") == "check")
env = step["env"]
script = open(sys.argv[1].replace("action.yml", "scripts/github-action.sh")).read()
missing = [name for name in action["inputs"]
           if env.get("INPUT_" + name.upper().replace("-", "_")) != "${{ inputs.%s }}" % name
           or "INPUT_" + name.upper().replace("-", "_") not in script]
assert not missing, missing
assert set(action["outputs"]) == {"results", "exit-code"}
PY

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/services"
printf 'FROM alpine AS Build\nRUN true\nFROM build AS app\n' > "$scratch/Dockerfile"
printf 'ARG BASE\nFROM ${BASE} AS app\nCMD ["app"]\n' > "$scratch/services/api.Dockerfile"
cd "$scratch"

# Recursive, SARIF to a file, outputs set; the warning fails with the default threshold.
status=0
GITHUB_OUTPUT=$scratch/out INPUT_RECURSIVE=true INPUT_FORMAT=sarif INPUT_OUTPUT_FILE=report.sarif \
  INPUT_BUILD_ARGS=$'BASE=debian\n' "$repo/scripts/github-action.sh" >log || status=$?
grep -q '"ruleId": "StageNameCasing"' report.sarif && [ "$status" = 1 ] && [ ! -s log ] \
  && grep -q '^exit-code=1$' out && grep -q '"version": "2.1.0"' out
result $? "recursive SARIF report in output-file, exit code and outputs"

# Annotations in the log; threshold error passes; targets and platform reach the planner.
status=0
INPUT_DOCKERFILE="Dockerfile services/api.Dockerfile" INPUT_FAILURE_THRESHOLD=error INPUT_TARGET=app \
  INPUT_PLATFORM=linux/arm64 INPUT_BUILD_ARGS=BASE=debian "$repo/scripts/github-action.sh" >log || status=$?
[ "$status" = 0 ] && grep -q '^::warning file=Dockerfile,line=1,col=16,.*StageNameCasing' log
result $? "github annotations, failure-threshold error, target, platform and build args"

status=0
INPUT_DOCKERFILE=missing/Dockerfile "$repo/scripts/github-action.sh" >log 2>&1 || status=$?
[ "$status" = 2 ] && grep -q 'cannot read Dockerfile "missing/Dockerfile"' log
result $? "a missing Dockerfile is a usage error (exit 2)"

echo "github-action: $passed passed, $failed failed"
[ "$failed" = 0 ]
