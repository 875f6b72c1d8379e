#include "local_network.h"

namespace orch::master::testing {

class LocalNetwork::Endpoint : public replication::Transport {
 public:
  Endpoint(LocalNetwork* net, uint64_t id) : net_(net), id_(id) {}
  void SetPeer(uint64_t, const std::string&) override {}
  void RemovePeer(uint64_t) override {}
  void Send(std::vector<orch::v1::Message> msgs) override { net_->Deliver(id_, std::move(msgs)); }
  void Stop() override {}

 private:
  LocalNetwork* net_;
  uint64_t id_;
};

LocalNetwork::LocalNetwork() = default;
LocalNetwork::~LocalNetwork() = default;

replication::Transport* LocalNetwork::Join(uint64_t id, replication::Transport::Callbacks cb) {
  std::lock_guard lock(mu_);
  nodes_[id] = std::move(cb);
  auto& ep = endpoints_[id];
  if (!ep) ep = std::make_unique<Endpoint>(this, id);
  return ep.get();
}

void LocalNetwork::Leave(uint64_t id) {
  std::lock_guard lock(mu_);
  nodes_.erase(id);
}

void LocalNetwork::Cut(uint64_t a, uint64_t b) {
  std::lock_guard lock(mu_);
  cuts_.insert({a, b});
  cuts_.insert({b, a});
}

void LocalNetwork::Isolate(uint64_t id) {
  std::lock_guard lock(mu_);
  isolated_.insert(id);
}

void LocalNetwork::Heal() {
  std::lock_guard lock(mu_);
  cuts_.clear();
  isolated_.clear();
}

uint64_t LocalNetwork::dropped(orch::v1::Message::Type type) {
  std::lock_guard lock(mu_);
  auto it = dropped_.find(type);
  return it == dropped_.end() ? 0 : it->second;
}

void LocalNetwork::Deliver(uint64_t from, std::vector<orch::v1::Message> msgs) {
  for (auto& m : msgs) {
    replication::Transport::Callbacks to, sender;
    {
      std::lock_guard lock(mu_);
      bool blocked = cuts_.count({from, m.to()}) || isolated_.count(from) || isolated_.count(m.to());
      auto it = nodes_.find(m.to());
      auto me = nodes_.find(from);
      if (me != nodes_.end()) sender = me->second;
      if (blocked || it == nodes_.end()) {
        ++dropped_[m.type()];
        if (sender.on_unreachable) sender.on_unreachable(m.to());
        if (m.type() == orch::v1::Message::MSG_SNAP && sender.on_snapshot_status) {
          sender.on_snapshot_status(m.to(), false);
        }
        continue;
      }
      to = it->second;
    }
    bool snap = m.type() == orch::v1::Message::MSG_SNAP;
    uint64_t dest = m.to();
    to.on_message(std::move(m));
    if (snap && sender.on_snapshot_status) sender.on_snapshot_status(dest, true);
  }
}

}  // namespace orch::master::testing
