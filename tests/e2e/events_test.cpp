// The event stream with real processes (issue 15 item 1): three masters and
// an agent; a subscriber on one master sees a job's JobRegistered, its
// allocation running (AllocationUpdated) and, after the agent is killed,
// NodeDown, in index order; it disconnects before the kill and resumes from
// the last index it saw on ANOTHER master, and what it saw in the two
// sessions is exactly the third master's record (no gap, no duplicate).
// A master restarted since cannot resume from before its start (410), and
// `orchctl events` prints the same events.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "cluster.h"
#include "common/http_client.h"
#include "masters.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

// One event as the test compares it across masters.
struct Seen {
  uint64_t index;
  std::string topic, type, key, client_status;
  bool operator==(const Seen& o) const {
    return index == o.index && topic == o.topic && type == o.type && key == o.key;
  }
};

std::string Show(const std::vector<Seen>& v, std::size_t max = 60) {
  std::string out;
  for (std::size_t i = 0; i < v.size() && i < max; ++i) {
    out += std::to_string(v[i].index) + " " + v[i].type + " " + v[i].key.substr(0, 12) + "\n";
  }
  return out;
}

// A subscriber reading GET /v1/event/stream on its own thread.
class Subscriber {
 public:
  Subscriber(std::string url) : url_(std::move(url)) {
    thread_ = std::thread([this] {
      HttpClient http;
      std::string partial;
      auto resp = http.Stream("GET", url_, [&](std::string_view piece) {
        partial.append(piece);
        for (std::size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
          Take(partial.substr(0, nl));
          partial.erase(0, nl + 1);
        }
        return !stop_.load();
      });
      std::lock_guard lock(mu_);
      if (!resp.ok()) error_ = resp.status().ToString();
      if (resp.ok() && resp->status != 200)
        error_ = std::to_string(resp->status) + " " + resp->body;
    });
  }
  ~Subscriber() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Seen> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  int heartbeats() const {
    std::lock_guard lock(mu_);
    return heartbeats_;
  }
  std::string error() const {
    std::lock_guard lock(mu_);
    return error_;
  }
  bool Saw(const std::function<bool(const Seen&)>& pred) const {
    std::lock_guard lock(mu_);
    return std::any_of(events_.begin(), events_.end(), pred);
  }

 private:
  void Take(const std::string& line) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    std::lock_guard lock(mu_);
    if (j.is_discarded() || !j.is_object()) {
      error_ = "not JSON: " + line;
      return;
    }
    if (j.empty()) {
      ++heartbeats_;
      return;
    }
    if (j.contains("error")) {
      error_ = line;
      return;
    }
    for (const auto& e : j["events"]) {
      Seen s{j["index"].get<uint64_t>(), e["topic"], e["type"], e["key"], ""};
      if (e["payload"].is_object()) s.client_status = e["payload"].value("client_status", "");
      events_.push_back(std::move(s));
    }
  }
  std::string url_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Seen> events_;
  int heartbeats_ = 0;
  std::string error_;
  std::thread thread_;
};

// The whole record a master keeps (follow=false), and the index it covers.
std::vector<Seen> Record(const std::string& base, std::string* error) {
  HttpClient http;
  auto resp = http.Get(base + "/v1/event/stream?follow=false");
  std::vector<Seen> out;
  if (!resp.ok() || resp->status != 200) {
    *error = resp.ok() ? std::to_string(resp->status) + " " + resp->body : resp.status().ToString();
    return out;
  }
  std::size_t at = 0;
  for (std::size_t nl; (nl = resp->body.find('\n', at)) != std::string::npos; at = nl + 1) {
    auto j = nlohmann::json::parse(resp->body.substr(at, nl - at), nullptr, false);
    if (j.is_discarded() || !j.contains("events")) continue;
    for (const auto& e : j["events"])
      out.push_back({j["index"].get<uint64_t>(), e["topic"], e["type"], e["key"], ""});
  }
  return out;
}

void ExpectIncreasing(const std::vector<Seen>& v, const std::string& what) {
  for (std::size_t i = 1; i < v.size(); ++i) {
    EXPECT_LE(v[i - 1].index, v[i].index) << what << " out of index order at " << i << ":\n"
                                          << Show(v);
  }
}

