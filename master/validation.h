// Validation of user input, separate from the handlers that act on it (as
// Mesos' validation.hpp). A rejected job never reaches the log.
#pragma once

#include <vector>

#include "common/status.h"
#include "master/services/service_claims.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

// Checks a submitted job and fills defaults (type service, count 1 when
// absent is NOT assumed: count must be given). Errors name the field path:
// "groups[0].tasks[0].resources.cpu: must be positive".
Status ValidateJob(v1::Job* job);

// Bounds on what an agent registers (master/model/job_limits.h NodeLimits): name,
// capacity, label count and sizes. The address is checked separately.
Status ValidateNodeFields(const v1::Node& node);

// Whether `incoming` may re-register the id of `stored`: a node that
// registered with a secret must present the same one (its hash in
// secret_hash) again; PermissionDenied otherwise. A node stored without one
// (registered before secrets existed) is bound to the first it presents.
Status CheckNodeOwner(const v1::Node& stored, const v1::Node& incoming);

// Services are cluster-wide: a (validated) job's services must not reuse a
// name or listen port within the job (InvalidArgument, 400) nor one that
// another live job holds among `others` (AlreadyExists, 409) -- the claims
// that share a name or port with the job's, as StateStore::ConflictingClaims
// finds them. Claims of the job's own id do not count. A listen port of 0
// (to be assigned) conflicts with nothing. Checked before proposing (a clear
// early error) and again by the state machine at apply time (the final
// word).
Status ValidateServiceClaims(const v1::Job& job, const std::vector<ServiceClaim>& others);

}  // namespace orch::master
