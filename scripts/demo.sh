#!/usr/bin/env bash
# The orch demo: installs what is missing, builds, starts a local cluster
# (three masters forming a Raft quorum, two agents, exec driver) and runs the
# example jobs on it: a hello task, a batch job, and a service of three web
# servers behind the load balancer on 127.0.0.1:8080.
# Interactive: leaves the cluster running until Ctrl-C. Without a terminal
# (or with --once) it tears everything down after showing the results.
# --secure: the same cluster secured (README "Securing a cluster"): a CA and
# certificates from `orchctl tls`, mutual TLS on every link, ACLs on and
# bootstrapped, the agents with a token of their own.
set -euo pipefail
cd "$(dirname "$0")/.."
ONCE=0
SECURE=0
[ -t 0 ] || ONCE=1
for arg in "$@"; do
  case "$arg" in
    --once) ONCE=1 ;;
    --secure) SECURE=1 ;;
    *) echo "usage: $0 [--once] [--secure]" >&2; exit 2 ;;
  esac
done

./scripts/setup.sh
./scripts/build.sh
BIN=${ORCH_BUILD_DIR:-build}

DIR=${ORCH_DEMO_DIR:-$(mktemp -d /tmp/orch-demo-XXXXXX)}
# Exec tasks run as nobody: they must be able to pass through to the agents'
# data dirs (their ORCH_ALLOC_DIR is inside); mktemp makes it 0700.
chmod 0711 "$DIR"
mkdir -p "$DIR"
HTTP_PORT=${ORCH_DEMO_PORT:-4646}
ORCHCTL="$BIN/api/orchctl/orchctl"
PIDS=()
SCHEME=http
MASTER_FLAGS=()
AGENT_FLAGS=()
if [ "$SECURE" = 1 ]; then
  PKI="$DIR/tls"
  echo "==> a CA and certificates in $PKI (orchctl tls)"
  "$ORCHCTL" tls ca create --dir "$PKI"
  for role in server agent client; do "$ORCHCTL" tls cert create "--$role" --dir "$PKI"; done
  SCHEME=https
  MASTER_FLAGS=(--acl --tls-ca "$PKI/orch-ca.pem" --tls-cert "$PKI/orch-server.pem" --tls-key "$PKI/orch-server-key.pem")
  AGENT_FLAGS=(--tls-ca "$PKI/orch-ca.pem" --tls-cert "$PKI/orch-agent.pem" --tls-key "$PKI/orch-agent-key.pem")
  export ORCH_CACERT="$PKI/orch-ca.pem" ORCH_CLIENT_CERT="$PKI/orch-client.pem" ORCH_CLIENT_KEY="$PKI/orch-client-key.pem"
fi
export ORCH_ADDR="$SCHEME://127.0.0.1:$HTTP_PORT"

