#include "agent/lb/service_watcher.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "agent/backoff.h"
#include "api/client/client.h"

namespace orch::agent::lb {

struct ServiceWatcher::Shared {
  Shared(std::vector<std::string> masters, std::chrono::milliseconds w, std::function<bool()> r, Sink s)
      : client(std::move(masters)), wait(w), ready(std::move(r)), sink(std::move(s)) {}
  OrchClient client;
  const std::chrono::milliseconds wait;
  std::mutex mu;
  std::condition_variable cv;
  std::function<bool()> ready;  // GUARDED_BY(mu); cleared on stop
  Sink sink;                    // GUARDED_BY(mu); cleared on stop
  bool stop = false;            // GUARDED_BY(mu)
  bool done = false;            // GUARDED_BY(mu)
  std::thread thread;
};

namespace {

void Run(std::shared_ptr<ServiceWatcher::Shared> s) {
  Backoff backoff(std::chrono::milliseconds(200), std::chrono::milliseconds(5000));
  uint64_t index = 0;
  int failures = 0;
  std::unique_lock lk(s->mu);
  while (!s->stop) {
    if (s->ready && !s->ready()) {
      s->cv.wait_for(lk, std::chrono::milliseconds(50), [&] { return s->stop; });
      continue;
    }
    lk.unlock();
    auto resp = s->client.ListServices(QueryOptions{index, s->wait});
    lk.lock();
    if (s->stop) break;
    if (!resp.ok()) {
      auto delay = backoff.Next();
      if (failures++ % 10 == 0) {
        spdlog::warn("lb: watching services failed, retrying (keeping the last list): {}",
                     resp.status().ToString());
      }
      s->cv.wait_for(lk, delay, [&] { return s->stop; });
      continue;
    }
    backoff.Reset();
    failures = 0;
    uint64_t previous = index;
    // Taken as is even when lower: the masters' state was rebuilt.
    index = resp->index;
    s->sink(resp->value, resp->index);
    if (index == 0 || index <= previous) {
      // No progress (a wait that timed out): do not spin on it.
      s->cv.wait_for(lk, std::chrono::milliseconds(200), [&] { return s->stop; });
    }
  }
  s->done = true;
  s->cv.notify_all();
}

}  // namespace

ServiceWatcher::ServiceWatcher(std::vector<std::string> masters, std::chrono::milliseconds wait,
                               std::function<bool()> ready, Sink sink)
    : shared_(std::make_shared<Shared>(std::move(masters), wait, std::move(ready), std::move(sink))) {
  shared_->thread = std::thread(Run, shared_);
}

ServiceWatcher::~ServiceWatcher() { Stop(); }

void ServiceWatcher::Stop() {
  if (!shared_) return;
  std::unique_lock lk(shared_->mu);
  shared_->stop = true;
  shared_->ready = nullptr;
  shared_->sink = nullptr;
  shared_->cv.notify_all();
  bool done = shared_->cv.wait_for(lk, std::chrono::milliseconds(200), [&] { return shared_->done; });
  std::thread t = std::move(shared_->thread);
  lk.unlock();
  if (done) {
    t.join();
  } else {
    t.detach();
  }
  shared_.reset();
}

}  // namespace orch::agent::lb
