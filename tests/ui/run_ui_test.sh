#!/usr/bin/env bash
# Runs the web UI test (tests/ui/ui_test.mjs, headless Chromium) against a
# real local cluster: one master, one agent (exec driver), the web job of
# examples/web-canary.yaml and a changed version of it whose canary waits for
# promotion. Stops everything it started, whatever happens.
#
#   tests/ui/run_ui_test.sh                 # from any directory
#
# Environment:
#   ORCH_BUILD_DIR     the build dir (default <repo>/build)
#   ORCH_UI_DIR        serve the UI from this folder (orch-master --ui-dir) instead of
#                      the files embedded in the binary, e.g. <repo>/master/ui/assets
#   ORCH_UI_ACL=1      run the master with --acl: the test first checks the UI asks
#                      for a token, then enters the management token through the UI
#   ORCH_UI_ARTIFACTS  where screenshots go (default: a temp dir, printed at the end)
#   CHROMIUM           the browser (default /usr/bin/chromium: apt-get install -y chromium)
#   ORCH_UI_KEEP=1     keep the cluster's data dirs and logs after a passing run too
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${ORCH_BUILD_DIR:-$REPO/build}
MASTER_BIN=$BUILD/master/orch-master
AGENT_BIN=$BUILD/agent/orch-agent
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
ACL=${ORCH_UI_ACL:-0}

die() { echo "run_ui_test: $*" >&2; exit 2; }
say() { echo "==> $*"; }

[ -x "$MASTER_BIN" ] || die "no $MASTER_BIN (build first, or set ORCH_BUILD_DIR)"
[ -x "$AGENT_BIN" ] || die "no $AGENT_BIN (build first, or set ORCH_BUILD_DIR)"
command -v node >/dev/null || die "node is missing (apt-get install -y nodejs npm)"
command -v curl >/dev/null || die "curl is missing (apt-get install -y curl)"
[ -x "$CHROMIUM" ] || die "no browser at $CHROMIUM (apt-get install -y chromium, or set CHROMIUM)"
if [ -n "${ORCH_UI_DIR:-}" ]; then
  [ -f "$ORCH_UI_DIR/index.html" ] || die "ORCH_UI_DIR=$ORCH_UI_DIR has no index.html"
  "$MASTER_BIN" --help 2>&1 | grep -q -- --ui-dir || die "$MASTER_BIN has no --ui-dir flag (rebuild it)"
fi

if [ ! -d "$HERE/node_modules/puppeteer-core" ]; then
  say "npm ci in $HERE (puppeteer-core)"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

WORK=$(mktemp -d /tmp/orch-ui-test-XXXXXX)
# Exec tasks run as nobody and must pass through to the agent's data dir.
chmod 0711 "$WORK"
ARTIFACTS=${ORCH_UI_ARTIFACTS:-$WORK/artifacts}
mkdir -p "$ARTIFACTS"
MASTER_PID=""
AGENT_PID=""
TOKEN=""
JOB=web

