#include "api/orchctl/top_cmds.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "api/orchctl/output.h"
#include "api/orchctl/table.h"
#include "common/json.h"

namespace orch::ctl {
namespace {

// "250m (6%)" of `of`; "-" without a measure.
std::string Share(double used, int64_t of, const char* unit, bool measured) {
  if (!measured) return "-";
  std::string out = std::to_string(static_cast<int64_t>(std::llround(used))) + unit;
  if (of > 0)
    out += " (" + std::to_string(static_cast<int64_t>(std::llround(100.0 * used / of))) + "%)";
  return out;
}

std::string OfWhat(int64_t part, int64_t whole, const char* unit) {
  return std::to_string(part) + "/" + std::to_string(whole) + unit;
}

}  // namespace

Status Top(const Context& ctx, const TopOptions& opts) {
  // The measures live on the leader: ask it (any master when it has not
  // announced its address).
  OrchClient* client = ctx.client;
  std::unique_ptr<OrchClient> at_leader;
  if (auto leader = ctx.client->GetLeader(); leader.ok() && !leader->address().empty()) {
    at_leader = ctx.client->At(leader->address());
    client = at_leader.get();
  }
  ORCH_ASSIGN_OR_RETURN(auto nodes, client->ListNodes());
  ORCH_ASSIGN_OR_RETURN(auto allocs, client->ListAllocations(opts.job));
  std::vector<v1::Allocation> running;
  for (const auto& a : allocs.value.allocations()) {
    if (a.client_status() == v1::Allocation::RUNNING) running.push_back(a);
  }
  auto busier = [](const v1::NodeLoad& a, const v1::NodeLoad& b) {
    return a.cpu() != b.cpu() ? a.cpu() > b.cpu() : a.memory() > b.memory();
  };
  std::sort(running.begin(), running.end(), [&](const v1::Allocation& a, const v1::Allocation& b) {
    return busier(a.usage(), b.usage());
  });
  if (opts.limit > 0 && running.size() > static_cast<std::size_t>(opts.limit))
    running.resize(opts.limit);
  std::vector<v1::Node> by_load(nodes.value.nodes().begin(), nodes.value.nodes().end());
  std::sort(by_load.begin(), by_load.end(),
            [&](const v1::Node& a, const v1::Node& b) { return busier(a.load(), b.load()); });

  if (ctx.format != OutputFormat::kTable) {
    v1::NodeList n;
    for (const auto& x : by_load) *n.add_nodes() = x;
    v1::AllocationList a;
    for (const auto& x : running) *a.add_allocations() = x;
    if (ctx.format == OutputFormat::kJson) {
      *ctx.out << "{\"nodes\": " << ToJson(n, true) << ",\n\"allocations\": " << ToJson(a, true)
               << "}\n";
      return Status::Ok();
    }
    ORCH_RETURN_IF_ERROR(PrintMessage(*ctx.out, ctx.format, n, nullptr));
    *ctx.out << "---\n";
    return PrintMessage(*ctx.out, ctx.format, a, nullptr);
  }
  std::ostringstream o;
  Table nt(
      {"NODE", "NAME", "STATUS", "CPU USED", "CPU RESERVED", "MEMORY USED", "MEMORY RESERVED"});
  for (const auto& n : by_load) {
    const bool measured = n.has_load() && n.status() != v1::Node::DOWN;
    nt.AddRow({ShortId(n.id()), n.name(), PrettyEnum(v1::Node::Status_Name(n.status())),
               Share(n.load().cpu(), n.capacity().cpu(), "m", measured),
               OfWhat(n.allocated().cpu(), n.capacity().cpu(), "m"),
               Share(n.load().memory(), n.capacity().memory(), "Mi", measured),
               OfWhat(n.allocated().memory(), n.capacity().memory(), "Mi")});
  }
  o << (nt.empty() ? "No nodes registered.\n" : nt.Render()) << "\n";
  Table at(
      {"ALLOC", "JOB", "GROUP", "NODE", "CPU USED", "CPU ASKED", "MEMORY USED", "MEMORY ASKED"});
  for (const auto& a : running) {
    const bool measured = a.has_usage();
    at.AddRow({ShortId(a.id()), a.job_id(), a.group(), ShortId(a.node_id()),
               Share(a.usage().cpu(), a.resources().cpu(), "m", measured),
               std::to_string(a.resources().cpu()) + "m",
               Share(a.usage().memory(), a.resources().memory(), "Mi", measured),
               std::to_string(a.resources().memory()) + "Mi"});
  }
  o << (at.empty() ? "No running allocations.\n" : at.Render());
  *ctx.out << o.str();
  return Status::Ok();
}

}  // namespace orch::ctl
