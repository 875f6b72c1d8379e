#include "common/index_waiters.h"

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
  for (auto [b, e] = by_index_.equal_range(w.above); b != e; ++b) {
    if (b->second == id) {
      by_index_.erase(b);
      break;
    }
  }
  for (auto [b, e] = by_deadline_.equal_range(w.deadline); b != e; ++b) {
    if (b->second == id) {
      by_deadline_.erase(b);
      break;
    }
  }
  return std::move(w.fire);
}

void IndexWaiters::Wait(uint64_t above, std::chrono::steady_clock::time_point deadline, Fire fire) {
  {
    std::lock_guard lock(mu_);
    if (!closed_ && index_ <= above && deadline > std::chrono::steady_clock::now()) {
      uint64_t id = next_id_++;
      bool earliest = by_deadline_.empty() || deadline < by_deadline_.begin()->first;
      waiters_.emplace(id, Waiter{above, deadline, std::move(fire)});
      by_index_.emplace(above, id);
      by_deadline_.emplace(deadline, id);
      if (earliest) cv_.notify_one();
      return;
    }
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

void IndexWaiters::Close() {
  std::vector<Fire> due;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    for (auto& [id, w] : waiters_) due.push_back(std::move(w.fire));
    waiters_.clear();
    by_index_.clear();
    by_deadline_.clear();
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
    if (by_deadline_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto next = by_deadline_.begin()->first;
    if (std::chrono::steady_clock::now() < next) {
      cv_.wait_until(lock, next);
      continue;
    }
    std::vector<Fire> due;
    auto now = std::chrono::steady_clock::now();
    while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
      if (Fire f = Take(by_deadline_.begin()->second)) due.push_back(std::move(f));
    }
    lock.unlock();
    for (auto& f : due) f();
    lock.lock();
  }
}

HttpResponse AnswerWaiting(const std::function<HttpResponse(const HttpRequest&)>& handler, HttpRequest req) {
  for (;;) {
    HttpResponse resp = handler(req);
    if (!resp.defer || resp.defer->waiters == nullptr) return resp;
    auto woken = std::make_shared<std::promise<void>>();
    auto done = woken->get_future();
    resp.defer->waiters->Wait(resp.defer->index, resp.defer->deadline, [woken] { woken->set_value(); });
    done.wait();
    req.resumed = true;
    req.resume_deadline = resp.defer->deadline;
    req.resume_state = resp.defer->state;
  }
}

}  // namespace orch
