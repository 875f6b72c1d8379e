// orchctl's service verbs: `get services` (NAME JOB STRATEGY LISTEN
// ENDPOINTS healthy/total) and `describe service NAME` (the service and
// every endpoint: allocation, node, address:port, weight, health). The
// views are plain functions so they are tested without a server.
// Thread safety: stateless functions.
#pragma once

#include <string>

#include "api/orchctl/commands.h"
#include "orch/v1/api.pb.h"

namespace orch::ctl {

std::string ServicesTable(const v1::ServiceList& services);
std::string DescribeService(const v1::ServiceInfo& service);

Status GetServices(const Context& ctx);
Status DescribeServiceCommand(const Context& ctx, const std::string& name);

}  // namespace orch::ctl
