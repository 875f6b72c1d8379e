#!/usr/bin/env bash
# Builds and runs the commit and failover benchmarks: orch vs etcd 3.4, on
# 127.0.0.1 only. Figures go to stdout; nothing asserts on time.
#   tests/bench/raft_vs_etcd.sh [build-dir]        (default: build-bench)
# Environment: ORCH_BENCH_DURATION (5), ORCH_BENCH_WARMUP (1),
# ORCH_BENCH_CLIENTS (1,16,256), ORCH_BENCH_TRIALS (20), ORCH_BENCH_WRITERS
# (16), ORCH_BENCH_SKIP_FAILOVER=1 to run only the commit benchmark.
# Both programs start their clusters as their own children (which die with
# them: PR_SET_PDEATHSIG) and remove their temporary data dirs.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build-bench}"
etcd="${ORCH_BENCH_ETCD:-$(command -v etcd || echo /usr/bin/etcd)}"
if [[ ! -x "$etcd" ]]; then
  echo "etcd not found: install etcd-server (ORCH_SETUP_OPTIONAL=1 scripts/setup.sh)" >&2
  exit 2
fi
export CCACHE_BASEDIR="$root"
[[ -f "$build/build.ninja" ]] || cmake -S "$root" -B "$build" -G Ninja
ninja -C "$build" -j2 orch-master raft_commit_bench failover_bench
if (( $(pgrep -c cc1plus || true) > 0 )); then
  echo "warning: compilers are running on this machine; figures will be noisy" >&2
fi
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
"$build/tests/bench/raft_commit_bench" --etcd="$etcd" --orch-master="$build/master/orch-master" &
pids+=($!); wait "${pids[-1]}"
if [[ -z "${ORCH_BENCH_SKIP_FAILOVER:-}" ]]; then
  "$build/tests/bench/failover_bench" --etcd="$etcd" --orch-master="$build/master/orch-master" &
  pids+=($!); wait "${pids[-1]}"
fi
