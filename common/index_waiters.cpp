#include "common/index_waiters.h"

#include <algorithm>
#include <future>
#include <memory>
#include <vector>

#include "common/http_types.h"

namespace orch {

IndexWaiters::IndexWaiters() : timer_([this] { TimerLoop(); }) {}

IndexWaiters::~IndexWaiters() {
  Close();
  if (timer_.joinable()) timer_.join();
}

IndexWaiters::Fire IndexWaiters::Take(uint64_t id) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return nullptr;
  Waiter w = std::move(it->second);
  waiters_.erase(it);
  if (w.key.empty()) {
    by_index_.erase({w.above, id});
  } else {
    by_key_.erase({w.key, id});
  }
  by_deadline_.erase({w.deadline, id});
  return std::move(w.fire);
}

uint64_t IndexWaiters::KeyIndexLocked(const std::string& key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? key_floor_ : std::max(key_floor_, it->second);
}

uint64_t IndexWaiters::KeyIndex(const std::string& key) const {
  std::lock_guard lock(mu_);
  return KeyIndexLocked(key);
}

bool IndexWaiters::Park(uint64_t above, std::chrono::steady_clock::time_point deadline, Fire* fire,
                        const std::string& key) {
  if (closed_ || deadline <= std::chrono::steady_clock::now()) return false;
  if ((key.empty() ? index_ : KeyIndexLocked(key)) > above) return false;
  uint64_t id = next_id_++;
  bool earliest = by_deadline_.empty() || deadline < by_deadline_.begin()->first;
  waiters_.emplace(id, Waiter{above, deadline, std::move(*fire), key});
  if (key.empty()) {
    by_index_.emplace(above, id);
  } else {
    by_key_.emplace(key, id);
  }
  by_deadline_.emplace(deadline, id);
  if (earliest) cv_.notify_one();
  return true;
}

void IndexWaiters::Wait(uint64_t above, std::chrono::steady_clock::time_point deadline, Fire fire,
                        const std::string& key) {
  {
    std::lock_guard lock(mu_);
    if (Park(above, deadline, &fire, key)) return;
  }
  fire();
}

void IndexWaiters::Advance(uint64_t index) {
  std::vector<Fire> due;
  {
    std::lock_guard lock(mu_);
    if (index <= index_) return;
    index_ = index;
    while (!by_index_.empty() && by_index_.begin()->first < index) {
      if (Fire f = Take(by_index_.begin()->second)) due.push_back(std::move(f));
    }
  }
  for (auto& f : due) f();
}

void IndexWaiters::TakeKeyLocked(const std::string& key, uint64_t index, std::vector<Fire>* due) {
  std::vector<uint64_t> ids;
  for (auto it = by_key_.lower_bound({key, 0}); it != by_key_.end() && it->first == key; ++it) {
    if (waiters_.at(it->second).above < index) ids.push_back(it->second);
  }
  for (uint64_t id : ids) {
    if (Fire f = Take(id)) due->push_back(std::move(f));
  }
}

void IndexWaiters::AdvanceKeys(const std::vector<std::pair<std::string, uint64_t>>& changes) {
  std::vector<Fire> due;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, index] : changes) {
      uint64_t& last = key_index_[key];
      if (index <= last) continue;
      last = index;
      if (auto d = debounced_.find(key); d != debounced_.end()) {
        Debounced& b = d->second;
        const auto now = std::chrono::steady_clock::now();
        if (!b.pending) b.first = now;
        b.pending = true;
        b.due = std::min(now + b.quiet, b.first + b.at_most);
        cv_.notify_one();
        continue;
      }
      TakeKeyLocked(key, index, &due);
    }
  }
  for (auto& f : due) f();
}

void IndexWaiters::Debounce(const std::string& key, std::chrono::milliseconds quiet,
                            std::chrono::milliseconds at_most) {
  std::lock_guard lock(mu_);
  Debounced& b = debounced_[key];  // a run already pending keeps its times
  b.quiet = quiet;
  b.at_most = at_most;
}

std::chrono::steady_clock::time_point IndexWaiters::FireDebouncedLocked(
    std::chrono::steady_clock::time_point now, std::vector<Fire>* due) {
  auto next = std::chrono::steady_clock::time_point::max();
  for (auto& [key, b] : debounced_) {
    if (!b.pending) continue;
    if (b.due <= now) {
      b.pending = false;
      TakeKeyLocked(key, KeyIndexLocked(key), due);
    } else {
      next = std::min(next, b.due);
    }
  }
  return next;
}

void IndexWaiters::RaiseKeys(uint64_t index) {
  std::vector<Fire> due;
  {
    std::lock_guard lock(mu_);
    if (index <= key_floor_) return;
    key_floor_ = index;
    std::erase_if(key_index_, [index](const auto& kv) { return kv.second <= index; });
    std::vector<uint64_t> ids;
    for (const auto& [key, id] : by_key_) {
      if (waiters_.at(id).above < index) ids.push_back(id);
    }
    for (uint64_t id : ids) {
      if (Fire f = Take(id)) due.push_back(std::move(f));
    }
  }
  for (auto& f : due) f();
}

void IndexWaiters::Close() {
  std::vector<Fire> due;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    for (auto& [id, w] : waiters_) due.push_back(std::move(w.fire));
    waiters_.clear();
    by_index_.clear();
    by_deadline_.clear();
    by_key_.clear();
  }
  cv_.notify_all();
  for (auto& f : due) f();
}

std::size_t IndexWaiters::waiting() const {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

bool IndexWaiters::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

void IndexWaiters::TimerLoop() {
  std::unique_lock lock(mu_);
  while (!closed_) {
    std::vector<Fire> due;
    auto now = std::chrono::steady_clock::now();
    auto next = FireDebouncedLocked(now, &due);
    while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
      if (Fire f = Take(by_deadline_.begin()->second)) due.push_back(std::move(f));
    }
    if (!by_deadline_.empty()) next = std::min(next, by_deadline_.begin()->first);
    if (due.empty()) {
      if (next == std::chrono::steady_clock::time_point::max()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, next);
      }
      continue;
    }
    lock.unlock();
    for (auto& f : due) f();
    lock.lock();
  }
}

HttpResponse AnswerWaiting(const std::function<HttpResponse(const HttpRequest&)>& handler, HttpRequest req) {
  for (;;) {
    HttpResponse resp = handler(req);
    if (resp.later) {
      auto answer = std::make_shared<std::promise<HttpResponse>>();
      auto made = answer->get_future();
      resp.later([answer](HttpResponse::MakeAnswer make) { answer->set_value(make()); });
      return made.get();
    }
    if (!resp.defer || resp.defer->waiters == nullptr) return resp;
    auto woken = std::make_shared<std::promise<void>>();
    auto done = woken->get_future();
    auto fire = [woken] { woken->set_value(); };
    resp.defer->waiters->Wait(resp.defer->index, resp.defer->deadline, fire, resp.defer->key);
    done.wait();
    req.resumed = true;
    req.resume_deadline = resp.defer->deadline;
    req.resume_state = resp.defer->state;
  }
}

}  // namespace orch
