#!/usr/bin/env bash
# Form 2 of the seed: the "builder pattern" the article replaced. Two Dockerfiles and this
# script: build the toolchain image, `docker container create` + `docker container cp` the binary
# out of it into the context, build the runtime image around it, delete the binary.
# Tags: stageplan-seed/href-counter:build and stageplan-seed/href-counter:two-file.
set -euo pipefail
cd "$(dirname "$0")"
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-1}
extract=stageplan-seed-extract-$$
trap '"$DOCKER" container rm -f "$extract" >/dev/null 2>&1 || true; rm -f ./app' EXIT

echo "Building stageplan-seed/href-counter:build"
"$DOCKER" build -q -t stageplan-seed/href-counter:build -f Dockerfile.build . >/dev/null

"$DOCKER" container create --name "$extract" stageplan-seed/href-counter:build >/dev/null
"$DOCKER" container cp "$extract":/go/src/github.com/alexellis/href-counter/app ./app
"$DOCKER" container rm -f "$extract" >/dev/null

echo "Building stageplan-seed/href-counter:two-file"
# The article passes --no-cache so the new binary is always picked up; content-addressed caches
# (BuildKit, the runner) see a changed ./app anyway, so it is kept off here for fair timings.
"$DOCKER" build -q -t stageplan-seed/href-counter:two-file -f Dockerfile.run . >/dev/null
