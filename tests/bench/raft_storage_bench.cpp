// Throughput of SqliteStorage::Save, the durable step of every Ready: one
// synced transaction per batch. Not a test; run by hand:
//   build/tests/bench/raft_storage_bench
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "master/replication/sqlite_storage.h"

namespace {

using orch::raft::Entry;
using orch::raft::HardState;
using orch::replication::SqliteStorage;

void BM_Save(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  const bool sync = state.range(1) != 0;
  std::string dir = (std::filesystem::temp_directory_path() / "raft_bench_XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  auto opened = SqliteStorage::Open(dir);
  if (!opened.ok()) {
    state.SkipWithError(opened.status().ToString().c_str());
    return;
  }
  auto s = std::move(opened).value();
  const std::string payload(256, 'p');
  std::vector<Entry> ents(batch);
  for (auto& e : ents) {
    e.set_term(1);
    e.set_type(Entry::NORMAL);
    e.set_data(payload);
  }
  HardState hs;
  hs.set_term(1);
  uint64_t next = 1;
  for (auto _ : state) {
    for (auto& e : ents) e.set_index(next++);
    hs.set_commit(next - 1);
    auto st = s->Save(&hs, ents, nullptr, sync);
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch * payload.size()));
  s.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Save)
    ->ArgNames({"batch", "sync"})
    ->Args({1, 1})
    ->Args({16, 1})
    ->Args({256, 1})
    ->Args({1, 0})
    ->Args({256, 0})
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
