#include "agent/reprobe.h"

namespace orch::agent {

Reprobe::Reprobe(std::chrono::milliseconds interval, Clock* clock, std::function<bool()> attempt)
    : interval_(interval), clock_(clock), attempt_(std::move(attempt)),
      next_(clock->Steady() + interval) {}

bool Reprobe::Poll() {
  if (done_ || interval_.count() <= 0) return false;
  auto now = clock_->Steady();
  if (now < next_) return false;
  ++attempts_;
  if (attempt_()) {
    done_ = true;
    return true;
  }
  next_ = now + interval_;
  return false;
}

}  // namespace orch::agent
