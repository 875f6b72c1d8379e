// Validation of user input, separate from the handlers that act on it (as
// Mesos' validation.hpp). A rejected job never reaches the log.
#pragma once

#include "common/status.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

// Checks a submitted job and fills defaults (type service, count 1 when
// absent is NOT assumed: count must be given). Errors name the field path:
// "groups[0].tasks[0].resources.cpu: must be positive".
Status ValidateJob(v1::Job* job);

}  // namespace orch::master
