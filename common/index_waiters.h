// IndexWaiters: callbacks parked until an index (the state's applied Raft
// index) passes a value, or until a deadline -- blocking queries that wait
// without holding a thread. A waiter may instead wait on a key (one
// resource, e.g. a node's allocations): only an advance of that key wakes
// it, so thousands of watchers of their own resources are not all woken by
// every change of the state. One timer thread serves every deadline; index
// advances fire from the thread that reports them.
// Thread safety: thread-safe. A callback runs without the lock held, once,
// and must be quick (post work elsewhere).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace orch {

class IndexWaiters {
 public:
  using Fire = std::function<void()>;
  IndexWaiters();
  ~IndexWaiters();
  IndexWaiters(const IndexWaiters&) = delete;
  IndexWaiters& operator=(const IndexWaiters&) = delete;

  // Calls `fire` once the index passes `above` -- or, with a `key`, once
  // that key's own index passes it (AdvanceKeys) -- at once from this
  // thread if it already has; else at `deadline` or at Close, whichever is
  // first.
  void Wait(uint64_t above, std::chrono::steady_clock::time_point deadline, Fire fire,
            const std::string& key = "");
  // The index `key` last advanced to, at least the floor RaiseKeys set.
  uint64_t KeyIndex(const std::string& key) const;
  // The index is now `index`: fires every unkeyed waiter waiting for less.
  void Advance(uint64_t index);
  // Each key's resource changed at its index: fires that key's waiters
  // waiting for less. Keys are remembered (one index each) for keyed
  // Waits and KeyIndex.
  void AdvanceKeys(const std::vector<std::pair<std::string, uint64_t>>& changes);
  // Every key is now at least at `index` (the state was replaced, e.g. by a
  // snapshot): fires every keyed waiter waiting for less, forgets the keys.
  void RaiseKeys(uint64_t index);
  // From now on, `key`'s waiters are woken `quiet` after its last advance,
  // and no later than `at_most` after the first advance they were not yet
  // woken for: a burst of changes (a service's allocations placed, then
  // started, one by one) answers every watcher of the key once, not once
  // per change -- 5,000 balancers watch the services. The key's index still
  // moves at once: KeyIndex says it, and a Wait for less fires at once.
  void Debounce(const std::string& key, std::chrono::milliseconds quiet,
                std::chrono::milliseconds at_most);
  // Fires every waiter now; later Waits fire at once.
  void Close();
  std::size_t waiting() const;
  bool closed() const;

 private:
  struct Waiter {
    uint64_t above;
    std::chrono::steady_clock::time_point deadline;
    Fire fire;
    std::string key;  // "" for a wait on the index
  };
  // Registers a waiter (mu_ held); false when it must fire at once.
  bool Park(uint64_t above, std::chrono::steady_clock::time_point deadline, Fire* fire,
            const std::string& key);
  void TimerLoop();
  // Takes `key`'s waiters waiting for less than its index (mu_ held).
  void TakeKeyLocked(const std::string& key, uint64_t index, std::vector<Fire>* due);
  // Fires the debounced keys whose time has come (mu_ held); the earliest
  // time still pending, or max.
  std::chrono::steady_clock::time_point FireDebouncedLocked(
      std::chrono::steady_clock::time_point now, std::vector<Fire>* due);
  // Removes waiter `id` from the maps (mu_ held); its Fire.
  Fire Take(uint64_t id);
  uint64_t KeyIndexLocked(const std::string& key) const;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<uint64_t, Waiter> waiters_;
  // (above, id), (deadline, id), (key, id): ordered sets, so that taking
  // one waiter out is a lookup, not a walk over every waiter sharing its
  // index, deadline or key (5,000 balancers wait on one services key).
  std::set<std::pair<uint64_t, uint64_t>> by_index_;
  std::set<std::pair<std::chrono::steady_clock::time_point, uint64_t>> by_deadline_;
  std::set<std::pair<std::string, uint64_t>> by_key_;
  std::unordered_map<std::string, uint64_t> key_index_;    // key -> its last advance
  uint64_t key_floor_ = 0;                                 // every key is at least here (RaiseKeys)
  struct Debounced {
    std::chrono::milliseconds quiet{0}, at_most{0};
    bool pending = false;  // advanced since its waiters were last woken
    std::chrono::steady_clock::time_point first, due;
  };
  std::map<std::string, Debounced> debounced_;
  uint64_t next_id_ = 0;
  uint64_t index_ = 0;
  bool closed_ = false;
  std::thread timer_;
};

struct HttpRequest;
struct HttpResponse;

// Answers `req` with `handler` on this thread, waiting out a deferral (a
// blocking query) or a later answer (a write until it applies) instead of
// parking it: for callers without an HTTP server (tests, in-process tools).
// The server holds no thread for either.
HttpResponse AnswerWaiting(const std::function<HttpResponse(const HttpRequest&)>& handler, HttpRequest req);

}  // namespace orch
