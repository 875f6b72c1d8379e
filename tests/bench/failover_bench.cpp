// failover_bench: how long writes stop when the leader of a 3-member
// cluster is killed with SIGKILL under write load, for orch-master and for
// etcd 3.4, on loopback.
//
// Each trial: let the load run, note the leader and its term, kill -9 the
// leader, and measure from just before kill(2) to the first write that was
// *sent after the kill* and answered 200 (orch: POST /v1/jobs, a batch job
// with count 0, sent to any live master, followers forward; etcd: POST
// /v3/kv/put through the JSON gateway to any live member). Then restart the
// killed member on its data dir, wait until it follows the leader again,
// and let it catch up under load before the next trial.
// Spurious elections: the leader or term changed between the end of one
// trial and the kill of the next (nobody was killed), plus any failover
// that took more than one term to settle.
//
// Flags (or environment): --system=orch,etcd (ORCH_BENCH_SYSTEMS)
// --orch-master=PATH (ORCH_BENCH_ORCH_MASTER) --etcd=/usr/bin/etcd
// --trials=20 --writers=16 --settle=1.0 (seconds of load before each kill)
// --orch-tick=50ms (passed as --raft-tick; default: orch-master's own)
// --write-timeout-ms=1000 (client timeout per write) --dir=/tmp. It prints figures; it asserts
// nothing about time. orch only: --jobs-in-state=N stores N jobs (batch, count 0) before the first
// trial; --nodesim=PATH --nodesim-nodes=N runs orch-nodesim with N simulated agents against the
// three masters during the trials (each agent moves to the next master when its own is killed).
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/bench_util.h"

namespace orch::bench {
namespace {

namespace fs = std::filesystem;

// Per-request client timeout: a write stuck on the dead leader is abandoned
// and retried (on another member) after this long.
long g_write_timeout_ms = 1000;

int64_t NowNs() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

struct LeaderView {
  int member = -1;  // index, -1 if none
  uint64_t term = 0;
};

// A 3-member cluster of one system, as child processes.
class Cluster {
 public:
  virtual ~Cluster() = default;
  virtual std::string Name() const = 0;
  virtual bool StartMember(int i) = 0;
  // Asks member i itself; -1 if it does not answer or does not lead.
  virtual LeaderView AskLeader(KeepAliveHttp& http, int i) = 0;
  // Whether member i knows a leader other than none.
  virtual bool KnowsLeader(KeepAliveHttp& http, int i) = 0;
  virtual bool Write(KeepAliveHttp& http, int i, uint64_t seq, int thread) = 0;
  // The ids of the writes that member i's state holds ("" ids: not
  // checkable for this system).
  virtual std::vector<std::string> StoredWrites(KeepAliveHttp&, int) { return {}; }
  virtual std::string WriteId(uint64_t, int) const { return ""; }
  // Before the trials: what the state holds and who is connected (orch).
  virtual void Prepare(int /*leader*/) {}
  void Kill9(int i) { procs_[i]->Kill9(); }
  void StopAll() {
    for (auto& p : procs_) p->Stop();
  }
  const std::string& log_dir() const { return base_; }

  // The member that claims leadership (asking each live one); -1 if none.
  LeaderView Leader(KeepAliveHttp& http, int down) {
    for (int i = 0; i < 3; ++i) {
      if (i == down) continue;
      LeaderView v = AskLeader(http, i);
      if (v.member == i) return v;
    }
    return {};
  }

