// Scheduler benchmarks (in-process, no Raft, no SQLite):
//  1. throughput: J jobs x A allocations on N simulated nodes with mixed
//     sizes and some constraints and spreads (default 1,000 x 1,000 on
//     10,000), scheduled job after job against one NodeTable as the eval
//     worker does; prints placements per second.
//  2. packing quality: a mixed workload on equal nodes; nodes used by the
//     orch scheduler (online, job after job) next to first-fit-decreasing
//     (offline, sorted), first-fit in arrival order, random placement, and
//     the lower bound max(sum cpu / node cpu, sum mem / node mem), and an
//     offline FFD-dot-product packer showing what is reachable.
// Usage: scheduler_bench [--jobs J] [--allocs A] [--nodes N] [--k K]
//                        [--packing-only] [--throughput-only]
//                        [--weights binpack=1,balance=1,...] [--pass P]
// --pass P schedules the packing jobs in passes of P, largest-first within
// a pass (as an eval worker draining a deep queue could).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "master/scheduler/node_table.h"
#include "master/scheduler/scheduler.h"

namespace orch::master::sched {
namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int jobs = 1000;
  int allocs = 1000;
  int nodes = 10000;
  int k = 0;
  bool packing = true;
  bool throughput = true;
  std::string weights;  // applied over the defaults (ApplyWeights syntax)
};

std::string g_weights;
int g_pass = 1;

v1::Job MakeJob(int j, int count, int64_t cpu, int64_t mem) {
  v1::Job job;
  job.set_id("job-" + std::to_string(j));
  job.set_type(v1::Job::SERVICE);
  job.set_priority(50);
  auto* g = job.add_groups();
  g->set_name("g");
  g->set_count(count);
  auto* t = g->add_tasks();
  t->set_name("t");
  t->set_driver("exec");
  t->set_command("/bin/true");
  t->mutable_resources()->set_cpu(cpu);
  t->mutable_resources()->set_memory(mem);
  return job;
}

v1::Node MakeNode(int i, int64_t cpu, int64_t mem, const std::string& os, int zone) {
  v1::Node n;
  n.set_id("node-" + std::to_string(i));
  n.set_name(n.id());
  n.set_status(v1::Node::READY);
  n.mutable_capacity()->set_cpu(cpu);
  n.mutable_capacity()->set_memory(mem);
  n.mutable_attributes()->set_os(os);
  n.mutable_attributes()->add_drivers("exec");
  (*n.mutable_attributes()->mutable_labels())["zone"] = "z" + std::to_string(zone);
  return n;
}

