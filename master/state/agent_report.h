// What an agent's report of one of its allocations sets on it: the client
// status and description, the task states, the ports (when given) and the
// health. The apply writes it; the leader's HTTP handler uses it to leave
// out of the Raft log the periodic re-sends that change nothing.
// Thread safety: pure functions.
#pragma once

#include "orch/v1/api.pb.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

void ApplyAgentReport(const v1::AllocationUpdate& u, v1::Allocation* a);

// True when the apply of `u` would leave `a` as it is: what the report sets
// is unchanged, and `a` has no deployment health still to decide (the
// apply may then stamp healthy_since or the verdict from the report alone).
bool ReportChangesNothing(const v1::AllocationUpdate& u, const v1::Allocation& a);

}  // namespace orch::master