 protected:
  std::string base_;
  std::vector<std::unique_ptr<Proc>> procs_;
};

class OrchCluster : public Cluster {
 public:
  OrchCluster(std::string bin, std::string base, std::string tick, int jobs_in_state,
              std::string nodesim, int nodesim_nodes)
      : bin_(std::move(bin)),
        tick_(std::move(tick)),
        jobs_in_state_(jobs_in_state),
        nodesim_(std::move(nodesim)),
        nodesim_nodes_(nodesim_nodes) {
    base_ = std::move(base);
    for (int i = 0; i < 3; ++i) {
      http_.push_back(FreePort());
      raft_.push_back(FreePort());
      if (i) peers_ += ",";
      peers_ += Id(i) + "=127.0.0.1:" + std::to_string(raft_[i]);
      procs_.push_back(std::make_unique<Proc>());
    }
    fs::create_directories(base_);
  }
  std::string Name() const override { return "orch"; }
  static std::string Id(int i) { return "m" + std::to_string(i + 1); }
  std::string Url(int i) const { return "http://127.0.0.1:" + std::to_string(http_[i]); }
  bool StartMember(int i) override {
    std::vector<std::string> argv = {bin_, "--id", Id(i), "--data-dir", base_ + "/" + Id(i), "--http",
                                     "127.0.0.1:" + std::to_string(http_[i]), "--raft",
                                     "127.0.0.1:" + std::to_string(raft_[i]), "--peers", peers_, "--log-level", "info"};
    if (!tick_.empty()) {
      argv.push_back("--raft-tick");
      argv.push_back(tick_);
    }
    return procs_[i]->Start(argv, base_ + "/" + Id(i) + ".log");
  }
  LeaderView AskLeader(KeepAliveHttp& http, int i) override {
    if (http.Do("GET", Url(i) + "/v1/cluster/leader", "", 500) != 200) return {};
    std::string id = JsonField(http.body(), "leader_id");
    if (id.empty()) id = JsonField(http.body(), "leaderId");
    std::string term = JsonField(http.body(), "term");
    LeaderView v;
    for (int k = 0; k < 3; ++k) {
      if (Id(k) == id) v.member = k;
    }
    v.term = std::strtoull(term.c_str(), nullptr, 10);
    return v;
  }
  bool KnowsLeader(KeepAliveHttp& http, int i) override { return AskLeader(http, i).member >= 0; }
  std::string WriteId(uint64_t seq, int thread) const override {
    return "fo-" + std::to_string(thread) + "-" + std::to_string(seq);
  }
  std::vector<std::string> StoredWrites(KeepAliveHttp& http, int i) override {
    std::vector<std::string> ids;
    if (http.Do("GET", Url(i) + "/v1/jobs", "", 30000) != 200) return ids;
    const std::string& b = http.body();
    const std::string pat = "\"id\":\"fo-";
    for (size_t p = b.find(pat); p != std::string::npos; p = b.find(pat, p + 1)) {
      size_t s = p + 6, e = b.find('"', s);
      if (e != std::string::npos) ids.push_back(b.substr(s, e - s));
    }
    return ids;
  }
  void Prepare(int leader) override {
    if (jobs_in_state_ > 0) {
      const auto t0 = Clock::now();
      std::atomic<int> next{0}, stored{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 16; ++t) {
        threads.emplace_back([&] {
          KeepAliveHttp h;
          for (int n = next++; n < jobs_in_state_; n = next++) {
            std::string body =
                "{\"id\":\"fill-" + std::to_string(n) +
                "\",\"type\":\"batch\",\"groups\":[{\"name\":\"g\",\"count\":0,\"tasks\":[{"
                "\"name\":\"t\",\"driver\":\"exec\",\"command\":\"/bin/true\",\"resources\":{"
                "\"cpu\":1,\"memory\":1}}]}]}";
            if (h.Do("POST", Url(leader) + "/v1/jobs", body, 10000) == 200) ++stored;
          }
        });
      }
      for (auto& t : threads) t.join();
      std::printf("  stored %d jobs in %.1f s before the first trial\n", stored.load(),
                  std::chrono::duration<double>(Clock::now() - t0).count());
    }
    if (!nodesim_.empty() && nodesim_nodes_ > 0) {
      std::string masters;
      for (int i = 0; i < 3; ++i) masters += (i ? "," : "") + Url(i);
      sim_ = std::make_unique<Proc>();
      sim_->Start({nodesim_, "--master=" + masters, "--nodes=" + std::to_string(nodesim_nodes_),
                   "--duration=86400", "--report-every=10"},
                  base_ + "/nodesim.log");
      // Until the leader counts every simulated node ready (or a minute).
      const auto t0 = Clock::now();
      int ready = 0;
      KeepAliveHttp h;
      while (ready < nodesim_nodes_ && Clock::now() - t0 < std::chrono::minutes(1)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        if (h.Do("GET", Url(leader) + "/v1/nodes", "", 10000) != 200) continue;
        const std::string& b = h.body();
        const std::string pat = "\"status\":\"READY\"";
        ready = 0;
        for (size_t p = b.find(pat); p != std::string::npos; p = b.find(pat, p + 1)) ++ready;
      }
      std::printf(
          "  orch-nodesim: %d of %d simulated agents ready on the three masters after %.1f s (its "
          "lines: "
          "%s/nodesim.log)\n",
          ready, nodesim_nodes_, std::chrono::duration<double>(Clock::now() - t0).count(),
          base_.c_str());
    }
    std::fflush(stdout);
  }
  void StopNodesim() {
    if (sim_) sim_->Stop();
  }
  bool Write(KeepAliveHttp& http, int i, uint64_t seq, int thread) override {
    std::string body = "{\"id\":\"" + WriteId(seq, thread) +
                       "\",\"type\":\"batch\",\"groups\":[{\"name\":\"g\",\"count\":0,\"tasks\":[{\"name\":\"t\","
                       "\"driver\":\"exec\",\"command\":\"/bin/true\",\"resources\":{\"cpu\":1,\"memory\":1}}]}]}";
    return http.Do("POST", Url(i) + "/v1/jobs", body, g_write_timeout_ms) == 200;
  }

