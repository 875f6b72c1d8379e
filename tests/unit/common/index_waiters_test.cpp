// IndexWaiters, and blocking queries parked by the HTTP server without a
// thread each: many waiting requests on a server with two workers, counted
// threads, answered when the index moves, at their deadline, or at
// shutdown. Outcomes are asserted, never durations.
#include "common/index_waiters.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/http_server.h"

namespace orch {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int ThreadsOfThisProcess() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

template <typename F>
bool WaitUntil(F done, std::chrono::milliseconds limit = 10s) {
  auto end = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(IndexWaitersTest, FiresOncePastTheIndexAtTheDeadlineOrAtClose) {
  IndexWaiters w;
  w.Advance(10);
  std::atomic<int> a{0}, b{0}, c{0}, now{0};
  w.Wait(9, Clock::now() + 60s, [&] { ++now; });  // already past: at once
  EXPECT_EQ(now.load(), 1);
  w.Wait(10, Clock::now() + 60s, [&] { ++a; });
  w.Wait(12, Clock::now() + 60s, [&] { ++b; });
  w.Wait(12, Clock::now() + 50ms, [&] { ++c; });
  EXPECT_EQ(w.waiting(), 3u);
  w.Advance(11);
  EXPECT_EQ(a.load(), 1);
  EXPECT_EQ(b.load(), 0);
  ASSERT_TRUE(WaitUntil([&] { return c.load() == 1; }));  // its deadline
  w.Advance(11);  // no change: nothing fires
  EXPECT_EQ(b.load(), 0);
  w.Close();
  EXPECT_EQ(b.load(), 1);
  EXPECT_EQ(a.load() + c.load(), 2);  // nothing fired twice
  std::atomic<int> late{0};
  w.Wait(100, Clock::now() + 60s, [&] { ++late; });
  EXPECT_EQ(late.load(), 1);
  EXPECT_EQ(w.waiting(), 0u);
}

// A keyed waiter is woken by its own key alone: not by the state's index,
// not by other keys; a key already past (an advance that raced the wait)
// fires at once; RaiseKeys (a restored state) wakes every keyed waiter.
TEST(IndexWaitersTest, AKeyedWaiterWakesOnlyForItsOwnKey) {
  IndexWaiters w;
  std::atomic<int> a{0}, b{0}, raced{0}, c{0}, d{0};
  w.Wait(
      5, Clock::now() + 60s, [&] { ++a; }, "node/a");
  w.Wait(
      5, Clock::now() + 60s, [&] { ++b; }, "node/b");
  w.Advance(100);  // the state moves: no keyed waiter is woken
  EXPECT_EQ(a.load() + b.load(), 0);
  EXPECT_EQ(w.waiting(), 2u);
  w.AdvanceKeys({{"node/b", 6}, {"node/c", 7}});
  EXPECT_EQ(a.load(), 0);
  EXPECT_EQ(b.load(), 1);
  w.AdvanceKeys({{"node/a", 5}});  // not past the waiter's index
  EXPECT_EQ(a.load(), 0);
  w.AdvanceKeys({{"node/a", 9}});
  EXPECT_EQ(a.load(), 1);
  EXPECT_EQ(w.KeyIndex("node/a"), 9u);
  EXPECT_EQ(w.KeyIndex("node/unseen"), 0u);
  // node/a is at 9 already: a wait for less fires at once, for 9 it waits.
  w.Wait(
      8, Clock::now() + 60s, [&] { ++raced; }, "node/a");
  EXPECT_EQ(raced.load(), 1);
  w.Wait(
      9, Clock::now() + 60s, [&] { ++c; }, "node/a");
  w.Wait(
      50, Clock::now() + 60s, [&] { ++d; }, "node/d");
  EXPECT_EQ(c.load(), 0);
  EXPECT_EQ(w.waiting(), 2u);
  w.RaiseKeys(20);  // node/d waits for more than 20
  EXPECT_EQ(w.KeyIndex("node/a"), 20u) << "every key is at least at the floor";
  EXPECT_EQ(w.KeyIndex("node/unseen"), 20u);
  EXPECT_EQ(c.load(), 1);
  EXPECT_EQ(d.load(), 0);
  w.Wait(
      19, Clock::now() + 60s, [&] { ++raced; }, "node/x");  // below the floor
  EXPECT_EQ(raced.load(), 2);
  w.Close();
  EXPECT_EQ(d.load(), 1);
  EXPECT_EQ(a.load() + b.load() + c.load(), 3);  // nothing fired twice
}

// A debounced key (the services every balancer watches): a run of advances
// wakes its waiters once, after the run goes quiet; the key's index moves
// at once; a run that never goes quiet still wakes them (at_most); other
// keys are not held back.
TEST(IndexWaitersTest, ADebouncedKeyWakesItsWaitersOnceForARunOfAdvances) {
  IndexWaiters w;
  w.Debounce("services", 2s, 10s);
  std::atomic<int> a{0}, b{0}, other{0}, behind{0};
  w.Wait(
      5, Clock::now() + 60s, [&] { ++a; }, "services");
  w.Wait(
      5, Clock::now() + 60s, [&] { ++b; }, "services");
  w.Wait(
      5, Clock::now() + 60s, [&] { ++other; }, "node/a");
  w.AdvanceKeys({{"services", 6}, {"node/a", 6}});
  EXPECT_EQ(other.load(), 1) << "a key not debounced fires at once";
  EXPECT_EQ(a.load() + b.load(), 0) << "the debounced key waits for quiet";
  EXPECT_EQ(w.KeyIndex("services"), 6u) << "its index moves at once";
  w.Wait(
      5, Clock::now() + 60s, [&] { ++behind; }, "services");
  EXPECT_EQ(behind.load(), 1) << "a wait for less than the key's index fires at once";
  w.AdvanceKeys({{"services", 7}});
  w.AdvanceKeys({{"services", 8}});
  ASSERT_TRUE(WaitUntil([&] { return a.load() == 1 && b.load() == 1; }));
  EXPECT_EQ(w.waiting(), 0u);

  // Advances every 20 ms, never 2 s apart: at_most (500 ms) wakes them
  // while the run goes on.
  w.Debounce("services", 2s, 500ms);
  std::atomic<int> c{0};
  w.Wait(
      8, Clock::now() + 60s, [&] { ++c; }, "services");
  uint64_t index = 9;
  const auto give_up = Clock::now() + 10s;
  while (c.load() == 0 && Clock::now() < give_up) {
    w.AdvanceKeys({{"services", index++}});
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(c.load(), 1) << "a run of advances that never goes quiet still wakes its waiters";
  // A replaced state (RaiseKeys) below a pending advance keeps it pending:
  // a waiter the floor does not reach is still woken.
  std::atomic<int> e{0};
  const uint64_t at = w.KeyIndex("services");
  w.Wait(
      at + 2, Clock::now() + 60s, [&] { ++e; }, "services");
  w.AdvanceKeys({{"services", at + 3}});
  w.RaiseKeys(at + 2);
  EXPECT_TRUE(WaitUntil([&] { return e.load() == 1; }));
  // Nothing fires twice, and Close wakes what still waits.
  std::atomic<int> d{0};
  w.Wait(
      index, Clock::now() + 60s, [&] { ++d; }, "services");
  w.Close();
  EXPECT_EQ(d.load(), 1);
  EXPECT_EQ(a.load() + b.load() + c.load(), 3);
}

// A server whose handler answers "index N" once `waiters` passes the
// query's index, deferring until then.
class ParkingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions o;
    o.worker_threads = 2;
    o.max_connections = 4096;
    o.max_connections_per_client = 4096;
    o.max_in_flight_per_client = 128;  // parked queries do not count
    auto s = HttpServer::Start(o, [this](const HttpRequest& req) {
      ++handled_;
      if (req.path == "/write") {
        // Answered later, by the test (as a write once its entry applies).
        HttpResponse later;
        later.later = [this, id = req.Query("id")](HttpResponse::Reply reply) {
          std::lock_guard lock(replies_mu_);
          replies_[id] = std::move(reply);
        };
        return later;
      }
      uint64_t want = std::stoull(req.Query("index", "0"));
      if (index_.load() <= want && !req.resumed) {
        HttpResponse later;
        later.defer = HttpResponse::Deferral{
            &waiters_, want,
            Clock::now() + std::chrono::milliseconds(std::stoll(req.Query("ms", "60000"))), "", ""};
        return later;
      }
      return HttpResponse::Json(200, "{\"index\":" + std::to_string(index_.load()) + "}");
    });
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(1s);
  }
  void Advance(uint64_t i) {
    index_ = i;
    waiters_.Advance(i);
  }
  int Connect() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(server_->port());
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
      close(fd);
      return -1;
    }
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }
  static bool Get(int fd, const std::string& target) {
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
    return send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
  }
  // The body of one answer (small, one read suffices on loopback).
  static std::string Read(int fd) {
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return "";
    std::string s(buf, static_cast<std::size_t>(n));
    auto body = s.find("\r\n\r\n");
    return body == std::string::npos ? s : s.substr(body + 4);
  }
  // A fresh request answers at once: the workers are free.
  bool AFreshRequestAnswers() {
    int other = Connect();
    bool ok = other >= 0 && Get(other, "/now?index=0") &&
              Read(other) == "{\"index\":" + std::to_string(index_.load()) + "}";
    if (other >= 0) close(other);
    return ok;
  }
  static bool Readable(int fd) {
    char c;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }

  std::size_t Replies() {
    std::lock_guard lock(replies_mu_);
    return replies_.size();
  }

  IndexWaiters waiters_;
  std::mutex replies_mu_;
  std::map<std::string, HttpResponse::Reply> replies_;  // of the /write?id= requests
  std::atomic<uint64_t> index_{5};
  std::atomic<int> handled_{0};
  std::unique_ptr<HttpServer> server_;
};

