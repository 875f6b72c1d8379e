// ParseDocument on the bodies the masters read most: a job (as a YAML file
// and as the JSON orchctl and the REST clients send), a heartbeat with its
// load, an empty heartbeat. JSON text is read by nlohmann's parser into the
// walker (common/json_tree.h); "--- " in front sends the same text through
// yaml-cpp, as every document went before, for the comparison.
// Not a test; run by hand:
//   build/tests/bench/document_bench
#include <benchmark/benchmark.h>

#include <string>

#include "common/document.h"
#include "common/json.h"
#include "orch/v1/api.pb.h"
#include "orch/v1/types.pb.h"
#include "tests/support/web_job_yaml.h"

namespace {

using orch::samples::kJobYaml;

const std::string& JobJson() {
  static const std::string json = [] {
    orch::v1::Job job;
    if (!orch::ParseDocument(kJobYaml, &job).ok()) std::abort();
    return orch::ToJson(job);
  }();
  return json;
}

template <typename Message>
void Parse(benchmark::State& state, const std::string& text) {
  Message m;
  for (auto _ : state) {
    if (!orch::ParseDocument(text, &m).ok()) {
      state.SkipWithError("parse failed");
      return;
    }
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_JobYamlFile(benchmark::State& s) { Parse<orch::v1::Job>(s, kJobYaml); }
void BM_JobJson(benchmark::State& s) { Parse<orch::v1::Job>(s, JobJson()); }
void BM_JobJsonThroughYamlCpp(benchmark::State& s) { Parse<orch::v1::Job>(s, "--- " + JobJson()); }

const std::string kHeartbeat = R"({"load":{"cpu":812.5,"memory":1024}})";
void BM_HeartbeatJson(benchmark::State& s) { Parse<orch::v1::HeartbeatRequest>(s, kHeartbeat); }
void BM_HeartbeatJsonThroughYamlCpp(benchmark::State& s) {
  Parse<orch::v1::HeartbeatRequest>(s, "--- " + kHeartbeat);
}
void BM_EmptyJson(benchmark::State& s) { Parse<orch::v1::HeartbeatRequest>(s, "{}"); }
void BM_EmptyJsonThroughYamlCpp(benchmark::State& s) {
  Parse<orch::v1::HeartbeatRequest>(s, "--- {}");
}

BENCHMARK(BM_JobYamlFile);
BENCHMARK(BM_JobJson);
BENCHMARK(BM_JobJsonThroughYamlCpp);
BENCHMARK(BM_HeartbeatJson);
BENCHMARK(BM_HeartbeatJsonThroughYamlCpp);
BENCHMARK(BM_EmptyJson);
BENCHMARK(BM_EmptyJsonThroughYamlCpp);

}  // namespace

BENCHMARK_MAIN();
