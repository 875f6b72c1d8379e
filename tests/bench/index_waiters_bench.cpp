// IndexWaiters: waking every blocking query that waits on one key (every
// agent's balancer waits on the services key; each services change wakes
// them all, on the apply thread), and the timer ending them one by one.
// Not a test; run by hand:
//   build/tests/bench/index_waiters_bench
#include <benchmark/benchmark.h>

#include <chrono>

#include "common/index_waiters.h"

namespace {

const auto kFar = std::chrono::hours(1);

// N waiters parked on one key, then one advance of that key wakes them all.
void BM_WakeAllOnOneKey(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    orch::IndexWaiters waiters;
    int fired = 0;
    const auto deadline = std::chrono::steady_clock::now() + kFar;
    for (int i = 0; i < n; ++i) waiters.Wait(1, deadline, [&] { ++fired; }, "services");
    state.ResumeTiming();
    waiters.AdvanceKeys({{"services", 2}});
    benchmark::DoNotOptimize(fired);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_WakeAllOnOneKey)->Arg(1000)->Arg(5000)->Arg(20000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
