#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, simulation,
# end-to-end) under CTest. Exit status is CTest's.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
BUILD_DIR=${ORCH_BUILD_DIR:-build}
# The Docker tests need a real engine: as root, start a private dockerd and a
# loopback registry with the test image (scripts/dockerd.sh) unless the caller
# points at one already (ORCH_DOCKER_SOCKET and ORCH_TEST_REGISTRY) or opts
# out (ORCH_SKIP_DOCKER=1). Without them those tests skip, saying why.
if [ -z "${ORCH_DOCKER_SOCKET:-}" ] && [ -z "${ORCH_SKIP_DOCKER:-}" ] && [ "$(id -u)" -eq 0 ] &&
  command -v dockerd >/dev/null; then
  docker_env=$(./scripts/dockerd.sh)
  while IFS= read -r line; do export "${line?}"; done <<<"$docker_env"
fi
# A short run of every libFuzzer target first when asked (CI sets ORCH_FUZZ=ci,
# a seeded run of fixed length; a number is seconds per target): clang +
# ASan/UBSan build in build-fuzz (scripts/fuzz.sh).
if [ -n "${ORCH_FUZZ:-}" ]; then
  ./scripts/fuzz.sh all "$ORCH_FUZZ"
fi
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${ORCH_TEST_JOBS:-2}" --timeout 600 "$@"
