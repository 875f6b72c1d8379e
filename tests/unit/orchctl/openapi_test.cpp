// api/openapi.yaml describes exactly the REST surface the masters serve.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "orch/v1/acl.pb.h"
#include "orch/v1/api.pb.h"

namespace {

const std::string kSpecPath = std::string(ORCH_SOURCE_DIR) + "/api/openapi.yaml";

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_THROW(spec_ = YAML::LoadFile(kSpecPath)) << kSpecPath; }

  // Follows a "#/components/..." reference.
  YAML::Node Resolve(const YAML::Node& node) const {
    if (!node["$ref"]) return node;
    std::string ref = node["$ref"].as<std::string>();
    EXPECT_EQ(ref.rfind("#/", 0), 0u) << ref;
    std::vector<std::string> parts;
    for (std::size_t pos = 2; pos <= ref.size();) {
      std::size_t next = std::min(ref.find('/', pos), ref.size());
      parts.push_back(ref.substr(pos, next - pos));
      pos = next + 1;
    }
    return Lookup(spec_, parts, 0);
  }

  // Recursion instead of reassigning a YAML::Node, which would rewrite the
  // node it refers to.
  static YAML::Node Lookup(const YAML::Node& at, const std::vector<std::string>& parts,
                           std::size_t i) {
    if (i == parts.size() || !at) return at;
    return Lookup(at[parts[i]], parts, i + 1);
  }

  YAML::Node spec_;
};

const std::vector<std::pair<std::string, std::string>> kOperations = {
    {"/v1/jobs", "post"},
    {"/v1/jobs", "get"},
    {"/v1/jobs/{id}", "get"},
    {"/v1/jobs/{id}", "delete"},
    {"/v1/jobs/{id}/allocations", "get"},
    {"/v1/jobs/{id}/dispatch", "post"},
    {"/v1/jobs/{id}/periodic/force", "post"},
    {"/v1/nodes", "get"},
    {"/v1/nodes/{id}", "get"},
    {"/v1/nodes/register", "post"},
    {"/v1/nodes/{id}/heartbeat", "post"},
    {"/v1/nodes/{id}/allocations", "get"},
    {"/v1/nodes/{id}/allocations", "post"},
    {"/v1/allocations", "get"},
    {"/v1/allocations/{id}", "get"},
    {"/v1/allocations/{id}/logs", "get"},
    {"/v1/nodes/{id}/allocations/{alloc}/previous-disk", "get"},
    {"/v1/evaluations", "get"},
    {"/v1/services", "get"},
    {"/v1/services/{name}", "get"},
    {"/healthz", "get"},
    {"/metrics", "get"},
    {"/ui", "get"},
    {"/ui/{file}", "get"},
    {"/v1/cluster/leader", "get"},
    {"/v1/cluster/members", "get"},
    {"/v1/cluster/members", "post"},
    {"/v1/cluster/members/{id}", "delete"},
    {"/v1/cluster/transfer-leader", "post"},
    {"/v1/jobs/plan", "post"},
    {"/v1/jobs/{id}/scale", "post"},
    {"/v1/nodes/{id}/drain", "post"},
    {"/v1/jobs/{id}/versions", "get"},
    {"/v1/jobs/{id}/revert", "post"},
    {"/v1/deployments", "get"},
    {"/v1/deployments/{id}", "get"},
    {"/v1/deployments/{id}/promote", "post"},
    {"/v1/allocations/{id}/restart", "post"},
    {"/v1/allocations/{id}/stop", "post"},
    {"/v1/allocations/{id}/signal", "post"},
    {"/v1/deployments/{id}/pause", "post"},
    {"/v1/deployments/{id}/resume", "post"},
    {"/v1/deployments/{id}/fail", "post"},
    {"/v1/system/gc", "post"},
    {"/v1/evaluations/{id}", "get"},
    {"/v1/operator/snapshot", "get"},
    {"/v1/operator/snapshot", "put"},
    {"/v1/event/stream", "get"},
    {"/v1/acl/bootstrap", "post"},
    {"/v1/acl/token/self", "get"},
    {"/v1/acl/tokens", "get"},
    {"/v1/acl/tokens", "post"},
    {"/v1/acl/tokens/{id}", "get"},
    {"/v1/acl/tokens/{id}", "delete"},
    {"/v1/acl/policies", "get"},
    {"/v1/acl/policies/{name}", "get"},
    {"/v1/acl/policies/{name}", "put"},
    {"/v1/acl/policies/{name}", "delete"},
};