# Ports nothing listens on now: REST, Raft, the agent's API, the service's
# cluster port (examples/web-canary.yaml's 8080 may be taken).
read -r HTTP_PORT RAFT_PORT AGENT_PORT LISTEN_PORT < <(node -e '
  const net = require("net");
  (async () => {
    const servers = [];
    for (let i = 0; i < 4; i++) {
      const s = net.createServer();
      await new Promise((ok) => s.listen(0, "127.0.0.1", ok));
      servers.push(s);
    }
    console.log(servers.map((s) => s.address().port).join(" "));
    servers.forEach((s) => s.close());
  })();')
URL="http://127.0.0.1:$HTTP_PORT"

# curl of the REST API with the management token (when ACLs are on).
api() {
  local path=$1; shift
  curl -sS --max-time 10 ${TOKEN:+-H "X-Orch-Token: $TOKEN"} "$@" "$URL$path"
}
# jget 'd => expression' reads JSON on stdin and prints the expression (empty on error).
jget() {
  node -e 'let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
    try { const v = ('"$1"')(JSON.parse(s)); process.stdout.write(v === undefined || v === null ? "" : String(v)); }
    catch { /* not JSON yet */ } });'
}
wait_until() {  # wait_until SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$end" ]; then
      echo "run_ui_test: timed out after ${secs}s waiting for $what" >&2
      return 1
    fi
    sleep 0.5
  done
}
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
stop_process() {  # stop_process PID NAME: SIGTERM, then SIGKILL after 10 s
  local pid=$1 name=$2
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    echo "run_ui_test: $name did not stop on SIGTERM; SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
tasks_stopped() {
  api /v1/allocations | jget 'd => (d.allocations || []).every((a) => !["RUNNING", "PENDING"].includes(a.client_status)) || undefined' | grep -q true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if alive "$MASTER_PID" && alive "$AGENT_PID"; then
    # The agent leaves its tasks running when it stops (by design): stop the
    # job first and wait until the agent has stopped them.
    api "/v1/jobs/$JOB" -X DELETE >/dev/null 2>&1
    wait_until 30 "the job's tasks to stop" tasks_stopped
  fi
  stop_process "$AGENT_PID" orch-agent
  stop_process "$MASTER_PID" orch-master
  # Anything still running from this run's dirs (tasks, their shims).
  local left
  left=$(pgrep -f -- "$WORK/" || true)
  if [ -n "$left" ]; then
    echo "run_ui_test: stopping leftover processes: $(echo $left)" >&2
    kill -TERM $left 2>/dev/null; sleep 1
    left=$(pgrep -f -- "$WORK/" || true)
    [ -n "$left" ] && kill -KILL $left 2>/dev/null
  fi
  cp "$WORK"/*.log "$ARTIFACTS"/ 2>/dev/null
  if [ "$rc" != 0 ]; then
    for f in "$WORK/master.log" "$WORK/agent.log"; do
      [ -f "$f" ] && { echo "---- last lines of $f"; tail -n 25 "$f"; }
    done
    echo "run_ui_test: FAILED (exit $rc); the cluster's data and logs are in $WORK"
  elif [ "${ORCH_UI_KEEP:-0}" != 1 ]; then
    case "$ARTIFACTS" in
      "$WORK"/*) rm -rf "$WORK/m1" "$WORK/agent" "$WORK"/*.yaml "$WORK"/*.log ;;
      *) rm -rf "$WORK" ;;
    esac
  fi
  echo "run_ui_test: artifacts (screenshots, master.log, agent.log) in $ARTIFACTS"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

MASTER_FLAGS=()
[ -n "${ORCH_UI_DIR:-}" ] && MASTER_FLAGS+=(--ui-dir "$ORCH_UI_DIR")
[ "$ACL" = 1 ] && MASTER_FLAGS+=(--acl)
say "master m1 on $URL (data in $WORK)"
"$MASTER_BIN" --id m1 --data-dir "$WORK/m1" --http "127.0.0.1:$HTTP_PORT" --raft "127.0.0.1:$RAFT_PORT" \
  --heartbeat-ttl 3s ${MASTER_FLAGS[@]+"${MASTER_FLAGS[@]}"} >"$WORK/master.log" 2>&1 &
MASTER_PID=$!
healthy() { api /healthz | jget 'd => d.leader' | grep -q true; }
wait_until 30 "the master to lead (/healthz)" healthy

AGENT_FLAGS=()
if [ "$ACL" = 1 ]; then
  say "ACLs on: bootstrap a management token, and a token for the agent"
  TOKEN=$(api /v1/acl/bootstrap -X POST | jget 'd => d.secret_id')
  [ -n "$TOKEN" ] || die "ACL bootstrap failed"
  api /v1/acl/policies/ui-test-agent -X PUT -H 'Content-Type: application/json' \
    -d '{"description":"the UI test agent","rules":[{"resource":"node","access":"write"},{"resource":"job","access":"read"}]}' >/dev/null
  AGENT_TOKEN=$(api /v1/acl/tokens -X POST -H 'Content-Type: application/json' \
    -d '{"name":"ui-test-agent","type":"client","policies":["ui-test-agent"]}' | jget 'd => d.secret_id')
  [ -n "$AGENT_TOKEN" ] || die "could not make the agent's token"
  AGENT_FLAGS+=(--token "$AGENT_TOKEN")
fi

say "agent ui-node-1 (exec driver)"
"$AGENT_BIN" --name ui-node-1 --data-dir "$WORK/agent" --masters "$URL" --http "127.0.0.1:$AGENT_PORT" \
  --drivers exec --lb-bind 127.0.0.1 ${AGENT_FLAGS[@]+"${AGENT_FLAGS[@]}"} >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
node_ready() { api /v1/nodes | jget 'd => (d.nodes || []).some((n) => n.status === "READY") || undefined' | grep -q true; }
wait_until 30 "a ready node" node_ready

# examples/web-canary.yaml on a free cluster port, its servers saying hello
# on stdout too (the logs the test reads).
JOB_FILE=$WORK/web-canary.yaml
sed -e "s/listen: 8080/listen: $LISTEN_PORT/" \
    -e 's|exec /bin/busybox httpd|echo "web server $ORCH_ALLOC_ID listening on port ${PORT_http}" \&\& exec /bin/busybox httpd|' \
    "$REPO/examples/web-canary.yaml" >"$JOB_FILE"
grep -q "listen: $LISTEN_PORT" "$JOB_FILE" && grep -q 'listening on port' "$JOB_FILE" ||
  die "examples/web-canary.yaml changed: the test's edits of it no longer apply"
submit() { api /v1/jobs -X POST -H 'Content-Type: application/yaml' --data-binary "@$1"; echo; }

say "submit job $JOB (version 0)"
submit "$JOB_FILE"
deployed() { api "/v1/jobs/$JOB" | jget 'd => d.latest_deployment && d.latest_deployment.status' | grep -q SUCCESSFUL; }
wait_until 90 "job $JOB to run, healthy" deployed

say "submit a changed version: its canary waits for promotion"
sed -i 's/hello from/hi from/' "$JOB_FILE"
submit "$JOB_FILE"
canary_healthy() {
  api "/v1/deployments?job=$JOB" | jget 'd => { const x = (d.deployments || []).find((x) => x.status === "RUNNING");
    return x && x.groups.every((g) => (g.healthy_canaries || 0) >= (g.desired_canaries || 0)) || undefined; }' | grep -q true
}
wait_until 90 "the canary to be healthy" canary_healthy

say "UI test (headless Chromium) against $URL/ui/"
set +e
ORCH_UI_URL=$URL ORCH_UI_ARTIFACTS=$ARTIFACTS ORCH_UI_TOKEN=$TOKEN ORCH_UI_JOB=$JOB \
  ORCH_UI_LOG_TEXT="listening on port" CHROMIUM=$CHROMIUM node "$HERE/ui_test.mjs"
TEST_RC=$?
set -e
exit "$TEST_RC"
