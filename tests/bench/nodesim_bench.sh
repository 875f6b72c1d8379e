#!/usr/bin/env bash
# 3 orch-master processes + orch-nodesim: N simulated agents register,
# heartbeat, watch and report; one job of K allocations is submitted once all
# are registered. Prints nodesim's lines, then each master's peak RSS, CPU
# seconds, state.db and snapshot sizes.
# Usage: tests/bench/nodesim_bench.sh [NODES=1000] [ALLOCS=20000] [SECONDS=90]
# ORCH_BENCH_LOGS=DIR keeps the masters' logs (warn level) in DIR.
# Needs orch-master and orch-nodesim built in ./build (ORCH_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${ORCH_BUILD_DIR:-build}
nodes=${1:-1000}
allocs=${2:-20000}
seconds=${3:-90}
master="$build/master/orch-master"
sim="$build/tests/bench/orch-nodesim"
for b in "$master" "$sim"; do
  [ -x "$b" ] || { echo "missing $b: build it first (scripts/build.sh -- orch-master orch-nodesim)" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d /tmp/orch-nodesim-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # ORCH_BENCH_LOGS=DIR keeps the masters' logs there.
  if [ -n "${ORCH_BENCH_LOGS:-}" ]; then mkdir -p "$ORCH_BENCH_LOGS" && cp "$dir"/m*.log "$ORCH_BENCH_LOGS"/; fi
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=() raft=() peers=""
for i in 1 2 3; do
  http+=("$(free_port)"); raft+=("$(free_port)")
  peers+="${peers:+,}m$i=127.0.0.1:${raft[$((i-1))]}"
done
for i in 1 2 3; do
  "$master" --id "m$i" --data-dir "$dir/m$i" --http "127.0.0.1:${http[$((i-1))]}" \
    --raft "127.0.0.1:${raft[$((i-1))]}" --peers "$peers" --log-level warn >"$dir/m$i.log" 2>&1 &
  pids+=($!)
done
leader=""
for _ in $(seq 1 150); do
  for p in "${http[@]}"; do
    leader=$(curl -sf "http://127.0.0.1:$p/v1/cluster/leader" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("address",""))' 2>/dev/null || true)
    [ -n "$leader" ] && break 2
  done
  sleep 0.1
done
[ -n "$leader" ] || { echo "no leader within 15 s; logs in $dir" >&2; exit 1; }
echo "nodesim_bench: $nodes nodes, $allocs allocations, ${seconds}s, 3 masters, leader $leader, $(nproc) cpus"
nice -n -10 "$sim" --master="$leader" --nodes="$nodes" --duration="$seconds" --job-count="$allocs" --report-every=10 || true

# Reads of the whole cluster on the leader, with every allocation still
# stored (right after the simulator stops, before its nodes time out).
for path in /v1/nodes /metrics; do
  best=$(for _ in 1 2 3; do curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "$leader$path"; done | sort -n | head -1)
  echo "leader GET $path: best of 3 $(echo "$best" | awk '{printf "%.1f ms, %d bytes", $1 * 1000, $2}')"
done

tck=$(getconf CLK_TCK)
for i in 1 2 3; do
  p=${pids[$((i-1))]}
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$p/status")
  cpu=$(awk -v t="$tck" '{printf "%.1f", ($14+$15)/t}' "/proc/$p/stat")
  db=$(du -k "$dir/m$i/state.db" | cut -f1)
  snap=$(du -sk "$dir/m$i/snap" 2>/dev/null | cut -f1 || echo 0)
  echo "master m$i: peak RSS $((rss / 1024)) MiB, CPU ${cpu} s, state.db $((db / 1024)) MiB, snapshots $((snap / 1024)) MiB"
done