void Throughput(const Args& a) {
  std::mt19937 rng(42);
  std::vector<v1::Node> nodes;
  nodes.reserve(static_cast<size_t>(a.nodes));
  for (int i = 0; i < a.nodes; ++i) {
    int64_t cpu = (i % 2) ? 32000 : 16000;
    int64_t mem = (i % 3) ? 65536 : 32768;
    nodes.push_back(MakeNode(i, cpu, mem, i % 10 == 0 ? "windows" : "linux", i % 3));
  }
  std::vector<v1::Job> jobs;
  for (int j = 0; j < a.jobs; ++j) {
    auto job = MakeJob(j, a.allocs, 50 + 50 * static_cast<int64_t>(rng() % 5), 64 * (1 + static_cast<int64_t>(rng() % 8)));
    if (j % 5 == 0) {
      auto* c = job.add_constraints();
      c->set_attribute("${attr.os}");
      c->set_value("linux");
    }
    if (j % 10 == 3) job.mutable_groups(0)->add_spread()->set_attribute("${meta.zone}");
    jobs.push_back(std::move(job));
  }
  SchedulerConfig cfg;
  cfg.k = a.k;
  auto t0 = Clock::now();
  NodeTable table(nodes, {}, {}, cfg, /*track_residents=*/false);
  uint64_t counter = 0;
  Scheduler s(&table, cfg, [&] { return "a" + std::to_string(counter++); });
  auto t1 = Clock::now();
  uint64_t placed = 0, blocked = 0;
  double slowest = 0;
  for (const auto& job : jobs) {
    JobInput in;
    in.eval.set_id("e-" + job.id());
    in.eval.set_job_id(job.id());
    in.job_exists = true;
    in.job = job;
    auto p0 = Clock::now();
    auto plan = s.Schedule(in);
    slowest = std::max(slowest, std::chrono::duration<double, std::milli>(Clock::now() - p0).count());
    placed += static_cast<uint64_t>(plan.place_size());
    blocked += plan.eval_status() == v1::Evaluation::BLOCKED;
  }
  auto t2 = Clock::now();
  double build = std::chrono::duration<double>(t1 - t0).count();
  double secs = std::chrono::duration<double>(t2 - t1).count();
  int64_t cap_cpu = 0, used_cpu = 0;
  for (uint32_t i = 0; i < table.size(); ++i) {
    cap_cpu += table.at(i).cpu_cap;
    used_cpu += table.at(i).cpu_used;
  }
  std::printf("== throughput: %d jobs x %d allocs on %d nodes (k=%s) ==\n", a.jobs, a.allocs, a.nodes,
              a.k ? std::to_string(a.k).c_str() : "auto");
  std::printf("table build          %.3f s\n", build);
  std::printf("placed               %llu allocations (%llu jobs blocked) in %.3f s\n",
              static_cast<unsigned long long>(placed), static_cast<unsigned long long>(blocked), secs);
  std::printf("placements/s         %.0f   (goal > 100,000; Nomad C1M ~3,750/s; kube-scheduler 100-300/s)\n",
              static_cast<double>(placed) / secs);
  std::printf("candidates scored    %.1f per placement\n",
              static_cast<double>(s.scored()) / std::max<double>(1, static_cast<double>(placed)));
  std::printf("slowest plan         %.1f ms (one job of %d)\n", slowest, a.allocs);
  std::printf("cluster cpu used     %.1f%%\n", 100.0 * static_cast<double>(used_cpu) / static_cast<double>(cap_cpu));
}

struct Item {
  int64_t cpu, mem;
};

// Nodes used when placing `items` in the given order, first node with room.
int FirstFit(const std::vector<Item>& items, int nodes, int64_t C, int64_t M) {
  std::vector<int64_t> uc(static_cast<size_t>(nodes), 0), um(static_cast<size_t>(nodes), 0);
  int used = 0;
  for (const auto& it : items) {
    for (int i = 0; i < nodes; ++i) {
      auto k = static_cast<size_t>(i);
      if (uc[k] + it.cpu <= C && um[k] + it.mem <= M) {
        if (uc[k] == 0 && um[k] == 0) ++used;
        uc[k] += it.cpu;
        um[k] += it.mem;
        break;
      }
    }
  }
  return used;
}

// Offline, node by node: open a node and keep adding the remaining item
// that fits and best aligns with what the node has left (dot product of
// the item's and the node's free (cpu, memory), each weighted by that
// resource's total demand) -- FFD-DotProduct (Panigrahy et al., 2011),
// which pairs cpu-heavy with memory-heavy items. Items of one shape are
// counted together, so a node costs shapes x items-on-it.
int DotProductPack(const std::vector<Item>& items, int64_t C, int64_t M) {
  std::map<std::pair<int64_t, int64_t>, int64_t> shapes;
  double wc = 0, wm = 0;
  for (const auto& it : items) {
    ++shapes[{it.cpu, it.mem}];
    wc += static_cast<double>(it.cpu) / static_cast<double>(C);
    wm += static_cast<double>(it.mem) / static_cast<double>(M);
  }
  size_t left = items.size();
  int used = 0;
  while (left > 0) {
    ++used;
    int64_t fc = C, fm = M;
    for (;;) {
      double best = -1;
      std::pair<int64_t, int64_t> pick{0, 0};
      for (const auto& [shape, n] : shapes) {
        if (n == 0 || shape.first > fc || shape.second > fm) continue;
        double d = wc * static_cast<double>(shape.first) / static_cast<double>(C) * static_cast<double>(fc) /
                       static_cast<double>(C) +
                   wm * static_cast<double>(shape.second) / static_cast<double>(M) * static_cast<double>(fm) /
                       static_cast<double>(M);
        if (d > best) {
          best = d;
          pick = shape;
        }
      }
      if (best < 0) break;
      --shapes[pick];
      fc -= pick.first;
      fm -= pick.second;
      --left;
    }
  }
  return used;
}

