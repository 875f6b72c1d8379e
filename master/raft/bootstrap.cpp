#include "master/raft/bootstrap.h"

namespace orch::raft {

BootstrapState MakeBootstrapState(const std::vector<uint64_t>& voters) {
  BootstrapState out;
  for (size_t i = 0; i < voters.size(); ++i) {
    ConfChange cc;
    cc.set_type(ConfChange::ADD_NODE);
    cc.set_node_id(voters[i]);
    Entry e;
    e.set_type(Entry::CONF_CHANGE);
    e.set_term(1);
    e.set_index(i + 1);
    e.set_data(cc.SerializeAsString());
    out.entries.push_back(std::move(e));
  }
  out.hard_state.set_term(1);
  out.hard_state.set_commit(voters.size());
  return out;
}

}  // namespace orch::raft
