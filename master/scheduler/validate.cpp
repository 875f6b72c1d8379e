#include "master/scheduler/validate.h"

#include <set>
#include <string>

#include "master/model/job_limits.h"
#include "master/scheduler/regex.h"

namespace orch::master::sched {
namespace {

Status CheckConstraint(const std::string& path, const v1::Constraint& c) {
  static const std::set<std::string> kOps = {"",  "=",      "==",      "is",           "!=",
                                             "not", "<",    ">",       "<=",           ">=",
                                             "regexp", "version", "set_contains", "distinct_hosts"};
  if (!kOps.count(c.operator_())) {
    return Status::InvalidArgument(path + ".operator: \"" + c.operator_() +
                                   "\" is not one of =, !=, <, >, <=, >=, regexp, version, set_contains, "
                                   "distinct_hosts");
  }
  if (c.operator_() == "distinct_hosts") return Status::Ok();
  if (c.attribute().empty()) return Status::InvalidArgument(path + ".attribute: is required");
  if (c.attribute().size() > JobLimits::kMaxAttributeBytes) {
    return Status::InvalidArgument(path + ".attribute: longer than " + std::to_string(JobLimits::kMaxAttributeBytes) +
                                   " bytes");
  }
  if (c.value().size() > JobLimits::kMaxConstraintValueBytes) {
    return Status::InvalidArgument(path + ".value: longer than " +
                                   std::to_string(JobLimits::kMaxConstraintValueBytes) + " bytes");
  }
  if (c.operator_() == "regexp") {
    Status st = CheckPattern(c.value());
    if (!st.ok()) return Status::InvalidArgument(path + ".value: " + st.message());
  }
  return Status::Ok();
}

}  // namespace

Status ValidateSchedulingFields(const v1::Job& job) {
  for (int i = 0; i < job.constraints_size(); ++i) {
    Status st = CheckConstraint("constraints[" + std::to_string(i) + "]", job.constraints(i));
    if (!st.ok()) return st;
  }
  for (int gi = 0; gi < job.groups_size(); ++gi) {
    const auto& g = job.groups(gi);
    std::string gp = "groups[" + std::to_string(gi) + "]";
    for (int i = 0; i < g.constraints_size(); ++i) {
      Status st = CheckConstraint(gp + ".constraints[" + std::to_string(i) + "]", g.constraints(i));
      if (!st.ok()) return st;
    }
    for (int i = 0; i < g.spread_size(); ++i) {
      const auto& s = g.spread(i);
      std::string sp = gp + ".spread[" + std::to_string(i) + "]";
      if (s.attribute().empty()) return Status::InvalidArgument(sp + ".attribute: is required");
      if (s.attribute().size() > JobLimits::kMaxAttributeBytes) {
        return Status::InvalidArgument(sp + ".attribute: longer than " +
                                       std::to_string(JobLimits::kMaxAttributeBytes) + " bytes");
      }
      if (s.weight() < 0) return Status::InvalidArgument(sp + ".weight: must not be negative");
      if (s.targets_size() > JobLimits::kMaxSpreadTargets) {
        return Status::InvalidArgument(sp + ".targets: more than " + std::to_string(JobLimits::kMaxSpreadTargets));
      }
      int sum = 0;
      for (int t = 0; t < s.targets_size(); ++t) {
        int pct = s.targets(t).percent();
        if (pct < 0 || pct > 100) {
          return Status::InvalidArgument(sp + ".targets[" + std::to_string(t) + "].percent: must be 0 to 100");
        }
        sum += pct;
      }
      if (sum > 100) return Status::InvalidArgument(sp + ".targets: percents add up to more than 100");
    }
    if (g.migrate().max_parallel() < 0) {
      return Status::InvalidArgument(gp + ".migrate.max_parallel: must not be negative");
    }
  }
  return Status::Ok();
}

}  // namespace orch::master::sched
