#!/usr/bin/env bash
# Ephemeral disk migration on the path users take: one orch-master, two
# agents (exec driver) on loopback. A service whose group has
# `ephemeral_disk: { migrate: true }` writes SIZE_MIB of random data into
# ORCH_ALLOC_DIR; then `orchctl node drain` of its node. Prints, per trial:
# drain -> replacement running (its tasks start only once the data is in
# place), the migration as the new agent logged it, and the MiB/s through
# the master's relay; and `tar | tar` of the same directory on this machine
# for reference. Asserts nothing.
#   tests/bench/disk_migration_bench.sh [build-dir] [SIZE_MIB] [TRIALS]
# (defaults: build, 256, 3). ORCH_BENCH_PORT (47800: master HTTP; +1 Raft,
# +2 and +3 the agents). Needs root (the exec driver's cgroups).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
[[ "$build" = /* ]] || build="$root/$build"
SIZE=${2:-256}
TRIALS=${3:-3}
PORT=${ORCH_BENCH_PORT:-47800}
for b in master/orch-master agent/orch-agent api/orchctl/orchctl; do
  [[ -x "$build/$b" ]] || { echo "missing $build/$b" >&2; exit 2; }
done
ctl() { "$build/api/orchctl/orchctl" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Allocations of bench-disk not yet stopped or finished, a line each.
live_allocs() {
  ctl get allocs --job bench-disk -o json 2>/dev/null | python3 -c '
import json,sys
for a in json.load(sys.stdin).get("allocations",[]):
  if a.get("client_status") in ("PENDING","RUNNING"): print(a["id"])' || true
}
dir=$(mktemp -d /tmp/orch-migrate-bench-XXXXXX)
chmod 755 "$dir"  # exec tasks run as nobody and reach ORCH_ALLOC_DIR under it
pids=()
cleanup() {
  # The job's tasks stop with it (agents leave tasks running when they stop).
  ctl stop bench-disk >/dev/null 2>&1 || true
  for ((i = 0; i < 150; i++)); do
    [[ -n "$(live_allocs)" ]] || break
    sleep 0.2
  done
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n "${ORCH_BENCH_KEEP:-}" ]] || rm -rf "$dir"
}
trap cleanup EXIT INT TERM
trap 'echo "bench: failed at line $LINENO; see $dir" >&2' ERR

export ORCH_ADDR="http://127.0.0.1:$PORT"
"$build/master/orch-master" --id m1 --data-dir "$dir/master" --http "127.0.0.1:$PORT" \
  --raft "127.0.0.1:$((PORT + 1))" --heartbeat-ttl 30s >"$dir/master.log" 2>&1 &
pids+=($!)
for a in 1 2; do
  "$build/agent/orch-agent" --name "a$a" --data-dir "$dir/agent$a" --masters "$ORCH_ADDR" \
    --http "127.0.0.1:$((PORT + 1 + a))" --drivers exec >"$dir/agent$a.log" 2>&1 &
  pids+=($!)
done
for ((i = 0; i < 300; i++)); do
  [[ $(ctl get nodes 2>/dev/null | grep -c ready) -ge 2 ]] && break
  sleep 0.1
done
[[ $(ctl get nodes | grep -c ready) -ge 2 ]] || { echo "bench: agents not ready; see $dir" >&2; exit 1; }

cat >"$dir/job.yaml" <<EOF
id: bench-disk
type: service
groups:
  - name: g
    count: 1
    ephemeral_disk: { migrate: true, size: $((SIZE + 64)) }
    tasks:
      - name: t
        driver: exec
        command: /bin/sh
        args: ["-c", "[ -f \"\$ORCH_ALLOC_DIR/blob\" ] || head -c ${SIZE}M /dev/urandom > \"\$ORCH_ALLOC_DIR/blob.tmp\" && mv \"\$ORCH_ALLOC_DIR/blob.tmp\" \"\$ORCH_ALLOC_DIR/blob\"; exec sleep 3600"]
        resources: { cpu: 1000, memory: 64 }
EOF
ctl run -f "$dir/job.yaml" >/dev/null

# The running allocation of bench-disk: "ID NODE".
running_alloc() {
  ctl get allocs -o json 2>/dev/null | python3 -c '
import json,sys
d=json.load(sys.stdin)
for a in d.get("allocations",[]):
  if a.get("job_id")=="bench-disk" and a.get("client_status")=="RUNNING" and a.get("desired_status","RUN")=="RUN":
    print(a["id"], a["node_id"]); break'
}
wait_blob() {  # wait_blob AGENT_DIR ALLOC
  for ((i = 0; i < 600; i++)); do
    [[ -f "$1/allocs/$2/_shared/blob" ]] && return 0
    sleep 0.1
  done
  return 1
}

echo "ephemeral disk migration, ${SIZE} MiB of random data, ${TRIALS} trials"
read -r alloc node < <(for ((i = 0; i < 300; i++)); do r=$(running_alloc); [[ -n "$r" ]] && { echo "$r"; break; }; sleep 0.1; done)
for ((t = 1; t <= TRIALS; t++)); do
  agent_dir=$(for a in 1 2; do [[ ! -d "$dir/agent$a/allocs/$alloc" ]] || echo "$dir/agent$a"; done | head -1)
  wait_blob "$agent_dir" "$alloc" || { echo "bench: no blob written; see $dir" >&2; exit 1; }
  ctl node drain "$node" >/dev/null
  t0=$(now_ms)
  new=""
  for ((i = 0; i < 3000; i++)); do
    read -r new newnode < <(running_alloc; echo)
    [[ -n "$new" && "$new" != "$alloc" ]] && break
    new=""
    sleep 0.05
  done
  t1=$(now_ms)
  [[ -n "$new" ]] || { echo "bench: no replacement running; see $dir" >&2; exit 1; }
  line=$(grep -h "alloc ${new:0:8}: migrated the ephemeral disk" "$dir"/agent*.log | tail -1 || true)
  ms=$((t1 - t0))
  echo "trial $t: drain -> replacement running ${ms} ms ($(awk -v s="$SIZE" -v ms="$ms" 'BEGIN{printf "%.0f", s*1000/ms}') MiB/s end to end); ${line#*: }"
  ctl node drain "$node" --undo >/dev/null
  alloc=$new
  node=$newnode
done

src=$(for a in 1 2; do [[ ! -d "$dir/agent$a/allocs/$alloc/_shared" ]] || echo "$dir/agent$a/allocs/$alloc/_shared"; done | head -1)
mkdir -p "$dir/copy"
t0=$(now_ms)
tar -C "$src" -cf - . | tar -C "$dir/copy" -xf -
t1=$(now_ms)
echo "reference: tar -c | tar -x of the same directory: $((t1 - t0)) ms"
