#include "api/orchctl/scheduler_cmds.h"

#include <cstdio>
#include <sstream>

#include "api/orchctl/deployment_cmds.h"
#include "api/orchctl/output.h"
#include "api/orchctl/table.h"

namespace orch::ctl {
namespace {

std::string Fixed(double v, int digits = 3) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// A node id from an id, a unique id prefix or a name.
Result<std::string> ResolveNode(const Context& ctx, const std::string& ref) {
  ORCH_ASSIGN_OR_RETURN(auto nodes, ctx.client->ListNodes());
  std::string found;
  int matches = 0;
  for (const auto& n : nodes.value.nodes()) {
    if (n.id() == ref || n.name() == ref) return n.id();
    if (n.id().rfind(ref, 0) == 0) {
      found = n.id();
      ++matches;
    }
  }
  if (matches == 1) return found;
  if (matches > 1) return Status::InvalidArgument("node \"" + ref + "\" is ambiguous: several ids start with it");
  return Status::NotFound("node \"" + ref + "\" not found");
}

}  // namespace

Status PlanJob(const Context& ctx, const std::string& document) {
  ORCH_ASSIGN_OR_RETURN(v1::PlanResponse plan, ctx.client->PlanJobDocument(document));
  return PrintMessage(*ctx.out, ctx.format, plan, [&] {
    std::ostringstream o;
    o << FormatJobDiff(plan.diff(), plan.job_id()) << "\n";
    o << "job " << plan.job_id() << ": " << plan.summary() << "\n";
    if (plan.placements_size() > 0) {
      o << "\nplacements (" << plan.placements_size() << "):\n";
      for (const auto& p : plan.placements()) {
        o << "  " << p.name() << " -> " << (p.node_name().empty() ? ShortId(p.node_id()) : p.node_name())
          << "  score " << Fixed(p.score());
        o << " (";
        for (int i = 0; i < p.scores_size(); ++i) {
          o << (i ? ", " : "") << p.scores(i).term() << " " << Fixed(p.scores(i).score());
        }
        o << "; " << p.nodes_evaluated() << " node(s) scored)";
        for (const auto& port : p.ports()) o << " " << port.name() << "=" << port.value();
        if (!p.previous_allocation().empty()) o << " replaces " << ShortId(p.previous_allocation());
        o << "\n";
      }
    }
    if (plan.updates_in_place_size() > 0) {
      o << "\nupdated in place, no restart (" << plan.updates_in_place_size() << "):";
      for (const auto& s : plan.updates_in_place()) o << " " << ShortId(s);
      o << "\n";
    }
    if (plan.stops_size() > 0) {
      o << "\nstops (" << plan.stops_size() << "):";
      for (const auto& s : plan.stops()) o << " " << ShortId(s);
      o << "\n";
    }
    if (plan.preemptions_size() > 0) {
      o << "\npreemptions (" << plan.preemptions_size() << "):\n";
      for (const auto& p : plan.preemptions()) {
        o << "  alloc " << ShortId(p.alloc_id()) << " of job " << p.job_id() << " (priority " << p.priority()
          << ") on " << ShortId(p.node_id()) << " for " << p.preempted_by() << "\n";
      }
    }
    for (const auto& f : plan.failures()) {
      o << "\ngroup " << f.group() << ": " << f.unplaced() << " cannot be placed: " << f.reason() << "\n";
    }
    return o.str();
  });
}

Status ScaleJob(const Context& ctx, const std::string& job, const std::string& group, int count) {
  if (count < 0) return Status::InvalidArgument("count: must not be negative");
  ORCH_ASSIGN_OR_RETURN(v1::ScaleResponse resp, ctx.client->ScaleJob(job, group, count));
  return PrintMessage(*ctx.out, ctx.format, resp, [&] {
    return "job " + job + " group " + group + " scaled to " + std::to_string(count) + " (eval " +
           ShortId(resp.eval_id()) + ", index " + std::to_string(resp.index()) + ")\n";
  });
}

Status DrainNode(const Context& ctx, const std::string& node, bool undo, std::chrono::milliseconds deadline) {
  ORCH_ASSIGN_OR_RETURN(std::string id, ResolveNode(ctx, node));
  ORCH_ASSIGN_OR_RETURN(v1::DrainResponse resp, ctx.client->DrainNode(id, !undo, deadline));
  return PrintMessage(*ctx.out, ctx.format, resp, [&] {
    if (undo) return "node " + ShortId(id) + ": drain undone, it takes new work again (index " +
                     std::to_string(resp.index()) + ")\n";
    return "node " + ShortId(id) + ": draining, " + std::to_string(resp.eval_ids_size()) +
           " job(s) to move" +
           (deadline.count() > 0 ? ", deadline in " + std::to_string(deadline.count() / 1000) + "s" : "") +
           " (index " + std::to_string(resp.index()) + ")\n";
  });
}

}  // namespace orch::ctl
