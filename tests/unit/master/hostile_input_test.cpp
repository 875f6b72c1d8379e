// Hostile input: thousands of seeded mutations of valid job files (bytes
// flipped, cut, duplicated, spliced with YAML/JSON syntax) go through the
// master's job endpoint. Every one must get an answer (200 or a 4xx with a
// JSON error), never a crash or a 5xx, and a rejected one changes nothing.
// Runs under AddressSanitizer in CI-like builds too (see README, Tests).
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "common/ids.h"
#include "common/index_waiters.h"
#include "common/json.h"
#include "common/router.h"
#include "master/http/api.h"
#include "master/replication/raft_node.h"
#include "master/state/state_store.h"
#include "orch/v1/api.pb.h"
#include "test_util.h"

namespace orch::master {
namespace {

constexpr const char* kSeeds[] = {
    R"(id: web
type: service
groups:
  - name: web
    count: 3
    network: { ports: [ { name: http, static: 8080 } ] }
    constraints: [ { attribute: os, operator: "=", value: linux } ]
    tasks:
      - name: server
        driver: exec
        command: /bin/busybox
        args: [httpd, -f, -p, "${PORT_http}"]
        env: { A: "1", B: two }
        resources: { cpu: 100, memory: 64 }
        kill_timeout: 2s
        service: { name: web, port: http, strategy: round_robin, listen: 8080, weight: 2 }
        check: { type: http, path: /, interval: 1s, timeout: 500ms }
)",
    R"({"id":"batch","type":"BATCH","groups":[{"name":"g","count":"2","tasks":[{"name":"t","driver":"exec",
"command":"/bin/true","args":["a","b"],"env":{"K":"V"},"resources":{"cpu":"10","memory":"8"}}]}]})",
};

constexpr const char* kSplices[] = {"{", "}", "[", "]", ":", ",", "- ", "\n", "  ", "\"", "'", "&a", "*a", "!!binary",
                                    "---", "...", "? ", "|", ">", "#", "%YAML 1.2\n", "\\u0000", "1e999",
                                    "-9223372036854775809", "99999999999999999999", "null", "~", "true", "0x1F",
                                    ".nan", "<<: *a", "\t"};

std::string Mutate(std::string s, std::mt19937_64& rng) {
  int edits = 1 + static_cast<int>(rng() % 6);
  for (int e = 0; e < edits && !s.empty(); ++e) {
    std::size_t pos = rng() % s.size();
    switch (rng() % 5) {
      case 0: s[pos] = static_cast<char>(rng() % 256); break;                 // flip a byte
      case 1: s.erase(pos, 1 + rng() % 16); break;                           // cut
      case 2: s.insert(pos, s.substr(rng() % s.size(), 1 + rng() % 32)); break;  // duplicate
      case 3: s.insert(pos, kSplices[rng() % (sizeof(kSplices) / sizeof(kSplices[0]))]); break;
      case 4: s.resize(pos); break;                                          // truncate
    }
  }
  return s;
}

TEST(HostileInputTest, MutatedJobFilesNeverCrashOrChangeStateWhenRejected) {
  std::string dir = testing::TempDir("hostile");
  auto store = std::move(*StateStore::Open(dir + "/state.db"));
  auto log = testing::StartSingleLeader(dir, store.get());
  ASSERT_NE(log, nullptr);
  // The new leader's empty entry must be applied before we watch the index.
  ASSERT_TRUE(log->ReadBarrier(std::chrono::seconds(5)).ok());
  Router router;
  ApiDeps d;
  d.store = store.get();
  d.log = log.get();
  d.clock = SystemClock::Get();
  RegisterApiRoutes(&router, d);

  const char* env = std::getenv("ORCH_HOSTILE_CASES");
  int cases = env ? std::atoi(env) : 3000;
  std::mt19937_64 rng(42);
  int accepted = 0, rejected = 0;
  for (int i = 0; i < cases; ++i) {
    std::string doc = Mutate(kSeeds[rng() % 2], rng);
    uint64_t before = store->AppliedIndex();
    HttpRequest req;
    req.method = "POST";
    req.target = req.path = "/v1/jobs";
    req.body = doc;
    HttpResponse resp = AnswerWaiting([&](const HttpRequest& r) { return router.Handle(r); }, req);
    ASSERT_TRUE(resp.status == 200 || (resp.status >= 400 && resp.status < 500))
        << "case " << i << " got " << resp.status << ": " << resp.body << "\n--- input ---\n" << doc;
    if (resp.status == 200) {
      ++accepted;
      continue;
    }
    ++rejected;
    v1::ErrorResponse err;
    ASSERT_TRUE(FromJson(resp.body, &err, false).ok()) << resp.body;
    EXPECT_FALSE(err.error().message().empty()) << "case " << i;
    EXPECT_EQ(store->AppliedIndex(), before) << "a rejected job changed state (case " << i << ")";
  }
  // Both outcomes must occur, or the mutations are not exercising anything.
  EXPECT_GT(accepted, 0);
  EXPECT_GT(rejected, cases / 2);
  std::printf("hostile input: %d cases, %d accepted, %d rejected\n", cases, accepted, rejected);
}

}  // namespace
}  // namespace orch::master

