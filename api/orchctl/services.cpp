#include "api/orchctl/services.h"

#include <sstream>

#include "api/orchctl/table.h"

namespace orch::ctl {
namespace {

std::string Strategy(v1::Service::Strategy s) { return PrettyEnum(v1::Service::Strategy_Name(s)); }

}  // namespace

std::string ServicesTable(const v1::ServiceList& services) {
  if (services.services_size() == 0) return "No services found.\n";
  Table t({"NAME", "JOB", "STRATEGY", "LISTEN", "ENDPOINTS"});
  for (const auto& s : services.services()) {
    int healthy = 0;
    for (const auto& e : s.endpoints()) healthy += e.healthy();
    t.AddRow({s.name(), s.job_id(), Strategy(s.strategy()), std::to_string(s.listen()),
              std::to_string(healthy) + "/" + std::to_string(s.endpoints_size()) + " healthy"});
  }
  return t.Render();
}

std::string DescribeService(const v1::ServiceInfo& s) {
  std::ostringstream out;
  out << "Name:       " << s.name() << "\n"
      << "Job:        " << s.job_id() << "\n"
      << "Strategy:   " << Strategy(s.strategy()) << "\n"
      << "Listen:     " << s.listen() << " (on every agent)\n"
      << "Index:      " << s.modify_index() << "\n\nEndpoints:\n";
  if (s.endpoints_size() == 0) {
    out << "  none running\n";
    return out.str();
  }
  Table t({"ALLOC", "NODE", "TASK", "ADDRESS", "WEIGHT", "HEALTHY"});
  for (const auto& e : s.endpoints()) {
    t.AddRow({ShortId(e.alloc_id()), ShortId(e.node_id()), e.task(), e.address() + ":" + std::to_string(e.port()),
              std::to_string(e.weight()), e.healthy() ? "yes" : "no"});
  }
  std::istringstream lines(t.Render());
  for (std::string line; std::getline(lines, line);) out << "  " << line << "\n";
  return out.str();
}

Status GetServices(const Context& ctx) {
  ORCH_ASSIGN_OR_RETURN(auto list, ctx.client->ListServices());
  return PrintMessage(*ctx.out, ctx.format, list.value, [&] { return ServicesTable(list.value); });
}

Status DescribeServiceCommand(const Context& ctx, const std::string& name) {
  ORCH_ASSIGN_OR_RETURN(auto s, ctx.client->GetService(name));
  return PrintMessage(*ctx.out, ctx.format, s.value, [&] { return DescribeService(s.value); });
}

}  // namespace orch::ctl
