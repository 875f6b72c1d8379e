// Which events a subscriber asked for (?topic=T or T:key, repeated; "*"
// for every topic or key) and the NDJSON line of a batch as the event
// stream writes it:
//   {"index":N,"events":[{"topic":"Job","type":"JobRegistered","key":"web","payload":{...}}]}
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "master/events/event_buffer.h"

namespace orch::master {

// The topics events come in.
const std::vector<std::string>& EventTopics();

class EventFilter {
 public:
  // From the ?topic values; none means every topic. InvalidArgument for an
  // unknown topic or an empty key.
  static Result<EventFilter> Parse(const std::vector<std::string>& topics);
  bool Matches(const StateEvent& e) const;

 private:
  // topic -> keys ("*" for all); a "*" topic matches every topic.
  std::map<std::string, std::set<std::string>> want_;
};

// Appends the line of `batch`'s events that `filter` and `visible` (the
// caller's ACL) let through to `out`, newline-terminated; nothing when
// none do. Returns whether it appended.
bool AppendEventLine(const EventBatch& batch, const EventFilter& filter,
                     const std::function<bool(const StateEvent&)>& visible, std::string* out);

}  // namespace orch::master
