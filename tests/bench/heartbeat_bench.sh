#!/usr/bin/env bash
# Agents' heartbeats against one orch-master, through its REST API: NODES
# nodes register, then wrk posts POST /v1/nodes/{id}/heartbeat for them in
# turn over CONNS keep-alive connections for SECONDS. Prints wrk's rate and
# latency and the master's CPU per heartbeat (user + system, from
# /proc/PID/stat), which is what a leader spends on each of thousands of
# agents' heartbeats a second.
# Usage: tests/bench/heartbeat_bench.sh [NODES=200] [CONNS=256] [SECONDS=10]
# Needs orch-master built in ./build (ORCH_BUILD_DIR, or ORCH_MASTER=PATH)
# and wrk (Debian's package).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${ORCH_BUILD_DIR:-build}
master=${ORCH_MASTER:-$build/master/orch-master}
nodes=${1:-200}
conns=${2:-256}
seconds=${3:-10}
[ -x "$master" ] || { echo "missing $master: build it first (scripts/build.sh -- orch-master)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d /tmp/orch-heartbeat-bench-XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(free_port) raft=$(free_port)
"$master" --id m1 --data-dir "$dir/m1" --http "127.0.0.1:$http" --raft "127.0.0.1:$raft" \
  --peers "m1=127.0.0.1:$raft" --log-level warn >"$dir/m1.log" 2>&1 &
pid=$!
base="http://127.0.0.1:$http"
for _ in $(seq 1 150); do
  curl -sf "$base/v1/cluster/leader" | grep -q '"address"' && break
  sleep 0.1
done
for i in $(seq 1 "$nodes"); do
  curl -sf -X POST "$base/v1/nodes/register" -H 'Content-Type: application/json' \
    -d "{\"node\":{\"name\":\"hb-$i\",\"address\":\"http://127.0.0.1:4650\",\"capacity\":{\"cpu\":4000,\"memory\":8192}},\"node_secret\":\"secret-$i\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["node_id"])'
done >"$dir/ids"
cat >"$dir/heartbeat.lua" <<LUA
local ids = {}
for line in io.lines("$dir/ids") do ids[#ids + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/v1/nodes/" .. ids[(i % #ids) + 1] .. "/heartbeat",
                    {["Content-Type"] = "application/json"}, "{}")
end
LUA
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
echo "heartbeat_bench: $nodes nodes, $conns connections, ${seconds}s, load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cpus"
before=$(ticks)
wrk -t1 -c"$conns" -d"${seconds}s" -s "$dir/heartbeat.lua" "$base" >"$dir/wrk.txt"
after=$(ticks)
requests=$(grep -oE '^ +[0-9]+ requests' "$dir/wrk.txt" | grep -oE '[0-9]+')
grep -E 'Latency|Requests/sec|Non-2xx|Socket errors' "$dir/wrk.txt" || true
python3 - "$before" "$after" "$requests" "$(getconf CLK_TCK)" <<'PY'
import sys
before, after, requests, tck = (float(x) for x in sys.argv[1:])
cpu = (after - before) / tck
print(f"master CPU {cpu:.2f} s for {int(requests)} heartbeats: {cpu * 1e6 / requests:.1f} us each")
PY
