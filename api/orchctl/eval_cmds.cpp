#include "api/orchctl/eval_cmds.h"

#include <sstream>

#include "api/orchctl/output.h"
#include "api/orchctl/table.h"

namespace orch::ctl {
namespace {

std::string Describe(const v1::Evaluation& e, int64_t now_ms) {
  std::ostringstream o;
  o << "evaluation " << e.id() << "\n";
  o << "  job:          " << e.job_id() << "\n";
  o << "  status:       " << PrettyEnum(v1::Evaluation::Status_Name(e.status())) << "\n";
  o << "  triggered by: " << PrettyEnum(v1::Evaluation::Trigger_Name(e.triggered_by()));
  if (!e.node_id().empty()) o << " (node " << ShortId(e.node_id()) << ")";
  o << "\n  changed:      " << FormatAge(now_ms, e.modify_time_ms()) << " ago (index "
    << e.modify_index() << ")\n";
  if (!e.status_description().empty())
    o << "  description:  " << OneLine(e.status_description()) << "\n";
  return o.str();
}

}  // namespace

Status EvalStatus(const Context& ctx, const std::string& id, bool monitor,
                  std::chrono::milliseconds timeout) {
  ORCH_ASSIGN_OR_RETURN(auto e, ctx.client->GetEvaluation(id));
  if (monitor) {
    const bool lines = ctx.format == OutputFormat::kTable;
    const int64_t deadline = ctx.clock.now_ms() + timeout.count();
    if (lines) {
      *ctx.out << "evaluation " << ShortId(e.value.id()) << " (job " << e.value.job_id()
               << "): " << PrettyEnum(v1::Evaluation::Status_Name(e.value.status())) << "\n";
    }
    while (e.value.status() == v1::Evaluation::PENDING) {
      const int64_t left = deadline - ctx.clock.now_ms();
      if (left <= 0) {
        return Status::DeadlineExceeded("evaluation " + ShortId(e.value.id()) +
                                        " still pending after " +
                                        std::to_string(timeout.count() / 1000) + "s");
      }
      QueryOptions q;
      q.index = e.index;
      q.wait = std::chrono::milliseconds(std::min<int64_t>(left, 30'000));
      ORCH_ASSIGN_OR_RETURN(auto next, ctx.client->GetEvaluation(e.value.id(), q));
      if (lines && next.value.status() != e.value.status()) {
        *ctx.out << "evaluation " << ShortId(next.value.id()) << ": "
                 << PrettyEnum(v1::Evaluation::Status_Name(next.value.status())) << "\n";
      }
      e = std::move(next);
    }
  }
  ORCH_RETURN_IF_ERROR(PrintMessage(*ctx.out, ctx.format, e.value, [&] {
    return (monitor ? "\n" : "") + Describe(e.value, ctx.clock.now_ms());
  }));
  if (monitor && e.value.status() == v1::Evaluation::BLOCKED) {
    return Status::FailedPrecondition(
        "evaluation " + ShortId(e.value.id()) +
        " is blocked: not everything could be placed; it runs again when nodes change");
  }
  if (monitor && e.value.status() == v1::Evaluation::FAILED) {
    return Status::FailedPrecondition("evaluation " + ShortId(e.value.id()) + " failed");
  }
  return Status::Ok();
}

Status EvalList(const Context& ctx, const std::string& job) {
  ORCH_ASSIGN_OR_RETURN(auto list, ctx.client->ListEvaluations(job));
  return PrintMessage(*ctx.out, ctx.format, list.value, [&] {
    Table t({"ID", "JOB", "STATUS", "TRIGGERED BY", "CHANGED", "DESCRIPTION"});
    for (const auto& e : list.value.evaluations()) {
      t.AddRow({ShortId(e.id()), e.job_id(), PrettyEnum(v1::Evaluation::Status_Name(e.status())),
                PrettyEnum(v1::Evaluation::Trigger_Name(e.triggered_by())),
                FormatAge(ctx.clock.now_ms(), e.modify_time_ms()),
                OneLine(e.status_description())});
    }
    return t.Render();
  });
}

}  // namespace orch::ctl
