// BlockingWatch: the loop behind every watch the agent keeps on the masters
// (its allocations, the service registry). It runs a blocking query
// (?index=N&wait=...) on its own thread, hands each answer on, and retries
// errors with backoff, warning now and then.
//
// Queries past the first are stale reads (?stale=true), as Nomad's clients
// watch their allocations: the master the agent talks to answers from its
// own copy once that passes the index, without asking the leader to confirm
// a read. During a placement burst the leader's applies run seconds behind
// its commits, and a consistent read there waits for them (and timed out).
// A stale answer is doubted, and the next query made consistent, when it is
// older than the last one taken (another master, behind: it is not
// delivered) or its master knows no leader (a cut-off master would answer
// from a copy that no longer moves). A consistent answer is taken as is,
// even when lower: the masters' state was rebuilt.
//
// A blocking request cannot be interrupted, so the loop's state is shared
// with its thread: Stop() returns at once (waiting briefly for an idle
// thread) and lets a thread still inside a request finish on its own; an
// answer that arrives after Stop is dropped, never delivered.
// Thread safety: Stop from any thread; `query` and deliveries run on the
// watch thread.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/backoff.h"
#include "common/status.h"

namespace orch::agent {

class BlockingWatch {
 public:
  // One answer: the index it is at, and what to do with it (run only while
  // the watch is wanted).
  struct Answer {
    uint64_t index = 0;
    std::function<void()> deliver;
    bool known_leader = true;  // the master knew a leader (X-Orch-Known-Leader)
  };
  // Runs one blocking query from `index`, stale or consistent.
  using Query = std::function<Result<Answer>(uint64_t index, bool stale)>;

  // `what` names the watch in warnings; `ready` says whether to query yet
  // (polled; null: always).
  BlockingWatch(std::string what, std::function<bool()> ready, Query query)
      : s_(std::make_shared<Shared>()) {
    s_->what = std::move(what);
    s_->ready = std::move(ready);
    s_->query = std::move(query);
    s_->thread = std::thread(Run, s_);
  }
  ~BlockingWatch() { Stop(); }
  BlockingWatch(const BlockingWatch&) = delete;
  BlockingWatch& operator=(const BlockingWatch&) = delete;

  void Stop() {
    if (!s_) return;
    std::unique_lock lk(s_->mu);
    s_->stop = true;
    s_->cv.notify_all();
    bool done = s_->cv.wait_for(lk, std::chrono::milliseconds(200), [&] { return s_->done; });
    std::thread t = std::move(s_->thread);
    lk.unlock();
    if (done) {
      t.join();
    } else {
      t.detach();  // inside a request; it ends by itself and delivers nothing
    }
    s_.reset();
  }

 private:
  struct Shared {
    std::string what;
    std::function<bool()> ready;
    Query query;
    std::mutex mu;
    std::condition_variable cv;
    bool stop = false;  // GUARDED_BY(mu)
    bool done = false;  // GUARDED_BY(mu)
    std::thread thread;
  };

  static void Run(std::shared_ptr<Shared> s) {
    Backoff backoff(std::chrono::milliseconds(200), std::chrono::milliseconds(5000));
    uint64_t index = 0;
    int failures = 0;
    bool confirm = true;  // the next query is consistent
    std::unique_lock lk(s->mu);
    while (!s->stop) {
      if (s->ready && !s->ready()) {
        s->cv.wait_for(lk, std::chrono::milliseconds(50), [&] { return s->stop; });
        continue;
      }
      const bool stale = index > 0 && !confirm;
      lk.unlock();
      auto answer = s->query(index, stale);
      lk.lock();
      if (s->stop) break;
      if (!answer.ok()) {
        auto delay = backoff.Next();
        // Say so at first, then only now and then, not every retry.
        if (failures++ % 10 == 0) {
          spdlog::warn("{}: watch failed, retrying: {}", s->what, answer.status().ToString());
        }
        s->cv.wait_for(lk, delay, [&] { return s->stop; });
        continue;
      }
      backoff.Reset();
      failures = 0;
      if (stale && answer->index < index) {
        confirm = true;  // a master behind the one that answered last
        continue;
      }
      confirm = stale && !answer->known_leader;
      uint64_t previous = index;
      // A consistent answer is taken as is even when lower: the masters'
      // state was rebuilt.
      index = answer->index;
      if (answer->deliver) answer->deliver();
      if (index == 0 || index <= previous) {
        // No progress (a wait that timed out, or a master that does not
        // block on this index): do not spin on it.
        s->cv.wait_for(lk, std::chrono::milliseconds(200), [&] { return s->stop; });
      }
    }
    s->done = true;
    s->cv.notify_all();
  }

  std::shared_ptr<Shared> s_;
};

}  // namespace orch::agent