 private:
  std::string bin_, tick_, peers_;
  std::vector<int> http_, raft_;
  int jobs_in_state_ = 0;
  std::string nodesim_;
  int nodesim_nodes_ = 0;
  std::unique_ptr<Proc> sim_;
};

class EtcdCluster : public Cluster {
 public:
  EtcdCluster(std::string bin, std::string base) : bin_(std::move(bin)) {
    base_ = std::move(base);
    for (int i = 0; i < 3; ++i) {
      client_.push_back(FreePort());
      peer_.push_back(FreePort());
      if (i) initial_ += ",";
      initial_ += Id(i) + "=http://127.0.0.1:" + std::to_string(peer_[i]);
      procs_.push_back(std::make_unique<Proc>());
    }
    fs::create_directories(base_);
    value_ = Base64(std::string(256, 'v'));
  }
  std::string Name() const override { return "etcd"; }
  static std::string Id(int i) { return "e" + std::to_string(i + 1); }
  std::string Url(int i) const { return "http://127.0.0.1:" + std::to_string(client_[i]); }
  bool StartMember(int i) override {
    std::string cu = Url(i), pu = "http://127.0.0.1:" + std::to_string(peer_[i]);
    return procs_[i]->Start({bin_, "--name", Id(i), "--data-dir", base_ + "/" + Id(i), "--listen-client-urls", cu,
                             "--advertise-client-urls", cu, "--listen-peer-urls", pu, "--initial-advertise-peer-urls",
                             pu, "--initial-cluster", initial_, "--initial-cluster-state", "new",
                             "--initial-cluster-token", "orch-failover-bench", "--logger", "zap", "--log-level",
                             "info"},
                            base_ + "/" + Id(i) + ".log");
  }
  LeaderView AskLeader(KeepAliveHttp& http, int i) override {
    if (http.Do("POST", Url(i) + "/v3/maintenance/status", "{}", 500) != 200) return {};
    LeaderView v;
    std::string leader = JsonField(http.body(), "leader");
    if (!leader.empty() && leader == JsonField(http.body(), "member_id")) v.member = i;
    v.term = std::strtoull(JsonField(http.body(), "raftTerm").c_str(), nullptr, 10);
    last_leader_known_ = !leader.empty() && leader != "0";
    return v;
  }
  bool KnowsLeader(KeepAliveHttp& http, int i) override {
    AskLeader(http, i);
    return last_leader_known_;
  }
  bool Write(KeepAliveHttp& http, int i, uint64_t, int thread) override {
    std::string body = "{\"key\":\"" + Base64("failover/" + std::to_string(thread)) + "\",\"value\":\"" + value_ + "\"}";
    return http.Do("POST", Url(i) + "/v3/kv/put", body, g_write_timeout_ms) == 200 &&
           http.body().find("\"error\"") == std::string::npos;
  }

