#include "api/orchctl/views.h"

#include <algorithm>
#include <map>

#include "api/orchctl/table.h"

namespace orch::ctl {

namespace {

int DesiredCount(const v1::Job& job) {
  if (job.stop()) return 0;
  int n = 0;
  for (const auto& g : job.groups()) n += g.count();
  return n;
}

bool Live(const v1::Allocation& a) { return a.desired_status() == v1::Allocation::RUN; }

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

std::string JobStatus(const v1::Job& job) {
  std::string s = PrettyEnum(v1::Job::Status_Name(job.status()));
  if (job.stop() && s != "dead") s += " (stopping)";
  return s;
}

// "server=running, log=dead(failed exit 1 restarts 2)".
std::string TaskStates(const v1::Allocation& a) {
  std::string out;
  for (const auto& t : a.task_states()) {
    std::string notes;
    auto note = [&](const std::string& n) { notes += (notes.empty() ? "" : " ") + n; };
    if (t.failed()) note("failed");
    if (t.state() == v1::TaskState::DEAD && t.exit_code() != 0) {
      note("exit " + std::to_string(t.exit_code()));
    }
    if (t.restarts() > 0) note("restarts " + std::to_string(t.restarts()));
    std::string s = t.name() + "=" + PrettyEnum(v1::TaskState::State_Name(t.state()));
    if (!notes.empty()) s += "(" + notes + ")";
    out += (out.empty() ? "" : ", ") + s;
  }
  return out.empty() ? "-" : out;
}

void Field(std::string* out, const std::string& name, const std::string& value) {
  constexpr std::size_t kWidth = 12;
  std::string label = name + ":";
  label.resize(std::max(kWidth, label.size() + 1), ' ');
  *out += label + value + "\n";
}

}  // namespace

std::string GroupsSummary(const v1::Job& job) {
  std::string out;
  for (const auto& g : job.groups()) {
    out += (out.empty() ? "" : ", ") + g.name() + " (count " + std::to_string(g.count()) + ")";
  }
  return out.empty() ? "-" : out;
}

std::string JobsTable(const v1::JobList& jobs, const v1::AllocationList& allocs) {
  if (jobs.jobs().empty()) return "No jobs found.\n";
  std::map<std::string, int> running;
  for (const auto& a : allocs.allocations()) {
    if (Live(a) && a.client_status() == v1::Allocation::RUNNING) ++running[a.job_id()];
  }
  Table t({"ID", "TYPE", "STATUS", "VERSION", "GROUPS", "ALLOCS"});
  for (const auto& j : jobs.jobs()) {
    int desired = DesiredCount(j);
    if (j.type() == v1::Job::SYSTEM) {
      desired = 0;
      for (const auto& a : allocs.allocations())
        desired += (a.job_id() == j.id() && Live(a)) ? 1 : 0;
    }
    t.AddRow({j.id(), PrettyEnum(v1::Job::Type_Name(j.type())), JobStatus(j),
              std::to_string(j.version()), std::to_string(j.groups_size()),
              std::to_string(running[j.id()]) + "/" + std::to_string(desired)});
  }
  return t.Render();
}

std::string NodesTable(const v1::NodeList& nodes) {
  if (nodes.nodes().empty()) return "No nodes registered.\n";
  Table t({"ID", "NAME", "ADDRESS", "STATUS", "CPU", "MEMORY", "DRIVERS"});
  for (const auto& n : nodes.nodes()) {
    t.AddRow({ShortId(n.id()), n.name(), n.address().empty() ? "-" : n.address(),
              PrettyEnum(v1::Node::Status_Name(n.status())),
              std::to_string(n.allocated().cpu()) + "/" + std::to_string(n.capacity().cpu()) + "m",
              std::to_string(n.allocated().memory()) + "/" + std::to_string(n.capacity().memory()) +
                  "Mi",
              Join(n.attributes().drivers())});
  }
  return t.Render();
}

std::string AllocsTable(const v1::AllocationList& allocs, int64_t now_ms) {
  if (allocs.allocations().empty()) return "No allocations found.\n";
  Table t({"ID", "JOB", "GROUP", "NODE", "DESIRED", "STATUS", "AGE"});
  for (const auto& a : allocs.allocations()) {
    t.AddRow({ShortId(a.id()), a.job_id(), a.group(), ShortId(a.node_id()),
              PrettyEnum(v1::Allocation::DesiredStatus_Name(a.desired_status())),
              PrettyEnum(v1::Allocation::ClientStatus_Name(a.client_status())),
              FormatAge(now_ms, a.create_time_ms())});
  }
  return t.Render();
}

std::string MembersTable(const v1::MemberList& members) {
  if (members.members().empty()) return "No members known.\n";
  Table t({"ID", "ROLE", "LEADER", "RAFT ADDRESS", "HTTP ADDRESS", "MATCH"});
  for (const auto& m : members.members()) {
    bool leader = m.leader() || (!members.leader_id().empty() && m.id() == members.leader_id());
    t.AddRow({m.id(), PrettyEnum(v1::Member::Role_Name(m.role())), leader ? "*" : "",
              m.raft_address().empty() ? "-" : m.raft_address(),
              m.http_address().empty() ? "-" : m.http_address(),
              m.match_index() > 0 ? std::to_string(m.match_index()) : ""});
  }
  return t.Render();
}

std::string LeaderLine(const v1::LeaderResponse& leader) {
  std::string where = leader.address().empty() ? "address not announced yet" : leader.address();
  return leader.leader_id() + " (" + where + ", term " + std::to_string(leader.term()) + ")\n";
}

std::string DescribeJob(const v1::JobDetail& detail, int64_t now_ms) {
  const v1::Job& job = detail.job();
  std::string out;
  Field(&out, "ID", job.id());
  Field(&out, "Type", PrettyEnum(v1::Job::Type_Name(job.type())));
  Field(&out, "Status", JobStatus(job));
  Field(&out, "Version", std::to_string(job.version()));
  Field(&out, "Priority", std::to_string(job.priority()));
  Field(&out, "Submitted",
        FormatAge(now_ms, job.submit_time_ms()) + (job.submit_time_ms() > 0 ? " ago" : ""));
  Field(&out, "Groups", GroupsSummary(job));
  if (job.has_periodic()) {
    Field(&out, "Periodic",
          job.periodic().cron() +
              (job.periodic().time_zone().empty() ? "" : " (" + job.periodic().time_zone() + ")") +
              (job.periodic().prohibit_overlap() ? ", no overlap" : ""));
  }
  if (job.has_parameterized()) {
    const auto& pz = job.parameterized();
    std::string meta;
    for (const auto& k : pz.meta_required()) meta += (meta.empty() ? "" : ", ") + k + " (required)";
    for (const auto& k : pz.meta_optional()) meta += (meta.empty() ? "" : ", ") + k;
    Field(&out, "Parameterized",
          "payload " + (pz.payload().empty() ? std::string("optional") : pz.payload()) +
              (meta.empty() ? "" : "; meta " + meta));
  }
  if (!job.parent_id().empty()) Field(&out, "Parent", job.parent_id());
  if (!job.has_periodic() && !job.has_parameterized()) {
    JobProgress p = ComputeProgress(detail);
    Field(&out, "Progress", p.ToString());
  }
  if (job.has_periodic() || job.has_parameterized()) {
    out += std::string("\n") + (job.has_periodic() ? "Launched jobs" : "Dispatched jobs") + "\n";
    if (detail.children().empty()) {
      out += "None yet.\n";
    } else {
      Table t({"ID", "STATUS", "SUBMITTED"});
      for (const auto& c : detail.children()) {
        t.AddRow({c.id(), JobStatus(c), FormatAge(now_ms, c.submit_time_ms()) + " ago"});
      }
      out += t.Render();
    }
  }

  out += "\nSummary\n";
  if (detail.summary().empty()) {
    out += "No allocations.\n";
  } else {
    std::map<std::string, int> sorted(detail.summary().begin(), detail.summary().end());
    Table t({"STATUS", "COUNT"});
    for (const auto& [status, n] : sorted) t.AddRow({PrettyEnum(status), std::to_string(n)});
    out += t.Render();
  }

  out += "\nAllocations\n";
  if (detail.allocations().empty()) {
    out += "No allocations.\n";
  } else {
    Table t({"ID", "GROUP", "NODE", "VERSION", "DESIRED", "STATUS", "AGE", "TASKS"});
    for (const auto& a : detail.allocations()) {
      t.AddRow({ShortId(a.id()), a.group(), ShortId(a.node_id()), std::to_string(a.job_version()),
                PrettyEnum(v1::Allocation::DesiredStatus_Name(a.desired_status())),
                PrettyEnum(v1::Allocation::ClientStatus_Name(a.client_status())),
                FormatAge(now_ms, a.create_time_ms()), TaskStates(a)});
    }
    out += t.Render();
  }

  out += "\nEvaluations\n";
  if (detail.evaluations().empty()) {
    out += "No evaluations.\n";
  } else {
    Table t({"ID", "TRIGGER", "STATUS", "DESCRIPTION"});
    for (const auto& e : detail.evaluations()) {
      t.AddRow({ShortId(e.id()), PrettyEnum(v1::Evaluation::Trigger_Name(e.triggered_by())),
                PrettyEnum(v1::Evaluation::Status_Name(e.status())),
                e.status_description().empty() ? "-" : OneLine(e.status_description())});
    }
    out += t.Render();
  }
  return out;
}

std::string DescribeNode(const v1::Node& node, const v1::AllocationList& allocs, int64_t now_ms) {
  const auto& attrs = node.attributes();
  std::string out;
  Field(&out, "ID", node.id());
  Field(&out, "Name", node.name());
  Field(&out, "Address", node.address().empty() ? "-" : node.address());
  Field(&out, "Status", PrettyEnum(v1::Node::Status_Name(node.status())));
  Field(
      &out, "OS/Arch",
      (attrs.os().empty() ? "-" : attrs.os()) + "/" + (attrs.arch().empty() ? "-" : attrs.arch()));
  Field(&out, "Kernel", attrs.kernel().empty() ? "-" : attrs.kernel());
  Field(&out, "Drivers", Join(attrs.drivers()));
  std::map<std::string, std::string> labels(attrs.labels().begin(), attrs.labels().end());
  std::string label_text;
  for (const auto& [k, v] : labels) label_text += (label_text.empty() ? "" : ",") + k + "=" + v;
  Field(&out, "Labels", label_text.empty() ? "-" : label_text);
  Field(&out, "CPU",
        std::to_string(node.allocated().cpu()) + "/" + std::to_string(node.capacity().cpu()) +
            "m allocated, " + std::to_string(static_cast<int64_t>(node.load().cpu())) + "m in use");
  Field(&out, "Memory",
        std::to_string(node.allocated().memory()) + "/" + std::to_string(node.capacity().memory()) +
            "Mi allocated, " + std::to_string(static_cast<int64_t>(node.load().memory())) +
            "Mi in use");
  Field(&out, "Disk",
        node.capacity().disk() > 0 ? std::to_string(node.allocated().disk()) + "/" +
                                         std::to_string(node.capacity().disk()) + "Mi reserved"
                                   : std::string("not reported"));
  Field(&out, "Heartbeat",
        node.last_heartbeat_ms() > 0 ? FormatAge(now_ms, node.last_heartbeat_ms()) + " ago"
                                     : std::string("never"));
  out += "\nAllocations\n" + AllocsTable(allocs, now_ms);
  return out;
}

std::string DescribeAlloc(const v1::Allocation& a, int64_t now_ms) {
  std::string out;
  auto with_reason = [](std::string state, const std::string& why) {
    return why.empty() ? state : state + " (" + OneLine(why) + ")";
  };
  Field(&out, "ID", a.id());
  Field(&out, "Name", a.name().empty() ? "-" : a.name());
  Field(&out, "Job", a.job_id() + " (version " + std::to_string(a.job_version()) + ")");
  Field(&out, "Group", a.group());
  Field(&out, "Node", a.node_id().empty() ? "-" : a.node_id());
  Field(&out, "Desired",
        with_reason(PrettyEnum(v1::Allocation::DesiredStatus_Name(a.desired_status())),
                    a.desired_description()));
  Field(&out, "Status",
        with_reason(PrettyEnum(v1::Allocation::ClientStatus_Name(a.client_status())),
                    a.client_description()));
  Field(&out, "Healthy", a.healthy() ? "yes" : "no");
  std::string ports;
  for (const auto& p : a.ports()) {
    ports += (ports.empty() ? "" : ", ") + p.name() + "=" + std::to_string(p.value());
  }
  Field(&out, "Ports", ports.empty() ? "-" : ports);
  Field(&out, "Resources",
        std::to_string(a.resources().cpu()) + "m cpu, " + std::to_string(a.resources().memory()) +
            "Mi memory" +
            (a.resources().disk() > 0 ? ", " + std::to_string(a.resources().disk()) + "Mi disk"
                                      : std::string()));
  Field(&out, "Created",
        a.create_time_ms() > 0 ? FormatAge(now_ms, a.create_time_ms()) + " ago" : std::string("-"));
  out += "\nTasks\n";
  if (a.task_states().empty()) {
    out += "No task has reported yet.\n";
    return out;
  }
  Table t({"NAME", "STATE", "FAILED", "EXIT", "RESTARTS", "PID", "STARTED", "MESSAGE"});
  for (const auto& ts : a.task_states()) {
    t.AddRow({ts.name(), PrettyEnum(v1::TaskState::State_Name(ts.state())),
              ts.failed() ? "yes" : "no",
              ts.state() == v1::TaskState::DEAD ? std::to_string(ts.exit_code()) : "-",
              std::to_string(ts.restarts()), ts.pid() > 0 ? std::to_string(ts.pid()) : "-",
              ts.started_at_ms() > 0 ? FormatAge(now_ms, ts.started_at_ms()) + " ago" : "-",
              ts.message().empty() ? "-" : OneLine(ts.message())});
  }
  out += t.Render();
  return out;
}

JobProgress ComputeProgress(const v1::JobDetail& detail) {
  const v1::Job& job = detail.job();
  JobProgress p;
  int live = 0;
  for (const auto& a : detail.allocations()) {
    if (!Live(a) || a.job_version() != job.version()) continue;
    ++live;
    switch (a.client_status()) {
      case v1::Allocation::RUNNING:
        ++p.running;
        break;
      case v1::Allocation::COMPLETE:
        if (job.type() == v1::Job::BATCH) ++p.running;
        break;
      case v1::Allocation::PENDING:
        ++p.pending;
        break;
      case v1::Allocation::FAILED:
      case v1::Allocation::LOST:
        ++p.failed;
        break;
      default:
        break;
    }
  }
  p.desired = job.type() == v1::Job::SYSTEM ? live : DesiredCount(job);
  return p;
}

std::string JobProgress::ToString() const {
  std::string s = std::to_string(running) + "/" + std::to_string(desired) + " running";
  if (pending > 0) s += ", " + std::to_string(pending) + " pending";
  if (failed > 0) s += ", " + std::to_string(failed) + " failed";
  return s;
}

}  // namespace orch::ctl
