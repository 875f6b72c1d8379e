#include "api/client/client.h"

#include <charconv>

#include "common/http_types.h"
#include "common/ids.h"
#include "common/json.h"

namespace orch {

namespace {
HttpClientOptions MakeOptions(const OrchClientOptions& options) {
  HttpClientOptions o;
  if (!options.token.empty()) o.headers.emplace_back("X-Orch-Token", options.token);
  // An agent's own requests: masters with ACLs let a node's writes through
  // only with that node's secret.
  if (!options.node_secret.empty())
    o.headers.emplace_back("X-Orch-Node-Secret", options.node_secret);
  o.tls = options.tls;
  o.tls_server_name = std::string(TlsRoleName(TlsRole::kServer));
  return o;
}

std::string WithQuery(const std::string& path, const QueryOptions& q) {
  std::string out = path;
  auto add = [&](const std::string& kv) {
    out += (out.find('?') == std::string::npos ? "?" : "&") + kv;
  };
  if (q.index > 0) add("index=" + std::to_string(q.index));
  if (q.wait.count() > 0) add("wait=" + std::to_string(q.wait.count()) + "ms");
  if (q.stale) add("stale=true");
  return out;
}
}  // namespace

OrchClient::OrchClient(std::vector<std::string> addresses, std::string token)
    : OrchClient(std::move(addresses), OrchClientOptions{std::move(token), "", {}}) {}

OrchClient::OrchClient(std::vector<std::string> addresses, OrchClientOptions options)
    : addresses_(std::move(addresses)), options_(std::move(options)), http_(MakeOptions(options_)) {
  for (auto& a : addresses_) {
    while (!a.empty() && a.back() == '/') a.pop_back();
  }
}

Result<HttpResponse> OrchClient::Raw(const std::string& method, const std::string& path,
                                     const std::string& body, std::chrono::milliseconds timeout) {
  if (addresses_.empty()) return Status::InvalidArgument("no master address configured");
  Status last;
  std::size_t start = preferred_.load();
  for (std::size_t i = 0; i < addresses_.size(); ++i) {
    std::size_t k = (start + i) % addresses_.size();
    auto resp = http_.Do(method, addresses_[k] + path, body, timeout);
    if (!resp.ok()) {
      last = resp.status();
      // A timeout may mean the write happened; do not retry it elsewhere.
      if (resp.status().code() == StatusCode::kDeadlineExceeded) return last;
      continue;
    }
    if (resp->status == 503 && i + 1 < addresses_.size()) {
      // This master has no leader (cut off from the quorum, or electing):
      // another may. Every orch write is idempotent (re-register, heartbeat,
      // status report, job version, stop), so trying it elsewhere is safe.
      last = StatusFromErrorJson(resp->status, resp->body);
      continue;
    }
    preferred_.store(k);
    if (resp->status >= 200 && resp->status < 300) return resp;
    return StatusFromErrorJson(resp->status, resp->body);
  }
  return last;
}

template <typename T>
Result<T> OrchClient::Call(const std::string& method, const std::string& path,
                           const std::string& body) {
  ORCH_ASSIGN_OR_RETURN(HttpResponse resp, Raw(method, path, body));
  T out;
  ORCH_RETURN_IF_ERROR(FromJson(resp.body, &out));
  return out;
}

template <typename T>
Result<Indexed<T>> OrchClient::GetIndexed(const std::string& path, const QueryOptions& q) {
  // Give the server the whole wait plus slack before giving up on it.
  auto timeout = q.wait.count() > 0 ? q.wait + std::chrono::milliseconds(q.wait.count() / 16 + 5000)
                                     : std::chrono::milliseconds(0);
  ORCH_ASSIGN_OR_RETURN(HttpResponse resp, Raw("GET", WithQuery(path, q), "", timeout));
  Indexed<T> out;
  ORCH_RETURN_IF_ERROR(FromJson(resp.body, &out.value));
  std::string idx = resp.Header("X-Orch-Index");
  if (!idx.empty()) {
    auto [end, ec] = std::from_chars(idx.data(), idx.data() + idx.size(), out.index);
    if (ec != std::errc() || end != idx.data() + idx.size()) {
      return Status::Internal("GET " + path + ": bad X-Orch-Index header \"" + idx + "\"");
    }
  }
  out.known_leader = resp.Header("X-Orch-Known-Leader") != "false";
  return out;
}

Result<v1::SubmitJobResponse> OrchClient::SubmitJob(const v1::Job& job) {
  return Call<v1::SubmitJobResponse>("POST", "/v1/jobs", ToJson(job));
}

Result<v1::SubmitJobResponse> OrchClient::SubmitJobDocument(const std::string& document) {
  return Call<v1::SubmitJobResponse>("POST", "/v1/jobs", document);
}

Result<Indexed<v1::JobList>> OrchClient::ListJobs(const QueryOptions& q) {
  return GetIndexed<v1::JobList>("/v1/jobs", q);
}

Result<Indexed<v1::JobDetail>> OrchClient::GetJob(const std::string& id, const QueryOptions& q) {
  return GetIndexed<v1::JobDetail>("/v1/jobs/" + UrlEncode(id), q);
}

Result<v1::StopJobResponse> OrchClient::StopJob(const std::string& id, bool purge) {
  return Call<v1::StopJobResponse>("DELETE",
                                   "/v1/jobs/" + UrlEncode(id) + (purge ? "?purge=true" : ""), "");
}

Result<v1::DispatchJobResponse> OrchClient::DispatchJob(const std::string& id,
                                                        const v1::DispatchJobRequest& req) {
  return Call<v1::DispatchJobResponse>("POST", "/v1/jobs/" + UrlEncode(id) + "/dispatch",
                                       ToJson(req));
}

Result<v1::DispatchJobResponse> OrchClient::ForcePeriodicJob(const std::string& id) {
  return Call<v1::DispatchJobResponse>("POST", "/v1/jobs/" + UrlEncode(id) + "/periodic/force", "");
}

Result<Indexed<v1::AllocationList>> OrchClient::JobAllocations(const std::string& id,
                                                               const QueryOptions& q) {
  return GetIndexed<v1::AllocationList>("/v1/jobs/" + UrlEncode(id) + "/allocations", q);
}

Result<Indexed<v1::NodeList>> OrchClient::ListNodes(const QueryOptions& q) {
  return GetIndexed<v1::NodeList>("/v1/nodes", q);
}

Result<Indexed<v1::Node>> OrchClient::GetNode(const std::string& id, const QueryOptions& q) {
  return GetIndexed<v1::Node>("/v1/nodes/" + UrlEncode(id), q);
}

Result<v1::RegisterNodeResponse> OrchClient::RegisterNode(const v1::Node& node) {
  v1::RegisterNodeRequest req;
  *req.mutable_node() = node;
  req.set_node_secret(options_.node_secret);
  return Call<v1::RegisterNodeResponse>("POST", "/v1/nodes/register", ToJson(req));
}

Result<v1::HeartbeatResponse> OrchClient::Heartbeat(const std::string& node_id,
                                                    const v1::HeartbeatRequest& req) {
  return Call<v1::HeartbeatResponse>("POST", "/v1/nodes/" + UrlEncode(node_id) + "/heartbeat",
                                     ToJson(req));
}

Result<Indexed<v1::AllocationList>> OrchClient::NodeAllocations(const std::string& node_id,
                                                                const QueryOptions& q) {
  return GetIndexed<v1::AllocationList>("/v1/nodes/" + UrlEncode(node_id) + "/allocations", q);
}

Result<v1::UpdateAllocationsResponse> OrchClient::UpdateAllocations(
    const std::string& node_id, const v1::UpdateAllocationsRequest& req) {
  return Call<v1::UpdateAllocationsResponse>(
      "POST", "/v1/nodes/" + UrlEncode(node_id) + "/allocations", ToJson(req));
}

Result<Indexed<v1::AllocationList>> OrchClient::ListAllocations(const std::string& job,
                                                                const QueryOptions& q) {
  std::string path = "/v1/allocations";
  if (!job.empty()) path += "?job=" + UrlEncode(job);
  return GetIndexed<v1::AllocationList>(path, q);
}

Result<Indexed<v1::Allocation>> OrchClient::GetAllocation(const std::string& id,
                                                          const QueryOptions& q) {
  return GetIndexed<v1::Allocation>("/v1/allocations/" + UrlEncode(id), q);
}

Result<v1::MemberList> OrchClient::ListMembers() {
  return Call<v1::MemberList>("GET", "/v1/cluster/members", "");
}

Result<v1::LeaderResponse> OrchClient::GetLeader() {
  return Call<v1::LeaderResponse>("GET", "/v1/cluster/leader", "");
}

Result<Indexed<v1::Evaluation>> OrchClient::GetEvaluation(const std::string& id,
                                                          const QueryOptions& q) {
  return GetIndexed<v1::Evaluation>("/v1/evaluations/" + UrlEncode(id), q);
}

Result<Indexed<v1::EvaluationList>> OrchClient::ListEvaluations(const std::string& job,
                                                                const QueryOptions& q) {
  return GetIndexed<v1::EvaluationList>(
      job.empty() ? "/v1/evaluations" : "/v1/evaluations?job=" + UrlEncode(job), q);
}

Result<v1::GcResponse> OrchClient::SystemGc() { return Call<v1::GcResponse>("POST", "/v1/system/gc", ""); }

namespace {
// A state image may be large; restores stage it through the log first.
constexpr std::chrono::minutes kSnapshotTimeout{10};
}  // namespace

Result<OrchClient::StateSnapshot> OrchClient::SaveSnapshot(bool stale) {
  const std::string path = std::string("/v1/operator/snapshot") + (stale ? "?stale=true" : "");
  ORCH_ASSIGN_OR_RETURN(HttpResponse resp, Raw("GET", path, "", kSnapshotTimeout));
  StateSnapshot out;
  out.sha256 = resp.Header("X-Orch-Snapshot-Sha256");
  const std::string idx = resp.Header("X-Orch-Index");
  auto [end, ec] = std::from_chars(idx.data(), idx.data() + idx.size(), out.index);
  if (idx.empty() || ec != std::errc() || end != idx.data() + idx.size()) {
    return Status::Internal("GET " + path + ": bad X-Orch-Index header \"" + idx + "\"");
  }
  out.image = std::move(resp.body);
  if (std::string got = Sha256Hex(out.image); got != out.sha256) {
    return Status::InvalidArgument("the snapshot's SHA-256 is " + got + ", the master said " +
                                   out.sha256 + ": damaged on the way; try again");
  }
  return out;
}

Result<v1::SnapshotRestoreResponse> OrchClient::RestoreSnapshot(const std::string& image) {
  ORCH_ASSIGN_OR_RETURN(HttpResponse resp,
                        Raw("PUT", "/v1/operator/snapshot", image, kSnapshotTimeout));
  v1::SnapshotRestoreResponse out;
  ORCH_RETURN_IF_ERROR(FromJson(resp.body, &out));
  return out;
}

Result<v1::ClusterResponse> OrchClient::AddMember(const v1::AddMemberRequest& req) {
  return Call<v1::ClusterResponse>("POST", "/v1/cluster/members", ToJson(req));
}

Result<v1::ClusterResponse> OrchClient::RemoveMember(const std::string& id) {
  return Call<v1::ClusterResponse>("DELETE", "/v1/cluster/members/" + UrlEncode(id), "");
}

Result<v1::ClusterResponse> OrchClient::TransferLeader(const std::string& id) {
  v1::TransferLeaderRequest req;
  req.set_id(id);
  return Call<v1::ClusterResponse>("POST", "/v1/cluster/transfer-leader", ToJson(req));
}

std::unique_ptr<OrchClient> OrchClient::At(const std::string& address) const {
  return std::make_unique<OrchClient>(std::vector<std::string>{address}, options_);
}

Result<Indexed<v1::ServiceList>> OrchClient::ListServices(const QueryOptions& q) {
  return GetIndexed<v1::ServiceList>("/v1/services", q);
}

Result<Indexed<v1::ServiceInfo>> OrchClient::GetService(const std::string& name, const QueryOptions& q) {
  return GetIndexed<v1::ServiceInfo>("/v1/services/" + UrlEncode(name), q);
}

Result<Indexed<v1::JobVersionList>> OrchClient::JobVersions(const std::string& job_id, const QueryOptions& q) {
  return GetIndexed<v1::JobVersionList>("/v1/jobs/" + UrlEncode(job_id) + "/versions", q);
}

Result<v1::SubmitJobResponse> OrchClient::RevertJob(const std::string& job_id, uint64_t version) {
  v1::RevertJobRequest req;
  req.set_version(version);
  return Call<v1::SubmitJobResponse>("POST", "/v1/jobs/" + UrlEncode(job_id) + "/revert", ToJson(req));
}

Result<Indexed<v1::DeploymentList>> OrchClient::ListDeployments(const std::string& job, const QueryOptions& q) {
  return GetIndexed<v1::DeploymentList>(job.empty() ? "/v1/deployments" : "/v1/deployments?job=" + UrlEncode(job),
                                        q);
}

Result<Indexed<v1::Deployment>> OrchClient::GetDeployment(const std::string& id, const QueryOptions& q) {
  return GetIndexed<v1::Deployment>("/v1/deployments/" + UrlEncode(id), q);
}

Result<v1::DeploymentActionResponse> OrchClient::DeploymentAction(const std::string& id, const std::string& action) {
  return Call<v1::DeploymentActionResponse>("POST", "/v1/deployments/" + UrlEncode(id) + "/" + action, "{}");
}

Result<v1::AllocActionResponse> OrchClient::RestartAllocation(const std::string& id, const std::string& task) {
  v1::AllocRestartRequest req;
  req.set_task(task);
  return Call<v1::AllocActionResponse>("POST", "/v1/allocations/" + UrlEncode(id) + "/restart", ToJson(req));
}

Result<v1::AllocActionResponse> OrchClient::SignalAllocation(const std::string& id, const std::string& signal,
                                                             const std::string& task) {
  v1::AllocSignalRequest req;
  req.set_signal(signal);
  req.set_task(task);
  return Call<v1::AllocActionResponse>("POST", "/v1/allocations/" + UrlEncode(id) + "/signal", ToJson(req));
}

Result<v1::AllocActionResponse> OrchClient::StopAllocation(const std::string& id) {
  return Call<v1::AllocActionResponse>("POST", "/v1/allocations/" + UrlEncode(id) + "/stop", "{}");
}

namespace {
std::string PreviousDiskPath(const std::string& node_id, const std::string& alloc_id) {
  return "/v1/nodes/" + UrlEncode(node_id) + "/allocations/" + UrlEncode(alloc_id) +
         "/previous-disk";
}
}  // namespace

Result<v1::PreviousDiskResponse> OrchClient::PreviousDiskSize(const std::string& node_id,
                                                              const std::string& alloc_id) {
  return Call<v1::PreviousDiskResponse>("GET", PreviousDiskPath(node_id, alloc_id) + "?check=true",
                                        "");
}

Status OrchClient::PreviousDisk(const std::string& node_id, const std::string& alloc_id,
                                const std::function<bool(std::string_view)>& on_data) {
  return StreamGet(PreviousDiskPath(node_id, alloc_id), on_data);
}

Result<v1::PlanResponse> OrchClient::PlanJobDocument(const std::string& document) {
  return Call<v1::PlanResponse>("POST", "/v1/jobs/plan", document);
}

Result<v1::ScaleResponse> OrchClient::ScaleJob(const std::string& job_id, const std::string& group, int count) {
  v1::ScaleRequest req;
  req.set_group(group);
  req.set_count(count);
  return Call<v1::ScaleResponse>("POST", "/v1/jobs/" + UrlEncode(job_id) + "/scale", ToJson(req));
}

Result<v1::DrainResponse> OrchClient::DrainNode(const std::string& node_id, bool enable,
                                               std::chrono::milliseconds deadline) {
  v1::DrainRequest req;
  req.set_enable(enable);
  if (deadline.count() > 0) {
    req.mutable_deadline()->set_seconds(deadline.count() / 1000);
    req.mutable_deadline()->set_nanos(static_cast<int32_t>((deadline.count() % 1000) * 1'000'000));
  }
  return Call<v1::DrainResponse>("POST", "/v1/nodes/" + UrlEncode(node_id) + "/drain", ToJson(req));
}

Status OrchClient::AllocationLogs(const std::string& alloc_id, const LogsOptions& opts,
                                  const std::function<bool(std::string_view)>& on_data) {
  std::string path = "/v1/allocations/" + UrlEncode(alloc_id) + "/logs?stream=" +
                     (opts.stderr_stream ? "stderr" : "stdout");
  if (!opts.task.empty()) path += "&task=" + UrlEncode(opts.task);
  if (opts.tail >= 0) path += "&tail=" + std::to_string(opts.tail);
  if (!opts.follow) {
    ORCH_ASSIGN_OR_RETURN(HttpResponse resp, Raw("GET", path));
    on_data(resp.body);
    return Status::Ok();
  }
  path += "&follow=true";
  return StreamGet(path, on_data);
}

Status OrchClient::StreamGet(const std::string& path,
                             const std::function<bool(std::string_view)>& on_data) {
  if (addresses_.empty()) return Status::InvalidArgument("no master address configured");
  Status last;
  std::size_t start = preferred_.load();
  for (std::size_t i = 0; i < addresses_.size(); ++i) {
    std::size_t k = (start + i) % addresses_.size();
    bool got_data = false;
    auto resp = http_.Stream("GET", addresses_[k] + path, [&](std::string_view piece) {
      got_data = got_data || !piece.empty();
      return on_data(piece);
    });
    if (!resp.ok()) {
      last = resp.status();
      if (got_data) return last;  // broken off midway: not to be repeated elsewhere
      continue;
    }
    if (resp->status >= 200 && resp->status < 300) return Status::Ok();
    last = StatusFromErrorJson(resp->status, resp->body);
    if (resp->status != 503) return last;
  }
  return last;
}

Status OrchClient::Events(const EventsOptions& opts,
                          const std::function<bool(std::string_view line)>& on_line) {
  std::string path = "/v1/event/stream?follow=" + std::string(opts.follow ? "true" : "false");
  if (opts.index > 0) path += "&index=" + std::to_string(opts.index);
  for (const auto& t : opts.topics) path += "&topic=" + UrlEncode(t);
  std::string partial;
  return StreamGet(path, [&](std::string_view piece) {
    if (piece.empty()) return on_line("");
    partial.append(piece);
    std::size_t at = 0;
    for (std::size_t nl; (nl = partial.find('\n', at)) != std::string::npos; at = nl + 1) {
      if (!on_line(std::string_view(partial).substr(at, nl - at))) return false;
    }
    partial.erase(0, at);
    return true;
  });
}

}  // namespace orch
