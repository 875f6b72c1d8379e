// Scenario helpers shared by the Raft feature tests (elections, reads,
// snapshots, membership, flow control): ready-made clusters and messages.
// Thread-safety: single-threaded test code.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/unit/raft/raft_test_util.h"

namespace orch::raft::testing {

inline void TickN(Raft& r, int n) {
  for (int i = 0; i < n; ++i) r.Tick();
}

inline Network ElectedNetwork(size_t n, bool pre_vote, bool check_quorum) {
  Network net = NewNetwork(n, pre_vote, check_quorum);
  net.Campaign(1);
  return net;
}

inline Message ConfChangeProp(uint64_t to, ConfChange::Type type, uint64_t node) {
  ConfChange cc;
  cc.set_type(type);
  cc.set_node_id(node);
  Message m = Msg(to, to, Message::MSG_PROP);
  auto* e = m.add_entries();
  e->set_type(Entry::CONF_CHANGE);
  e->set_data(cc.SerializeAsString());
  return m;
}

inline ConfChange MakeCC(ConfChange::Type type, uint64_t node) {
  ConfChange cc;
  cc.set_type(type);
  cc.set_node_id(node);
  return cc;
}

inline Network NetworkWithLearner() {
  std::vector<TestRaft> nodes;
  for (uint64_t id = 1; id <= 3; ++id) {
    Config c = TestConfig(id, {1, 2}, 10, 1, nullptr);
    c.learners = {3};
    nodes.push_back(NewTestRaftWithConfig(c, std::make_unique<MemoryStorage>()));
  }
  return Network(std::move(nodes));
}

}  // namespace orch::raft::testing
