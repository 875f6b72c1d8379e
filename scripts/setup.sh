#!/usr/bin/env bash
# Installs every Debian package that orch's build, tests and demo need.
# Idempotent: safe to run again; does nothing when all packages are present.
# Must run as root (or with sudo available) on Debian 12.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-program-options1.81-dev
  libprotobuf-dev protobuf-compiler
  libsqlite3-dev sqlite3
  libcurl4-openssl-dev curl
  libcgroup-dev cgroup-tools
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev
  libssl-dev libsystemd-dev zlib1g-dev
  systemd   # systemd-analyze: the units' verify test
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 procps psmisc busybox-static
  iptables   # the partition e2e test (network namespaces with drop rules)
  nlohmann-json3-dev
  libre2-dev   # user regexps in linear time (scheduler constraints)
  libgoogle-perftools-dev   # tcmalloc: the masters' allocator (master/CMakeLists.txt)
  # The containerd driver: gRPC C++ and containerd's API .proto files (with
  # gogo's options they import), compiled at build time; nothing vendored.
  libgrpc++-dev protobuf-compiler-grpc
  golang-github-containerd-containerd-dev golang-github-gogo-protobuf-dev
  chromium fonts-liberation   # the web UI's browser test (tests/ui), with node and npm below
)
# Optional: a real dockerd for integration tests and etcd for the Raft benchmark.
# docker-registry serves the Docker tests' image on loopback (scripts/dockerd.sh).
# haproxy and wrk: the load balancer benchmark (tests/bench/lb_bench.sh).
# prometheus: promtool and a real server for the metrics tests (tests/e2e/metrics_test.cpp).
# containerd: the containerd driver's tests (a private daemon, scripts/dockerd.sh).
OPTIONAL=(docker.io docker-registry containerd etcd-server etcd-client haproxy wrk prometheus)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}" ${ORCH_SETUP_OPTIONAL:+"${OPTIONAL[@]}"}; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm (puppeteer-core for tests/ui): Debian's packages unless a node
# with its own npm (e.g. NodeSource's, which conflicts with Debian's npm) is
# there already.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