// Open to anyone with ACLs on (master/acl/route_rules.cpp); every other
// operation may answer 403.
const std::set<std::pair<std::string, std::string>> kOpenOperations = {
    {"/healthz", "get"},   {"/metrics", "get"},           {"/ui", "get"},
    {"/ui/{file}", "get"}, {"/v1/cluster/leader", "get"}, {"/v1/acl/bootstrap", "post"}};

TEST_F(OpenApiTest, IsOpenApi3) {
  EXPECT_EQ(spec_["openapi"].as<std::string>().rfind("3.0", 0), 0u);
}

TEST_F(OpenApiTest, ListsEveryEndpointTheMastersServe) {
  for (const auto& [path, method] : kOperations) {
    EXPECT_TRUE(spec_["paths"][path]) << path;
    EXPECT_TRUE(spec_["paths"][path][method]) << method << " " << path;
  }
}

TEST_F(OpenApiTest, ListsNothingTheMastersDoNotServe) {
  std::set<std::pair<std::string, std::string>> known(kOperations.begin(), kOperations.end());
  for (const auto& path : spec_["paths"]) {
    for (const auto& op : path.second) {
      std::string method = op.first.as<std::string>();
      if (method == "parameters") continue;
      EXPECT_TRUE(known.count({path.first.as<std::string>(), method}))
          << method << " " << path.first.as<std::string>();
    }
  }
}

TEST_F(OpenApiTest, EveryV1ReadTakesBlockingQueryParametersAndAnswersAnIndex) {
  for (const auto& [path, method] : kOperations) {
    // The leader and the members are this master's local knowledge, not
    // state at an index; logs and a previous allocation's disk are an
    // agent's files; a snapshot is the
    // whole state at the index it was read (X-Orch-Index), nothing to wait for;
    // the event stream follows by itself (?index resumes it, nothing waits).
    if (method != "get" || path.rfind("/v1/", 0) != 0 || path.rfind("/v1/cluster/", 0) == 0 ||
        path == "/v1/allocations/{id}/logs" || path == "/v1/operator/snapshot" ||
        path == "/v1/event/stream" || path == "/v1/nodes/{id}/allocations/{alloc}/previous-disk") {
      continue;
    }
    std::set<std::string> params;
    YAML::Node op = spec_["paths"][path][method];
    for (const auto& p : op["parameters"]) params.insert(Resolve(p)["name"].as<std::string>());
    for (const char* want : {"index", "wait", "stale"}) {
      EXPECT_TRUE(params.count(want)) << path << " lacks ?" << want;
    }
    EXPECT_TRUE(op["responses"]["200"]["headers"]["X-Orch-Index"]) << path;
    EXPECT_TRUE(op["responses"]["200"]["headers"]["X-Orch-Known-Leader"]) << path;
  }
}

TEST_F(OpenApiTest, EveryWriteSaysFollowersForwardItAndWhat503Means) {
  for (const auto& [path, method] : kOperations) {
    if (method == "get") continue;
    YAML::Node op = spec_["paths"][path][method];
    std::string description = op["description"] ? op["description"].as<std::string>() : "";
    EXPECT_NE(description.find("a follower forwards it to the leader"), std::string::npos)
        << method << " " << path;
    EXPECT_NE(description.find("503 means there is no leader"), std::string::npos)
        << method << " " << path;
    YAML::Node unavailable = op["responses"]["503"];
    ASSERT_TRUE(unavailable) << method << " " << path;
    EXPECT_EQ(unavailable["$ref"].as<std::string>(""), "#/components/responses/NoLeader")
        << method << " " << path;
  }
}

