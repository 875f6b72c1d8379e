// Validation of a job's scheduling fields: constraint operators (and that
// regexps compile), spreads (attribute set, targets 0-100% summing to at
// most 100), migrate.max_parallel not negative. Called by ValidateJob.
// Thread safety: pure function.
#pragma once

#include "common/status.h"
#include "orch/v1/types.pb.h"

namespace orch::master::sched {

Status ValidateSchedulingFields(const v1::Job& job);

}  // namespace orch::master::sched
