#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, simulation,
# end-to-end) under CTest. Exit status is CTest's.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
BUILD_DIR=${ORCH_BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${ORCH_TEST_JOBS:-2}" --timeout 600 "$@"
