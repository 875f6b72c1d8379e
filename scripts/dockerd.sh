#!/usr/bin/env bash
# Starts what orch's Docker tests need, idempotently, as root:
#   - a private dockerd on its own socket, data root, exec root and bridge
#     (never the machine's /var/run/docker.sock or /var/lib/docker);
#   - Debian's docker-registry on a loopback port with its own storage;
#   - a test image, `docker import` of a busybox-static root, pushed to that
#     registry as 127.0.0.1:PORT/orch-test/busybox:1 (tests remove the local
#     copy to exercise the pull path);
#   - a second registry that asks for a password (htpasswd: orch-test /
#     orch-test-secret) holding the same image, for registry credentials;
#   - a private containerd (Debian's containerd package) on its own socket,
#     root and state dir, for the containerd driver's tests (skipped, with
#     a note, when containerd is not installed).
# Waits until each answers. On success prints, on stdout, the variables the
# tests read:
#   ORCH_DOCKER_SOCKET=/run/orch-test/docker.sock
#   ORCH_TEST_REGISTRY=127.0.0.1:5055
#   ORCH_TEST_AUTH_REGISTRY=127.0.0.1:5056
#   ORCH_CONTAINERD_SOCKET=/run/orch-test/containerd/containerd.sock
# so `eval "$(scripts/dockerd.sh)"` sets them; progress goes to stderr.
# `scripts/dockerd.sh stop` stops the daemon and the registries.
# Overrides: ORCH_DOCKER_SOCKET, ORCH_DOCKER_ROOT, ORCH_TEST_REGISTRY_PORT,
# ORCH_CONTAINERD_SOCKET.
set -euo pipefail

RUN=/run/orch-test
SOCK=${ORCH_DOCKER_SOCKET:-$RUN/docker.sock}
DATA=${ORCH_DOCKER_ROOT:-/var/lib/orch-test-docker}
EXEC_ROOT=$RUN/docker-exec
BRIDGE=orch-test0
BRIDGE_CIDR=172.30.249.1/24
REG_PORT=${ORCH_TEST_REGISTRY_PORT:-5055}
REG_DATA=/var/lib/orch-test-registry
REG=127.0.0.1:$REG_PORT
IMAGE=$REG/orch-test/busybox:1
# A second registry that asks for a password (htpasswd, bcrypt), with the
# same image: the docker driver's registry credentials are tested on it.
AUTH_REG_PORT=${ORCH_TEST_AUTH_REGISTRY_PORT:-5056}
AUTH_REG=127.0.0.1:$AUTH_REG_PORT
AUTH_REG_DATA=/var/lib/orch-test-registry-auth
AUTH_USER=orch-test
AUTH_PASSWORD=orch-test-secret
AUTH_IMAGE=$AUTH_REG/orch-test/busybox:1
CTRD_STATE=$RUN/containerd
CTRD_SOCK=${ORCH_CONTAINERD_SOCKET:-$CTRD_STATE/containerd.sock}
CTRD_ROOT=/var/lib/orch-test-containerd

log() { echo "dockerd.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it starts dockerd)"
mkdir -p "$RUN"

docker_cli() { docker -H "unix://$SOCK" "$@"; }
docker_up() { curl -sf --max-time 2 --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1; }
registry_up() { curl -sf --max-time 2 "http://$REG/v2/" >/dev/null 2>&1; }
# Up when it answers 401 without credentials and 200 with them.
auth_registry_up() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$AUTH_REG/v2/")" = 401 ] &&
    curl -sf --max-time 2 -u "$AUTH_USER:$AUTH_PASSWORD" "http://$AUTH_REG/v2/" >/dev/null 2>&1
}