// ---- The review's cases, through the REST handlers (issue 10) --------------

namespace orch::master {
namespace {

class HostileLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = testing::TempDir("hostile-limits");
    store_ = std::move(*StateStore::Open(dir + "/state.db"));
    log_ = testing::StartSingleLeader(dir, store_.get());
    ASSERT_NE(log_, nullptr);
    ASSERT_TRUE(log_->ReadBarrier(std::chrono::seconds(5)).ok());
    ApiDeps d;
    d.store = store_.get();
    d.log = log_.get();
    d.clock = SystemClock::Get();
    RegisterApiRoutes(&router_, d);
  }
  void TearDown() override {
    if (log_) log_->Close();
  }
  // Posts `body` and expects a 400 naming `expect`, with nothing applied.
  void ExpectRejected(const std::string& path, const std::string& body, const std::string& expect) {
    uint64_t before = store_->AppliedIndex();
    HttpRequest req;
    req.method = "POST";
    req.target = req.path = path;
    req.body = body;
    HttpResponse resp = AnswerWaiting([&](const HttpRequest& r) { return router_.Handle(r); }, req);
    EXPECT_EQ(resp.status, 400) << resp.body;
    EXPECT_NE(resp.body.find(expect), std::string::npos) << resp.body;
    EXPECT_EQ(store_->AppliedIndex(), before);
  }
  static std::string Job(const std::string& group_body) {
    return "id: j\ngroups:\n  - name: g\n" + group_body;
  }

  std::unique_ptr<StateStore> store_;
  std::unique_ptr<replication::RaftNode> log_;
  Router router_;
};

constexpr const char* kTask =
    "    tasks:\n      - {name: t, driver: exec, command: /bin/true, resources: {cpu: 10, memory: 8}}\n";

TEST_F(HostileLimitsTest, CountOfTwoToTheThirtyOneIsRefused) {
  ExpectRejected("/v1/jobs", Job("    count: 2147483647\n" + std::string(kTask)), "groups[0].count");
  ExpectRejected("/v1/jobs", Job("    count: 2147483648\n" + std::string(kTask)), "out of range");
}

TEST_F(HostileLimitsTest, ResourcesThatWouldOverflowAreRefused) {
  ExpectRejected("/v1/jobs",
                 Job("    count: 1\n    tasks:\n"
                     "      - {name: a, driver: exec, command: /bin/true, resources: {cpu: 4611686018427387904, memory: 8}}\n"
                     "      - {name: b, driver: exec, command: /bin/true, resources: {cpu: 4611686018427387904, memory: 8}}\n"),
                 "resources.cpu");
  ExpectRejected("/v1/jobs",
                 Job("    count: 1\n    tasks:\n"
                     "      - {name: a, driver: exec, command: /bin/true, resources: {cpu: 1, memory: 9007199254740992}}\n"),
                 "resources.memory");
}

TEST_F(HostileLimitsTest, AnAliasBombIsRefusedWithoutBeingExpanded) {
  std::string doc = "id: bomb\ngroups:\n  - &g0 {name: g, count: 1, tasks: [{name: t, driver: exec, command: /bin/true, "
                    "resources: {cpu: 1, memory: 1}, args: [\"" + std::string(900, 'x') + "\"]}]}\n";
  for (int i = 0; i < 20000; ++i) doc += "  - *g0\n";
  ExpectRejected("/v1/jobs", doc, "expands (through YAML aliases)");
}

TEST_F(HostileLimitsTest, ANodeWithAHugeLabelIsRefused) {
  std::string body = "node: {name: n, address: \"http://127.0.0.1:1\", capacity: {cpu: 1000, memory: 1024}, "
                     "attributes: {labels: {zone: \"" + std::string(50000, 'a') + "\"}}}";
  ExpectRejected("/v1/nodes/register", body, "node.attributes.labels");
}

