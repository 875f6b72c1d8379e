// raft_commit_bench: commit throughput and latency of a 3-master orch Raft
// quorum on loopback, side by side with a 3-member etcd cluster, under the
// same closed-loop load of 256-byte writes from 1, 16 and 256 clients.
//
//   orch (in-process): three RaftLogs + TcpTransports + StateStores (raft.db
//     with fsync, state.db) in this process; each client thread calls
//     leader->Propose(update_member{http_address: 256 bytes}) and waits until
//     it is committed and applied. No HTTP.
//   etcd: three `etcd` processes (defaults: fsync on, heartbeat 100 ms,
//     election 1 s); each client thread POSTs /v3/kv/put (256-byte value,
//     one key per client) to the leader through etcd's JSON gateway over a
//     keep-alive connection: HTTP/JSON -> gRPC -> Raft -> fsync -> apply.
//   orch (HTTP, optional with --orch-master=PATH): three orch-master
//     processes; each client POSTs /v1/jobs (a ~256-byte batch job with
//     count 0) to the leader: HTTP/JSON -> validation -> Raft -> fsync ->
//     apply. (The leader's eval worker then proposes its own follow-up
//     entries for each job, so this path does more work per write.)
//
// Flags (or environment): --warmup=1 (ORCH_BENCH_WARMUP) --duration=5
// (ORCH_BENCH_DURATION) --clients=1,16,256 (ORCH_BENCH_CLIENTS)
// --etcd=/usr/bin/etcd ("" skips etcd) --orch-master=PATH ("" skips)
// --dir=/tmp (where the temporary data dirs go) --only=orch,etcd,http
// --acl=true (the HTTP rows with masters started with --acl, writes carrying
// the bootstrap's management token) --tls=true (the HTTP rows over mutual
// TLS: masters with --tls-*, clients with a client certificate, Raft over
// TLS too).
// It prints figures; it asserts nothing about time.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/tls_certs.h"
#include "master/replication/raft_node.h"
#include "master/replication/tcp_transport.h"
#include "master/state/state_store.h"
#include "orch/v1/command.pb.h"
#include "tests/bench/bench_util.h"

namespace orch::bench {
namespace {

namespace fs = std::filesystem;

struct Options {
  double warmup = 1, duration = 5;
  std::vector<int> clients;
  std::string etcd, orch_master, dir, only;
  std::vector<int> jobs_in_state = {0};  // HTTP rows: jobs stored before measuring
  bool acl = false;  // HTTP rows: masters with --acl, writes with a management token
  bool tls = false;  // HTTP rows: mutual TLS everywhere
  bool Want(const std::string& what) const { return only.empty() || only.find(what) != std::string::npos; }
};

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, 'x');
  static const char* alnum = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (auto& c : s) c = alnum[rng() % 36];
  return s;
}

void PrintTable(const std::string& title, const std::vector<LoadResult>& rs) {
  std::printf("\n%s\n", title.c_str());
  std::printf("  %8s %12s %10s %10s %10s %8s\n", "clients", "writes/s", "p50 ms", "p99 ms", "max ms", "errors");
  for (const auto& r : rs) {
    std::printf("  %8d %12.0f %10.2f %10.2f %10.2f %8llu\n", r.clients, r.writes_per_s, r.p50_ms, r.p99_ms,
                r.max_ms, static_cast<unsigned long long>(r.errors));
  }
  std::fflush(stdout);
}

// ---------------------------------------------------------------- orch in-process

struct OrchMember {
  std::unique_ptr<master::StateStore> store;
  std::unique_ptr<replication::RaftNode> log;
  std::unique_ptr<replication::TcpTransport> transport;
  std::shared_ptr<replication::Transport::Callbacks> cbs =
      std::make_shared<replication::Transport::Callbacks>();
};

