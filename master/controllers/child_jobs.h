// Children of periodic and parameterized jobs: their ids, their specs (the
// parent's, without the periodic / parameterized block, with parent_id,
// the meta merged and the payload), the launch command the periodic
// launcher and `orchctl job periodic force` propose, and the checks a
// dispatch request passes.
// Thread safety: stateless functions.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"
#include "orch/v1/api.pb.h"
#include "orch/v1/command.pb.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

// The most a dispatch payload may hold (Nomad's limit).
inline constexpr std::size_t kMaxDispatchPayload = 16 * 1024;

// "<parent>/periodic-<unix seconds>".
std::string PeriodicChildId(const std::string& parent, int64_t launch_ms);
// "<parent>/dispatch-<unix seconds>-<suffix>".
std::string DispatchChildId(const std::string& parent, int64_t now_ms, const std::string& suffix);

// The parent's spec as a child: no periodic or parameterized block, the id
// and parent set, `meta` over the parent's, the payload.
v1::Job MakeChildJob(const v1::Job& parent, const std::string& child_id,
                     const std::map<std::string, std::string>& meta = {},
                     const std::string& payload = "");

// A registration of `child` with its evaluation (`eval_id`), for the
// command that carries it.
v1::RegisterJobCommand RegisterChild(const v1::Job& child, const std::string& eval_id);

// The launch of `parent` at `launch_ms` (a cron time, or now when forced):
// with the child's registration unless `skip` (prohibit_overlap).
v1::PeriodicLaunchCommand MakePeriodicLaunch(const v1::Job& parent, int64_t launch_ms, bool forced,
                                             bool skip, const std::string& eval_id);

// Whether `req` may dispatch `parent`: a parameterized job not stopped, the
// payload allowed (required / forbidden) and at most kMaxDispatchPayload,
// every required meta key given and none the job does not declare.
Status CheckDispatch(const v1::Job& parent, const v1::DispatchJobRequest& req);

}  // namespace orch::master