TEST_F(OpenApiTest, ClusterSchemasMatchTheProtos) {
  YAML::Node schemas = spec_["components"]["schemas"];
  for (const char* f : {"id", "raft_id", "raft_address", "http_address", "role", "match_index",
                        "leader", "create_index"}) {
    EXPECT_TRUE(schemas["Member"]["properties"][f]) << "Member." << f;
  }
  for (const char* f : {"id", "raft_address", "http_address", "learner", "promote"}) {
    EXPECT_TRUE(schemas["AddMemberRequest"]["properties"][f]) << "AddMemberRequest." << f;
  }
  for (const char* f : {"leader_id", "address", "raft_address", "term"}) {
    EXPECT_TRUE(schemas["LeaderResponse"]["properties"][f]) << "LeaderResponse." << f;
  }
  EXPECT_TRUE(schemas["MemberList"]["properties"]["leader_id"]);
  EXPECT_TRUE(schemas["TransferLeaderRequest"]["properties"]["id"]);
  EXPECT_TRUE(schemas["ClusterResponse"]["properties"]["message"]);
}

TEST_F(OpenApiTest, DeploymentSchemasMatchTheProtos) {
  // Every field of the messages the deployment endpoints answer with.
  YAML::Node schemas = spec_["components"]["schemas"];
  auto all_fields = [&](const google::protobuf::Descriptor* d, const char* name) {
    for (int i = 0; i < d->field_count(); ++i) {
      EXPECT_TRUE(schemas[name]["properties"][d->field(i)->name()]) << name << "." << d->field(i)->name();
    }
  };
  all_fields(orch::v1::Deployment::descriptor(), "Deployment");
  all_fields(orch::v1::DeploymentGroup::descriptor(), "DeploymentGroup");
  all_fields(orch::v1::AllocDeploymentStatus::descriptor(), "AllocDeploymentStatus");
  all_fields(orch::v1::UpdateStrategy::descriptor(), "UpdateStrategy");
  all_fields(orch::v1::JobVersionList::descriptor(), "JobVersionList");
  all_fields(orch::v1::DeploymentActionResponse::descriptor(), "DeploymentActionResponse");
  all_fields(orch::v1::JobDetail::descriptor(), "JobDetail");
  all_fields(orch::v1::PlanResponse::descriptor(), "PlanResponse");
  all_fields(orch::v1::JobDiff::descriptor(), "JobDiff");
  all_fields(orch::v1::FieldDiff::descriptor(), "FieldDiff");
  all_fields(orch::v1::GroupDiff::descriptor(), "GroupDiff");
  all_fields(orch::v1::ReschedulePolicy::descriptor(), "ReschedulePolicy");
  all_fields(orch::v1::RescheduleEvent::descriptor(), "RescheduleEvent");
  all_fields(orch::v1::AllocActionResponse::descriptor(), "AllocActionResponse");
  all_fields(orch::v1::AllocRestartRequest::descriptor(), "AllocRestartRequest");
  all_fields(orch::v1::AllocSignalRequest::descriptor(), "AllocSignalRequest");
  // Workloads: volumes, periodic and parameterized jobs.
  all_fields(orch::v1::Job::descriptor(), "Job");
  all_fields(orch::v1::TaskGroup::descriptor(), "TaskGroup");
  all_fields(orch::v1::VolumeRequest::descriptor(), "VolumeRequest");
  all_fields(orch::v1::VolumeMount::descriptor(), "VolumeMount");
  all_fields(orch::v1::EphemeralDisk::descriptor(), "EphemeralDisk");
  all_fields(orch::v1::PeriodicConfig::descriptor(), "PeriodicConfig");
  all_fields(orch::v1::ParameterizedConfig::descriptor(), "ParameterizedConfig");
  all_fields(orch::v1::DispatchJobRequest::descriptor(), "DispatchJobRequest");
  all_fields(orch::v1::DispatchJobResponse::descriptor(), "DispatchJobResponse");
  all_fields(orch::v1::HostVolume::descriptor(), "HostVolume");
  all_fields(orch::v1::Task::descriptor(), "Task");
  all_fields(orch::v1::Port::descriptor(), "Port");
  all_fields(orch::v1::DockerConfig::descriptor(), "DockerConfig");
  all_fields(orch::v1::DockerUlimit::descriptor(), "DockerUlimit");
  all_fields(orch::v1::RegistryAuth::descriptor(), "RegistryAuth");
}

