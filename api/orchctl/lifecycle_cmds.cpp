#include "api/orchctl/lifecycle_cmds.h"

#include <algorithm>
#include <map>

#include "api/orchctl/output.h"
#include "api/orchctl/table.h"

namespace orch::ctl {
namespace {

// An allocation id from an id or a unique prefix of one.
Result<std::string> ResolveAlloc(const Context& ctx, const std::string& ref) {
  if (ctx.client->GetAllocation(ref).ok()) return ref;
  ORCH_ASSIGN_OR_RETURN(auto all, ctx.client->ListAllocations());
  std::string found;
  int matches = 0;
  for (const auto& a : all.value.allocations()) {
    if (a.id().rfind(ref, 0) == 0) {
      found = a.id();
      ++matches;
    }
  }
  if (matches == 1) return found;
  if (matches > 1) return Status::InvalidArgument("allocation \"" + ref + "\" is ambiguous: several ids start with it");
  return Status::NotFound("allocation \"" + ref + "\" not found");
}

int Restarts(const v1::Allocation& a) {
  int n = 0;
  for (const auto& t : a.task_states()) n += t.restarts();
  return n;
}

}  // namespace

Status AllocRestart(const Context& ctx, const std::string& ref, const std::string& task) {
  ORCH_ASSIGN_OR_RETURN(std::string id, ResolveAlloc(ctx, ref));
  ORCH_ASSIGN_OR_RETURN(auto resp, ctx.client->RestartAllocation(id, task));
  return PrintMessage(*ctx.out, ctx.format, resp, [&] {
    return "alloc " + ShortId(id) + ": " + (task.empty() ? "tasks" : "task " + task) +
           " restarting in place (index " + std::to_string(resp.index()) + ")\n";
  });
}

Status AllocSignal(const Context& ctx, const std::string& ref, const std::string& signal, const std::string& task) {
  ORCH_ASSIGN_OR_RETURN(std::string id, ResolveAlloc(ctx, ref));
  ORCH_ASSIGN_OR_RETURN(auto resp, ctx.client->SignalAllocation(id, signal, task));
  return PrintMessage(*ctx.out, ctx.format, resp, [&] {
    return "alloc " + ShortId(id) + ": " + signal + " sent to " + (task.empty() ? "its tasks" : "task " + task) +
           " (index " + std::to_string(resp.index()) + ")\n";
  });
}

Status AllocStop(const Context& ctx, const std::string& ref) {
  ORCH_ASSIGN_OR_RETURN(std::string id, ResolveAlloc(ctx, ref));
  ORCH_ASSIGN_OR_RETURN(auto resp, ctx.client->StopAllocation(id));
  return PrintMessage(*ctx.out, ctx.format, resp, [&] {
    return "alloc " + ShortId(id) + ": stopping (eval " + ShortId(resp.eval_id()) + " places a replacement if its " +
           "job still wants it; index " + std::to_string(resp.index()) + ")\n";
  });
}

Status JobRestart(const Context& ctx, const std::string& job, std::chrono::milliseconds batch_timeout) {
  ORCH_ASSIGN_OR_RETURN(auto detail, ctx.client->GetJob(job));
  std::map<std::string, int> max_parallel;
  for (const auto& g : detail.value.job().groups()) {
    int m = g.has_update() && g.update().has_max_parallel() ? g.update().max_parallel() : 1;
    max_parallel[g.name()] = std::max(1, m);
  }
  std::map<std::string, std::vector<v1::Allocation>> by_group;
  for (const auto& a : detail.value.allocations()) {
    if (a.desired_status() == v1::Allocation::RUN && a.client_status() == v1::Allocation::RUNNING) {
      by_group[a.group()].push_back(a);
    }
  }
  const bool table = ctx.format == OutputFormat::kTable;
  int restarted = 0;
  for (auto& [group, allocs] : by_group) {
    std::sort(allocs.begin(), allocs.end(),
              [](const v1::Allocation& x, const v1::Allocation& y) { return x.name() < y.name(); });
    const std::size_t step = static_cast<std::size_t>(max_parallel[group]);
    for (std::size_t i = 0; i < allocs.size(); i += step) {
      std::vector<v1::Allocation> batch(allocs.begin() + static_cast<long>(i),
                                        allocs.begin() + static_cast<long>(std::min(allocs.size(), i + step)));
      for (const auto& a : batch) ORCH_RETURN_IF_ERROR(ctx.client->RestartAllocation(a.id()).status());
      const int64_t deadline = ctx.clock.now_ms() + batch_timeout.count();
      for (;;) {
        int back = 0;
        for (const auto& a : batch) {
          auto now = ctx.client->GetAllocation(a.id());
          if (!now.ok()) return now.status();
          const auto& n = now->value;
          if (n.desired_status() != v1::Allocation::RUN) {
            ++back;  // stopped meanwhile: nothing to wait for
          } else if (Restarts(n) > Restarts(a) && n.client_status() == v1::Allocation::RUNNING && n.healthy()) {
            ++back;
          }
        }
        if (back == static_cast<int>(batch.size())) break;
        if (ctx.clock.now_ms() >= deadline) {
          return Status::DeadlineExceeded("job \"" + job + "\" group " + group + ": " + std::to_string(back) + " of " +
                                          std::to_string(batch.size()) +
                                          " restarted allocation(s) running and healthy again after " +
                                          std::to_string(batch_timeout.count() / 1000) + "s; stopped there");
        }
        ctx.clock.sleep_for(std::chrono::milliseconds(250));
      }
      restarted += static_cast<int>(batch.size());
      if (table) {
        *ctx.out << "job " << job << " group " << group << ": " << std::min(allocs.size(), i + step) << "/"
                 << allocs.size() << " restarted" << std::endl;
      }
    }
  }
  if (table) *ctx.out << "job " << job << ": " << restarted << " allocation(s) restarted in place" << std::endl;
  return Status::Ok();
}

}  // namespace orch::ctl
