// Constraints on node attributes: resolving an attribute name
// ("${attr.os}", "os", "${node.name}", "label.zone", "${meta.zone}",
// "${attr.cpu_cores}", ...) on a node, and the operators "=", "!=", "<",
// ">", "regexp", "version", "set_contains". "distinct_hosts" is not an
// attribute test: the scheduler applies it per placement.
// Thread safety: thread-safe functions (regexps compile once, in RE2, into
// a shared cache: master/scheduler/regex.h).
#pragma once

#include <optional>
#include <string>

#include "orch/v1/types.pb.h"

namespace orch::master::sched {

// The node's value for `attribute`, or nullopt when it has none.
std::optional<std::string> ResolveAttribute(const v1::Node& node, const std::string& attribute);

// Whether `node` satisfies `c` (false when the attribute is missing, except
// for "!=" which holds then). distinct_hosts always holds here.
bool ConstraintHolds(const v1::Node& node, const v1::Constraint& c);

// "version" operator: `have` against a comma-separated list of
// requirements like ">= 1.2, < 2" (missing parts count as 0). Exposed for
// tests.
bool VersionMatches(const std::string& have, const std::string& requirement);

// Human form for explanations: "${attr.os} = windows".
std::string DescribeConstraint(const v1::Constraint& c);

}  // namespace orch::master::sched
