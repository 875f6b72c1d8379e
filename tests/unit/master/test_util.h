// Shared fixtures for master tests: temporary folders and sample objects.
#pragma once

#include <memory>
#include <string>

#include "orch/v1/command.pb.h"
#include "orch/v1/types.pb.h"

namespace orch::replication {
class RaftNode;
}
namespace orch::master {
class StateStore;
}  // namespace orch::master

namespace orch::master::testing {

// A one-master Raft log over `store` in `dir`, started (no transport) and
// leading; null (with a test failure) if it never leads.
std::unique_ptr<replication::RaftNode> StartSingleLeader(const std::string& dir, StateStore* store);

// A fresh empty folder under the test's temp dir.
std::string TempDir(const std::string& name);

v1::Job SampleJob(const std::string& id, int count, int64_t cpu = 100, int64_t memory = 64);
v1::Node SampleNode(const std::string& id, int64_t cpu = 4000, int64_t memory = 4096);

v1::Command RegisterJobCmd(const v1::Job& job, const std::string& eval_id);
v1::Command RegisterNodeCmd(const v1::Node& node);

}  // namespace orch::master::testing