wait_for() {  # wait_for SECONDS WHAT LOGFILE COMMAND...
  local secs=$1 what=$2 logfile=$3; shift 3
  for ((i = 0; i < secs * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  log "$what did not answer within ${secs}s; last lines of $logfile:"
  tail -n 30 "$logfile" >&2 || true
  exit 1
}

stop_pidfile() {
  local f=$1
  [ -f "$f" ] || return 0
  local pid
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$f"
}

if [ "${1:-}" = "stop" ]; then
  stop_pidfile "$RUN/registry.pid"
  stop_pidfile "$RUN/registry-auth.pid"
  stop_pidfile "$EXEC_ROOT/docker.pid"
  stop_pidfile "$RUN/containerd.pid"
  log "stopped"
  exit 0
fi

command -v dockerd >/dev/null || die "dockerd not found: install docker.io (ORCH_SETUP_OPTIONAL=1 scripts/setup.sh)"
command -v docker-registry >/dev/null || die "docker-registry not found: install it (ORCH_SETUP_OPTIONAL=1 scripts/setup.sh)"
[ -x /bin/busybox ] || die "/bin/busybox not found: install busybox-static"

# --- dockerd ---------------------------------------------------------------
if docker_up; then
  log "dockerd already answers on $SOCK"
else
  # Its own bridge, so a system dockerd's docker0 is left alone.
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  mkdir -p "$DATA" "$EXEC_ROOT"
  stop_pidfile "$EXEC_ROOT/docker.pid"  # a stale daemon that no longer answers
  rm -f "$SOCK"
  log "starting dockerd on $SOCK (data root $DATA)"
  setsid dockerd -H "unix://$SOCK" --data-root "$DATA" --exec-root "$EXEC_ROOT" \
    --pidfile "$EXEC_ROOT/docker.pid" --bridge "$BRIDGE" --ip-masq=false \
    --log-level warn </dev/null >"$RUN/dockerd.log" 2>&1 &
  wait_for 60 "dockerd" "$RUN/dockerd.log" docker_up
  log "dockerd $(docker_cli version --format '{{.Server.Version}}' 2>/dev/null) ready"
fi

# --- registry --------------------------------------------------------------
if registry_up; then
  log "registry already answers on $REG"
else
  mkdir -p "$REG_DATA"
  cat >"$RUN/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REG_DATA
  delete:
    enabled: true
http:
  addr: $REG
EOF
  stop_pidfile "$RUN/registry.pid"
  log "starting docker-registry on $REG"
  setsid docker-registry serve "$RUN/registry.yml" </dev/null >"$RUN/registry.log" 2>&1 &
  echo $! >"$RUN/registry.pid"
  wait_for 30 "docker-registry" "$RUN/registry.log" registry_up
fi

# --- test image ------------------------------------------------------------
if curl -sf --max-time 5 "http://$REG/v2/orch-test/busybox/manifests/1" \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null 2>&1; then
  log "$IMAGE already in the registry"
else
  ROOTFS=$(mktemp -d /tmp/orch-busybox-rootfs-XXXXXX)
  trap 'rm -rf "$ROOTFS"' EXIT
  mkdir -p "$ROOTFS"/{bin,etc,tmp,www,proc,sys,dev,root}
  chmod 1777 "$ROOTFS/tmp"
  cp /bin/busybox "$ROOTFS/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$ROOTFS/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOTFS/etc/passwd"
  echo 'root:x:0:' >"$ROOTFS/etc/group"
  echo 'orch test image' >"$ROOTFS/www/index.html"
  log "building $IMAGE from busybox-static"
  tar -C "$ROOTFS" -c . | docker_cli import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
  docker_cli push "$IMAGE" >/dev/null
  log "pushed $IMAGE"
fi

# --- the registry with a password --------------------------------------------
if auth_registry_up; then
  log "registry with a password already answers on $AUTH_REG"
else
  mkdir -p "$AUTH_REG_DATA"
  # bcrypt, the only scheme docker-registry's htpasswd takes (libxcrypt).
  HASH=$(python3 -c 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))' \
    "$AUTH_PASSWORD" 2>/dev/null)
  case "$HASH" in '$2'*) ;; *) die "cannot make a bcrypt hash with python3's crypt" ;; esac
  echo "$AUTH_USER:$HASH" >"$RUN/registry-auth.htpasswd"
  cat >"$RUN/registry-auth.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $AUTH_REG_DATA
