// Port assignment: a group's named ports on a chosen node -- the static
// port the job asks for, or a free dynamic port from the node's range
// (random start, then the next free one, so the same seed gives the same
// ports).
// Thread safety: pure functions.
#pragma once

#include <vector>

#include "master/scheduler/node_table.h"
#include "master/scheduler/rng.h"
#include "orch/v1/types.pb.h"

namespace orch::master::sched {

// Fills `out` with one value per port of `net`, in order. False when the
// node has no room (CheckFit said it had: only on a full range).
bool AssignPorts(const NodeRec& n, const v1::Network& net, Rng* rng, std::vector<int32_t>* out);

}  // namespace orch::master::sched
