// The control plane at scale against a real orch-master (issue 12):
// 2,000 blocking queries wait on one master without a thread each, and a
// submit answers in the same band with 10,000 jobs stored as on an empty
// master (a ratio of medians, not a time).
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "cluster.h"
#include "common/http_client.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

int ThreadsOf(pid_t pid) {
  int n = 0;
  if (DIR* d = opendir(("/proc/" + std::to_string(pid) + "/task").c_str())) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

std::string BatchJob(const std::string& id) {
  return "{\"id\":\"" + id +
         "\",\"type\":\"batch\",\"groups\":[{\"name\":\"g\",\"count\":0,\"tasks\":[{\"name\":\"t\",\"driver\":\"exec\","
         "\"command\":\"/bin/true\",\"resources\":{\"cpu\":1,\"memory\":1}}]}]}";
}

class ScaleE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/orch-scale-e2e-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
    cluster_ = std::make_unique<LocalCluster>(root_);
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << cluster_->Logs();
    cluster_.reset();
  }
  void Start(const std::vector<std::string>& extra = {}) {
    cluster_->StartMaster(extra);
    ASSERT_TRUE(WaitFor([&] { return cluster_->client().ListJobs().ok(); }, 20s)) << cluster_->Logs();
  }
  int Connect() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<uint16_t>(std::stoi(cluster_->master_url().substr(17))));
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
      close(fd);
      return -1;
    }
    timeval tv{30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }
  // Median milliseconds of `n` submits of new jobs, one at a time.
  double MedianSubmitMs(HttpClient& http, const std::string& prefix, int n) {
    std::vector<double> ms;
    for (int i = 0; i < n; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      auto r = http.Post(cluster_->master_url() + "/v1/jobs", BatchJob(prefix + std::to_string(i)));
      auto t1 = std::chrono::steady_clock::now();
      EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }

  std::string root_;
  std::unique_ptr<LocalCluster> cluster_;
};

TEST_F(ScaleE2ETest, TwoThousandBlockingQueriesWaitWithoutAThreadEach) {
  constexpr int kWatchers = 2000;
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < kWatchers + 256) GTEST_SKIP() << "open-file hard limit too low";
  lim.rlim_cur = lim.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
  // One client address holds them all here (agents each have their own).
  Start({"--http-max-conns-per-client", "4096"});
  auto first = cluster_->client().ListJobs();
  ASSERT_TRUE(first.ok());
  const uint64_t index = first->index;
  const int threads_before = ThreadsOf(cluster_->master_pid());
  std::vector<int> fds;
  const std::string get = "GET /v1/jobs?index=" + std::to_string(index) + "&wait=120s HTTP/1.1\r\nHost: m\r\n\r\n";
  for (int i = 0; i < kWatchers; ++i) {
    int fd = Connect();
    ASSERT_GE(fd, 0) << "connection " << i;
    ASSERT_EQ(send(fd, get.data(), get.size(), MSG_NOSIGNAL), static_cast<ssize_t>(get.size()));
    fds.push_back(fd);
    if (fds.size() % 200 == 0) std::this_thread::sleep_for(50ms);  // the in-flight cap counts queued ones
  }
  std::this_thread::sleep_for(1s);
  // All waiting (none answered, e.g. with a 429), and no thread per waiter.
  int answered = 0;
  for (int fd : fds) {
    char c;
    answered += recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }
  EXPECT_EQ(answered, 0);
  const int threads_waiting = ThreadsOf(cluster_->master_pid());
  EXPECT_LE(threads_waiting, threads_before + 4) << "threads before " << threads_before;
  // A write moves the index: every watcher is answered with the new state.
  HttpClient http;
  auto r = http.Post(cluster_->master_url() + "/v1/jobs", BatchJob("wake"));
  ASSERT_TRUE(r.ok() && r->status == 200);
  int ok = 0;
  for (int fd : fds) {
    std::string got;
    char buf[8192];
    while (got.find("\"wake\"") == std::string::npos) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    ok += got.rfind("HTTP/1.1 200", 0) == 0 && got.find("\"wake\"") != std::string::npos;
    close(fd);
  }
  EXPECT_EQ(ok, kWatchers);
  EXPECT_LE(ThreadsOf(cluster_->master_pid()), threads_before + 4);
}

TEST_F(ScaleE2ETest, ASubmitAnswersInTheSameBandWithTenThousandJobsStored) {
  Start();
  HttpClient http;
  MedianSubmitMs(http, "warm-", 20);
  const double empty_ms = MedianSubmitMs(http, "empty-", 60);
  // 10,000 jobs, 16 at a time.
  std::atomic<int> next{0}, stored{0};
  std::vector<std::thread> fill;
  for (int t = 0; t < 16; ++t) {
    fill.emplace_back([&] {
      HttpClient c;
      for (int i = next++; i < 10'000; i = next++) {
        auto r = c.Post(cluster_->master_url() + "/v1/jobs", BatchJob("fill-" + std::to_string(i)));
        stored += r.ok() && r->status == 200;
      }
    });
  }
  for (auto& t : fill) t.join();
  ASSERT_EQ(stored.load(), 10'000);
  const double full_ms = MedianSubmitMs(http, "full-", 60);
  std::cout << "median submit: " << empty_ms << " ms empty, " << full_ms << " ms with 10,000 jobs\n";
  // The same band: a write's cost must not grow with the jobs stored
  // (before the claims index it was ~6x at 10,000 jobs).
  EXPECT_LE(full_ms, 3.0 * empty_ms + 2.0) << "empty " << empty_ms << " ms, full " << full_ms << " ms";
}

}  // namespace
}  // namespace orch::e2e
