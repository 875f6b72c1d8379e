// The masters' REST surface in-process, no sockets: input bytes become a
// request (method line, then the target, then the body) handed to the
// Router with every master route registered, over a real StateStore
// (SQLite in memory-backed /dev/shm) and a log that applies each proposal
// at once in order (the single-master case, without Raft's fsyncs).
// Every answer must be a well-formed status; nothing may crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/router.h"
#include "master/http/api.h"
#include "master/http/deployments_api.h"
#include "master/http/lifecycle_api.h"
#include "master/http/scheduler_api.h"
#include "master/http/services_api.h"
#include "master/replication/replicated_log.h"
#include "master/state/state_store.h"

namespace {

using namespace orch;
using namespace orch::master;

// Applies each command at the next index right away.
class ApplyingLog : public replication::ReplicatedLog {
 public:
  explicit ApplyingLog(StateStore* s) : store_(s) {}
  Result<uint64_t> Propose(const v1::Command& cmd, std::chrono::milliseconds) override {
    std::string data = cmd.SerializeAsString();
    if (v1::Command check; !check.ParseFromString(data)) return Status::InvalidArgument("not storable");
    uint64_t index = store_->AppliedIndex() + 1;
    Status outcome;
    ORCH_RETURN_IF_ERROR(store_->Apply(index, cmd, &outcome));
    if (!outcome.ok()) return outcome;
    return index;
  }
  Status ReadBarrier(std::chrono::milliseconds) override { return Status::Ok(); }
  bool IsLeader() const override { return true; }
  std::string LeaderId() const override { return "m1"; }
  void Close() override {}

 private:
  StateStore* store_;
};

struct World {
  std::string dir;
  std::unique_ptr<StateStore> store;
  std::unique_ptr<ApplyingLog> log;
  Router router;
};

World* TheWorld() {
  static World* w = [] {
    auto* w = new World();
    w->dir = (std::filesystem::exists("/dev/shm") ? std::string("/dev/shm") : std::filesystem::temp_directory_path().string()) +
             "/orch-http-fuzz-" + std::to_string(getpid());
    std::filesystem::remove_all(w->dir);
    std::filesystem::create_directories(w->dir);
    w->store = std::move(*StateStore::Open(w->dir + "/state.db"));
    w->log = std::make_unique<ApplyingLog>(w->store.get());
    ApiDeps d;
    d.store = w->store.get();
    d.log = w->log.get();
    d.clock = SystemClock::Get();
    d.max_wait = std::chrono::milliseconds(0);  // blocking queries answer at once
    RegisterApiRoutes(&w->router, d);
    RegisterSchedulerRoutes(&w->router, d);
    RegisterDeploymentRoutes(&w->router, d);
    RegisterLifecycleRoutes(&w->router, d);
    RegisterServiceRoutes(&w->router, d);
    std::atexit([] { std::filesystem::remove_all(TheWorld()->dir); });
    return w;
  }();
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World* w = TheWorld();
  std::string in(reinterpret_cast<const char*>(data), size);
  // "METHOD TARGET\nBODY"
  HttpRequest req;
  auto sp = in.find(' ');
  auto nl = in.find('\n');
  if (sp == std::string::npos || nl == std::string::npos || sp > nl) return 0;
  req.method = in.substr(0, sp);
  req.target = in.substr(sp + 1, nl - sp - 1);
  req.body = in.substr(nl + 1);
  req.remote = "127.0.0.1:1";
  if (!ParseTarget(req.target, &req.path, &req.query).ok()) return 0;
  HttpResponse resp = w->router.Handle(req);
  // A write answers later; this log applies at once, so the answer is made
  // before `later` returns. (A deferral is not waited out: it could wait
  // for minutes.)
  if (auto later = std::move(resp.later)) {
    later([&resp](HttpResponse::MakeAnswer make) { resp = make(); });
  }
  if (resp.status < 100 || resp.status > 599) __builtin_trap();
  // A 5xx other than "unavailable" is a bug the fuzzer should report.
  if (resp.status == 500) __builtin_trap();
  return 0;
}
