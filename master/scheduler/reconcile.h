// Reconciliation: what a job's groups need compared with their
// allocations -- which allocations stop (job stopped, old version, scale
// down, migrated off a draining node, on a node that is gone) and which
// slots need a placement (with the allocation each replaces). Where they go
// is the ranking's business; system groups get their per-node slots from
// the scheduler, which knows the eligible nodes.
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "master/scheduler/node_table.h"
#include "orch/v1/types.pb.h"

namespace orch::master::sched {

struct Slot {
  std::string name;      // job.group[index]
  std::string previous;  // the allocation this one replaces, if any
  bool canary = false;   // placed beside the old allocation of this slot
  // A replacement of a failed allocation: its reschedule history.
  std::vector<v1::RescheduleEvent> reschedule_events;
};

struct GroupNeeds {
  const v1::TaskGroup* group = nullptr;
  std::vector<Slot> place;
  // The group's live allocations that stay (system jobs: which nodes are
  // covered).
  std::vector<const v1::Allocation*> staying;
  // Next free slot index (system jobs number their new slots from here).
  int next_slot = 0;
};

struct Reconciliation {
  std::vector<const v1::Allocation*> stop;
  // Live allocations of an older job version whose group's tasks and
  // network did not change: they stay and move to the new version in place.
  std::vector<const v1::Allocation*> update_in_place;
  std::string stop_reason;
  std::vector<GroupNeeds> groups;
  int migrating = 0;  // stops that are drain migrations
  // Failed allocations whose replacement waits for its reschedule delay:
  // the earliest time one is due (0: none).
  int64_t reschedule_at_ms = 0;
};

// `job` may be null (job gone). `now_ms` decides whether a drain deadline
// passed. `deployment` is the job's newest deployment (null: none): a
// rolling group (an `update` block) of the version it rolls out replaces at
// most max_parallel old allocations at a time, counting its new ones that
// are not healthy yet, and none while it is paused or over (a failed
// deployment leaves the old allocations running). A version no deployment
// tracks is replaced at once. With canaries, a destructively changed group
// first gets `canary` new allocations beside the old ones (named after the
// slots they will take over), and nothing more until the deployment is
// promoted; then the old allocations of those slots stop and the rest
// rolls. Canaries of a deployment that ended unpromoted stop.
Reconciliation Reconcile(const v1::Job* job, const std::vector<v1::Allocation>& allocs, const NodeTable& table,
                         int64_t now_ms, const v1::Deployment* deployment = nullptr);

// How many old allocations of `group` may be replaced now (-1: no limit).
int ReplaceBudget(const v1::Job& job, const v1::TaskGroup& group, const std::vector<v1::Allocation>& allocs,
                  const v1::Deployment* deployment);

}  // namespace orch::master::sched
