#include "tests/sim/driver_network.h"

#include <algorithm>

namespace orch::sim {
namespace {

std::string Describe(const v1::Message& m) {
  return v1::Message::Type_Name(m.type()) + " " + std::to_string(m.from() % 1000) + "->" +
         std::to_string(m.to() % 1000) + " term " + std::to_string(m.term()) + " index " +
         std::to_string(m.index()) + " logterm " + std::to_string(m.log_term()) + " commit " +
         std::to_string(m.commit()) + " entries " + std::to_string(m.entries_size()) +
         (m.reject() ? " reject hint " + std::to_string(m.reject_hint()) : "");
}

}  // namespace

DriverNetworkStats& DriverNetworkStats::operator+=(const DriverNetworkStats& o) {
  sent += o.sent;
  delivered += o.delivered;
  dropped += o.dropped;
  queue_full += o.queue_full;
  snapshots_delivered += o.snapshots_delivered;
  snapshots_failed += o.snapshots_failed;
  peer_down_reports += o.peer_down_reports;
  return *this;
}

class DriverNetwork::SimTransport : public replication::Transport {
 public:
  SimTransport(DriverNetwork* net, uint64_t id) : net_(net), id_(id) {}
  void SetPeer(uint64_t, const std::string&) override {}
  void RemovePeer(uint64_t) override {}
  void Send(std::vector<v1::Message> msgs) override { net_->Send(id_, std::move(msgs)); }
  void Stop() override {}

 private:
  DriverNetwork* net_;
  uint64_t id_;
};

std::unique_ptr<replication::Transport> DriverNetwork::Attach(
    uint64_t id, replication::Transport::Callbacks cb) {
  up_[id] = std::move(cb);
  return std::make_unique<SimTransport>(this, id);
}

void DriverNetwork::Detach(uint64_t id, bool report_down) {
  up_.erase(id);
  if (!report_down) return;
  for (const auto& [other, cb] : up_) {
    if (!Blocked(id, other) && !Blocked(other, id)) {
      peer_down_.emplace_back(now_ + opts_.min_delay_ms + 5, other, id);
    }
  }
}

void DriverNetwork::Drop(uint64_t from, const v1::Message& m) {
  ++stats_.dropped;
  if (trace_) trace_("drop " + Describe(m));
  auto it = up_.find(from);
  if (it == up_.end()) return;
  if (m.type() == v1::Message::MSG_SNAP) {
    ++stats_.snapshots_failed;
    it->second.on_snapshot_status(m.to(), false);
  }
  it->second.on_unreachable(m.to());
}

void DriverNetwork::Send(uint64_t from, std::vector<v1::Message> msgs) {
  for (auto& m : msgs) {
    ++stats_.sent;
    const std::pair<uint64_t, uint64_t> pair{from, m.to()};
    if (!up_.count(m.to()) || Blocked(from, m.to()) || Chance(opts_.loss)) {
      Drop(from, m);
      continue;
    }
    if (queued_[pair] >= opts_.max_queue) {
      ++stats_.queue_full;
      Drop(from, m);
      continue;
    }
    const uint64_t delay =
        opts_.min_delay_ms + (*rng_)() % (opts_.max_delay_ms - opts_.min_delay_ms + 1);
    uint64_t& last = last_at_[pair];
    last = std::max(last, now_ + delay);
    ++queued_[pair];
    in_flight_.emplace(std::make_pair(last, ++seq_), std::make_pair(from, std::move(m)));
  }
}

void DriverNetwork::Deliver(uint64_t now) {
  now_ = now;
  while (!in_flight_.empty() && in_flight_.begin()->first.first <= now) {
    auto node = in_flight_.extract(in_flight_.begin());
    const uint64_t from = node.mapped().first;
    v1::Message& m = node.mapped().second;
    const uint64_t to = m.to();
    --queued_[{from, to}];
    auto dest = up_.find(to);
    if (dest == up_.end() || Blocked(from, to)) {
      Drop(from, m);
      continue;
    }
    ++stats_.delivered;
    if (trace_) trace_("deliver " + Describe(m));
    const bool snap = m.type() == v1::Message::MSG_SNAP;
    dest->second.on_message(std::move(m));
    if (snap) {
      ++stats_.snapshots_delivered;
      if (auto src = up_.find(from); src != up_.end()) src->second.on_snapshot_status(to, true);
    }
  }
  std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> later;
  for (const auto& [at, to, down] : peer_down_) {
    if (at > now) {
      later.emplace_back(at, to, down);
      continue;
    }
    auto it = up_.find(to);
    // A machine that came back in the meantime is not down any more.
    if (it != up_.end() && !up_.count(down) && it->second.on_peer_down) {
      ++stats_.peer_down_reports;
      it->second.on_peer_down(down);
    }
  }
  peer_down_.swap(later);
}

}  // namespace orch::sim
