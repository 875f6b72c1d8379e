// The metrics registry (common/metrics.h): what it renders is Prometheus'
// text format (checked by promtool when it is installed: Debian's
// `prometheus` package, which CI installs), families by label values,
// histograms' cumulative buckets, scrape-time callbacks, escaping, and
// names Prometheus would refuse refused at registration.
#include "common/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <thread>

namespace orch::metrics {
namespace {

bool HasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// promtool's verdict on `text` ("" when it is happy); nullopt without promtool.
std::optional<std::string> Promtool(const std::string& text) {
  if (::access("/usr/bin/promtool", X_OK) != 0) return std::nullopt;
  const std::string path = ::testing::TempDir() + "/metrics-" + std::to_string(getpid()) + ".txt";
  std::ofstream(path) << text;
  FILE* p = ::popen(("/usr/bin/promtool check metrics < " + path + " 2>&1").c_str(), "r");
  std::string out;
  char buf[512];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  int rc = p ? ::pclose(p) : -1;
  return rc == 0 ? std::string() : "exit " + std::to_string(rc) + ": " + out;
}

TEST(MetricsTest, RendersFamiliesInTheTextFormat) {
  Registry r;
  auto& requests = r.AddCounter("orch_http_requests_total", "Requests.", {"route", "code"});
  requests.With({"GET /v1/jobs", "200"}).Inc();
  requests.With({"GET /v1/jobs", "200"}).Inc(2);
  requests.With({"POST /v1/jobs", "409"}).Inc();
  r.AddGauge("orch_raft_snapshot_size_bytes", "Size.").With({}).Set(1.5);
  auto& h =
      r.AddHistogram("orch_raft_commit_duration_seconds", "Commit.", {}, {0.01, 0.1, 1}).With({});
  h.Observe(0.005);
  h.Observe(0.01);  // on a bound: counts in that bucket (le is "less or equal")
  h.Observe(0.5);
  h.Observe(7);
  r.AddCallback("orch_nodes", "Nodes.", {"status"}, [] {
    return std::vector<Sample>{{{"READY"}, 3}, {{"DOWN"}, 1}};
  });
  const std::string text = r.Render();
  EXPECT_TRUE(HasLine(text, "# TYPE orch_http_requests_total counter")) << text;
  EXPECT_TRUE(HasLine(text, R"(orch_http_requests_total{route="GET /v1/jobs",code="200"} 3)"))
      << text;
  EXPECT_TRUE(HasLine(text, R"(orch_http_requests_total{route="POST /v1/jobs",code="409"} 1)"))
      << text;
  EXPECT_TRUE(HasLine(text, "orch_raft_snapshot_size_bytes 1.5")) << text;
  EXPECT_TRUE(HasLine(text, R"(orch_raft_commit_duration_seconds_bucket{le="0.01"} 2)")) << text;
  EXPECT_TRUE(HasLine(text, R"(orch_raft_commit_duration_seconds_bucket{le="0.1"} 2)")) << text;
  EXPECT_TRUE(HasLine(text, R"(orch_raft_commit_duration_seconds_bucket{le="1"} 3)")) << text;
  EXPECT_TRUE(HasLine(text, R"(orch_raft_commit_duration_seconds_bucket{le="+Inf"} 4)")) << text;
  EXPECT_TRUE(HasLine(text, "orch_raft_commit_duration_seconds_count 4")) << text;
  const auto sum_at = text.find("orch_raft_commit_duration_seconds_sum ");
  ASSERT_NE(sum_at, std::string::npos) << text;
  EXPECT_NEAR(std::stod(text.substr(sum_at + 38)), 7.515, 1e-9) << text;
  EXPECT_TRUE(HasLine(text, R"(orch_nodes{status="DOWN"} 1)")) << text;
  EXPECT_LT(text.find("orch_http_requests_total"), text.find("orch_nodes")) << "sorted by name";
  if (auto verdict = Promtool(text)) {
    EXPECT_EQ(*verdict, "") << text;
  }
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  Registry r;
  r.AddCounter("orch_x_total", "A \\ and a\nnewline.", {"v"}).With({"a\"b\\c\nd"}).Inc();
  const std::string text = r.Render();
  EXPECT_TRUE(HasLine(text, R"(# HELP orch_x_total A \\ and a\nnewline.)")) << text;
  EXPECT_TRUE(HasLine(text, R"(orch_x_total{v="a\"b\\c\nd"} 1)")) << text;
  if (auto verdict = Promtool(text)) {
    EXPECT_EQ(*verdict, "") << text;
  }
}

TEST(MetricsTest, RefusesNamesPrometheusWouldRefuse) {
  Registry r;
  EXPECT_THROW(r.AddCounter("orch-bad", "x"), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("9lives", "x"), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("orch_ok_total", "x", {"le"}), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("orch_ok_total", "x", {"__reserved"}), std::invalid_argument);
  r.AddCounter("orch_twice_total", "x");
  EXPECT_THROW(r.AddGauge("orch_twice_total", "x"), std::invalid_argument) << "one name, one type";
  // The same name and type again is the same family.
  r.AddCounter("orch_twice_total", "x").With({}).Inc();
  EXPECT_EQ(r.AddCounter("orch_twice_total", "x").With({}).Value(), 1);
}

TEST(MetricsTest, CountsFromManyThreadsWithoutLosingAny) {
  Registry r;
  auto& c = r.AddCounter("orch_c_total", "c", {"t"});
  auto& h = r.AddHistogram("orch_h_seconds", "h", {}, LatencyBuckets()).With({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        c.With({std::to_string(t % 2)}).Inc();
        h.Observe(0.001 * (i % 10));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.With({"0"}).Value() + c.With({"1"}).Value(), 40000);
  EXPECT_EQ(h.CumulativeCounts().back(), 40000u);
}

TEST(MetricsTest, MissingLabelValuesAreEmptyAndExtraOnesDropped) {
  Registry r;
  auto& f = r.AddCounter("orch_l_total", "l", {"a", "b"});
  f.With({"x"}).Inc();
  f.With({"x", "", "extra"}).Inc();
  EXPECT_TRUE(HasLine(r.Render(), R"(orch_l_total{a="x",b=""} 2)")) << r.Render();
}

}  // namespace
}  // namespace orch::metrics
