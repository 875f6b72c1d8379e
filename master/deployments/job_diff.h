// Field-by-field differences between the running version of a job and a
// new one (Nomad's `job plan` diff), and what the new version does to each
// group: create, destroy, scale, update in place or replace.
// Thread safety: pure functions.
#pragma once

#include "orch/v1/api.pb.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

// `before` null: a new job. Fields the masters own (version, status, stop,
// indexes, submit time, stable) and service listen ports the masters
// assign (`listen` left out of the new spec) are not differences.
v1::JobDiff DiffJobs(const v1::Job* before, const v1::Job& after);

}  // namespace orch::master
