// The table and describe views of orchctl: API messages in, text out, so
// they are tested without a server. Enum values print lower-case, ids short.
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>

#include "orch/v1/api.pb.h"
#include "orch/v1/types.pb.h"

namespace orch::ctl {

// ID TYPE STATUS VERSION GROUPS ALLOCS, where ALLOCS is running/desired
// counted from `allocs` (allocations of every job). "No jobs found." when
// there are none.
std::string JobsTable(const v1::JobList& jobs, const v1::AllocationList& allocs);

// ID NAME ADDRESS STATUS CPU MEMORY DRIVERS; cpu in millicores and memory in
// MiB as allocated/capacity.
std::string NodesTable(const v1::NodeList& nodes);

// ID JOB GROUP NODE DESIRED STATUS AGE.
std::string AllocsTable(const v1::AllocationList& allocs, int64_t now_ms);

// ID ROLE LEADER RAFT ADDRESS HTTP ADDRESS MATCH: role "voter" or
// "learner", "*" marks the leader, MATCH is blank when 0 (only the leader
// knows match indexes).
std::string MembersTable(const v1::MemberList& members);

// "m2 (http://127.0.0.1:5646, term 7)".
std::string LeaderLine(const v1::LeaderResponse& leader);

// The job's settings, its allocation summary, its allocations with the
// state of every task, and its evaluations.
std::string DescribeJob(const v1::JobDetail& detail, int64_t now_ms);

// A node: attributes, capacity, allocated and measured load, heartbeat age,
// and the allocations placed on it.
std::string DescribeNode(const v1::Node& node, const v1::AllocationList& allocs, int64_t now_ms);

// An allocation: where it runs, its ports and resources, and every task's
// state with its exit code, restarts and last message.
std::string DescribeAlloc(const v1::Allocation& alloc, int64_t now_ms);

// Allocations of the job's current version that should run, and how many of
// them are running (or, for batch jobs, have completed).
struct JobProgress {
  int desired = 0;
  int running = 0;
  int pending = 0;
  int failed = 0;
  bool done() const { return desired > 0 && running >= desired; }
  std::string ToString() const;  // "2/3 running, 1 pending"
};
JobProgress ComputeProgress(const v1::JobDetail& detail);

// "web (count 3)" for every group, comma separated.
std::string GroupsSummary(const v1::Job& job);

}  // namespace orch::ctl
