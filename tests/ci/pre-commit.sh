#!/usr/bin/env bash
# Tests .pre-commit-hooks.yaml with the real pre-commit (PyPI, in .venv-precommit made by
# scripts/setup.sh): `pre-commit try-repo` this repository's stageplan-check hook on a scratch
# git repository, which pre-commit clones and runs as a user's project would.
#
# Checks: a Dockerfile with a finding fails the commit check and names the rule; files that are
# not Dockerfiles are not passed; hook args reach planner check; a clean tree passes.
# Takes about a minute: the first run compiles the planner crate in pre-commit's clone (its
# dependencies come from the workspace's target directory, built by cargo test); the later
# runs use target/debug/planner through STAGEPLAN_PLANNER.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
precommit=$repo/.venv-precommit/bin/pre-commit
[ -x "$precommit" ] || { echo "pre-commit is missing; run scripts/setup.sh" >&2; exit 2; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export PRE_COMMIT_HOME="$scratch/cache" CARGO_TARGET_DIR="$repo/target"
project="$scratch/project"
mkdir -p "$project/services"
cd "$project"
git init -q .
git config user.email test@example.com
git config user.name test
printf 'FROM alpine AS Build\nRUN true\nFROM build\n' > Dockerfile
printf 'FROM alpine\nCMD ["true"]\n' > services/api.Dockerfile
printf 'FROM\nthis is not a Dockerfile\n' > notes.txt
git add -A

passed=0 failed=0
expect() { # name, wanted exit code, grep pattern in the output, command...
  local name=$1 want=$2 pattern=$3; shift 3
  local out status=0
  out=$("$@" 2>&1) || status=$?
  if [ "$status" = "$want" ] && grep -q -- "$pattern" <<<"$out"; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name (exit $status, wanted $want and /$pattern/)"; echo "$out" | tail -20
  fi
}
try() { "$precommit" try-repo "$repo" stageplan-check "$@"; }

# 1. The hook as users get it: pre-commit clones this repository and the hook builds the
#    planner there. --verbose shows planner check's report.
out=$(try --all-files --verbose 2>&1) && status=0 || status=$?
if [ "$status" = 1 ] && grep -q "Dockerfile:1:16: warning\[StageNameCasing\]" <<<"$out" && ! grep -q "notes.txt" <<<"$out"; then
  passed=$((passed + 1)); echo "ok   try-repo: a finding fails the hook and names the rule; notes.txt is not passed"
else
  failed=$((failed + 1)); echo "FAIL try-repo: a finding fails the hook (exit $status)"; echo "$out" | tail -20
fi

# 2. The rest with the planner just built (STAGEPLAN_PLANNER skips the build in the hook).
export STAGEPLAN_PLANNER="$repo/target/debug/planner"
printf 'FROM alpine AS build\nRUN true\nFROM build\n' > Dockerfile
git add -A
expect "try-repo: a clean tree passes" 0 "stageplan check.*Passed" try --all-files
printf 'FROM alpine\nCMD echo hi\n' > services/api.Dockerfile
git add -A
expect "a warning fails with the default threshold" 1 "JSONArgsRecommended" try --all-files --verbose
cat > "$scratch/config.yaml" <<YAML
repos:
  - repo: $repo
    rev: $(git -C "$repo" rev-parse HEAD)
    hooks:
      - id: stageplan-check
        args: [--failure-threshold, error]
YAML
# try-repo cannot pass hook args; a config naming this repository (its committed HEAD) can.
expect "hook args reach planner check" 0 "stageplan check.*Passed" "$precommit" run --config "$scratch/config.yaml" --all-files
echo "pre-commit: $passed passed, $failed failed"
[ "$failed" = 0 ]