class EventsE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = ::testing::TempDir() + "/orch-events-" + info->name() + "-" + std::to_string(getpid());
    std::filesystem::remove_all(root_);
    cluster_ = std::make_unique<MasterCluster>(
        root_, std::vector<std::string>{"--raft-tick", "20ms", "--election-ticks", "10",
                                        "--heartbeat-ttl", "3s"});
    cluster_->Bootstrap({"m1", "m2", "m3"});
    ASSERT_FALSE(cluster_->WaitLeader(30s).empty());
    // The subscribers connect to given masters once, without retrying: all
    // must be serving (m1 still refused connections once, on a loaded
    // machine, after m3 led).
    ASSERT_TRUE(cluster_->WaitAllFollow(30s));
  }
  void TearDown() override {
    if (agent_) {
      agent_->Signal(SIGKILL);
      agent_->Wait(10s);
    }
    if (task_pid_ > 0) ::kill(task_pid_, SIGKILL);
    if (HasFailure() && cluster_) std::cerr << cluster_->Logs(120);
    if (HasFailure()) std::cerr << "==== agent.log\n" << ReadFile(root_ + "/agent.log");
    cluster_.reset();
    // Whatever way the test ended (an ASSERT returns early), no task it
    // started outlives it.
    if (int left = KillByMarker(root_ + "/"); left > 0)
      std::cerr << left << " leftover process(es) killed\n";
    if (!HasFailure()) std::filesystem::remove_all(root_);
  }
  std::string root_;
  std::unique_ptr<MasterCluster> cluster_;
  std::unique_ptr<Subprocess> agent_;
  pid_t task_pid_ = 0;
};

