#include "api/orchctl/deployment_cmds.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "api/orchctl/output.h"
#include "api/orchctl/table.h"

namespace orch::ctl {
namespace {

std::string Describe(const v1::Deployment& d, int64_t now_ms) {
  std::ostringstream o;
  o << "deployment " << d.id() << "\n";
  o << "  job:      " << d.job_id() << " version " << d.job_version();
  if (d.has_reverts_to()) o << " (the spec of version " << d.reverts_to() << ")";
  o << "\n  status:   " << PrettyEnum(v1::Deployment::Status_Name(d.status()));
  if (!d.status_description().empty()) o << ": " << OneLine(d.status_description());
  o << "\n  started:  " << FormatAge(now_ms, d.create_time_ms()) << " ago\n\n";
  Table t({"GROUP", "DESIRED", "CANARIES", "PLACED", "HEALTHY", "UNHEALTHY", "MAX PARALLEL", "AUTO REVERT",
           "PROGRESS BY"});
  for (const auto& g : d.groups()) {
    std::string by = "-";
    if (d.status() == v1::Deployment::RUNNING && g.require_progress_by_ms() > 0) {
      by = "in " + FormatAge(g.require_progress_by_ms(), now_ms);
    }
    std::string canaries = "-";
    if (g.desired_canaries() > 0) {
      canaries = g.promoted() ? std::to_string(g.desired_canaries()) + " (promoted)"
                              : std::to_string(g.placed_canaries()) + "/" + std::to_string(g.desired_canaries());
    }
    t.AddRow({g.name(), std::to_string(g.desired_total()), canaries, std::to_string(g.placed()),
              std::to_string(g.healthy()),
              std::to_string(g.unhealthy()), std::to_string(g.max_parallel()), g.auto_revert() ? "yes" : "no", by});
  }
  o << t.Render();
  return o.str();
}

}  // namespace

std::string FormatJobDiff(const v1::JobDiff& diff, const std::string& job_id) {
  std::ostringstream o;
  if (diff.new_job()) {
    o << "job " << job_id << ": new job\n";
  } else if (diff.unchanged()) {
    o << "job " << job_id << ": unchanged (version " << diff.version_before() << "): nothing would be replaced\n";
    return o.str();
  } else {
    o << "job " << job_id << ": version " << diff.version_before() << " -> " << diff.version_before() + 1 << "\n";
  }
  for (const auto& g : diff.groups()) {
    o << "  group " << g.name() << ": " << g.update();
    if (g.update() == "scale") {
      o << " " << g.count_before() << " -> " << g.count_after();
    } else if (g.update() != "destroy") {
      o << " (count " << g.count_after() << ")";
    }
    o << "\n";
  }
  for (const auto& f : diff.fields()) {
    switch (f.type()) {
      case v1::FieldDiff::ADDED:
        o << "  + " << f.path() << ": " << f.after() << "\n";
        break;
      case v1::FieldDiff::DELETED:
        o << "  - " << f.path() << ": " << f.before() << "\n";
        break;
      default:
        o << "  ~ " << f.path() << ": " << f.before() << " => " << f.after() << "\n";
        break;
    }
  }
  return o.str();
}

Status JobDiffCommand(const Context& ctx, const std::string& document) {
  ORCH_ASSIGN_OR_RETURN(v1::PlanResponse plan, ctx.client->PlanJobDocument(document));
  return PrintMessage(*ctx.out, ctx.format, plan.diff(), [&] { return FormatJobDiff(plan.diff(), plan.job_id()); });
}

std::vector<std::string> DeploymentLines(const v1::Deployment& d) {
  std::vector<std::string> out;
  out.push_back("deployment " + ShortId(d.id()) + " " + PrettyEnum(v1::Deployment::Status_Name(d.status())) +
                (d.status_description().empty() ? "" : ": " + OneLine(d.status_description())));
  std::size_t width = 0;
  for (const auto& g : d.groups()) width = std::max(width, g.name().size());
  constexpr int kBar = 20;
  for (const auto& g : d.groups()) {
    const int total = std::max(1, g.desired_total());
    const int filled = std::min(kBar, g.healthy() * kBar / total);
    std::string line = "  " + g.name() + std::string(width - g.name().size(), ' ') + "  [" +
                       std::string(static_cast<std::size_t>(filled), '#') +
                       std::string(static_cast<std::size_t>(kBar - filled), '-') + "]  " +
                       std::to_string(g.healthy()) + "/" + std::to_string(g.desired_total()) + " healthy, " +
                       std::to_string(g.placed()) + " placed, " + std::to_string(g.unhealthy()) + " unhealthy";
    if (g.desired_canaries() > 0) {
      line += g.promoted() ? ", canaries promoted"
                           : ", " + std::to_string(g.healthy_canaries()) + "/" + std::to_string(g.desired_canaries()) +
                                 " canaries healthy";
    }
    out.push_back(std::move(line));
  }
  return out;
}

std::string DeploymentProgress(const v1::Deployment& d) {
  std::string s;
  for (const auto& g : d.groups()) {
    if (!s.empty()) s += "; ";
    s += g.name() + ": " + std::to_string(g.healthy()) + "/" + std::to_string(g.desired_total()) + " healthy (" +
         std::to_string(g.placed()) + " placed, " + std::to_string(g.unhealthy()) + " unhealthy";
    if (g.desired_canaries() > 0 && !g.promoted()) {
      s += ", " + std::to_string(g.placed_canaries()) + "/" + std::to_string(g.desired_canaries()) +
           " canaries, awaiting promotion";
    }
    s += ")";
  }
  return s;
}

Status JobHistory(const Context& ctx, const std::string& job) {
  ORCH_ASSIGN_OR_RETURN(auto list, ctx.client->JobVersions(job));
  return PrintMessage(*ctx.out, ctx.format, list.value, [&] {
    std::map<uint64_t, const v1::Deployment*> by_version;  // the newest deployment of each version
    for (const auto& d : list.value.deployments()) by_version.emplace(d.job_version(), &d);
    Table t({"VERSION", "STABLE", "SUBMITTED", "DEPLOYMENT", "STATUS", "DESCRIPTION"});
    for (const auto& v : list.value.versions()) {
      auto d = by_version.find(v.version());
      const v1::Deployment* dep = d == by_version.end() ? nullptr : d->second;
      t.AddRow({std::to_string(v.version()), v.stable() ? "yes" : "no",
                FormatAge(ctx.clock.now_ms(), v.submit_time_ms()) + " ago", dep ? ShortId(dep->id()) : "-",
                dep ? PrettyEnum(v1::Deployment::Status_Name(dep->status())) : "-",
                dep ? OneLine(dep->status_description()) : ""});
    }
    return t.Render();
  });
}

Status JobRevert(const Context& ctx, const std::string& job, uint64_t version) {
  ORCH_ASSIGN_OR_RETURN(v1::SubmitJobResponse resp, ctx.client->RevertJob(job, version));
  return PrintMessage(*ctx.out, ctx.format, resp, [&] {
    if (resp.unchanged()) {
      return "job " + job + " unchanged: version " + std::to_string(version) + " equals the running version " +
             std::to_string(resp.version()) + "\n";
    }
    return "job " + job + " reverted to the spec of version " + std::to_string(version) + " as version " +
           std::to_string(resp.version()) + " (eval " + ShortId(resp.eval_id()) + ", index " +
           std::to_string(resp.index()) + ")\n";
  });
}

Status DeploymentList(const Context& ctx, const std::string& job) {
  ORCH_ASSIGN_OR_RETURN(auto list, ctx.client->ListDeployments(job));
  return PrintMessage(*ctx.out, ctx.format, list.value, [&] {
    Table t({"ID", "JOB", "VERSION", "STATUS", "PROGRESS", "AGE", "DESCRIPTION"});
    for (const auto& d : list.value.deployments()) {
      t.AddRow({ShortId(d.id()), d.job_id(), std::to_string(d.job_version()),
                PrettyEnum(v1::Deployment::Status_Name(d.status())), DeploymentProgress(d),
                FormatAge(ctx.clock.now_ms(), d.create_time_ms()), OneLine(d.status_description())});
    }
    return t.Render();
  });
}

Status DeploymentStatus(const Context& ctx, const std::string& id) {
  ORCH_ASSIGN_OR_RETURN(auto d, ctx.client->GetDeployment(id));
  return PrintMessage(*ctx.out, ctx.format, d.value, [&] { return Describe(d.value, ctx.clock.now_ms()); });
}

Status DeploymentAct(const Context& ctx, const std::string& id, const std::string& action) {
  ORCH_ASSIGN_OR_RETURN(auto resp, ctx.client->DeploymentAction(id, action));
  return PrintMessage(*ctx.out, ctx.format, resp, [&] {
    return "deployment " + ShortId(resp.deployment_id()) + ": " +
           PrettyEnum(v1::Deployment::Status_Name(resp.status())) + " (index " + std::to_string(resp.index()) +
           ")\n";
  });
}

}  // namespace orch::ctl
