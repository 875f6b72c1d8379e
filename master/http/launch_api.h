// Running periodic and parameterized jobs by hand:
//   POST /v1/jobs/{id}/dispatch {"meta": {...}, "payload": base64}
//        registers a child "<id>/dispatch-<unix seconds>-<random>" of a
//        parameterized job with the meta and payload given
//   POST /v1/jobs/{id}/periodic/force
//        launches a periodic job's child now, beside its schedule (which it
//        leaves as it is; prohibit_overlap does not hold it back)
// Both answer the child's id, its evaluation and the index.
// Thread safety: handlers are called concurrently; all they touch is
// thread-safe.
#pragma once

#include "common/router.h"
#include "master/http/api.h"

namespace orch::master {

void RegisterLaunchRoutes(Router* router, const ApiDeps& deps);

}  // namespace orch::master
