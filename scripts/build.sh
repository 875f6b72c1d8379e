#!/usr/bin/env bash
# Configures and builds orch into ./build (CMake + Ninja, ccache when present).
# Usage: scripts/build.sh [extra cmake --build args]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${ORCH_BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${ORCH_BUILD_TYPE:-RelWithDebInfo}"
fi
# Two cores: more parallel jobs only thrash (a Beast unit takes ~1 GiB).
cmake --build "$BUILD_DIR" -j "${ORCH_JOBS:-2}" "$@"