bool RunOrchInProcess(const Options& o, const std::string& base, std::vector<LoadResult>* out) {
  const std::vector<std::string> ids = {"m1", "m2", "m3"};
  std::vector<OrchMember> ms(3);
  // Transports first, to learn their ports; their callbacks reach the
  // RaftLogs through `cbs`, filled in before any log starts (so before any
  // message can arrive).
  for (int i = 0; i < 3; ++i) {
    replication::TcpTransportOptions to;
    to.self_id = replication::RaftIdOf(ids[i]);
    to.listen = "127.0.0.1:0";
    replication::Transport::Callbacks fwd;
    auto cbs = ms[i].cbs;
    fwd.on_message = [cbs](v1::Message m) { cbs->on_message(std::move(m)); };
    fwd.on_snapshot_status = [cbs](uint64_t to, bool ok) { cbs->on_snapshot_status(to, ok); };
    fwd.on_unreachable = [cbs](uint64_t to) { cbs->on_unreachable(to); };
    auto t = replication::TcpTransport::Start(to, fwd);
    if (!t.ok()) {
      std::fprintf(stderr, "orch: transport %s: %s\n", ids[i].c_str(), t.status().ToString().c_str());
      return false;
    }
    ms[i].transport = std::move(t).value();
  }
  std::vector<std::pair<std::string, std::string>> peers;
  for (int i = 0; i < 3; ++i) peers.emplace_back(ids[i], "127.0.0.1:" + std::to_string(ms[i].transport->port()));
  for (int i = 0; i < 3; ++i) {
    std::string dir = base + "/" + ids[i];
    fs::create_directories(dir);
    auto st = master::StateStore::Open(dir + "/state.db");
    if (!st.ok()) {
      std::fprintf(stderr, "orch: state store: %s\n", st.status().ToString().c_str());
      return false;
    }
    ms[i].store = std::move(st).value();
    replication::RaftNodeOptions ro;
    ro.member_id = ids[i];
    ro.raft_address = peers[i].second;
    ro.initial_peers = peers;
    ro.tick = std::chrono::milliseconds(50);
    ro.election_ticks = 10;
    auto lg = replication::RaftNode::Open(ro, dir, ms[i].store.get());
    if (!lg.ok()) {
      std::fprintf(stderr, "orch: raft log: %s\n", lg.status().ToString().c_str());
      return false;
    }
    ms[i].log = std::move(lg).value();
    *ms[i].cbs = ms[i].log->TransportCallbacks();
  }
  for (auto& m : ms) m.log->Start(m.transport.get());

  auto find_leader = [&]() -> replication::RaftNode* {
    for (int n = 0; n < 200; ++n) {  // 10 s
      for (auto& m : ms) {
        if (m.log->IsLeader()) return m.log.get();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return nullptr;
  };
  bool ok = true;
  replication::RaftNode* leader = find_leader();
  if (leader == nullptr) {
    std::fprintf(stderr, "orch: no leader elected within 10 s\n");
    ok = false;
  } else {
    // The membership rows exist once the bootstrap entries applied.
    for (int n = 0; n < 100 && ms[0].store->ListMembers().size() < 3; ++n) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::atomic<replication::RaftNode*> cur{leader};
    for (int c : o.clients) {
      auto r = RunClosedLoop(c, o.warmup, o.duration, [&](int i) -> std::function<bool()> {
        v1::Command cmd;
        cmd.mutable_update_member()->set_id(ids[i % 3]);
        cmd.mutable_update_member()->set_http_address(RandomBytes(256, i + 1));
        return [&, cmd]() {
          auto res = cur.load()->Propose(cmd, std::chrono::milliseconds(5000));
          if (res.ok()) return true;
          if (auto* l = find_leader()) cur = l;
          return false;
        };
      });
      out->push_back(r);
      std::printf("  orch in-process, %d clients: %.0f writes/s\n", c, r.writes_per_s);
      std::fflush(stdout);
    }
  }
  for (auto& m : ms) m.log->Close();
  for (auto& m : ms) m.transport->Stop();
  ms.clear();
  return ok;
}

// ---------------------------------------------------------------- etcd

struct EtcdCluster {
  std::vector<std::unique_ptr<Proc>> procs;
  std::vector<int> client_ports;
  std::vector<std::string> member_ids;  // as printed by the status API (decimal)
};

bool StartEtcd(const std::string& bin, const std::string& base, EtcdCluster* c) {
  std::vector<int> peer_ports;
  for (int i = 0; i < 3; ++i) {
    c->client_ports.push_back(FreePort());
    peer_ports.push_back(FreePort());
  }
  std::string initial;
  for (int i = 0; i < 3; ++i) {
    if (i) initial += ",";
    initial += "e" + std::to_string(i + 1) + "=http://127.0.0.1:" + std::to_string(peer_ports[i]);
  }
  for (int i = 0; i < 3; ++i) {
    std::string name = "e" + std::to_string(i + 1);
    std::string cu = "http://127.0.0.1:" + std::to_string(c->client_ports[i]);
    std::string pu = "http://127.0.0.1:" + std::to_string(peer_ports[i]);
    fs::create_directories(base);
    auto p = std::make_unique<Proc>();
    if (!p->Start({bin, "--name", name, "--data-dir", base + "/" + name, "--listen-client-urls", cu,
                   "--advertise-client-urls", cu, "--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
                   "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token",
                   "orch-bench", "--log-level", "warn", "--logger", "zap"},
                  base + "/" + name + ".log")) {
      return false;
    }
    c->procs.push_back(std::move(p));
  }
  return true;
}

// The client port of the etcd leader, or 0 if none is known within 15 s.
int EtcdLeaderPort(const EtcdCluster& c) {
  KeepAliveHttp http;
  for (int n = 0; n < 150; ++n) {
    for (int port : c.client_ports) {
      long code = http.Do("POST", "http://127.0.0.1:" + std::to_string(port) + "/v3/maintenance/status", "{}", 1000);
      if (code != 200) continue;
      std::string leader = JsonField(http.body(), "leader");
      std::string self = JsonField(http.body(), "member_id");
      if (!leader.empty() && leader != "0" && leader == self) return port;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

bool RunEtcd(const Options& o, const std::string& base, std::vector<LoadResult>* out) {
  EtcdCluster c;
  if (!StartEtcd(o.etcd, base, &c)) {
    std::fprintf(stderr, "etcd: cannot start %s\n", o.etcd.c_str());
    return false;
  }
  int port = EtcdLeaderPort(c);
  if (port == 0) {
    std::fprintf(stderr, "etcd: no leader within 15 s (logs in %s)\n", base.c_str());
    return false;
  }
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v3/kv/put";
  for (int clients : o.clients) {
    auto r = RunClosedLoop(clients, o.warmup, o.duration, [&](int i) -> std::function<bool()> {
      auto http = std::make_shared<KeepAliveHttp>();
      std::string body = "{\"key\":\"" + Base64("bench/" + std::to_string(i)) + "\",\"value\":\"" +
                         Base64(RandomBytes(256, i + 1)) + "\"}";
      return [http, body, url]() {
        long code = http->Do("POST", url, body, 5000);
        return code == 200 && http->body().find("\"error\"") == std::string::npos;
      };
    });
    out->push_back(r);
    std::printf("  etcd, %d clients: %.0f writes/s\n", clients, r.writes_per_s);
    std::fflush(stdout);
  }
  for (auto& p : c.procs) p->Stop();
  return true;
}

// ---------------------------------------------------------------- orch over HTTP

// With --tls=true: the CA and a client certificate every request presents.
TlsFiles g_client_tls;

// `http` speaks https:// with the client certificate when the rows use TLS.
KeepAliveHttp& Secure(KeepAliveHttp& http) {
  if (g_client_tls.enabled())
    http.UseTls(g_client_tls.ca_file, g_client_tls.cert_file, g_client_tls.key_file);
  return http;
}

// A CA and a master's and a client's certificate in `dir`; the masters'
// TLS files (the client's go to g_client_tls).
Result<TlsFiles> MakePki(const std::string& dir) {
  fs::create_directories(dir);
  ORCH_ASSIGN_OR_RETURN(PemPair ca, MakeCa({}));
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name, std::ios::binary) << text;
    return dir + "/" + name;
  };
  std::string ca_file = write("ca.pem", ca.cert_pem);
  CertRequest server_req, client_req;
  server_req.role = TlsRole::kServer;
  client_req.role = TlsRole::kClient;
  ORCH_ASSIGN_OR_RETURN(PemPair server, MakeCert(ca, server_req));
  ORCH_ASSIGN_OR_RETURN(PemPair client, MakeCert(ca, client_req));
  g_client_tls = {ca_file, write("client.pem", client.cert_pem),
                  write("client-key.pem", client.key_pem)};
  return TlsFiles{ca_file, write("server.pem", server.cert_pem),
                  write("server-key.pem", server.key_pem)};
}

// Tops the state up to `target` jobs (batch, count 0) with 16 concurrent
// clients; returns how many it stored.
int FillJobs(const std::string& leader_url, const std::string& token, int have, int target) {
  std::atomic<int> next{have}, stored{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      KeepAliveHttp http;
      Secure(http);
      if (!token.empty()) http.AddHeader("X-Orch-Token", token);
      for (int n = next++; n < target; n = next++) {
        std::string body = "{\"id\":\"fill-" + std::to_string(n) +
                           "\",\"type\":\"batch\",\"groups\":[{\"name\":\"g\",\"count\":0,\"tasks\":[{\"name\":\"t\","
                           "\"driver\":\"exec\",\"command\":\"/bin/true\",\"resources\":{\"cpu\":1,\"memory\":1}}]}]}";
        if (http.Do("POST", leader_url + "/v1/jobs", body, 10000) == 200) ++stored;
      }
    });
  }
  for (auto& t : threads) t.join();
  return stored.load();
}

// One table of rows per --jobs-in-state level; `stored_before` gets how many
// jobs the state held when each table began (at least the level).
bool RunOrchHttp(const Options& o, const std::string& base, std::vector<std::vector<LoadResult>>* out,
                 std::vector<int>* stored_before) {
  std::vector<int> http_ports, raft_ports;
  std::string peers;
  for (int i = 0; i < 3; ++i) {
    http_ports.push_back(FreePort());
    raft_ports.push_back(FreePort());
    if (i) peers += ",";
    peers += "m" + std::to_string(i + 1) + "=127.0.0.1:" + std::to_string(raft_ports[i]);
  }
  std::vector<std::unique_ptr<Proc>> procs;
  fs::create_directories(base);
  TlsFiles tls;
  if (o.tls) {
    auto pki = MakePki(base + "/tls");
    if (!pki.ok()) {
      std::fprintf(stderr, "orch-master: cannot make certificates: %s\n",
                   pki.status().ToString().c_str());
      return false;
    }
    tls = *pki;
  }
  const std::string scheme = o.tls ? "https://" : "http://";
  for (int i = 0; i < 3; ++i) {
    std::string id = "m" + std::to_string(i + 1);
    auto p = std::make_unique<Proc>();
    std::vector<std::string> argv{o.orch_master,
                                  "--id",
                                  id,
                                  "--data-dir",
                                  base + "/" + id,
                                  "--http",
                                  "127.0.0.1:" + std::to_string(http_ports[i]),
                                  "--raft",
                                  "127.0.0.1:" + std::to_string(raft_ports[i]),
                                  "--peers",
                                  peers,
                                  "--log-level",
                                  "warn"};
    if (o.acl) argv.push_back("--acl");
    if (o.tls)
      argv.insert(argv.end(), {"--tls-ca", tls.ca_file, "--tls-cert", tls.cert_file, "--tls-key",
                               tls.key_file});
    if (!p->Start(argv, base + "/" + id + ".log")) {
      return false;
    }
    procs.push_back(std::move(p));
  }
  // The leader's own HTTP address (clients talk to it, as they do to etcd's).
  std::string leader_url;
  {
    KeepAliveHttp http;
    Secure(http);
    for (int n = 0; n < 150 && leader_url.empty(); ++n) {
      for (int port : http_ports) {
        if (http.Do("GET", scheme + "127.0.0.1:" + std::to_string(port) + "/v1/cluster/leader", "",
                    1000) != 200) {
          continue;
        }
        std::string addr = JsonField(http.body(), "address");
        if (!addr.empty()) {
          leader_url = addr;
          break;
        }
      }
      if (leader_url.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  bool ok = !leader_url.empty();
  if (!ok) std::fprintf(stderr, "orch-master: no leader with an address within 15 s (logs in %s)\n", base.c_str());
  // With --acl every write presents the bootstrap's management token.
  std::string token;
  if (ok && o.acl) {
    KeepAliveHttp http;
    Secure(http);
    if (http.Do("POST", leader_url + "/v1/acl/bootstrap", "{}", 10000) == 200)
      token = JsonField(http.body(), "secret_id");
    ok = !token.empty();
    if (!ok) std::fprintf(stderr, "orch-master: ACL bootstrap failed: %s\n", http.body().c_str());
  }
  std::atomic<uint64_t> seq{0}, stored{0};  // submits tried, and accepted, by the rows
  int filled = 0;
  for (size_t li = 0; li < o.jobs_in_state.size() && ok; ++li) {
    // Jobs stored so far: the fill's and the measured rows' (each attempt
    // of a row submits a new job).
    int have = filled + static_cast<int>(stored.load());
    const int level = o.jobs_in_state[li];
    if (level > have) {
      auto t0 = std::chrono::steady_clock::now();
      int added = FillJobs(leader_url, token, filled, filled + (level - have));
      filled += added;
      have += added;
      std::printf("  stored %d more jobs (%.0f s)\n", added,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      std::fflush(stdout);
    }
    stored_before->push_back(have);
    out->emplace_back();
  for (int clients : o.clients) {
    if (!ok) break;
    auto r = RunClosedLoop(clients, o.warmup, o.duration, [&](int i) -> std::function<bool()> {
      auto http = std::make_shared<KeepAliveHttp>();
      Secure(*http);
      if (!token.empty()) http->AddHeader("X-Orch-Token", token);
      std::string pad = RandomBytes(64, i + 1);
      return [http, pad, &seq, &stored, &leader_url, i]() {
        std::string body = "{\"id\":\"bench-" + std::to_string(i) + "-" + std::to_string(seq++) +
                           "\",\"type\":\"batch\",\"groups\":[{\"name\":\"g\",\"count\":0,\"tasks\":[{\"name\":\"t\","
                           "\"driver\":\"exec\",\"command\":\"/bin/true\",\"args\":[\"" +
                           pad + "\"],\"resources\":{\"cpu\":1,\"memory\":1}}]}]}";
        long code = http->Do("POST", leader_url + "/v1/jobs", body, 5000);
        if (code == 200) ++stored;
        return code == 200;
      };
    });
    out->back().push_back(r);
    std::printf("  orch over HTTP, %d jobs stored before, %d clients: %.0f writes/s\n", have, clients,
                r.writes_per_s);
    std::fflush(stdout);
  }
  }
  for (auto& p : procs) p->Stop();
  return ok;
}

const LoadResult* Find(const std::vector<LoadResult>& rs, int clients) {
  for (const auto& r : rs) {
    if (r.clients == clients) return &r;
  }
  return nullptr;
}

int Main(int argc, char** argv) {
  Options o;
  o.warmup = std::atof(Flag(argc, argv, "warmup", "ORCH_BENCH_WARMUP", "1").c_str());
  o.duration = std::atof(Flag(argc, argv, "duration", "ORCH_BENCH_DURATION", "5").c_str());
  o.clients = IntList(Flag(argc, argv, "clients", "ORCH_BENCH_CLIENTS", "1,16,256"));
  o.etcd = Flag(argc, argv, "etcd", "ORCH_BENCH_ETCD", "/usr/bin/etcd");
  o.orch_master = Flag(argc, argv, "orch-master", "ORCH_BENCH_ORCH_MASTER", "");
  o.dir = Flag(argc, argv, "dir", "ORCH_BENCH_DIR", fs::temp_directory_path().string());
  o.only = Flag(argc, argv, "only", "ORCH_BENCH_ONLY", "");
  o.acl = Flag(argc, argv, "acl", "ORCH_BENCH_ACL", "false") == "true";
  o.tls = Flag(argc, argv, "tls", "ORCH_BENCH_TLS", "false") == "true";
  o.jobs_in_state = IntList(Flag(argc, argv, "jobs-in-state", "ORCH_BENCH_JOBS_IN_STATE", "0"));
  spdlog::set_level(spdlog::level::warn);
  curl_global_init(CURL_GLOBAL_ALL);

  std::string tmpl = o.dir + "/orch-commit-bench-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    std::perror("mkdtemp");
    return 2;
  }
  std::string base = buf.data();
  std::printf("raft_commit_bench: 3 members on 127.0.0.1, 256-byte writes, closed loop, %.1f s warm-up + %.1f s "
              "measured per row; data in %s\n",
              o.warmup, o.duration, base.c_str());
  std::printf("machine: %u cpus; load average at start: ", std::thread::hardware_concurrency());
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    char line[128] = {0};
    if (std::fgets(line, sizeof line, f)) std::printf("%s", line);
    std::fclose(f);
  }
  std::fflush(stdout);

  std::vector<LoadResult> orch, etcd;
  std::vector<std::vector<LoadResult>> http;  // per --jobs-in-state level
  std::vector<int> stored_before;             // jobs in the state when each level began
  bool ok = true;
  if (o.Want("orch")) ok &= RunOrchInProcess(o, base + "/orch", &orch);
  if (o.Want("etcd") && !o.etcd.empty()) ok &= RunEtcd(o, base + "/etcd", &etcd);
  if (o.Want("http") && !o.orch_master.empty()) ok &= RunOrchHttp(o, base + "/orch-http", &http, &stored_before);

  if (!orch.empty()) {
    PrintTable(
        "orch in-process: replication::RaftNode::Propose on the leader -> Raft over TCP -> raft.db "
        "fsync (leader and "
        "followers) -> apply to state.db; no HTTP, no JSON",
        orch);
  }
  if (!etcd.empty()) {
    PrintTable("etcd 3.4 (defaults): HTTP/JSON gateway POST /v3/kv/put to the leader -> gRPC -> Raft -> WAL fsync -> "
               "apply to bbolt",
               etcd);
  }
  for (size_t i = 0; i < http.size(); ++i) {
    PrintTable(
        std::string(o.tls ? "orch over HTTPS (mutual TLS, Raft over TLS too)" : "orch over HTTP") +
            ": orch-master processes, POST /v1/jobs (batch, count 0, ~256 B JSON) to the leader -> "
            "validation -> Raft -> fsync -> apply; " +
            std::to_string(stored_before[i]) + " jobs stored before the rows",
        http[i]);
  }
  auto ratios = [&](const std::string& name, const std::vector<LoadResult>& a) {
    if (a.empty() || etcd.empty()) return;
    std::printf("\n%s / etcd (goal: writes/s ratio >= 2.0 at p99 ratio <= 1.0)\n", name.c_str());
    std::printf("  %8s %14s %10s %8s\n", "clients", "writes/s ratio", "p99 ratio", "goal met");
    for (const auto& r : a) {
      const LoadResult* e = Find(etcd, r.clients);
      if (e == nullptr || e->writes_per_s == 0 || e->p99_ms == 0) continue;
      double w = r.writes_per_s / e->writes_per_s, p = r.p99_ms / e->p99_ms;
      std::printf("  %8d %14.2f %10.2f %8s\n", r.clients, w, p, (w >= 2.0 && p <= 1.0) ? "yes" : "no");
    }
  };
  ratios("orch in-process", orch);
  for (size_t i = 0; i < http.size(); ++i) {
    ratios("orch over HTTP, " + std::to_string(stored_before[i]) + " jobs stored before", http[i]);
  }
  std::fflush(stdout);
  std::error_code ec;
  fs::remove_all(base, ec);
  curl_global_cleanup();
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace orch::bench

int main(int argc, char** argv) { return orch::bench::Main(argc, argv); }