 private:
  std::string bin_, initial_, value_;
  std::vector<int> client_, peer_;
  bool last_leader_known_ = false;
};

struct TrialResult {
  double to_first_write_ms = -1;  // -1: no write within the limit
  double to_leader_ms = -1;
  uint64_t terms = 0;  // term increments during the failover
};

void RunSystem(Cluster* c, int trials, int writers, double settle_s) {
  std::printf("\n== %s: 3 members on 127.0.0.1, %d writer threads, %d trials (logs in %s)\n", c->Name().c_str(),
              writers, trials, c->log_dir().c_str());
  std::fflush(stdout);
  for (int i = 0; i < 3; ++i) c->StartMember(i);
  KeepAliveHttp http;
  LeaderView lv;
  for (int n = 0; n < 150 && lv.member < 0; ++n) {
    lv = c->Leader(http, -1);
    if (lv.member < 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (lv.member < 0) {
    std::printf("  no leader within 15 s; giving up\n");
    c->StopAll();
    return;
  }
  c->Prepare(lv.member);
  lv = c->Leader(http, -1);

  std::atomic<bool> stop{false};
  std::atomic<int> down{-1};
  std::atomic<int64_t> kill_ns{INT64_MAX}, first_ok_ns{INT64_MAX};
  std::atomic<uint64_t> seq{0}, oks{0}, fails{0};
  std::vector<std::thread> ws;
  std::vector<std::vector<std::string>> acked(writers);
  for (int w = 0; w < writers; ++w) {
    ws.emplace_back([&, w] {
      KeepAliveHttp h;
      int target = w % 3;
      for (uint64_t n = 0; n < (1ULL << 40) && !stop.load(); ++n) {
        if (target == down.load()) target = (target + 1) % 3;
        int64_t s = NowNs();
        uint64_t my_seq = seq++;
        bool ok = c->Write(h, target, my_seq, w);
        int64_t e = NowNs();
        if (ok) {
          oks++;
          std::string id = c->WriteId(my_seq, w);
          if (!id.empty()) acked[w].push_back(std::move(id));
          if (s > kill_ns.load()) {
            int64_t cur = first_ok_ns.load();
            while (e < cur && !first_ok_ns.compare_exchange_weak(cur, e)) {
            }
          }
        } else {
          fails++;
          target = (target + 1) % 3;
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
      }
    });
  }

  std::vector<TrialResult> res;
  int spurious = 0;
  LeaderView expect = lv;
  auto sleep_s = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
  for (int t = 0; t < trials; ++t) {
    sleep_s(settle_s);
    LeaderView before = c->Leader(http, -1);
    if (before.member < 0) {
      std::printf("  trial %d: no leader before the kill; waiting\n", t + 1);
      for (int n = 0; n < 100 && before.member < 0; ++n) {
        sleep_s(0.1);
        before = c->Leader(http, -1);
      }
      if (before.member < 0) break;
    }
    if (before.member != expect.member || before.term != expect.term) {
      spurious += before.term > expect.term ? static_cast<int>(before.term - expect.term) : 1;
      std::printf("  trial %d: spurious election(s) since the last trial: leader %d term %llu -> %d term %llu\n",
                  t + 1, expect.member + 1, static_cast<unsigned long long>(expect.term), before.member + 1,
                  static_cast<unsigned long long>(before.term));
    }
    uint64_t oks_before = oks.load();
    first_ok_ns = INT64_MAX;
    int victim = before.member;
    down = victim;
    int64_t k = NowNs();
    kill_ns = k;
    c->Kill9(victim);
    TrialResult tr;
    LeaderView after;
    // Probes: besides the closed-loop writers (which may all be waiting out
    // their timeouts on requests the dead leader will never answer), a fresh
    // write on a new connection every 10 ms to the next live member, so the
    // first accepted write is seen within ~10 ms whatever the client
    // timeout. Bounded: 15 s, at most 1500 probes.
    std::vector<std::thread> probes;
    for (int n = 0; n < 3000; ++n) {
      if (n % 2 == 0 && first_ok_ns.load() == INT64_MAX) {
        int target = (victim + 1 + (n / 2) % 2) % 3;
        probes.emplace_back([&, target, n] {
          KeepAliveHttp h;
          int64_t s = NowNs();
          if (c->Write(h, target, seq++, writers + n) && s > kill_ns.load()) {
            int64_t e = NowNs(), cur = first_ok_ns.load();
            while (e < cur && !first_ok_ns.compare_exchange_weak(cur, e)) {
            }
          }
        });
      }
      if (tr.to_leader_ms < 0) {
        after = c->Leader(http, victim);
        if (after.member >= 0) tr.to_leader_ms = static_cast<double>(NowNs() - k) / 1e6;
      }
      if (first_ok_ns.load() != INT64_MAX && tr.to_leader_ms >= 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (auto& p : probes) p.join();
    if (first_ok_ns.load() != INT64_MAX) tr.to_first_write_ms = static_cast<double>(first_ok_ns.load() - k) / 1e6;
    tr.terms = after.term > before.term ? after.term - before.term : 0;
    if (tr.terms > 1) spurious += static_cast<int>(tr.terms - 1);
    res.push_back(tr);
    std::printf("  trial %2d: killed %s%d (term %llu): first write after %8.1f ms, new leader %d (term %llu) seen "
                "after %8.1f ms; %llu writes ok in the settle period\n",
                t + 1, c->Name() == "orch" ? "m" : "e", victim + 1, static_cast<unsigned long long>(before.term),
                tr.to_first_write_ms, after.member + 1, static_cast<unsigned long long>(after.term), tr.to_leader_ms,
                static_cast<unsigned long long>(oks_before));
    std::fflush(stdout);
    kill_ns = INT64_MAX;
    // Restart the victim and wait (up to 15 s) until it follows a leader.
    c->StartMember(victim);
    bool back = false;
    for (int n = 0; n < 150 && !back; ++n) {
      sleep_s(0.1);
      back = c->KnowsLeader(http, victim);
    }
    if (!back) std::printf("  trial %d: restarted member %d does not know a leader after 15 s\n", t + 1, victim + 1);
    down = -1;
    sleep_s(settle_s);  // catch up under load
    // Compare the next trial's leader with the one elected after this kill,
    // so an election caused by the restart counts as spurious.
    expect = after.member >= 0 ? after : c->Leader(http, -1);
    oks = 0;
  }
  stop = true;
  for (auto& w : ws) w.join();
  // Lost writes: every acknowledged write must be in the final state.
  size_t n_acked = 0, n_lost = 0;
  for (const auto& a : acked) n_acked += a.size();
  if (n_acked > 0) {
    LeaderView lnow = c->Leader(http, -1);
    std::vector<std::string> stored = c->StoredWrites(http, lnow.member >= 0 ? lnow.member : 0);
    std::sort(stored.begin(), stored.end());
    for (const auto& a : acked) {
      for (const auto& id : a) {
        if (!std::binary_search(stored.begin(), stored.end(), id)) n_lost++;
      }
    }
    std::printf("  %s: %zu writes acknowledged, %zu in the leader's state, %zu acknowledged but missing (lost)\n",
                c->Name().c_str(), n_acked, stored.size(), n_lost);
  }
  c->StopAll();

  std::vector<double> fw, ld;
  int lost = 0;
  for (const auto& r : res) {
    if (r.to_first_write_ms >= 0) {
      fw.push_back(r.to_first_write_ms);
    } else {
      lost++;
    }
    if (r.to_leader_ms >= 0) ld.push_back(r.to_leader_ms);
  }
  double fmax = fw.empty() ? 0 : *std::max_element(fw.begin(), fw.end());
  std::printf("  %s: %zu trials; kill -9 -> first accepted write: p50 %.0f ms, p99 %.0f ms, max %.0f ms "
              "(%d trials without a write in 15 s); kill -> new leader visible: p50 %.0f ms, p99 %.0f ms; "
              "spurious elections: %d; writes failed (all trials): %llu\n",
              c->Name().c_str(), res.size(), Quantile(fw, 0.5), Quantile(fw, 0.99), fmax, lost, Quantile(ld, 0.5),
              Quantile(ld, 0.99), spurious, static_cast<unsigned long long>(fails.load()));
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  std::string systems = Flag(argc, argv, "system", "ORCH_BENCH_SYSTEMS", "orch,etcd");
  std::string orch_bin = Flag(argc, argv, "orch-master", "ORCH_BENCH_ORCH_MASTER", "");
  std::string etcd_bin = Flag(argc, argv, "etcd", "ORCH_BENCH_ETCD", "/usr/bin/etcd");
  int trials = std::atoi(Flag(argc, argv, "trials", "ORCH_BENCH_TRIALS", "20").c_str());
  int writers = std::atoi(Flag(argc, argv, "writers", "ORCH_BENCH_WRITERS", "16").c_str());
  double settle = std::atof(Flag(argc, argv, "settle", "ORCH_BENCH_SETTLE", "1.0").c_str());
  std::string dir = Flag(argc, argv, "dir", "ORCH_BENCH_DIR", fs::temp_directory_path().string());
  std::string tick = Flag(argc, argv, "orch-tick", "ORCH_BENCH_ORCH_TICK", "");
  g_write_timeout_ms = std::atol(Flag(argc, argv, "write-timeout-ms", "ORCH_BENCH_WRITE_TIMEOUT_MS", "1000").c_str());
  const int jobs_in_state = std::clamp(
      std::atoi(Flag(argc, argv, "jobs-in-state", "ORCH_BENCH_JOBS_IN_STATE", "0").c_str()), 0,
      1'000'000);
  const std::string nodesim = Flag(argc, argv, "nodesim", "ORCH_BENCH_NODESIM", "");
  const int nodesim_nodes = std::clamp(
      std::atoi(Flag(argc, argv, "nodesim-nodes", "ORCH_BENCH_NODESIM_NODES", "1000").c_str()), 0,
      60'000);
  g_write_timeout_ms = std::clamp(g_write_timeout_ms, 50L, 30000L);
  trials = std::clamp(trials, 1, 1000);
  writers = std::clamp(writers, 1, 512);
  curl_global_init(CURL_GLOBAL_ALL);
  std::string tmpl = dir + "/orch-failover-bench-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    std::perror("mkdtemp");
    return 2;
  }
  std::string base = buf.data();
  std::printf("failover_bench: kill -9 the leader under load; load average at start: ");
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    char line[128] = {0};
    if (std::fgets(line, sizeof line, f)) std::printf("%s", line);
    std::fclose(f);
  }
  if (systems.find("orch") != std::string::npos) {
    if (orch_bin.empty()) {
      std::fprintf(stderr, "failover_bench: --orch-master=PATH is required for orch\n");
    } else {
      std::printf(
          "orch-master Raft tick: %s, election after orch-master's --election-ticks (1-2x); client "
          "timeout per "
          "write %ld ms\n",
          tick.empty() ? "default (--raft-tick not passed)" : tick.c_str(), g_write_timeout_ms);
      OrchCluster c(orch_bin, base + "/orch", tick, jobs_in_state, nodesim, nodesim_nodes);
      RunSystem(&c, trials, writers, settle);
      c.StopNodesim();
    }
  }
  if (systems.find("etcd") != std::string::npos && !etcd_bin.empty()) {
    std::printf("etcd: defaults (heartbeat 100 ms, election 1000 ms, pre-vote off); client timeout per write %ld ms\n",
                g_write_timeout_ms);
    EtcdCluster c(etcd_bin, base + "/etcd");
    RunSystem(&c, trials, writers, settle);
  }
  bool keep = std::getenv("ORCH_BENCH_KEEP") != nullptr;
  if (keep) {
    std::printf("data and logs kept in %s\n", base.c_str());
  } else {
    std::error_code ec;
    fs::remove_all(base, ec);
  }
  curl_global_cleanup();
  return 0;
}

}  // namespace
}  // namespace orch::bench

int main(int argc, char** argv) { return orch::bench::Main(argc, argv); }