TEST_F(OpenApiTest, EveryOperationButTheOpenOnesSays403WithACLs) {
  for (const auto& [path, method] : kOperations) {
    YAML::Node forbidden = spec_["paths"][path][method]["responses"]["403"];
    if (kOpenOperations.count({path, method})) {
      EXPECT_FALSE(forbidden) << method << " " << path << " is open to anyone";
      continue;
    }
    ASSERT_TRUE(forbidden) << method << " " << path;
    if (forbidden["$ref"]) {
      EXPECT_EQ(forbidden["$ref"].as<std::string>(), "#/components/responses/Forbidden")
          << method << " " << path;
    } else {  // a 403 of its own must still say what ACLs do
      EXPECT_NE(forbidden["description"].as<std::string>("").find("ACLs are on"), std::string::npos)
          << method << " " << path;
    }
  }
}

TEST_F(OpenApiTest, AclSchemasMatchTheProtos) {
  YAML::Node schemas = spec_["components"]["schemas"];
  auto all_fields = [&](const google::protobuf::Descriptor* d, const char* name) {
    for (int i = 0; i < d->field_count(); ++i) {
      EXPECT_TRUE(schemas[name]["properties"][d->field(i)->name()])
          << name << "." << d->field(i)->name();
    }
  };
  all_fields(orch::v1::AclRule::descriptor(), "AclRule");
  all_fields(orch::v1::AclPolicy::descriptor(), "AclPolicy");
  all_fields(orch::v1::AclPolicyList::descriptor(), "AclPolicyList");
  all_fields(orch::v1::AclToken::descriptor(), "AclToken");
  all_fields(orch::v1::AclTokenList::descriptor(), "AclTokenList");
  all_fields(orch::v1::AclTokenCreateRequest::descriptor(), "AclTokenCreateRequest");
  all_fields(orch::v1::AclWriteResponse::descriptor(), "AclWriteResponse");
}

TEST_F(OpenApiTest, ErrorsUseTheErrorEnvelope) {
  YAML::Node err = spec_["components"]["schemas"]["ErrorResponse"];
  ASSERT_TRUE(err);
  YAML::Node inner = Resolve(err["properties"]["error"]);
  EXPECT_TRUE(inner["properties"]["code"]);
  EXPECT_TRUE(inner["properties"]["message"]);
  EXPECT_TRUE(spec_["paths"]["/v1/jobs"]["post"]["responses"]["413"]);
  EXPECT_TRUE(spec_["components"]["responses"]["MethodNotAllowed"]["headers"]["Allow"]);
}

TEST_F(OpenApiTest, EveryReferenceResolves) {
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& n,
                                                                        const std::string& where) {
    if (n.IsMap()) {
      if (n["$ref"]) {
        EXPECT_TRUE(Resolve(n)) << where << ": " << n["$ref"].as<std::string>();
      }
      for (const auto& kv : n) walk(kv.second, where + "/" + kv.first.as<std::string>());
    } else if (n.IsSequence()) {
      for (std::size_t i = 0; i < n.size(); ++i) walk(n[i], where + "/" + std::to_string(i));
    }
  };
  walk(spec_, "#");
}

TEST_F(OpenApiTest, SchemasUseProtoFieldNames) {
  YAML::Node alloc = spec_["components"]["schemas"]["Allocation"]["properties"];
  for (const char* f : {"job_id", "node_id", "desired_status", "client_status", "task_states"}) {
    EXPECT_TRUE(alloc[f]) << f;
  }
  YAML::Node status = spec_["components"]["schemas"]["AllocationClientStatus"]["enum"];
  bool running = false;
  for (const auto& v : status) running |= v.as<std::string>() == "RUNNING";
  EXPECT_TRUE(running);
}

}  // namespace