TEST_F(HostileLimitsTest, ANodeAddressMustBePlainHttp) {
  for (const char* addr : {"file:///etc/shadow#", "gopher://127.0.0.1:70", "http://127.0.0.1", "http://u@h:1/x"}) {
    ExpectRejected("/v1/nodes/register",
                   std::string("node: {name: n, address: \"") + addr + "\", capacity: {cpu: 1000, memory: 1024}}",
                   "node.address");
  }
  // Written around the REST check: the state machine refuses it too.
  v1::Command cmd;
  auto* n = cmd.mutable_register_node()->mutable_node();
  *n = testing::SampleNode("n1");
  n->set_address("file:///etc/shadow#");
  auto r = log_->Propose(cmd, std::chrono::seconds(5));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("node.address"), std::string::npos) << r.status().message();
  EXPECT_FALSE(store_->GetNode("n1").ok());
}

TEST_F(HostileLimitsTest, ANodeIdCannotBeTakenOverByAnotherAgent) {
  auto reg = [&](const std::string& address, const std::string& secret) {
    HttpRequest req;
    req.method = "POST";
    req.target = req.path = "/v1/nodes/register";
    req.body = "{\"node\": {\"id\": \"n-own\", \"name\": \"n\", \"address\": \"" + address +
               "\", \"capacity\": {\"cpu\": 1000, \"memory\": 1024}}" +
               (secret.empty() ? std::string() : ", \"node_secret\": \"" + secret + "\"") + "}";
    return AnswerWaiting([&](const HttpRequest& r) { return router_.Handle(r); }, req);
  };
  ASSERT_EQ(reg("http://127.0.0.1:7001", "secret-a").status, 200);
  // Another agent (or anyone) claiming the id: refused, nothing changes.
  uint64_t before = store_->AppliedIndex();
  auto other = reg("http://127.0.0.1:6666", "secret-b");
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_NE(other.body.find("registered to another agent"), std::string::npos) << other.body;
  EXPECT_EQ(reg("http://127.0.0.1:6666", "").status, 403);
  EXPECT_EQ(store_->AppliedIndex(), before);
  EXPECT_EQ(store_->GetNode("n-own")->address(), "http://127.0.0.1:7001");
  // Nor can the hash be sent in place of the secret.
  HttpRequest forged;
  forged.method = "POST";
  forged.target = forged.path = "/v1/nodes/register";
  forged.body = "{\"node\": {\"id\": \"n-own\", \"name\": \"n\", \"address\": \"http://127.0.0.1:6666\", "
                "\"capacity\": {\"cpu\": 1000, \"memory\": 1024}, \"secret_hash\": \"" + SecretHash("secret-a") + "\"}}";
  EXPECT_EQ(AnswerWaiting([&](const HttpRequest& r) { return router_.Handle(r); }, forged).status,
            403);
  // The owner re-registers (agent restart) as before.
  ASSERT_EQ(reg("http://127.0.0.1:7002", "secret-a").status, 200);
  EXPECT_EQ(store_->GetNode("n-own")->address(), "http://127.0.0.1:7002");
  // The hash is the masters' own: never shown.
  HttpRequest get;
  get.method = "GET";
  get.target = get.path = "/v1/nodes/n-own";
  auto shown = AnswerWaiting([&](const HttpRequest& r) { return router_.Handle(r); }, get);
  ASSERT_EQ(shown.status, 200);
  EXPECT_EQ(shown.body.find("secret"), std::string::npos) << shown.body;
  // Written around the REST check: the state machine refuses it too.
  v1::Command cmd;
  auto* n = cmd.mutable_register_node()->mutable_node();
  *n = *store_->GetNode("n-own");
  n->set_address("http://127.0.0.1:6666");
  n->set_secret_hash(SecretHash("secret-b"));
  auto r = log_->Propose(cmd, std::chrono::seconds(5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(store_->GetNode("n-own")->address(), "http://127.0.0.1:7002");
}

TEST_F(HostileLimitsTest, ACatastrophicRegexpIsOnlyAsCostlyAsItsInput) {
  // Accepted (RE2 syntax, under the size limit): the scheduler runs it in
  // linear time (tests/unit/scheduler/controllers_test.cpp).
  HttpRequest req;
  req.method = "POST";
  req.target = req.path = "/v1/jobs";
  req.body = Job("    count: 1\n    constraints: [{attribute: \"${meta.zone}\", operator: regexp, value: \"(a+)+$\"}]\n" +
                 std::string(kTask));
  EXPECT_EQ(AnswerWaiting([&](const HttpRequest& r) { return router_.Handle(r); }, req).status,
            200);
  // Backreferences are not RE2: a clear error, not a backtracking engine.
  ExpectRejected("/v1/jobs",
                 Job("    count: 1\n    constraints: [{attribute: os, operator: regexp, value: \"(a)\\\\1\"}]\n" +
                     std::string(kTask)),
                 "not a valid regexp");
}

}  // namespace
}  // namespace orch::master