int RandomFit(const std::vector<Item>& items, int nodes, int64_t C, int64_t M, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> uc(static_cast<size_t>(nodes), 0), um(static_cast<size_t>(nodes), 0);
  int used = 0;
  for (const auto& it : items) {
    for (int tries = 0; tries < 100000; ++tries) {
      auto k = static_cast<size_t>(rng() % static_cast<uint32_t>(nodes));
      if (uc[k] + it.cpu <= C && um[k] + it.mem <= M) {
        if (uc[k] == 0 && um[k] == 0) ++used;
        uc[k] += it.cpu;
        um[k] += it.mem;
        break;
      }
    }
  }
  return used;
}

void Packing(int nodes_n, int jobs_n, uint32_t seed, double w_load, double w_aa, int k, bool balanced) {
  const int64_t C = 16000, M = 32768;
  std::mt19937 rng(seed);
  // Mixed sizes: many small, some medium, a few large, cpu- or memory-heavy.
  std::vector<v1::Job> jobs;
  std::vector<Item> items;
  for (int j = 0; j < jobs_n; ++j) {
    int kind = static_cast<int>(rng() % 10);
    int64_t cpu, mem;
    if (kind < 5) {
      cpu = 100 + 100 * static_cast<int64_t>(rng() % 5);
      mem = 128 * (1 + static_cast<int64_t>(rng() % 6));
    } else if (kind < 8) {
      cpu = 1000 + 500 * static_cast<int64_t>(rng() % 4);
      mem = 1024 * (1 + static_cast<int64_t>(rng() % 3));
    } else if (kind < 9) {
      cpu = 4000;
      mem = 2048;
    } else {
      cpu = 500;
      mem = 8192;
    }
    if (balanced) mem = cpu * 2;  // the nodes' own memory-to-cpu ratio
    int count = 1 + static_cast<int>(rng() % 40);
    jobs.push_back(MakeJob(j, count, cpu, mem));
    for (int c = 0; c < count; ++c) items.push_back({cpu, mem});
  }
  int64_t sc = 0, sm = 0;
  for (const auto& it : items) {
    sc += it.cpu;
    sm += it.mem;
  }
  int lower = static_cast<int>(std::max((sc + C - 1) / C, (sm + M - 1) / M));
  // orch: online, job after job.
  std::vector<v1::Node> nodes;
  for (int i = 0; i < nodes_n; ++i) nodes.push_back(MakeNode(i, C, M, "linux", i % 3));
  SchedulerConfig cfg;
  cfg.w_load = w_load;
  cfg.w_anti_affinity = w_aa;
  cfg.k = k;
  // The "bin-packing only" rows (w_load 0) turn balance off too; --weights
  // applies to the default-weights rows.
  if (w_load == 0) cfg.w_balance = 0;
  if (!g_weights.empty() && w_load > 0 && !ApplyWeights(g_weights, &cfg).ok()) {
    std::fprintf(stderr, "bad --weights %s\n", g_weights.c_str());
    std::exit(2);
  }
  NodeTable table(nodes, {}, {}, cfg, false);
  int counter = 0;
  Scheduler s(&table, cfg, [&] { return "a" + std::to_string(counter++); });
  size_t placed = 0;
  std::vector<v1::Job> order = jobs;
  for (size_t p = 0; p < order.size(); p += static_cast<size_t>(g_pass)) {
    auto end = order.begin() + static_cast<long>(std::min(order.size(), p + static_cast<size_t>(g_pass)));
    std::stable_sort(order.begin() + static_cast<long>(p), end, [&](const v1::Job& x, const v1::Job& y) {
      auto dom = [&](const v1::Job& j) {
        const auto& r = j.groups(0).tasks(0).resources();
        return std::max(static_cast<double>(r.cpu()) / C, static_cast<double>(r.memory()) / M);
      };
      return dom(x) > dom(y);
    });
  }
  for (const auto& job : order) {
    JobInput in;
    in.eval.set_id("e");
    in.eval.set_job_id(job.id());
    in.job_exists = true;
    in.job = job;
    placed += static_cast<size_t>(s.Schedule(in).place_size());
  }
  int orch_used = 0;
  double cpu_waste_memfull = 0, cpu_waste_other = 0;
  for (uint32_t i = 0; i < table.size(); ++i) {
    const NodeRec& r = table.at(i);
    if (r.cpu_used == 0) continue;
    ++orch_used;
    double w = static_cast<double>(r.cpu_free()) / static_cast<double>(r.cpu_cap);
    (r.mem_free() * 50 < r.mem_cap ? cpu_waste_memfull : cpu_waste_other) += w;
  }
  std::vector<Item> sorted = items;
  std::sort(sorted.begin(), sorted.end(), [&](const Item& x, const Item& y) {
    return std::max(static_cast<double>(x.cpu) / C, static_cast<double>(x.mem) / M) >
           std::max(static_cast<double>(y.cpu) / C, static_cast<double>(y.mem) / M);
  });
  int ffd = FirstFit(sorted, nodes_n, C, M);
  int ff = FirstFit(items, nodes_n, C, M);
  int rnd = RandomFit(items, nodes_n, C, M, seed);
  int dot = DotProductPack(items, C, M);
  auto pct = [&](int used) { return 100.0 * (used - lower) / lower; };
  std::printf("-- weights binpack %.1f, balance %.1f, load %.1f, anti-affinity %.1f, k %s: %zu allocations of %zu placed --\n",
              cfg.w_binpack, cfg.w_balance, cfg.w_load, cfg.w_anti_affinity, k ? std::to_string(k).c_str() : "auto", placed, items.size());
  std::printf("  %-34s %6d nodes  (cpu %lld, memory %lld)\n", "lower bound", lower,
              static_cast<long long>((sc + C - 1) / C), static_cast<long long>((sm + M - 1) / M));
  std::printf("  %-34s %6d nodes  (+%.1f%%)\n", "orch (online, power-of-k)", orch_used, pct(orch_used));
  std::printf("  %-34s %6s        (nodes' worth of cpu left free: %.1f on memory-full nodes, %.1f on others)\n",
              "", "", cpu_waste_memfull, cpu_waste_other);
  std::printf("  %-34s %6d nodes  (+%.1f%%)\n", "FFD-dot-product (offline, pairing)", dot, pct(dot));
  std::printf("  %-34s %6d nodes  (+%.1f%%)\n", "first-fit-decreasing (offline)", ffd, pct(ffd));
  std::printf("  %-34s %6d nodes  (+%.1f%%)\n", "first-fit (arrival order)", ff, pct(ff));
  std::printf("  %-34s %6d nodes  (+%.1f%%)\n", "random", rnd, pct(rnd));
}

}  // namespace
}  // namespace orch::master::sched

