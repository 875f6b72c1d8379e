// EventBuffer: the state's recent changes, kept in memory on every master
// for the event stream (GET /v1/event/stream). The state store records one
// StateEvent per object it writes or deletes while a command applies and
// publishes them once the transaction commits, grouped by the state index
// they applied at; subscribers read what follows an index they saw. The
// buffer keeps at most `max_indexes` indexes and about `max_bytes` of
// payloads, dropping the oldest; what was dropped, or lost to a snapshot
// install or a restart, is not resumable (ResumableAfter).
// Thread safety: thread-safe. Batches handed out are immutable.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace orch::master {

// One change: `topic` Job, Allocation, Node, Evaluation or Deployment;
// `type` what happened (JobRegistered, AllocationUpdated, NodeDown, ...);
// `key` the object's id; `job_id` the job it belongs to ("" for nodes);
// `payload` the object as written, serialized (the bytes the store wrote:
// recording an event copies nothing), "" for a deletion.
struct StateEvent {
  std::string topic;
  std::string type;
  std::string key;
  std::string job_id;
  std::string payload;
};

// The events of one index, and their payloads as (redacted) JSON, made
// once on first read.
class EventBatch {
 public:
  EventBatch(uint64_t index, std::vector<StateEvent> events);
  uint64_t index() const { return index_; }
  const std::vector<StateEvent>& events() const { return events_; }
  // events()[i].payload as JSON, secrets redacted ("null" for none).
  const std::vector<std::string>& PayloadJson() const;
  // About what it holds in memory (its payloads' encoded size and more).
  std::size_t bytes() const { return bytes_; }

 private:
  uint64_t index_;
  std::vector<StateEvent> events_;
  std::size_t bytes_ = 0;
  mutable std::once_flag rendered_once_;
  mutable std::vector<std::string> rendered_;
};

struct EventBufferLimits {
  std::size_t max_indexes = 4096;
  std::size_t max_bytes = 64u << 20;
};

class EventBuffer {
 public:
  using Limits = EventBufferLimits;
  EventBuffer() = default;
  explicit EventBuffer(Limits limits) : limits_(limits) {}

  // The state is at `index` (committed); `events` applied at it (may be
  // empty: the index only moves). Indexes only grow; a lower one is
  // ignored.
  void Publish(uint64_t index, std::vector<StateEvent> events);
  // Events up to `index` are unknown from now on (a snapshot installed, an
  // operator restore, the process started): drops every batch.
  void Reset(uint64_t index);

  struct Read {
    std::vector<std::shared_ptr<const EventBatch>> batches;  // index order
    uint64_t last = 0;     // the index the read covers: the last batch's, or the newest
    bool too_old = false;  // events after `after` were dropped: nothing read
  };
  // Batches with an index above `after`, at most `max`. `after` 0: from the
  // oldest kept.
  Read After(uint64_t after, std::size_t max) const;
  // Whether every event after `after` is still kept (or yet to come).
  bool ResumableAfter(uint64_t after) const;
  // The newest index published; the index below which events are unknown.
  uint64_t last() const;
  uint64_t floor() const;

 private:
  void EvictLocked();
  const Limits limits_{};
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<const EventBatch>> batches_;
  std::size_t bytes_ = 0;
  uint64_t floor_ = 0;  // events at or below it may be missing
  uint64_t last_ = 0;
};

}  // namespace orch::master
