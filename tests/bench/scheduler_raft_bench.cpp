// End-to-end scheduler throughput through Raft: three masters in one
// process (real TCP transport on loopback, SQLite state, fsync), N nodes
// registered, then J jobs of A allocations submitted as fast as the log
// takes them; the leader's eval worker schedules them (de-duplicated,
// several plans per entry) and the figure is allocations committed per
// second from the first submission to the last plan applied.
// Then (--probes P) P jobs of one allocation, one at a time, each timed
// from its proposal until its plan is applied: what one small evaluation
// costs on a cluster of N nodes (a pass's fixed cost).
// Usage: scheduler_raft_bench [--jobs J] [--allocs A] [--nodes N] [--probes P]
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "master/controllers/eval_worker.h"
#include "master/replication/raft_node.h"
#include "master/replication/tcp_transport.h"
#include "master/state/state_store.h"
#include "orch/v1/command.pb.h"

namespace orch {
namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

struct Member {
  std::unique_ptr<master::StateStore> store;
  std::unique_ptr<replication::RaftNode> log;
  std::unique_ptr<replication::TcpTransport> transport;
  std::shared_ptr<replication::Transport::Callbacks> cbs =
      std::make_shared<replication::Transport::Callbacks>();
  std::unique_ptr<master::EvalWorker> worker;
};

int Run(int jobs, int allocs, int nodes, int probes) {
  spdlog::set_level(std::getenv("ORCH_BENCH_VERBOSE") ? spdlog::level::info : spdlog::level::warn);
  std::string base = fs::temp_directory_path().string() + "/orch-sched-raft-bench-" + std::to_string(::getpid());
  fs::remove_all(base);
  const std::vector<std::string> ids = {"m1", "m2", "m3"};
  std::vector<Member> ms(3);
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
    if (!t.ok()) return 1;
    ms[i].transport = std::move(t).value();
  }
  std::vector<std::pair<std::string, std::string>> peers;
  for (int i = 0; i < 3; ++i) peers.emplace_back(ids[i], "127.0.0.1:" + std::to_string(ms[i].transport->port()));
  for (int i = 0; i < 3; ++i) {
    std::string dir = base + "/" + ids[i];
    fs::create_directories(dir);
    ms[i].store = std::move(master::StateStore::Open(dir + "/state.db")).value();
    replication::RaftNodeOptions ro;
    ro.member_id = ids[i];
    ro.raft_address = peers[i].second;
    ro.initial_peers = peers;
    ro.tick = std::chrono::milliseconds(50);
    ro.election_ticks = 10;
    ro.snapshot_entries = 1'000'000;
    ms[i].log = std::move(replication::RaftNode::Open(ro, dir, ms[i].store.get())).value();
    *ms[i].cbs = ms[i].log->TransportCallbacks();
  }
  for (auto& m : ms) m.log->Start(m.transport.get());
  Member* leader = nullptr;
  for (int n = 0; n < 200 && leader == nullptr; ++n) {
    for (auto& m : ms) {
      if (m.log->IsLeader()) leader = &m;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (leader == nullptr) {
    std::fprintf(stderr, "no leader\n");
    return 1;
  }
  auto propose = [&](v1::Command cmd) {
    cmd.set_time_ms(SystemClock::Get()->NowMs());
    return leader->log->Propose(cmd, std::chrono::seconds(30));
  };
  // Nodes: several per entry would need a batch command; one each, from
  // 16 threads.
  auto t0 = Steady::now();
  std::atomic<int> next{0};
  std::vector<std::thread> th;
  for (int w = 0; w < 16; ++w) {
    th.emplace_back([&] {
      for (int i = next++; i < nodes; i = next++) {
        v1::Command cmd;
        auto* n = cmd.mutable_register_node()->mutable_node();
        n->set_id("node-" + std::to_string(i));
        n->set_name(n->id());
        n->mutable_capacity()->set_cpu(i % 2 ? 32000 : 16000);
        n->mutable_capacity()->set_memory(i % 3 ? 65536 : 32768);
        n->mutable_attributes()->set_os(i % 10 ? "linux" : "windows");
        n->mutable_attributes()->add_drivers("exec");
        (void)propose(cmd);
      }
    });
  }
  for (auto& t : th) t.join();
  th.clear();
  std::printf("registered %d nodes in %.2f s\n", nodes, std::chrono::duration<double>(Steady::now() - t0).count());
  // The schedulers (only the leader's acts).
  for (auto& m : ms) {
    m.worker = std::make_unique<master::EvalWorker>(m.store.get(), m.log.get(), SystemClock::Get());
    m.worker->Start();
  }
  auto t1 = Steady::now();
  next = 0;
  for (int w = 0; w < 16; ++w) {
    th.emplace_back([&] {
      for (int j = next++; j < jobs; j = next++) {
        v1::Command cmd;
        auto* job = cmd.mutable_register_job()->mutable_job();
        job->set_id("job-" + std::to_string(j));
        job->set_type(v1::Job::SERVICE);
        job->set_priority(50);
        if (j % 5 == 0) {
          auto* c = job->add_constraints();
          c->set_attribute("${attr.os}");
          c->set_operator_("=");
          c->set_value("linux");
        }
        auto* g = job->add_groups();
        g->set_name("g");
        g->set_count(allocs);
        auto* t = g->add_tasks();
        t->set_name("t");
        t->set_driver("exec");
        t->set_command("/bin/true");
        t->mutable_resources()->set_cpu(50 + 50 * (j % 5));
        t->mutable_resources()->set_memory(64 * (1 + j % 8));
        cmd.mutable_register_job()->mutable_eval()->set_id("eval-" + std::to_string(j));
        cmd.mutable_register_job()->mutable_eval()->set_job_id(job->id());
        cmd.mutable_register_job()->mutable_eval()->set_triggered_by(v1::Evaluation::JOB_REGISTER);
        (void)propose(cmd);
      }
    });
  }
  for (auto& t : th) t.join();
  double submit = std::chrono::duration<double>(Steady::now() - t1).count();
  // Done when no evaluation is pending any more.
  while (!leader->store->PendingEvaluations().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  double secs = std::chrono::duration<double>(Steady::now() - t1).count();
  size_t placed = 0;
  for (const auto& a : leader->store->ListAllocations()) placed += master::IsLive(a);
  std::printf("== through Raft, 3 masters: %d jobs x %d allocs on %d nodes ==\n", jobs, allocs, nodes);
  std::printf("jobs submitted in     %.2f s\n", submit);
  std::printf("allocations committed %zu in %.2f s (first submission to last plan applied)\n", placed, secs);
  std::printf("placements/s          %.0f   (goal > 20,000)\n", static_cast<double>(placed) / secs);
  std::printf("plans %llu in %llu log entries\n", static_cast<unsigned long long>(leader->worker->plans_proposed()),
              static_cast<unsigned long long>(leader->worker->entries_proposed()));
  if (probes > 0) {
    std::vector<double> ms_each;
    for (int p = 0; p < probes; ++p) {
      v1::Command cmd;
      auto* job = cmd.mutable_register_job()->mutable_job();
      job->set_id("probe-" + std::to_string(p));
      job->set_type(v1::Job::SERVICE);
      job->set_priority(50);
      auto* g = job->add_groups();
      g->set_name("g");
      g->set_count(1);
      auto* t = g->add_tasks();
      t->set_name("t");
      t->set_driver("exec");
      t->set_command("/bin/true");
      t->mutable_resources()->set_cpu(10);
      t->mutable_resources()->set_memory(16);
      cmd.mutable_register_job()->mutable_eval()->set_id("probe-eval-" + std::to_string(p));
      cmd.mutable_register_job()->mutable_eval()->set_job_id(job->id());
      cmd.mutable_register_job()->mutable_eval()->set_triggered_by(v1::Evaluation::JOB_REGISTER);
      // Read again only when something applied: a poll would compete with
      // the leader's threads for this machine's two cores.
      uint64_t seen = leader->store->AppliedIndex();
      auto start = Steady::now();
      (void)propose(cmd);
      while (leader->store->ListAllocations(job->id()).empty()) {
        seen = leader->store->WaitForIndexAbove(seen, std::chrono::milliseconds(100));
      }
      ms_each.push_back(std::chrono::duration<double, std::milli>(Steady::now() - start).count());
    }
    std::sort(ms_each.begin(), ms_each.end());
    std::printf("probes: %d jobs of one allocation, one at a time, proposal to plan applied: p50 %.1f ms, p90 "
                "%.1f ms, max %.1f ms\n",
                probes, ms_each[ms_each.size() / 2], ms_each[ms_each.size() * 9 / 10], ms_each.back());
  }
  for (auto& m : ms) m.worker->RequestStop();
  for (auto& m : ms) m.log->Close();
  for (auto& m : ms) m.worker->Stop();
  for (auto& m : ms) m.transport->Stop();
  ms.clear();
  fs::remove_all(base);
  return 0;
}

}  // namespace
}  // namespace orch

int main(int argc, char** argv) {
  int jobs = 100, allocs = 1000, nodes = 1000, probes = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (f == "--jobs") jobs = v;
    else if (f == "--allocs") allocs = v;
    else if (f == "--nodes") nodes = v;
    else if (f == "--probes") probes = v;
    else {
      std::fprintf(stderr, "usage: %s [--jobs J] [--allocs A] [--nodes N] [--probes P]\n", argv[0]);
      return 2;
    }
  }
  return orch::Run(jobs, allocs, nodes, probes);
}
