#include "master/http/events_api.h"

#include <memory>

#include "master/events/event_filter.h"

namespace orch::master {
namespace {

// Batches and bytes one call of a feed's `next` hands out at most, so a
// subscriber far behind is written to in pieces, between others.
constexpr std::size_t kBatchesPerRead = 256;
constexpr std::size_t kBytesPerRead = 1 << 20;

std::string GoneMessage(uint64_t after, const EventBuffer& buf) {
  return "events after index " + std::to_string(after) +
         " are no longer kept on this master (it keeps those after index " +
         std::to_string(buf.floor()) + "); read the state again and follow from its X-Orch-Index";
}

HttpResponse EventStream(const HttpRequest& req, const ApiDeps& d) {
  auto filter = EventFilter::Parse(req.QueryAll("topic"));
  if (!filter.ok()) return HttpResponse::Error(filter.status());
  auto opts = ParseReadOptions(req, d);
  if (!opts.ok()) return HttpResponse::Error(opts.status());
  const std::string follow_q = req.Query("follow", "true");
  if (follow_q != "true" && follow_q != "false") {
    return HttpResponse::Error(
        Status::InvalidArgument("follow: expected true or false, got \"" + follow_q + "\""));
  }
  const bool follow = follow_q == "true";
  const EventBuffer* buf = d.store->events();
  const uint64_t after = opts->index;
  if (!buf->ResumableAfter(after)) {
    return HttpResponse::Error(410, Status::FailedPrecondition(GoneMessage(after, *buf)));
  }
  // The caller's ACL, decided once: job events of the jobs it may read,
  // node events with node read.
  auto jobs = d.acl ? d.acl->JobReadFilter(req) : [](const std::string&) { return true; };
  const bool nodes = d.acl == nullptr || d.acl->CanReadNodes(req);
  auto visible = [jobs = std::move(jobs), nodes](const StateEvent& e) {
    return e.topic == "Node" ? nodes : jobs(e.job_id);
  };

  HttpResponse resp;
  resp.content_type = "application/x-ndjson";
  resp.headers.emplace_back("X-Orch-Index", std::to_string(buf->last()));
  HttpResponse::Feed feed;
  feed.waiters = d.store->index_waiters();
  feed.cursor = after;
  feed.idle = d.event_heartbeat;
  feed.heartbeat = "{}\n";
  feed.next = [buf, filter = std::move(*filter), visible = std::move(visible), follow](
                  uint64_t* cursor, std::string* out) {
    EventBuffer::Read r = buf->After(*cursor, kBatchesPerRead);
    if (r.too_old) {
      // The subscriber fell behind what the buffer keeps (or a snapshot
      // replaced the state): it must read the state again.
      *out +=
          "{\"error\":{\"code\":\"gone\",\"message\":\"" + GoneMessage(*cursor, *buf) + "\"}}\n";
      return false;
    }
    // r.last covers the indexes without events too, unless cut short here.
    bool more = r.batches.size() == kBatchesPerRead;
    for (std::size_t i = 0; i < r.batches.size(); ++i) {
      AppendEventLine(*r.batches[i], filter, visible, out);
      if (out->size() >= kBytesPerRead && i + 1 < r.batches.size()) {
        r.last = r.batches[i]->index();
        more = true;
        break;
      }
    }
    *cursor = std::max(*cursor, r.last);
    return follow || more;
  };
  resp.feed = std::move(feed);
  return resp;
}

}  // namespace

void RegisterEventRoutes(Router* r, const ApiDeps& d) {
  r->Add("GET", "/v1/event/stream",
         [d](const HttpRequest& req, const PathParams&) { return EventStream(req, d); });
}

}  // namespace orch::master