http:
  addr: $AUTH_REG
auth:
  htpasswd:
    realm: orch-test
    path: $RUN/registry-auth.htpasswd
EOF
  stop_pidfile "$RUN/registry-auth.pid"
  log "starting docker-registry with a password on $AUTH_REG"
  setsid docker-registry serve "$RUN/registry-auth.yml" </dev/null >"$RUN/registry-auth.log" 2>&1 &
  echo $! >"$RUN/registry-auth.pid"
  wait_for 30 "docker-registry (htpasswd)" "$RUN/registry-auth.log" auth_registry_up
fi
if curl -sf --max-time 5 -u "$AUTH_USER:$AUTH_PASSWORD" "http://$AUTH_REG/v2/orch-test/busybox/manifests/1" \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null 2>&1; then
  log "$AUTH_IMAGE already in the registry with a password"
else
  # A private client config: root's own ~/.docker stays untouched.
  export DOCKER_CONFIG=$RUN/docker-client
  mkdir -p "$DOCKER_CONFIG"
  docker_cli pull "$IMAGE" >/dev/null
  docker_cli tag "$IMAGE" "$AUTH_IMAGE"
  echo "$AUTH_PASSWORD" | docker_cli login -u "$AUTH_USER" --password-stdin "$AUTH_REG" >/dev/null 2>&1 ||
    die "docker login to $AUTH_REG failed"
  docker_cli push "$AUTH_IMAGE" >/dev/null
  docker_cli logout "$AUTH_REG" >/dev/null 2>&1 || true
  docker_cli rmi "$AUTH_IMAGE" >/dev/null 2>&1 || true
  log "pushed $AUTH_IMAGE"
fi

# --- containerd --------------------------------------------------------------
# Not dockerd's own: a private daemon the containerd driver talks to, with the
# CRI plugin off (no Kubernetes here).
containerd_up() { [ -S "$CTRD_SOCK" ] && ctr --address "$CTRD_SOCK" version >/dev/null 2>&1; }
CTRD_READY=""
if ! command -v containerd >/dev/null; then
  log "containerd not found: the containerd driver's tests will skip (install containerd)"
elif containerd_up; then
  log "containerd already answers on $CTRD_SOCK"
  CTRD_READY=1
else
  mkdir -p "$CTRD_STATE" "$CTRD_ROOT"
  cat >"$RUN/containerd.toml" <<EOF
version = 2
root = "$CTRD_ROOT"
state = "$CTRD_STATE/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$CTRD_SOCK.ttrpc"
[debug]
  level = "warn"
EOF
  stop_pidfile "$RUN/containerd.pid"
  rm -f "$CTRD_SOCK"
  log "starting containerd on $CTRD_SOCK (root $CTRD_ROOT)"
  setsid containerd --config "$RUN/containerd.toml" </dev/null >"$RUN/containerd.log" 2>&1 &
  echo $! >"$RUN/containerd.pid"
  wait_for 60 "containerd" "$RUN/containerd.log" containerd_up
  log "containerd $(ctr --address "$CTRD_SOCK" version 2>/dev/null | awk '/Server:/{s=1} s&&/Version:/{print $2; exit}') ready"
  CTRD_READY=1
fi

echo "ORCH_DOCKER_SOCKET=$SOCK"
echo "ORCH_TEST_REGISTRY=$REG"
echo "ORCH_TEST_AUTH_REGISTRY=$AUTH_REG"
if [ -n "$CTRD_READY" ]; then echo "ORCH_CONTAINERD_SOCKET=$CTRD_SOCK"; fi
