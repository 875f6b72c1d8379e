#include "master/events/event_filter.h"

#include <algorithm>

#include "common/log_json.h"

namespace orch::master {

const std::vector<std::string>& EventTopics() {
  static const std::vector<std::string> topics = {"Job", "Allocation", "Node", "Evaluation",
                                                  "Deployment"};
  return topics;
}

Result<EventFilter> EventFilter::Parse(const std::vector<std::string>& topics) {
  EventFilter f;
  for (const auto& t : topics) {
    auto colon = t.find(':');
    std::string topic = t.substr(0, colon);
    std::string key = colon == std::string::npos ? "*" : t.substr(colon + 1);
    if (topic != "*" &&
        std::find(EventTopics().begin(), EventTopics().end(), topic) == EventTopics().end()) {
      return Status::InvalidArgument(
          "unknown event topic \"" + topic +
          "\": one of Job, Allocation, Node, Evaluation, Deployment or *");
    }
    if (key.empty())
      return Status::InvalidArgument("topic \"" + t + "\" names an empty key (TOPIC:KEY)");
    f.want_[topic].insert(key);
  }
  return f;
}

bool EventFilter::Matches(const StateEvent& e) const {
  if (want_.empty()) return true;
  auto wants = [&](const std::string& topic) {
    auto it = want_.find(topic);
    return it != want_.end() && (it->second.count("*") || it->second.count(e.key));
  };
  return wants(e.topic) || wants("*");
}

bool AppendEventLine(const EventBatch& batch, const EventFilter& filter,
                     const std::function<bool(const StateEvent&)>& visible, std::string* out) {
  const auto& events = batch.events();
  bool any = false;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const StateEvent& e = events[i];
    if (!filter.Matches(e) || !visible(e)) continue;
    *out += any ? "," : "{\"index\":" + std::to_string(batch.index()) + ",\"events\":[";
    any = true;
    *out += "{\"topic\":" + JsonQuote(e.topic) + ",\"type\":" + JsonQuote(e.type) +
            ",\"key\":" + JsonQuote(e.key) + ",\"payload\":" + batch.PayloadJson()[i] + "}";
  }
  if (any) *out += "]}\n";
  return any;
}

}  // namespace orch::master
