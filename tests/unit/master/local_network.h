// An in-process Raft network for tests: every member's Transport endpoint
// delivers straight into the other members' callbacks, except across cuts.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <utility>

#include "master/replication/transport.h"

namespace orch::master::testing {

class LocalNetwork {
 public:
  LocalNetwork();
  ~LocalNetwork();

  // The endpoint of member `id`; its callbacks receive what others send it.
  replication::Transport* Join(uint64_t id, replication::Transport::Callbacks cb);
  void Leave(uint64_t id);
  // Drops every message between a and b, both ways, until Heal().
  void Cut(uint64_t a, uint64_t b);
  // Cuts `id` off from everyone.
  void Isolate(uint64_t id);
  void Heal();
  // How many messages of `type` were dropped (cut, isolated, or to a member
  // that left) so far.
  uint64_t dropped(orch::v1::Message::Type type);

 private:
  class Endpoint;
  void Deliver(uint64_t from, std::vector<orch::v1::Message> msgs);

  std::mutex mu_;
  std::map<uint64_t, replication::Transport::Callbacks> nodes_;
  std::map<uint64_t, std::unique_ptr<Endpoint>> endpoints_;
  std::set<std::pair<uint64_t, uint64_t>> cuts_;
  std::set<uint64_t> isolated_;
  std::map<int, uint64_t> dropped_;
};

}  // namespace orch::master::testing
