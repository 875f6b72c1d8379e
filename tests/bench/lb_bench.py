#!/usr/bin/env python3
"""The agents' load balancer vs HAProxy vs no proxy, with wrk.

Three orch-test-id-server backends on 127.0.0.1 (HTTP/1.1 keep-alive, one
thread per connection); the same wrk load (keep-alive, closed loop) against
  direct   one backend, no proxy (the floor for latency),
  orch     lb_proxy: agent/lb's Proxy, round_robin over the three backends,
  haproxy  HAProxy in TCP mode, balance roundrobin, same backends,
with the same number of proxy threads for both proxies. Prints requests/s,
p50/p99 latency, p99 added over direct, and CPU seconds used by each proxy
per 100k requests (from /proc/<pid>/stat), then orch/haproxy ratios.

  tests/bench/lb_bench.py BUILD_DIR [--duration 10] [--connections 50]
                          [--proxy-threads 1] [--wrk-threads 1] [--rounds 2]
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime, stime are fields 14 and 15 (1-based), i.e. 11 and 12 after ")".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v if unit == "ms" else v * 1000


def wrk(url, args):
    out = subprocess.run(["wrk", f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{args.duration}s",
                          "--latency", url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors or non2xx:
        print(f"  warning: {url}: {errors.group(0) if errors else ''} {non2xx.group(0) if non2xx else ''}")
    return {"rps": rps, "p50": p50, "p99": p99, "requests": total}


def measure(name, url, pid, args):
    before = cpu_seconds(pid) if pid else 0.0
    r = wrk(url, args)
    r["cpu"] = (cpu_seconds(pid) - before) if pid else 0.0
    r["name"] = name
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build_dir")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--proxy-threads", type=int, default=1)
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    for tool in ("wrk", "haproxy"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: ORCH_SETUP_OPTIONAL=1 scripts/setup.sh installs it")
    server = os.path.join(args.build_dir, "tests/e2e/orch-test-id-server")
    lb = os.path.join(args.build_dir, "tests/bench/lb_proxy")
    for b in (server, lb):
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} missing: ninja -C {args.build_dir} orch-test-id-server lb_proxy")

    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}, {os.cpu_count()} cores")
    print(f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s (keep-alive); "
          f"proxies with {args.proxy_threads} thread(s); {args.rounds} round(s)")
    procs = []
    tmp = tempfile.mkdtemp(prefix="orch-lb-bench-")
    try:
        backends = []
        for i in range(3):
            p = free_port()
            procs.append(subprocess.Popen([server, "--port", str(p), "--id", f"b{i}"], stderr=subprocess.DEVNULL))
            backends.append(p)
        for p in backends:
            wait_port(p)

        orch_port = free_port()
        cmd = [lb, "--listen", str(orch_port), "--threads", str(args.proxy_threads), "--strategy", "round_robin"]
        for p in backends:
            cmd += ["--backend", f"127.0.0.1:{p}"]
        orch = subprocess.Popen(cmd, stderr=open(os.path.join(tmp, "lb_proxy.log"), "w"))
        procs.append(orch)

        ha_port = free_port()
        cfg = os.path.join(tmp, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(f"""global
  nbthread {args.proxy_threads}
  maxconn 4000
defaults
  mode tcp
  timeout connect 2s
  timeout client 5m
  timeout server 5m
frontend bench
  bind 127.0.0.1:{ha_port}
  default_backend backends
backend backends
  balance roundrobin
""")
            for i, p in enumerate(backends):
                f.write(f"  server b{i} 127.0.0.1:{p}\n")
        ha = subprocess.Popen(["haproxy", "-db", "-f", cfg], stderr=open(os.path.join(tmp, "haproxy.log"), "w"))
        procs.append(ha)
        wait_port(orch_port)
        wait_port(ha_port)

        results = {"direct": [], "orch": [], "haproxy": []}
        wrk(f"http://127.0.0.1:{orch_port}/", argparse.Namespace(**{**vars(args), "duration": 2}))  # warm-up
        for _ in range(args.rounds):
            results["direct"].append(measure("direct", f"http://127.0.0.1:{backends[0]}/", None, args))
            results["orch"].append(measure("orch", f"http://127.0.0.1:{orch_port}/", orch.pid, args))
            results["haproxy"].append(measure("haproxy", f"http://127.0.0.1:{ha_port}/", ha.pid, args))

        def avg(name, key):
            rs = results[name]
            return sum(r[key] for r in rs) / len(rs)

        direct_p99 = avg("direct", "p99")
        print(f"\n{'':8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'p99 added':>10} {'cpu s/100k req':>15}")
        row = {}
        for name in ("direct", "orch", "haproxy"):
            rps, p50, p99 = avg(name, "rps"), avg(name, "p50"), avg(name, "p99")
            reqs = sum(r["requests"] for r in results[name])
            cpu = sum(r["cpu"] for r in results[name])
            cpu100k = cpu / reqs * 100000 if name != "direct" else float("nan")
            row[name] = (rps, p99, p99 - direct_p99, cpu100k)
            added = "" if name == "direct" else f"{p99 - direct_p99:.3f}"
            cpu_s = "" if name == "direct" else f"{cpu100k:.3f}"
            print(f"{name:8} {rps:10.0f} {p50:8.3f} {p99:8.3f} {added:>10} {cpu_s:>15}")
        o, h = row["orch"], row["haproxy"]
        print("\norch / haproxy:")
        print(f"  requests/s        {o[0] / h[0]:.2f}  (>= 1 is at least HAProxy's throughput)")
        print(f"  p99 latency       {o[1] / h[1]:.2f}  (<= 1 is no worse)")
        print(f"  CPU per request   {o[3] / h[3]:.2f}  (<= 1 is no more CPU)")
        print(f"orch / direct: requests/s {o[0] / row['direct'][0]:.2f}, p99 {o[1] / row['direct'][1]:.2f}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
