// Deterministic simulation of Raft clusters (issue 3). Each seed fully
// determines a run: cluster size (3 or 5), faults, client load and
// membership changes.
//   ORCH_SIM_SEEDS  number of seeds to run (default 300)
//   ORCH_SIM_SEED   first seed (default 1); with ORCH_SIM_SEEDS=1 replays one
//   ORCH_SIM_TRACE  set to 1 to print every simulated event
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "tests/sim/kv_state_machine.h"
#include "tests/sim/linearizability.h"
#include "tests/sim/simulation.h"

namespace orch::sim {
namespace {

// A broken Raft invariant aborts (RAFT_CHECK) in the middle of a seed;
// say which one so it can be replayed.
std::atomic<uint64_t> g_running_seed{0};
static_assert(std::atomic<uint64_t>::is_always_lock_free);  // signal-safe

void ReportSeedOnAbort(int) {
  char buf[160];
  const int n = std::snprintf(buf, sizeof buf,
                              "\naborted while simulating seed %lu; replay with "
                              "ORCH_SIM_SEED=%lu ORCH_SIM_SEEDS=1 ORCH_SIM_TRACE=1\n",
                              static_cast<unsigned long>(g_running_seed.load()),
                              static_cast<unsigned long>(g_running_seed.load()));
  if (n > 0) (void)!write(STDERR_FILENO, buf, static_cast<size_t>(n));
  std::signal(SIGABRT, SIG_DFL);
  std::abort();
}

uint64_t EnvOr(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? def : std::strtoull(v, nullptr, 10);
}

Operation W(const std::string& v, uint64_t call, uint64_t ret) {
  return Operation{0, true, "k", v, call, ret};
}
Operation R(const std::string& v, uint64_t call, uint64_t ret) {
  return Operation{0, false, "k", v, call, ret};
}

TEST(Linearizability, AcceptsConcurrentWriteSeenByOverlappingRead) {
  bool gave_up = false;
  EXPECT_TRUE(CheckRegister({W("1", 1, 4), R("1", 2, 3), R("", 0, 1)}, 1000, &gave_up));
  EXPECT_TRUE(CheckRegister({W("1", 1, 4), W("2", 2, 5), R("1", 6, 7)}, 1000, &gave_up));
  EXPECT_FALSE(gave_up);
}

TEST(Linearizability, RejectsStaleRead) {
  bool gave_up = false;
  // w1 completes, then a read returns the initial value.
  EXPECT_FALSE(CheckRegister({W("1", 1, 2), R("", 3, 4)}, 1000, &gave_up));
  // Two reads disagree on order of two writes that both finished.
  EXPECT_FALSE(
      CheckRegister({W("1", 1, 2), W("2", 3, 4), R("2", 5, 6), R("1", 7, 8)}, 1000, &gave_up));
}

TEST(Linearizability, PendingWriteMayOrMayNotTakeEffect) {
  bool gave_up = false;
  EXPECT_TRUE(CheckRegister({W("1", 1, kNeverReturned), R("", 2, 3)}, 1000, &gave_up));
  EXPECT_TRUE(CheckRegister({W("1", 1, kNeverReturned), R("1", 2, 3)}, 1000, &gave_up));
  // But once observed it cannot be un-done.
  EXPECT_FALSE(
      CheckRegister({W("1", 1, kNeverReturned), R("1", 2, 3), R("", 4, 5)}, 1000, &gave_up));
}

TEST(KvStateMachine, SnapshotRoundTripKeepsDedupState) {
  KvStateMachine sm;
  EXPECT_TRUE(sm.Apply({1, "a", "x"}));
  EXPECT_FALSE(sm.Apply({1, "a", "y"}));  // duplicate op id
  auto copy = KvStateMachine::Deserialize(sm.Serialize());
  ASSERT_TRUE(copy.has_value());
  EXPECT_EQ(*copy, sm);
  EXPECT_EQ(copy->Get("a"), "x");
  EXPECT_TRUE(copy->Applied(1));
}

TEST(Simulation, RaftIsSafeAndLinearizableAcrossSeeds) {
  const uint64_t seeds = EnvOr("ORCH_SIM_SEEDS", 300);
  const uint64_t first = EnvOr("ORCH_SIM_SEED", 1);
  const bool trace = EnvOr("ORCH_SIM_TRACE", 0) != 0;
  SimStats total;
  const auto start = std::chrono::steady_clock::now();
  std::signal(SIGABRT, ReportSeedOnAbort);
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    g_running_seed.store(seed);
    SimOptions opts;
    opts.num_voters = seed % 2 == 0 ? 3 : 5;
    opts.trace = trace;
    Simulation sim(seed, opts);
    const std::string err = sim.Run();
    if (!err.empty()) {
      ADD_FAILURE() << err << "\nreplay: ORCH_SIM_SEED=" << seed
                    << " ORCH_SIM_SEEDS=1 ORCH_SIM_TRACE=1 " << ::testing::internal::GetArgvs()[0]
                    << " --gtest_filter=Simulation.*";
      return;
    }
    const auto& s = sim.stats();
    total.elections += s.elections;
    total.writes_ok += s.writes_ok;
    total.reads_ok += s.reads_ok;
    total.crashes += s.crashes;
    total.snapshots_sent += s.snapshots_sent;
    total.snapshots_applied += s.snapshots_applied;
    total.compactions += s.compactions;
    total.conf_changes += s.conf_changes;
    total.messages += s.messages;
    total.transfers += s.transfers;
    total.linearizability_gave_up += s.linearizability_gave_up;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << seeds << " seeds from " << first << " in " << secs << "s: " << total.elections
            << " elections, " << total.writes_ok << " writes, " << total.reads_ok << " reads, "
            << total.crashes << " crashes, " << total.snapshots_sent << " snapshots sent ("
            << total.snapshots_applied << " installed), " << total.compactions << " compactions, "
            << total.conf_changes << " conf changes, " << total.messages << " messages, "
            << total.transfers << " transfers; linearizability search gave up on "
            << total.linearizability_gave_up << " seeds\n";
  // The scenario must actually exercise what it claims to.
  if (seeds >= 50) {
    EXPECT_GT(total.snapshots_applied, 0u);
    EXPECT_GT(total.conf_changes, seeds);
    EXPECT_GT(total.crashes, 0u);
    EXPECT_GT(total.reads_ok, 0u);
    EXPECT_GT(total.transfers, 0u);
  }
}

}  // namespace
}  // namespace orch::sim
