#include "api/orchctl/commands.h"

#include <algorithm>
#include <thread>
#include <type_traits>
#include <vector>

#include "api/orchctl/deployment_cmds.h"
#include "api/orchctl/table.h"
#include "api/orchctl/views.h"

namespace orch::ctl {

namespace {

constexpr std::chrono::milliseconds kMaxBlockingWait{std::chrono::seconds(30)};
constexpr std::chrono::milliseconds kMinPoll{std::chrono::milliseconds(250)};

// The end of `version`'s deployment once the job moved past it (an
// auto_revert, another submit): OK if it succeeded, else why not.
Status OutcomeOfVersion(const Context& ctx, const std::string& job_id, uint64_t version, uint64_t now_at) {
  ORCH_ASSIGN_OR_RETURN(auto list, ctx.client->ListDeployments(job_id));
  for (const auto& d : list.value.deployments()) {
    if (d.job_version() != version) continue;
    if (d.status() == v1::Deployment::SUCCESSFUL) return Status::Ok();
    return Status::FailedPrecondition("deployment " + ShortId(d.id()) + " of job \"" + job_id + "\" version " +
                                      std::to_string(version) + " " +
                                      PrettyEnum(v1::Deployment::Status_Name(d.status())) + ": " +
                                      d.status_description());
  }
  return Status::FailedPrecondition("job \"" + job_id + "\" version " + std::to_string(version) +
                                    " was replaced by version " + std::to_string(now_at));
}

// The evaluation `id` among the job's, or null.
const v1::Evaluation* FindEvaluation(const v1::JobDetail& jd, const std::string& id) {
  if (id.empty()) return nullptr;
  for (const auto& e : jd.evaluations()) {
    if (e.id() == id) return &e;
  }
  return nullptr;
}

// Watches the job with blocking queries until its allocations run -- for
// a rolling job, until the deployment of `version` ends -- printing
// progress as it changes (table output only). Always asks at least once.
Status WaitForJob(const Context& ctx, const std::string& job_id, const std::string& eval_id, uint64_t index,
                  uint64_t version, std::chrono::milliseconds timeout) {
  const bool table = ctx.format == OutputFormat::kTable;
  const int64_t deadline = ctx.clock.now_ms() + timeout.count();
  std::string last_line;
  std::size_t drawn = 0;  // lines of the deployment view on a terminal
  for (;;) {
    int64_t asked_at = ctx.clock.now_ms();
    QueryOptions q;
    q.index = index;
    q.wait = std::clamp(std::chrono::milliseconds(deadline - asked_at), kMinPoll, kMaxBlockingWait);
    auto detail = ctx.client->GetJob(job_id, q);
    if (!detail.ok()) return detail.status();
    const v1::JobDetail& jd = detail->value;
    if (jd.has_latest_deployment() && jd.job().version() > version) {
      return OutcomeOfVersion(ctx, job_id, version, jd.job().version());
    }
    JobProgress progress = ComputeProgress(jd);
    std::string line = "job " + job_id + ": " + progress.ToString();
    // A rolling version: its deployment says when it is done, or failed.
    const v1::Deployment& dep = jd.latest_deployment();
    const bool rolling = jd.has_latest_deployment() && dep.job_version() == jd.job().version();
    std::vector<std::string> lines = {line};
    if (rolling) {
      lines = DeploymentLines(dep);
      line.clear();
      for (const auto& l : lines) line += l + "\n";
    }
    if (table && line != last_line) {
      // On a terminal the view redraws in place; elsewhere each change is
      // printed as plain lines.
      if (ctx.terminal && rolling && drawn > 0) *ctx.out << "\x1b[" << drawn << "A";
      for (const auto& l : lines) *ctx.out << (ctx.terminal && rolling ? "\x1b[2K" : "") << l << "\n";
      ctx.out->flush();
      drawn = rolling ? lines.size() : 0;
    }
    last_line = line;
    if (rolling) {
      if (dep.status() == v1::Deployment::SUCCESSFUL) return Status::Ok();
      bool awaiting = false, ready = true;
      for (const auto& g : dep.groups()) {
        if (g.desired_canaries() == 0 || g.promoted() || g.auto_promote()) continue;
        awaiting = true;
        ready = ready && g.healthy_canaries() >= g.desired_canaries();
      }
      if (awaiting && ready && dep.status() == v1::Deployment::RUNNING) {
        if (table) {
          *ctx.out << "canaries healthy: promote them with `orchctl deployment promote " << ShortId(dep.id())
                   << "` (or fail the deployment)" << std::endl;
        }
        return Status::Ok();
      }
      if (dep.status() == v1::Deployment::FAILED || dep.status() == v1::Deployment::CANCELLED) {
        return Status::FailedPrecondition("deployment " + ShortId(dep.id()) + " of job \"" + job_id + "\" " +
                                          PrettyEnum(v1::Deployment::Status_Name(dep.status())) + ": " +
                                          dep.status_description());
      }
    } else if (progress.done()) {
      return Status::Ok();
    } else if (const v1::Evaluation* eval = FindEvaluation(jd, eval_id);
               eval != nullptr && progress.pending == 0 && progress.running < progress.desired) {
      // The scheduler has looked at this version and could not place all of
      // it: say why now instead of waiting out the timeout. The job stays
      // queued and is placed when capacity frees up.
      if (eval->status() == v1::Evaluation::BLOCKED || eval->status() == v1::Evaluation::FAILED) {
        return Status::FailedPrecondition("job \"" + job_id + "\": " + progress.ToString() + "; placement failed: " +
                                          OneLine(eval->status_description()) +
                                          " (the rest is placed when capacity frees up)");
      }
      if (eval->status() == v1::Evaluation::COMPLETE && progress.desired == 0) return Status::Ok();
    }
    int64_t now = ctx.clock.now_ms();
    if (now >= deadline) {
      return Status::DeadlineExceeded("job \"" + job_id + "\": " + progress.ToString() +
                                      " after waiting " + std::to_string(timeout.count() / 1000) +
                                      "s");
    }
    // A server that answers at once without a newer index is not blocking;
    // do not spin against it.
    if (detail->index <= index && now - asked_at < kMinPoll.count()) ctx.clock.sleep_for(kMinPoll);
    index = std::max(index, detail->index);
  }
}

// The one item whose id is `key`, or starts with it, or (nodes) is named
// `key`.
template <typename T>
Result<T> FindUnique(const google::protobuf::RepeatedPtrField<T>& items, const std::string& kind,
                     const std::string& key) {
  std::vector<const T*> found;
  for (const T& item : items) {
    if (item.id() == key) return item;
    bool named = false;
    if constexpr (std::is_same_v<T, v1::Node>) named = item.name() == key;
    if (named || item.id().rfind(key, 0) == 0) found.push_back(&item);
  }
  if (found.empty()) return Status::NotFound(kind + " \"" + key + "\" not found");
  if (found.size() > 1) {
    std::string ids;
    for (std::size_t i = 0; i < found.size() && i < 5; ++i) {
      ids += (i ? ", " : "") + found[i]->id();
    }
    if (found.size() > 5) ids += ", ...";
    return Status::InvalidArgument(kind + " \"" + key + "\" is ambiguous: it matches " +
                                   std::to_string(found.size()) + " (" + ids + ")");
  }
  return *found.front();
}

}  // namespace

Clock Clock::System() {
  Clock c;
  c.now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  c.sleep_for = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  return c;
}

Status RunJob(const Context& ctx, const std::string& document, const RunOptions& opts) {
  ORCH_ASSIGN_OR_RETURN(v1::SubmitJobResponse resp, ctx.client->SubmitJobDocument(document));
  if (ctx.format == OutputFormat::kTable && resp.unchanged()) {
    *ctx.out << "job " << resp.job_id() << " unchanged (version " << resp.version()
             << "): the file equals the running version; nothing replaced\n";
  } else if (ctx.format == OutputFormat::kTable) {
    *ctx.out << "job " << resp.job_id() << " submitted (version " << resp.version() << ", eval "
             << ShortId(resp.eval_id()) << ", index " << resp.index() << ")\n";
    for (const auto& w : resp.warnings()) *ctx.out << "warning: " << OneLine(w) << "\n";
    ctx.out->flush();
  }
  // Unchanged: nothing new to wait for past the entry; just show where it stands.
  if (opts.wait) {
    ORCH_RETURN_IF_ERROR(WaitForJob(ctx, resp.job_id(), resp.unchanged() ? "" : resp.eval_id(),
                                    resp.unchanged() ? 0 : resp.index(), resp.version(), opts.timeout));
  }
  if (ctx.format == OutputFormat::kTable) return Status::Ok();
  return PrintMessage(*ctx.out, ctx.format, resp, [] { return std::string(); });
}

Status GetJobs(const Context& ctx) {
  ORCH_ASSIGN_OR_RETURN(auto jobs, ctx.client->ListJobs());
  v1::AllocationList allocs;
  if (ctx.format == OutputFormat::kTable && !jobs.value.jobs().empty()) {
    ORCH_ASSIGN_OR_RETURN(auto all, ctx.client->ListAllocations());
    allocs = std::move(all.value);
  }
  return PrintMessage(*ctx.out, ctx.format, jobs.value,
                      [&] { return JobsTable(jobs.value, allocs); });
}

Status GetNodes(const Context& ctx) {
  ORCH_ASSIGN_OR_RETURN(auto nodes, ctx.client->ListNodes());
  return PrintMessage(*ctx.out, ctx.format, nodes.value, [&] { return NodesTable(nodes.value); });
}

Status GetAllocs(const Context& ctx, const std::string& job) {
  ORCH_ASSIGN_OR_RETURN(auto allocs, ctx.client->ListAllocations(job));
  return PrintMessage(*ctx.out, ctx.format, allocs.value,
                      [&] { return AllocsTable(allocs.value, ctx.clock.now_ms()); });
}

Status DescribeJobCommand(const Context& ctx, const std::string& id) {
  ORCH_ASSIGN_OR_RETURN(auto detail, ctx.client->GetJob(id));
  return PrintMessage(*ctx.out, ctx.format, detail.value,
                      [&] { return DescribeJob(detail.value, ctx.clock.now_ms()); });
}

Status DescribeNodeCommand(const Context& ctx, const std::string& id) {
  auto got = ctx.client->GetNode(id);
  v1::Node node;
  if (got.ok()) {
    node = std::move(got->value);
  } else if (got.status().code() == StatusCode::kNotFound) {
    ORCH_ASSIGN_OR_RETURN(auto nodes, ctx.client->ListNodes());
    ORCH_ASSIGN_OR_RETURN(node, FindUnique(nodes.value.nodes(), "node", id));
  } else {
    return got.status();
  }
  v1::AllocationList allocs;
  if (ctx.format == OutputFormat::kTable) {
    ORCH_ASSIGN_OR_RETURN(auto list, ctx.client->NodeAllocations(node.id()));
    allocs = std::move(list.value);
  }
  return PrintMessage(*ctx.out, ctx.format, node,
                      [&] { return DescribeNode(node, allocs, ctx.clock.now_ms()); });
}

Status DescribeAllocCommand(const Context& ctx, const std::string& id) {
  auto got = ctx.client->GetAllocation(id);
  v1::Allocation alloc;
  if (got.ok()) {
    alloc = std::move(got->value);
  } else if (got.status().code() == StatusCode::kNotFound) {
    ORCH_ASSIGN_OR_RETURN(auto allocs, ctx.client->ListAllocations());
    ORCH_ASSIGN_OR_RETURN(alloc, FindUnique(allocs.value.allocations(), "allocation", id));
  } else {
    return got.status();
  }
  return PrintMessage(*ctx.out, ctx.format, alloc,
                      [&] { return DescribeAlloc(alloc, ctx.clock.now_ms()); });
}

Status StopJob(const Context& ctx, const std::string& id, bool purge) {
  ORCH_ASSIGN_OR_RETURN(v1::StopJobResponse resp, ctx.client->StopJob(id, purge));
  return PrintMessage(*ctx.out, ctx.format, resp, [&] {
    std::string job = resp.job_id().empty() ? id : resp.job_id();
    return "job " + job + (purge ? " purged" : " stopped") + " (eval " + ShortId(resp.eval_id()) +
           ", index " + std::to_string(resp.index()) + ")\n";
  });
}

Status PrintVersion(const Context& ctx, const std::string& version) {
  std::ostream& out = *ctx.out;
  switch (ctx.format) {
    case OutputFormat::kTable:
      out << "orchctl " << version << "\n";
      break;
    case OutputFormat::kJson:
      out << "{\n  \"client_version\": \"" << version << "\"\n}\n";
      break;
    case OutputFormat::kYaml:
      out << "client_version: \"" << version << "\"\n";
      break;
  }
  out.flush();
  return Status::Ok();
}

}  // namespace orch::ctl
