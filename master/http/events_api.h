// The event stream (GET /v1/event/stream): the state's changes as
// newline-delimited JSON, one line per index, from this master's
// EventBuffer, served as an HttpResponse::Feed (parked without a thread
// between events). ?topic=T[:key] (repeated) filters, ?index=N resumes
// after N (410 when events after N are no longer kept; 0 or none: from the
// oldest kept), ?follow=false answers what is kept and ends. Idle streams
// get a "{}" line every heartbeat interval.
#pragma once

#include "common/router.h"
#include "master/http/api.h"

namespace orch::master {

void RegisterEventRoutes(Router* r, const ApiDeps& d);

}  // namespace orch::master
