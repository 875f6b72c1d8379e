#include "api/orchctl/logs.h"

#include <ostream>

namespace orch::ctl {

namespace {

// The full id of the allocation `ref` names (an id or its unique prefix).
Result<std::string> ResolveAlloc(const Context& ctx, const std::string& ref) {
  auto got = ctx.client->GetAllocation(ref);
  if (got.ok()) return got->value.id();
  if (got.status().code() != StatusCode::kNotFound) return got.status();
  ORCH_ASSIGN_OR_RETURN(auto allocs, ctx.client->ListAllocations());
  std::string found;
  int matches = 0;
  for (const auto& a : allocs.value.allocations()) {
    if (a.id().rfind(ref, 0) == 0) {
      found = a.id();
      ++matches;
    }
  }
  if (matches == 0) return Status::NotFound("no allocation " + ref);
  if (matches > 1) {
    return Status::InvalidArgument("allocation prefix " + ref + " matches " + std::to_string(matches) +
                                   " allocations; give more of the id");
  }
  return found;
}

}  // namespace

Status LogsCommand(const Context& ctx, const std::string& alloc, const LogsOptions& opts) {
  ORCH_ASSIGN_OR_RETURN(std::string id, ResolveAlloc(ctx, alloc));
  OrchClient::LogsOptions lo;
  lo.task = opts.task;
  lo.follow = opts.follow;
  lo.stderr_stream = opts.stderr_stream;
  lo.tail = opts.tail;
  std::ostream& out = *ctx.out;
  return ctx.client->AllocationLogs(id, lo, [&](std::string_view piece) {
    if (piece.empty()) return static_cast<bool>(out);
    out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    out.flush();  // as it comes, for -f
    return static_cast<bool>(out);
  });
}

}  // namespace orch::ctl