TEST_F(ParkingTest, AThousandBlockingQueriesWaitWithoutAThreadEach) {
  // Both ends of every connection live in this process.
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < 2 * 1000 + 64) GTEST_SKIP() << "open-file hard limit too low";
  lim.rlim_cur = lim.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
  const int before = ThreadsOfThisProcess();
  constexpr int kWatchers = 1000;
  std::vector<int> fds;
  for (int i = 0; i < kWatchers; ++i) {
    int fd = Connect();
    ASSERT_GE(fd, 0) << "connection " << i;
    ASSERT_TRUE(Get(fd, "/watch?index=5"));
    fds.push_back(fd);
    // A hundred at a time: queued ones count against the client's 128.
    if (fds.size() % 100 == 0) {
      ASSERT_TRUE(WaitUntil([&] { return waiters_.waiting() == fds.size(); }));
    }
  }
  ASSERT_TRUE(WaitUntil([&] { return waiters_.waiting() == kWatchers; })) << waiters_.waiting();
  // Two workers, and all of them parked: no thread per waiting request, and
  // the workers are free for others (a fresh request answers at once).
  EXPECT_LE(ThreadsOfThisProcess(), before + 1);
  EXPECT_TRUE(AFreshRequestAnswers());
  for (int fd : fds) EXPECT_FALSE(Readable(fd));
  // The index moves: every watcher gets the new one.
  Advance(6);
  for (int fd : fds) {
    EXPECT_EQ(Read(fd), "{\"index\":6}");
    close(fd);
  }
  EXPECT_EQ(waiters_.waiting(), 0u);
}