cleanup() {
  echo
  echo "==> stopping jobs, agents and master"
  for job in hello countdown web; do "$ORCHCTL" stop "$job" >/dev/null 2>&1 || true; done
  # Until the agents have stopped every task (web's keep serving for their
  # shutdown_delay first): an agent stopped before leaves its tasks running.
  for _ in $(seq 60); do
    "$ORCHCTL" get allocs -o json 2>/dev/null | grep -Eq '"client_?[sS]tatus": *"(RUNNING|PENDING)"' || break
    sleep 0.5
  done
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "==> logs and data are in $DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PEERS="m1=127.0.0.1:$((HTTP_PORT + 1)),m2=127.0.0.1:$((HTTP_PORT + 11)),m3=127.0.0.1:$((HTTP_PORT + 21))"
MASTERS=""
for i in 1 2 3; do
  http=$((HTTP_PORT + (i - 1) * 10)); raft=$((http + 1))
  echo "==> starting master m$i: REST on 127.0.0.1:$http, Raft on 127.0.0.1:$raft (data in $DIR/m$i)"
  "$BIN/master/orch-master" --id "m$i" --data-dir "$DIR/m$i" --http "127.0.0.1:$http" \
    --raft "127.0.0.1:$raft" --peers "$PEERS" ${MASTER_FLAGS[@]+"${MASTER_FLAGS[@]}"} >"$DIR/m$i.log" 2>&1 &
  PIDS+=($!)
  MASTERS="$MASTERS${MASTERS:+,}$SCHEME://127.0.0.1:$http"
done
export ORCH_ADDR="$MASTERS"

wait_until() {  # wait_until SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  for ((t=0; t<secs*10; t++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "demo: timed out waiting for $what; see the logs in $DIR" >&2
  exit 1
}
json_field() { grep -o "\"$1\": *\"[^\"]*\"" | head -1 | sed 's/.*"\([^"]*\)"$/\1/'; }
if [ "$SECURE" = 1 ]; then
  wait_until 30 "a leader" "$ORCHCTL" cluster leader
  echo "==> orchctl acl bootstrap (the management token, for this shell)"
  ORCH_TOKEN=$("$ORCHCTL" acl bootstrap -o json | json_field secret_id)
  export ORCH_TOKEN
  printf 'rules:\n  - {resource: node, access: write}\n  - {resource: job, access: read}\n' >"$DIR/agent-policy.yaml"
  "$ORCHCTL" acl policy apply agent "$DIR/agent-policy.yaml"
  AGENT_TOKEN=$("$ORCHCTL" acl token create --name agents --policy agent -o json | json_field secret_id)
  AGENT_FLAGS+=(--token "$AGENT_TOKEN")
fi
# Every agent serves each service's cluster port; on one machine only one of
# them can, so node-2's balancer is off.
LB_FLAGS=("--lb-bind" "127.0.0.1")
for i in 1 2; do
  echo "==> starting agent node-$i"
  "$BIN/agent/orch-agent" --name "node-$i" --data-dir "$DIR/node-$i" --masters "$MASTERS" \
    --http "127.0.0.1:$((HTTP_PORT + 30 + i))" --drivers exec "${LB_FLAGS[@]}" \
    ${AGENT_FLAGS[@]+"${AGENT_FLAGS[@]}"} >"$DIR/node-$i.log" 2>&1 &
  PIDS+=($!)
  LB_FLAGS=("--lb-disable")
done

nodes_ready() { [ "$("$ORCHCTL" get nodes | grep -c ready)" -ge 2 ]; }
wait_until 30 "two ready nodes" nodes_ready
echo; "$ORCHCTL" cluster members
echo; "$ORCHCTL" get nodes

echo; echo "==> orchctl run -f examples/hello.yaml"
"$ORCHCTL" run -f examples/hello.yaml
echo "==> orchctl run -f examples/countdown.yaml"
"$ORCHCTL" run -f examples/countdown.yaml
echo "==> orchctl run -f examples/web.yaml"
"$ORCHCTL" run -f examples/web.yaml

hello_running() { "$ORCHCTL" get allocs --job hello | grep -q running; }
countdown_done() { [ "$("$ORCHCTL" get allocs --job countdown | grep -c complete)" -ge 2 ]; }
wait_until 30 "hello to run" hello_running
wait_until 30 "countdown to complete" countdown_done

echo; "$ORCHCTL" get jobs
echo; "$ORCHCTL" get allocs
echo; "$ORCHCTL" describe job hello
echo
HELLO=$("$ORCHCTL" get allocs --job hello -o json | json_field id)
echo "==> orchctl logs $HELLO --tail 5"
"$ORCHCTL" logs "$HELLO" --tail 5 || true

web_healthy() { "$ORCHCTL" get services | grep -q '3/3'; }
wait_until 30 "the web service's three endpoints" web_healthy
echo; "$ORCHCTL" get services
echo "==> three requests to the service through the load balancer (127.0.0.1:8080):"
for _ in 1 2 3; do curl -s --max-time 5 http://127.0.0.1:8080/ || echo "(no answer)"; done

if [ "$ONCE" = 1 ]; then
  echo; echo "==> demo done"
  exit 0
fi
echo
if [ "$SECURE" = 1 ]; then
  echo "The cluster is running, secured: try"
  echo "  ORCH_ADDR=$ORCH_ADDR ORCH_CACERT=$ORCH_CACERT ORCH_CLIENT_CERT=$ORCH_CLIENT_CERT \\"
  echo "  ORCH_CLIENT_KEY=$ORCH_CLIENT_KEY ORCH_TOKEN=$ORCH_TOKEN $ORCHCTL get allocs"
else
  echo "The cluster is running: try  ORCH_ADDR=$ORCH_ADDR $ORCHCTL get allocs"
fi
echo "Kill the leader (orchctl cluster leader) and watch another master take over."
echo "Press Ctrl-C to stop it."
while true; do sleep 3600; done
