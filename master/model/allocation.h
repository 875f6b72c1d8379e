// What the master's parts agree an allocation and a group are: the
// predicates the scheduler, plan apply, deployments and controllers share
// (kept out of the SQLite store so that none of them needs it).
// Thread safety: pure functions.
#pragma once

#include "orch/v1/types.pb.h"

namespace orch::master {

// An allocation whose client status is complete, failed or lost.
bool IsTerminal(const v1::Allocation& a);
// Runs or will run: desired RUN and not terminal.
bool IsLive(const v1::Allocation& a);

// What one allocation of `g` claims on a node: its tasks' cpu and memory
// (saturating sums) and the group's ephemeral disk.
v1::Resources GroupResources(const v1::TaskGroup& g);

}  // namespace orch::master
