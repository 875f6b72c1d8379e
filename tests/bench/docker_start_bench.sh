#!/usr/bin/env bash
# Start overhead of orch's docker driver: time from `orchctl run` (job
# submitted) until the engine reports the container(s) running, against a
# plain `docker run -d` of the same local image, command and limits, in the
# same run. One allocation, then 50 at once (50 `docker run -d` in parallel
# for the plain side). Prints the median of each and the ratio; asserts
# nothing.
#   tests/bench/docker_start_bench.sh [build-dir]     (default: build)
# Needs root (it starts the private dockerd of scripts/dockerd.sh unless
# ORCH_DOCKER_SOCKET and ORCH_TEST_REGISTRY are set). Environment:
# ORCH_BENCH_TRIALS (5 for one allocation), ORCH_BENCH_TRIALS_50 (3),
# ORCH_BENCH_PORT (47700: master HTTP; +1 Raft, +2 agent),
# ORCH_BENCH_DRIVER=containerd: the containerd driver instead, against a
# plain `ctr run -d` (the private containerd of scripts/dockerd.sh,
# ORCH_CONTAINERD_SOCKET).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
[[ "$build" = /* ]] || build="$root/$build"
for b in master/orch-master agent/orch-agent api/orchctl/orchctl; do
  [[ -x "$build/$b" ]] || { echo "missing $build/$b: ninja -C $build orch-master orch-agent orchctl" >&2; exit 2; }
done
if [[ -z "${ORCH_DOCKER_SOCKET:-}" || -z "${ORCH_TEST_REGISTRY:-}" ]]; then
  docker_env=$("$root/scripts/dockerd.sh")
  while IFS= read -r line; do export "${line?}"; done <<<"$docker_env"
fi
SOCK=$ORCH_DOCKER_SOCKET
IMAGE=$ORCH_TEST_REGISTRY/orch-test/busybox:1
DRIVER=${ORCH_BENCH_DRIVER:-docker}
CSOCK=${ORCH_CONTAINERD_SOCKET:-}
if [[ "$DRIVER" = containerd && -z "$CSOCK" ]]; then echo "bench: no ORCH_CONTAINERD_SOCKET" >&2; exit 2; fi
ctr_cli() { ctr --address "$CSOCK" "$@"; }
TRIALS=${ORCH_BENCH_TRIALS:-5}
TRIALS50=${ORCH_BENCH_TRIALS_50:-3}
PORT=${ORCH_BENCH_PORT:-47700}
CMD="trap 'exit 0' TERM; while true; do sleep 1; done"
docker_cli() { docker -H "unix://$SOCK" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

dir=$(mktemp -d /tmp/orch-docker-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  local ids f
  ids=$(docker_cli ps -aq --filter label=orch-bench 2>/dev/null || true)
  for f in "$dir"/bench-*.yaml; do
    [[ -e "$f" ]] && ids+=" $(docker_cli ps -aq --filter "label=orch.job=$(basename "$f" .yaml)" 2>/dev/null || true)"
  done
  [[ -z "${ids// /}" ]] || docker_cli rm -f $ids >/dev/null 2>&1 || true
  if [[ "$DRIVER" = containerd ]]; then
    for c in $(ctr_cli -n orch-bench containers ls -q 2>/dev/null); do
      ctr_cli -n orch-bench tasks kill -s KILL "$c" >/dev/null 2>&1 || true
      sleep 0.2
      ctr_cli -n orch-bench tasks rm -f "$c" >/dev/null 2>&1 || true
      ctr_cli -n orch-bench containers rm "$c" >/dev/null 2>&1 || true
    done
  fi
  [[ -n "${ORCH_BENCH_KEEP:-}" ]] || rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# containerd: running tasks in namespace $1 whose container id starts with $2.
ctr_running() { ctr_cli -n "$1" tasks ls 2>/dev/null | awk -v p="$2" '$1 ~ "^"p && $3 == "RUNNING"' | wc -l; }
ctr_existing() { ctr_cli -n "$1" containers ls -q 2>/dev/null | grep -c "^$2" || true; }
# Running containers with label $1 (key=value).
running() {
  if [[ "$DRIVER" = containerd ]]; then
    case "$1" in
      orch.job=*) ctr_running orch "orch-" ;;  # one job at a time
      orch-bench=*) ctr_running orch-bench "${1#orch-bench=}" ;;
    esac
    return
  fi
  curl -s --unix-socket "$SOCK" -G "http://docker/containers/json" \
    --data-urlencode "filters={\"label\":[\"$1\"],\"status\":[\"running\"]}" | grep -o '"Id"' | wc -l
}
# Any containers with label $1.
existing() {
  if [[ "$DRIVER" = containerd ]]; then
    case "$1" in
      orch.job=*) ctr_existing orch "orch-" ;;
      orch-bench=*) ctr_existing orch-bench "${1#orch-bench=}" ;;
    esac
    return
  fi
  curl -s --unix-socket "$SOCK" -G "http://docker/containers/json" --data-urlencode all=1 \
    --data-urlencode "filters={\"label\":[\"$1\"]}" | grep -o '"Id"' | wc -l
}
wait_count() {  # wait_count LABEL N  (running)
  while (( $(running "$1") < $2 )); do sleep 0.005; done
}
wait_gone() {
  for ((i = 0; i < 1200; i++)); do (( $(existing "$1") == 0 )) && return 0; sleep 0.1; done
  echo "bench: containers with $1 did not go away" >&2; return 1
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

if [[ "$DRIVER" = containerd ]]; then
  ctr_cli -n orch-bench images pull --plain-http "$IMAGE" >/dev/null
else
  docker_cli image inspect "$IMAGE" >/dev/null 2>&1 || docker_cli pull -q "$IMAGE" >/dev/null
fi

export ORCH_ADDR="http://127.0.0.1:$PORT"
"$build/master/orch-master" --id m1 --data-dir "$dir/master" --http "127.0.0.1:$PORT" \
  --raft "127.0.0.1:$((PORT + 1))" --heartbeat-ttl 30s >"$dir/master.log" 2>&1 &
pids+=($!)
"$build/agent/orch-agent" --name bench --data-dir "$dir/agent" --masters "$ORCH_ADDR" \
  --http "127.0.0.1:$((PORT + 2))" --drivers "$DRIVER" --docker-socket "$SOCK" \
  --containerd-socket "${CSOCK:-/run/containerd/containerd.sock}" --log-level warn \
  >"$dir/agent.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 300; i++)); do
  "$build/api/orchctl/orchctl" get nodes 2>/dev/null | grep -q ready && break
  sleep 0.1
done
"$build/api/orchctl/orchctl" get nodes | grep -q ready || { echo "bench: no ready node; see $dir" >&2; exit 1; }

job_file() {  # job_file ID COUNT
  cat >"$dir/$1.yaml" <<EOF
id: $1
type: service
groups:
  - name: g
    count: $2
    tasks:
      - name: t
        driver: $DRIVER
        image: $IMAGE
        command: /bin/sh
        args: ["-c", "$CMD"]
        resources: { cpu: 20, memory: 16 }
        kill_timeout: 1s
EOF
  echo "$dir/$1.yaml"
}

orch_trial() {  # orch_trial N TAG -> ms
  local job="bench-$2" f t0 t1
  f=$(job_file "$job" "$1")
  t0=$(now_ms)
  "$build/api/orchctl/orchctl" run -d -f "$f" >/dev/null
  wait_count "orch.job=$job" "$1"
  t1=$(now_ms)
  "$build/api/orchctl/orchctl" stop "$job" >/dev/null
  wait_gone "orch.job=$job"
  echo $((t1 - t0))
}

plain_trial() {  # plain_trial N TAG -> ms
  local tag="plain-$2" t0 t1 i clis=()
  if [[ "$DRIVER" = containerd ]]; then
    tag="p${2//[^0-9a-z]/x}-"
    t0=$(now_ms)
    for ((i = 0; i < $1; i++)); do
      ctr_cli -n orch-bench run -d --cpus 0.02 --memory-limit $((16 << 20)) "$IMAGE" "$tag$i" \
        /bin/sh -c "$CMD" >/dev/null &
      clis+=($!)
    done
    wait_count "orch-bench=$tag" "$1"
    t1=$(now_ms)
    wait "${clis[@]}"
    for ((i = 0; i < $1; i++)); do
      ctr_cli -n orch-bench tasks kill -s KILL "$tag$i" >/dev/null 2>&1 || true
    done
    sleep 0.3
    for ((i = 0; i < $1; i++)); do
      ctr_cli -n orch-bench tasks rm -f "$tag$i" >/dev/null 2>&1 || true
      ctr_cli -n orch-bench containers rm "$tag$i" >/dev/null 2>&1 || true
    done
    echo $((t1 - t0))
    return
  fi
  t0=$(now_ms)
  for ((i = 0; i < $1; i++)); do
    docker_cli run -d --label "orch-bench=$tag" --cpus 0.02 --memory 16m --memory-swap 16m \
      --entrypoint /bin/sh "$IMAGE" -c "$CMD" >/dev/null &
    clis+=($!)
  done
  wait_count "orch-bench=$tag" "$1"
  t1=$(now_ms)
  wait "${clis[@]}"
  docker_cli rm -f $(docker_cli ps -aq --filter "label=orch-bench=$tag") >/dev/null
  echo $((t1 - t0))
}

if [[ "$DRIVER" = containerd ]]; then
  echo "containerd start overhead: orch (orchctl run -> task running) vs plain ctr run -d"
  echo "containerd $(ctr_cli version | awk '/Server:/{s=1} s&&/Version:/{print $2; exit}'), image $IMAGE, load $(cut -d' ' -f1-3 /proc/loadavg)"
else
  echo "docker start overhead: orch (orchctl run -> container running) vs plain docker run -d"
  echo "engine $(docker_cli version --format '{{.Server.Version}}'), image $IMAGE, load $(cut -d' ' -f1-3 /proc/loadavg)"
fi
orch_trial 1 warm >/dev/null
plain_trial 1 warm >/dev/null

report() {  # report N TRIALS
  local orch=() plain=() i
  for ((i = 0; i < $2; i++)); do
    orch+=("$(orch_trial "$1" "$1-$i")")
    plain+=("$(plain_trial "$1" "$1-$i")")
  done
  local om pm
  om=$(printf '%s\n' "${orch[@]}" | median)
  pm=$(printf '%s\n' "${plain[@]}" | median)
  printf '%3d container(s): orch median %5d ms [%s]  plain median %5d ms [%s]  ratio %s\n' \
    "$1" "$om" "${orch[*]}" "$pm" "${plain[*]}" "$(awk -v o="$om" -v p="$pm" 'BEGIN {printf "%.2fx", o / p}')"
}
report 1 "$TRIALS"
report 50 "$TRIALS50"