TEST_F(ParkingTest, AParkedQueryAnswersAtItsDeadlineAndAtShutdown) {
  int timed = Connect();
  ASSERT_TRUE(Get(timed, "/watch?index=5&ms=100"));
  EXPECT_EQ(Read(timed), "{\"index\":5}");  // nothing new: the same index, at the deadline
  close(timed);
  int parked = Connect();
  ASSERT_TRUE(Get(parked, "/watch?index=5"));
  ASSERT_TRUE(WaitUntil([&] { return waiters_.waiting() >= 1; }));
  server_->Shutdown(1s);
  EXPECT_EQ(Read(parked), "{\"index\":5}");
  close(parked);
  server_.reset();
}

TEST_F(ParkingTest, AHundredWritesWaitForTheirAnswerWithoutAWorkerEach) {
  const int before = ThreadsOfThisProcess();
  constexpr int kWrites = 100;
  std::vector<int> fds;
  for (int i = 0; i < kWrites; ++i) {
    int fd = Connect();
    ASSERT_GE(fd, 0) << "connection " << i;
    ASSERT_TRUE(Get(fd, "/write?id=" + std::to_string(i)));
    fds.push_back(fd);
  }
  // Two workers, yet all hundred are waiting: none holds one.
  ASSERT_TRUE(WaitUntil([&] { return Replies() == kWrites; })) << Replies();
  EXPECT_LE(ThreadsOfThisProcess(), before + 1);
  EXPECT_TRUE(AFreshRequestAnswers());
  for (int fd : fds) EXPECT_FALSE(Readable(fd));
  // Answered from another thread, last first: each gets its own answer.
  std::thread answer([&] {
    for (int i = kWrites - 1; i >= 0; --i) {
      replies_.at(std::to_string(i))(
          [i] { return HttpResponse::Json(200, "{\"write\":" + std::to_string(i) + "}"); });
    }
  });
  answer.join();
  for (int i = 0; i < kWrites; ++i) {
    EXPECT_EQ(Read(fds[i]), "{\"write\":" + std::to_string(i) + "}");
    close(fds[i]);
  }
}

TEST_F(ParkingTest, AWriteStillWaitingAtShutdownGetsA503AndItsLateReplyDoesNothing) {
  int fd = Connect();
  ASSERT_TRUE(Get(fd, "/write?id=late"));
  ASSERT_TRUE(WaitUntil([&] { return Replies() == 1; }));
  server_->Shutdown(200ms);
  EXPECT_NE(Read(fd).find("shutting down"), std::string::npos);
  close(fd);
  server_.reset();
  bool made = false;
  replies_.at("late")([&] {
    made = true;
    return HttpResponse::Json(200, "{}");
  });
  EXPECT_FALSE(made);
}

}  // namespace
}  // namespace orch