int main(int argc, char** argv) {
  orch::master::sched::Args a;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (f == "--jobs") a.jobs = next();
    else if (f == "--allocs") a.allocs = next();
    else if (f == "--nodes") a.nodes = next();
    else if (f == "--k") a.k = next();
    else if (f == "--packing-only") a.throughput = false;
    else if (f == "--pass") orch::master::sched::g_pass = std::max(1, next());
    else if (f == "--weights" && i + 1 < argc) orch::master::sched::g_weights = argv[++i];
    else if (f == "--throughput-only") a.packing = false;
    else {
      std::fprintf(stderr, "usage: %s [--jobs J] [--allocs A] [--nodes N] [--k K] [--packing-only|--throughput-only] "
                   "[--weights SPEC] [--pass P]\n",
                   argv[0]);
      return 2;
    }
  }
  if (a.throughput) orch::master::sched::Throughput(a);
  if (a.packing) {
    std::printf("== packing quality: mixed sizes and shapes (cpu- and memory-heavy) on 16000m/32GiB nodes ==\n");
    orch::master::sched::Packing(4000, 1500, 7, 1.0, 0.5, a.k, false);
    orch::master::sched::Packing(4000, 1500, 7, 0.0, 0.0, a.k, false);
    std::printf("== packing quality: mixed sizes, the nodes' shape (memory = 2 x cpu) ==\n");
    orch::master::sched::Packing(4000, 1500, 7, 1.0, 0.5, a.k, true);
    orch::master::sched::Packing(4000, 1500, 7, 0.0, 0.0, a.k, true);
  }
  return 0;
}
