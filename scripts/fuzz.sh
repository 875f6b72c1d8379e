#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan into
# ./build-fuzz and runs one of them, or all in turn, for SECONDS each, on a
# copy of its seed corpus (tests/fuzz/corpus/TARGET; the repository's corpus
# is never written) plus its past crashes (tests/fuzz/regressions/TARGET).
# Exits non-zero on the first crash and prints where the reproducer is.
# Usage: scripts/fuzz.sh TARGET|all SECONDS|ci [extra libFuzzer flags]
#   TARGET: job_document raft_frame http_router docker_parsers agent_state
#   ci: instead of a time budget, a fixed seed and a fixed number of
#       executions per target (CI_RUNS below): the same inputs on every run,
#       so a CI result does not depend on the machine's speed or on luck.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=(job_document raft_frame http_router docker_parsers agent_state)
# Executions per target in `ci` mode, each ~10-20 s on a 2-core CI machine.
declare -A CI_RUNS=([job_document]=40000 [raft_frame]=2000000 [http_router]=30000
  [docker_parsers]=2000000 [agent_state]=100000)
target=${1:?usage: scripts/fuzz.sh TARGET|all SECONDS}
seconds=${2:?usage: scripts/fuzz.sh TARGET|all SECONDS}
shift 2
BUILD_DIR=${ORCH_FUZZ_BUILD_DIR:-build-fuzz}

if ! command -v clang++ >/dev/null || ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok"; then
  echo "fuzz: installing clang and its sanitizer/fuzzer runtimes"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev
fi
# -O1 with line tables only, as sanitizer builds usually are: reports keep
# file:line, and the tree compiles in far less time than with -O2 -g (full
# debug info of Asio, Beast and protobuf is most of a cold build's cost).
# Configured on every run (seconds) so a changed flag reaches an old tree.
fuzz_flags="-O1 -gline-tables-only -DNDEBUG"
CXX=clang++ CC=clang cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$fuzz_flags" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$fuzz_flags" \
  -DORCH_FUZZ=ON -DORCH_WERROR=OFF >/dev/null
if [ "$target" = all ]; then list=("${TARGETS[@]}"); else list=("$target"); fi
cmake --build "$BUILD_DIR" -j "${ORCH_JOBS:-2}" --target $(printf '%s_fuzz ' "${list[@]}")

for t in "${list[@]}"; do
  work="$BUILD_DIR/fuzz-work/$t"
  rm -rf "$work/corpus"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -r "tests/fuzz/corpus/$t/." "$work/corpus/" 2>/dev/null || true
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=("-dict=tests/fuzz/$t.dict")
  if [ "$seconds" = ci ]; then
    budget=(-seed=1 -runs="${CI_RUNS[$t]}")
    echo "fuzz: $t, seed 1, ${CI_RUNS[$t]} executions"
  else
    budget=(-max_total_time="$seconds")
    echo "fuzz: $t for ${seconds}s"
  fi
  regressions=()
  [ -d "tests/fuzz/regressions/$t" ] && regressions=("tests/fuzz/regressions/$t")
  set +e
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$BUILD_DIR/tests/fuzz/${t}_fuzz" "$work/corpus" "${regressions[@]}" "${dict[@]}" "${budget[@]}" \
    -rss_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$@" >"$work/log" 2>&1
  rc=$?
  set -e
  grep -a -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|DONE *cov: " "$work/log" | tail -4 || true
  if [ $rc -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $rc); log $work/log; reproducer(s):"
    ls "$work/artifacts"
    tail -40 "$work/log"
    exit 1
  fi
  echo "fuzz: $t ok"
done