TEST_F(EventsE2ETest, ASubscriberSeesSubmitRunAndNodeDownAndResumesElsewhereWithoutGaps) {
  const std::string masters = cluster_->HttpUrlList();
  const std::string stream = "/v1/event/stream";

  auto first = std::make_unique<Subscriber>(cluster_->HttpUrl("m1") + stream);
  agent_ = std::make_unique<Subprocess>(
      std::vector<std::string>{ORCH_AGENT_BIN, "--name", "a1", "--data-dir", root_ + "/agent",
                               "--masters", masters, "--http",
                               "127.0.0.1:" + std::to_string(FreePort()), "--drivers", "exec"},
      root_ + "/agent.log");
  OrchClient any(cluster_->HttpUrls());
  const std::string job = "evjob";
  ASSERT_TRUE(WaitFor(
      [&] { return any.SubmitJobDocument(ExecJob(job, "service", "/bin/sleep", {"300"})).ok(); },
      20s));
  std::string alloc_id;
  ASSERT_TRUE(WaitFor(
      [&] {
        return first->Saw([&](const Seen& s) {
          if (s.type == "AllocationUpdated" && s.client_status == "RUNNING") alloc_id = s.key;
          return !alloc_id.empty();
        });
      },
      30s))
      << "first subscriber saw:\n"
      << Show(first->events()) << first->error();
  EXPECT_TRUE(first->Saw([&](const Seen& s) { return s.type == "NodeRegistered"; }));
  EXPECT_TRUE(first->Saw([&](const Seen& s) { return s.type == "JobRegistered" && s.key == job; }));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto a = any.GetAllocation(alloc_id);
        if (a.ok() && a->value.task_states_size() > 0) task_pid_ = a->value.task_states(0).pid();
        return task_pid_ > 0;
      },
      10s));
  first->Stop();  // the subscriber goes away...
  const std::vector<Seen> before = first->events();
  ASSERT_FALSE(before.empty());
  EXPECT_EQ(first->error(), "");
  const uint64_t last_seen = before.back().index;
  ExpectIncreasing(before, "first session");

  // ...the agent dies while nobody listens...
  agent_->Signal(SIGKILL);
  agent_->Wait(10s);
  ::kill(task_pid_,
         SIGKILL);  // the task outlives its agent (adopted on restart): not ours to leave
  ASSERT_TRUE(WaitFor(
      [&] {
        auto nodes = any.ListNodes();
        return nodes.ok() && nodes->value.nodes_size() == 1 &&
               nodes->value.nodes(0).status() == v1::Node::DOWN;
      },
      30s));

  // ...and it resumes from the last index it saw, on another master.
  Subscriber second(cluster_->HttpUrl("m2") + stream + "?index=" + std::to_string(last_seen));
  ASSERT_TRUE(
      WaitFor([&] { return second.Saw([](const Seen& s) { return s.type == "NodeDown"; }); }, 30s))
      << "second subscriber saw:\n"
      << Show(second.events()) << second.error();
  // The lost allocation follows the node down (its own event, same index or later).
  ASSERT_TRUE(WaitFor(
      [&] {
        return second.Saw(
            [&](const Seen& s) { return s.key == alloc_id && s.client_status == "LOST"; });
      },
      10s))
      << Show(second.events());
  second.Stop();
  const std::vector<Seen> after = second.events();
  EXPECT_EQ(second.error(), "");
  ASSERT_FALSE(after.empty());
  EXPECT_GT(after.front().index, last_seen) << "resumed with a duplicate";
  ExpectIncreasing(after, "second session");

  // JobRegistered, the allocation running, NodeDown: in index order.
  std::vector<Seen> both = before;
  both.insert(both.end(), after.begin(), after.end());
  auto index_of = [&](const std::function<bool(const Seen&)>& pred) -> uint64_t {
    for (const auto& s : both) {
      if (pred(s)) return s.index;
    }
    return 0;
  };
  uint64_t registered =
      index_of([&](const Seen& s) { return s.type == "JobRegistered" && s.key == job; });
  uint64_t running =
      index_of([&](const Seen& s) { return s.key == alloc_id && s.client_status == "RUNNING"; });
  uint64_t down = index_of([](const Seen& s) { return s.type == "NodeDown"; });
  EXPECT_LT(0u, registered);
  EXPECT_LT(registered, running);
  EXPECT_LT(running, down);

  // The two sessions are exactly the third master's record up to there.
  const uint64_t upto = after.back().index;
  std::vector<Seen> record;
  std::string error;
  ASSERT_TRUE(WaitFor(
      [&] {
        record = Record(cluster_->HttpUrl("m3"), &error);
        return !record.empty() && record.back().index >= upto;
      },
      20s))
      << error;
  record.erase(
      std::remove_if(record.begin(), record.end(), [&](const Seen& s) { return s.index > upto; }),
      record.end());
  EXPECT_TRUE(record == both) << "m3 recorded:\n"
                              << Show(record, 200) << "the subscriber saw:\n"
                              << Show(both, 200);

  // orchctl prints them too.
  auto ctl =
      RunCommand({ORCHCTL_BIN, "--addr", cluster_->HttpUrl("m2"), "events", "--topic", "Node"});
  EXPECT_EQ(ctl.exit_code, 0) << ctl.err;
  EXPECT_NE(ctl.out.find("NodeDown"), std::string::npos) << ctl.out;
  EXPECT_EQ(ctl.out.find("JobRegistered"), std::string::npos) << ctl.out;
  auto raw = RunCommand({ORCHCTL_BIN, "--addr", cluster_->HttpUrl("m2"), "events", "-o", "json",
                         "--index", std::to_string(last_seen)});
  EXPECT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_NE(raw.out.find("\"NodeDown\""), std::string::npos) << raw.out;

  // A master restarted since has no record from before its start: 410,
  // and orchctl says to read the state again.
  ASSERT_EQ(cluster_->Stop("m3"), 0);
  cluster_->Start("m3");
  HttpClient http;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = http.Get(cluster_->HttpUrl("m3") + stream +
                          "?follow=false&index=" + std::to_string(last_seen));
        return r.ok() && r->status == 410;
      },
      30s));
  auto gone = RunCommand({ORCHCTL_BIN, "--addr", cluster_->HttpUrl("m3"), "events", "--index",
                          std::to_string(last_seen)});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE((gone.out + gone.err).find("no longer kept"), std::string::npos)
      << gone.out << gone.err;
}

}  // namespace
}  // namespace orch::e2e
