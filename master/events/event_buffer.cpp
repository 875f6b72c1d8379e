#include "master/events/event_buffer.h"

#include <algorithm>
#include <type_traits>

#include "master/model/secrets.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

namespace {

// An event's object as JSON, from its serialized bytes.
template <typename T>
std::string Render(const std::string& bytes) {
  T m;
  if (!m.ParseFromString(bytes)) return "null";
  if constexpr (std::is_same_v<T, v1::Node>) m.clear_secret_hash();  // the agent's, never shown
  return RedactedJson(m);
}

std::string RenderPayload(const StateEvent& e) {
  if (e.payload.empty()) return "null";
  if (e.topic == "Job") return Render<v1::Job>(e.payload);
  if (e.topic == "Allocation") return Render<v1::Allocation>(e.payload);
  if (e.topic == "Node") return Render<v1::Node>(e.payload);
  if (e.topic == "Evaluation") return Render<v1::Evaluation>(e.payload);
  if (e.topic == "Deployment") return Render<v1::Deployment>(e.payload);
  return "null";
}

}  // namespace

const std::vector<std::string>& EventBatch::PayloadJson() const {
  std::call_once(rendered_once_, [this] {
    rendered_.reserve(events_.size());
    for (const auto& e : events_) rendered_.push_back(RenderPayload(e));
  });
  return rendered_;
}

EventBatch::EventBatch(uint64_t index, std::vector<StateEvent> events)
    : index_(index), events_(std::move(events)), bytes_(sizeof(*this)) {
  for (const auto& e : events_) {
    bytes_ += sizeof(e) + e.topic.size() + e.type.size() + e.key.size() + e.job_id.size() +
              e.payload.size();
  }
}

void EventBuffer::Publish(uint64_t index, std::vector<StateEvent> events) {
  std::lock_guard lock(mu_);
  if (index <= last_) return;
  last_ = index;
  if (events.empty()) return;
  auto batch = std::make_shared<const EventBatch>(index, std::move(events));
  bytes_ += batch->bytes();
  batches_.push_back(std::move(batch));
  EvictLocked();
}

void EventBuffer::EvictLocked() {
  while (!batches_.empty() &&
         (batches_.size() > limits_.max_indexes || bytes_ > limits_.max_bytes)) {
    floor_ = batches_.front()->index();
    bytes_ -= batches_.front()->bytes();
    batches_.pop_front();
  }
}

void EventBuffer::Reset(uint64_t index) {
  std::lock_guard lock(mu_);
  batches_.clear();
  bytes_ = 0;
  floor_ = std::max(floor_, index);
  last_ = std::max(last_, index);
}

EventBuffer::Read EventBuffer::After(uint64_t after, std::size_t max) const {
  max = std::max<std::size_t>(max, 1);
  std::lock_guard lock(mu_);
  Read r;
  if (after != 0 && after < floor_) {
    r.too_old = true;
    r.last = after;
    return r;
  }
  auto it = std::upper_bound(batches_.begin(), batches_.end(), after,
                             [](uint64_t i, const auto& b) { return i < b->index(); });
  for (; it != batches_.end() && r.batches.size() < max; ++it) r.batches.push_back(*it);
  // Truncated: the cursor stops at the last batch handed out.
  r.last = it != batches_.end() ? r.batches.back()->index() : std::max(after, last_);
  return r;
}

bool EventBuffer::ResumableAfter(uint64_t after) const {
  std::lock_guard lock(mu_);
  return after == 0 || after >= floor_;
}

uint64_t EventBuffer::last() const {
  std::lock_guard lock(mu_);
  return last_;
}

uint64_t EventBuffer::floor() const {
  std::lock_guard lock(mu_);
  return floor_;
}

}  // namespace orch::master
