// OrchClient: the C++ REST client of orch's API, used by orchctl, the agent
// and the tests. Talks to one of several master addresses; a master that
// cannot be reached is skipped for the next one. Errors from the server come
// back as Status with the server's message.
// Thread safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_client.h"
#include "common/status.h"
#include "common/tls.h"
#include "orch/v1/api.pb.h"
#include "orch/v1/types.pb.h"

namespace orch {

// A read's result and the state index it reflects (X-Orch-Index).
template <typename T>
struct Indexed {
  T value;
  uint64_t index = 0;
  // Whether the master that answered knew a leader (X-Orch-Known-Leader;
  // true when the header is absent).
  bool known_leader = true;
};

// Blocking-query parameters: return once state past `index` exists, or
// after `wait`.
struct QueryOptions {
  uint64_t index = 0;
  std::chrono::milliseconds wait{0};
  bool stale = false;
};

// What a client presents to the masters.
struct OrchClientOptions {
  std::string token;  // ACL token's secret (X-Orch-Token)
  // An agent's node secret: sent with its registration and, in
  // X-Orch-Node-Secret, with every request.
  std::string node_secret;
  // For https:// masters: the cluster CA and our certificate and key; the
  // masters' certificates must name server.orch (common/tls.h).
  TlsFiles tls;
};

class OrchClient {
 public:
  explicit OrchClient(std::vector<std::string> addresses, std::string token = "");
  OrchClient(std::vector<std::string> addresses, OrchClientOptions options);

  // Jobs. `document` is a job file's text, YAML or JSON.
  Result<v1::SubmitJobResponse> SubmitJob(const v1::Job& job);
  Result<v1::SubmitJobResponse> SubmitJobDocument(const std::string& document);
  Result<Indexed<v1::JobList>> ListJobs(const QueryOptions& q = {});
  Result<Indexed<v1::JobDetail>> GetJob(const std::string& id, const QueryOptions& q = {});
  Result<v1::StopJobResponse> StopJob(const std::string& id, bool purge = false);
  // Runs a parameterized job once (POST /v1/jobs/{id}/dispatch), and a
  // periodic job now (POST /v1/jobs/{id}/periodic/force).
  Result<v1::DispatchJobResponse> DispatchJob(const std::string& id,
                                              const v1::DispatchJobRequest& req);
  Result<v1::DispatchJobResponse> ForcePeriodicJob(const std::string& id);
  Result<Indexed<v1::AllocationList>> JobAllocations(const std::string& id,
                                                     const QueryOptions& q = {});

  // Nodes.
  Result<Indexed<v1::NodeList>> ListNodes(const QueryOptions& q = {});
  Result<Indexed<v1::Node>> GetNode(const std::string& id, const QueryOptions& q = {});
  Result<v1::RegisterNodeResponse> RegisterNode(const v1::Node& node);
  Result<v1::HeartbeatResponse> Heartbeat(const std::string& node_id, const v1::HeartbeatRequest& req);
  Result<Indexed<v1::AllocationList>> NodeAllocations(const std::string& node_id,
                                                      const QueryOptions& q = {});
  Result<v1::UpdateAllocationsResponse> UpdateAllocations(const std::string& node_id,
                                                          const v1::UpdateAllocationsRequest& req);

  // Allocations. `job` filters when not empty.
  Result<Indexed<v1::AllocationList>> ListAllocations(const std::string& job = "",
                                                      const QueryOptions& q = {});
  Result<Indexed<v1::Allocation>> GetAllocation(const std::string& id, const QueryOptions& q = {});

  // The masters' Raft quorum. Member reads are answered from the asked
  // master's own view: only the leader's carries match indexes. Membership
  // writes reach the leader (a follower forwards them); 503 means no leader.
  Result<v1::MemberList> ListMembers();
  Result<v1::LeaderResponse> GetLeader();
  // Adds (raft_address set) or, with promote=true, promotes a member.
  Result<v1::ClusterResponse> AddMember(const v1::AddMemberRequest& req);
  Result<v1::ClusterResponse> RemoveMember(const std::string& id);
  Result<v1::ClusterResponse> TransferLeader(const std::string& id);
  // Collects garbage now on the leader, whatever its age (POST /v1/system/gc).
  Result<v1::GcResponse> SystemGc();
  // GET /v1/evaluations/{id} (an id or its unique prefix), and the list
  // (of one job when `job` is not empty).
  Result<Indexed<v1::Evaluation>> GetEvaluation(const std::string& id, const QueryOptions& q = {});
  Result<Indexed<v1::EvaluationList>> ListEvaluations(const std::string& job = "",
                                                      const QueryOptions& q = {});

  // Operator snapshots (GET / PUT /v1/operator/snapshot): the state image
  // (a SQLite database) with its index, checked against the SHA-256 the
  // master sent (InvalidArgument when they differ); and its restore.
  // `stale`: from whichever master answers, without a read barrier.
  struct StateSnapshot {
    std::string image;
    uint64_t index = 0;
    std::string sha256;
  };
  Result<StateSnapshot> SaveSnapshot(bool stale = false);
  Result<v1::SnapshotRestoreResponse> RestoreSnapshot(const std::string& image);

  // Services and their endpoints (the masters' registry).
  Result<Indexed<v1::ServiceList>> ListServices(const QueryOptions& q = {});
  Result<Indexed<v1::ServiceInfo>> GetService(const std::string& name, const QueryOptions& q = {});

  // The scheduler: dry-run a job document (what would go where, the
  // scores, preemptions, why groups cannot be placed), change a group's
  // count, drain a node (deadline 0: none) or undo a drain.
  Result<v1::PlanResponse> PlanJobDocument(const std::string& document);
  Result<v1::ScaleResponse> ScaleJob(const std::string& job_id, const std::string& group, int count);
  Result<v1::DrainResponse> DrainNode(const std::string& node_id, bool enable,
                                      std::chrono::milliseconds deadline = std::chrono::milliseconds(0));

  // Job versions and deployments: the versions kept (with the job's
  // deployments), a revert to the spec of one, deployments (of one job when
  // `job` is not empty), and pause / resume / fail of one.
  Result<Indexed<v1::JobVersionList>> JobVersions(const std::string& job_id, const QueryOptions& q = {});
  Result<v1::SubmitJobResponse> RevertJob(const std::string& job_id, uint64_t version);
  Result<Indexed<v1::DeploymentList>> ListDeployments(const std::string& job = "", const QueryOptions& q = {});
  Result<Indexed<v1::Deployment>> GetDeployment(const std::string& id, const QueryOptions& q = {});
  Result<v1::DeploymentActionResponse> DeploymentAction(const std::string& id, const std::string& action);

  // Lifecycle: restart an allocation's tasks in place (`task` empty: all),
  // or stop it (a service's allocation is replaced).
  Result<v1::AllocActionResponse> RestartAllocation(const std::string& id, const std::string& task = "");
  Result<v1::AllocActionResponse> StopAllocation(const std::string& id);
  // An agent migrating the ephemeral disk of the allocation its own
  // `alloc_id` replaces (the masters relay it from the old node): its size,
  // then the tar archive.
  Result<v1::PreviousDiskResponse> PreviousDiskSize(const std::string& node_id,
                                                    const std::string& alloc_id);
  Status PreviousDisk(const std::string& node_id, const std::string& alloc_id,
                      const std::function<bool(std::string_view)>& on_data);
  Result<v1::AllocActionResponse> SignalAllocation(const std::string& id, const std::string& signal,
                                                   const std::string& task = "");

  // An allocation's output (GET /v1/allocations/{id}/logs, proxied by the
  // master to the agent that runs it). `on_data` receives it as it
  // arrives; with `follow` until the task exits or `on_data` returns false.
  struct LogsOptions {
    std::string task;    // "" when the group has one task
    bool stderr_stream = false;
    bool follow = false;
    int64_t tail = -1;   // last lines; -1: all that is kept
  };
  Status AllocationLogs(const std::string& alloc_id, const LogsOptions& opts,
                        const std::function<bool(std::string_view)>& on_data);

  // The event stream (GET /v1/event/stream): each line it sends, without
  // its newline, to `on_line` (heartbeats "{}" included); "" about once a
  // second while nothing arrives. Returning false ends it (no error).
  struct EventsOptions {
    std::vector<std::string> topics;  // "Job", "Job:web", "*"; none: every topic
    uint64_t index = 0;               // only events after it (0: all the master keeps)
    bool follow = false;              // keep streaming new events
  };
  Status Events(const EventsOptions& opts,
                const std::function<bool(std::string_view line)>& on_line);

  // A client with the same token that talks to `address` only (e.g. the
  // leader's REST address).
  std::unique_ptr<OrchClient> At(const std::string& address) const;

  // Raw access for what has no typed method yet: returns the body of a 2xx.
  Result<HttpResponse> Raw(const std::string& method, const std::string& path,
                           const std::string& body = "",
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  const std::vector<std::string>& addresses() const { return addresses_; }
  const OrchClientOptions& options() const { return options_; }

 private:
  template <typename T>
  Result<Indexed<T>> GetIndexed(const std::string& path, const QueryOptions& q);
  template <typename T>
  Result<T> Call(const std::string& method, const std::string& path, const std::string& body);
  // A streamed GET of `path` from the first master that answers (the next
  // one while none has sent anything), its body piece by piece to `on_data`.
  Status StreamGet(const std::string& path, const std::function<bool(std::string_view)>& on_data);

  std::vector<std::string> addresses_;
  OrchClientOptions options_;
  HttpClient http_;
  std::atomic<std::size_t> preferred_{0};
};

}  // namespace orch
