#include "master/http/api.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <random>

#include "common/document.h"
#include "common/ids.h"
#include "common/index_waiters.h"
#include "common/json.h"
#include "common/net.h"
#include "master/controllers/garbage_collector.h"
#include "master/model/secrets.h"
#include "master/services/service_ports.h"
#include "master/state/agent_report.h"
#include "master/validation.h"
#include "orch/v1/api.pb.h"

namespace orch::master {

Result<ReadOptions> ParseReadOptions(const HttpRequest& req, const ApiDeps& d) {
  ReadOptions o;
  std::string idx = req.Query("index");
  if (!idx.empty()) {
    auto [p, ec] = std::from_chars(idx.data(), idx.data() + idx.size(), o.index);
    if (ec != std::errc() || p != idx.data() + idx.size()) {
      return Status::InvalidArgument("index: expected a non-negative integer, got \"" + idx + "\"");
    }
  }
  std::string wait = req.Query("wait");
  if (!wait.empty()) {
    auto w = ParseDuration(wait);
    if (!w.ok()) return w.status().WithContext("wait");
    o.wait = std::min(std::chrono::duration_cast<std::chrono::milliseconds>(*w), d.max_wait);
  } else if (o.index > 0) {
    o.wait = std::min(std::chrono::milliseconds(300'000), d.max_wait);
  }
  // Up to wait/16 more, at random (as Nomad and Consul do): watches that
  // began together (every agent's, after one placement touched them all)
  // do not all end together and come back at once.
  if (o.wait.count() >= 16) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    o.wait += std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(0, o.wait.count() / 16)(rng));
  }
  o.blocking = o.index > 0 || !wait.empty();
  std::string stale = req.Query("stale");
  o.stale = stale == "true" || stale == "1" || (req.query.count("stale") && stale.empty());
  return o;
}

HttpResponse ReadJson(const HttpRequest& req, const ApiDeps& d, const std::function<Result<std::string>()>& read) {
  return ReadJsonIndexed(req, d, nullptr, read);
}

HttpResponse ReadJsonIndexed(const HttpRequest& req, const ApiDeps& d,
                             const std::function<uint64_t()>& index_of,
                             const std::function<Result<std::string>()>& read,
                             const std::string& wake_key) {
  auto opts = ParseReadOptions(req, d);
  if (!opts.ok()) return HttpResponse::Error(opts.status());
  if (!opts->stale && !req.resumed) {
    Status st = d.log->ReadBarrier(std::chrono::seconds(5));
    if (!st.ok()) return HttpResponse::Error(st);
  }
  const uint64_t applied = d.store->StateIndex();
  // The state's index, or the resource's own.
  const uint64_t index = index_of ? std::max<uint64_t>(index_of(), 1) : applied;
  if (opts->blocking && opts->wait.count() > 0 && index <= opts->index) {
    // Not there yet: wait without a thread; the server asks again when the
    // state moves past the query's index (a resource of its own: when its
    // key moves past it, or without a key at the state's next change, to
    // look again), or at the deadline.
    const auto now = std::chrono::steady_clock::now();
    const auto deadline = req.resumed ? req.resume_deadline : now + opts->wait;
    IndexWaiters* waiters = d.store->index_waiters();
    if (now < deadline && !waiters->closed()) {
      HttpResponse later;
      // A keyed wait compares with the key's index, as the query did.
      const uint64_t above = index_of && wake_key.empty() ? applied : opts->index;
      later.defer = HttpResponse::Deferral{waiters, above, deadline, "", wake_key};
      return later;
    }
  }
  Result<std::string> body = read();
  if (!body.ok()) return HttpResponse::Error(body.status());
  HttpResponse resp = HttpResponse::Json(200, std::move(*body));
  AddReadHeaders(&resp, d, index);
  return resp;
}

void AddReadHeaders(HttpResponse* resp, const ApiDeps& d, uint64_t index) {
  resp->headers.emplace_back("X-Orch-Index", std::to_string(index));
  resp->headers.emplace_back("X-Orch-Known-Leader", d.log->LeaderId().empty() ? "false" : "true");
}

std::optional<std::string> HeartbeatNodeId(const HttpRequest& req) {
  static constexpr std::string_view kPrefix = "/v1/nodes/", kSuffix = "/heartbeat";
  const std::string& path = req.path;
  if (req.method != "POST" || path.size() <= kPrefix.size() + kSuffix.size() ||
      path.compare(0, kPrefix.size(), kPrefix) != 0 ||
      path.compare(path.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    return std::nullopt;
  }
  std::string id = path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  if (id.find('/') != std::string::npos) return std::nullopt;
  return id;
}

std::optional<HttpResponse> HeartbeatWithoutWrite(const HttpRequest& req, const ApiDeps& d) {
  auto node_id = HeartbeatNodeId(req);
  if (!node_id || d.liveness == nullptr) return std::nullopt;
  const std::string& id = *node_id;
  v1::HeartbeatRequest body;
  if (!req.body.empty()) {
    Status st = ParseDocument(req.body, &body);
    if (!st.ok()) return HttpResponse::Error(st);
  }
  auto done = d.liveness->HeartbeatWithoutWrite(id, body.load());
  if (!done) return std::nullopt;
  if (!done->ok()) return HttpResponse::Error(*done);
  v1::HeartbeatResponse resp;
  resp.set_index(d.store->StateIndex());
  resp.set_heartbeat_ttl_ms(d.liveness->ttl().count());
  return HttpResponse::Json(200, RedactedJson(resp));
}

Result<uint64_t> ProposeCommand(const ApiDeps& d, v1::Command cmd) {
  cmd.set_time_ms(d.clock->NowMs());
  ORCH_ASSIGN_OR_RETURN(uint64_t index, d.log->Propose(cmd, d.write_timeout));
  return d.store->StateIndexAt(index);
}

HttpResponse ProposeThen(const ApiDeps& d, v1::Command&& cmd,
                         std::function<HttpResponse(const Result<uint64_t>&)> then) {
  cmd.set_time_ms(d.clock->NowMs());
  HttpResponse out;
  out.later = [deps = &d, cmd = std::move(cmd), then = std::move(then)](HttpResponse::Reply reply) {
    // `done` may run after the server is gone (a node stopping fails its
    // waiters): it touches nothing but the Reply, which then does nothing.
    deps->log->ProposeThen(cmd, deps->write_timeout, [deps, then, reply](Result<uint64_t> index) {
      reply([deps, then, index]() {
        if (!index.ok()) return then(index);
        return then(deps->store->StateIndexAt(*index));
      });
    });
  };
  return out;
}

HttpResponse RegisterJobVersion(const ApiDeps& d, const v1::Job& job, std::optional<uint64_t> reverts_to) {
  v1::Command cmd;
  auto* c = cmd.mutable_register_job();
  *c->mutable_job() = job;
  c->mutable_eval()->set_id(NewUuid());
  c->mutable_eval()->set_job_id(job.id());
  c->mutable_eval()->set_triggered_by(v1::Evaluation::JOB_REGISTER);
  c->set_service_port_first(d.service_ports.first);
  c->set_service_port_last(d.service_ports.last);
  c->set_deployment_id(NewUuid());
  c->set_keep_versions(d.keep_versions);
  if (reverts_to) c->set_reverts_to(*reverts_to);
  const std::string eval_id = c->eval().id();
  return ProposeThen(
      d, std::move(cmd),
      [&d, job_id = job.id(), eval_id, reverts_to](const Result<uint64_t>& index) {
        if (!index.ok()) {
          // Includes the state machine's own refusal (a service name or port
          // claimed by a job registered meanwhile, or no free service port): 409.
          spdlog::info("job {}: not registered: {}", job_id, index.status().message());
          return HttpResponse::Error(index.status());
        }
        v1::SubmitJobResponse resp;
        resp.set_job_id(job_id);
        resp.set_index(*index);
        auto stored = d.store->GetJob(job_id);
        if (stored.ok()) resp.set_version(stored->version());
        if (stored.ok() && stored->modify_index() < *index) {
          // Applied as a no-op: the spec equals the running version.
          resp.set_unchanged(true);
          spdlog::info("job {}: resubmitted unchanged (version {}, index {})", job_id,
                       stored->version(), *index);
          return HttpResponse::Json(200, RedactedJson(resp));
        }
        resp.set_eval_id(eval_id);
        spdlog::info("job {}: {} (version {}, eval {}, index {})", job_id,
                     reverts_to ? "reverted to the spec of version " + std::to_string(*reverts_to)
                                : "submitted",
                     resp.version(), ShortId(eval_id), *index);
        return HttpResponse::Json(200, RedactedJson(resp));
      });
}

namespace {

template <typename F>
HttpResponse Read(const HttpRequest& req, const ApiDeps& d, F read) {
  return ReadJson(req, d, std::function<Result<std::string>()>(read));
}

void OverlayLiveness(const ApiDeps& d, v1::Node* n) {
  if (d.liveness == nullptr) return;
  *n->mutable_load() = d.liveness->Load(n->id());
  int64_t hb = d.liveness->LastHeartbeatMs(n->id());
  if (hb > n->last_heartbeat_ms()) n->set_last_heartbeat_ms(hb);
}

void OverlayUsage(const ApiDeps& d, v1::Allocation* a) {
  if (d.liveness == nullptr) return;
  if (auto u = d.liveness->Usage(a->id())) *a->mutable_usage() = *u;
}

HttpResponse SubmitJob(const HttpRequest& req, const ApiDeps& d) {
  v1::Job job;
  Status st = ParseDocument(req.body, &job);
  if (st.ok()) st = ValidateJob(&job);
  if (st.ok() && d.acl) st = d.acl->CheckJob(req, acl::Access::kWrite, job.id());
  if (st.ok() && HasServices(job)) st = ValidateServiceClaims(job, d.store->ConflictingClaims(job));
  if (!st.ok()) {
    spdlog::info("job rejected from {}: {}", req.remote, st.message());
    return HttpResponse::Error(st);
  }
  return RegisterJobVersion(d, job, std::nullopt);
}

HttpResponse StopJob(const HttpRequest& req, const PathParams& p, const ApiDeps& d) {
  const std::string& id = p.at("id");
  const std::string purge = req.Query("purge");
  if (!purge.empty() && purge != "true" && purge != "false") {
    return HttpResponse::Error(Status::InvalidArgument("purge: expected true or false, got \"" + purge + "\""));
  }
  auto job = d.store->GetJob(id);
  if (!job.ok()) return HttpResponse::Error(job.status());
  v1::Command cmd;
  auto* c = cmd.mutable_deregister_job();
  c->set_job_id(id);
  c->set_purge(purge == "true");
  c->mutable_eval()->set_id(NewUuid());
  c->mutable_eval()->set_job_id(id);
  c->mutable_eval()->set_triggered_by(v1::Evaluation::JOB_DEREGISTER);
  const std::string eval_id = c->eval().id();  // before cmd moves
  return ProposeThen(d, std::move(cmd),
                     [id, purged = purge == "true", eval_id](const Result<uint64_t>& index) {
                       if (!index.ok()) return HttpResponse::Error(index.status());
                       spdlog::info("job {}: {} (eval {}, index {})", id,
                                    purged ? "purged" : "stop requested", ShortId(eval_id), *index);
                       v1::StopJobResponse resp;
                       resp.set_job_id(id);
                       resp.set_eval_id(eval_id);
                       resp.set_index(*index);
                       return HttpResponse::Json(200, RedactedJson(resp));
                     });
}

Result<std::string> JobDetail(const ApiDeps& d, const std::string& id) {
  ORCH_ASSIGN_OR_RETURN(v1::Job job, d.store->GetJob(id));
  v1::JobDetail out;
  *out.mutable_job() = job;
  for (auto& a : d.store->ListAllocations(id)) {
    (*out.mutable_summary())[v1::Allocation::ClientStatus_Name(a.client_status())]++;
    *out.add_allocations() = std::move(a);
  }
  for (auto& e : d.store->ListEvaluations(id)) *out.add_evaluations() = std::move(e);
  auto deployments = d.store->ListDeployments(id, 1);
  if (!deployments.empty()) *out.mutable_latest_deployment() = std::move(deployments.front());
  if (job.has_periodic() || job.has_parameterized()) {
    for (auto& c : d.store->ListChildJobs(id)) {
      c.clear_groups();
      c.clear_payload();
      *out.add_children() = std::move(c);
    }
  }
  return RedactedJson(out);
}

HttpResponse RegisterNode(const HttpRequest& req, const ApiDeps& d) {
  v1::RegisterNodeRequest body;
  Status st = ParseDocument(req.body, &body);
  if (!st.ok()) return HttpResponse::Error(st);
  v1::Node node = body.node();
  if (node.id().empty()) node.set_id(NewUuid());
  // Only the masters set the hash, from the secret the agent presents.
  node.clear_secret_hash();
  if (!body.node_secret().empty()) node.set_secret_hash(SecretHash(body.node_secret()));
  st = ValidateNodeFields(node);
  // The masters fetch logs from this address: http(s)://host:port only.
  if (st.ok() && !node.address().empty()) st = ValidateHttpBaseUrl(node.address()).WithContext("node.address");
  if (!st.ok()) {
    spdlog::info("node registration rejected from {}: {}", req.remote, st.message());
    return HttpResponse::Error(st);
  }
  // A clear early answer; the state machine checks again at apply.
  if (auto old = d.store->GetNode(node.id()); old.ok()) {
    if (Status owner = CheckNodeOwner(*old, node); !owner.ok()) {
      spdlog::warn("node {}: registration from {} refused: {}", ShortId(node.id()), req.remote, owner.message());
      return HttpResponse::Error(owner);
    }
  }
  v1::Command cmd;
  *cmd.mutable_register_node()->mutable_node() = node;
  auto index = ProposeCommand(d, cmd);
  if (!index.ok()) return HttpResponse::Error(index.status());
  if (d.liveness) (void)d.liveness->Heartbeat(node.id(), node.load());
  spdlog::info("node {} ({}): registered from {} (index {})", ShortId(node.id()), node.name(),
               req.remote, *index);
  v1::RegisterNodeResponse resp;
  resp.set_node_id(node.id());
  resp.set_index(*index);
  resp.set_heartbeat_interval_ms(d.heartbeat_interval.count());
  resp.set_heartbeat_ttl_ms(d.liveness ? d.liveness->ttl().count() : 0);
  return HttpResponse::Json(200, RedactedJson(resp));
}

HttpResponse Heartbeat(const HttpRequest& req, const PathParams& p, const ApiDeps& d) {
  v1::HeartbeatRequest body;
  if (!req.body.empty()) {
    Status st = ParseDocument(req.body, &body);
    if (!st.ok()) return HttpResponse::Error(st);
  }
  if (d.liveness == nullptr) return HttpResponse::Error(Status::Unavailable("liveness tracking is off"));
  Status st = d.liveness->Heartbeat(p.at("id"), body.load());
  if (!st.ok()) return HttpResponse::Error(st);
  v1::HeartbeatResponse resp;
  resp.set_index(d.store->StateIndex());
  resp.set_heartbeat_ttl_ms(d.liveness->ttl().count());
  return HttpResponse::Json(200, RedactedJson(resp));
}

HttpResponse UpdateAllocations(const HttpRequest& req, const PathParams& p, const ApiDeps& d) {
  v1::UpdateAllocationsRequest body;
  Status st = ParseDocument(req.body, &body);
  if (!st.ok()) return HttpResponse::Error(st);
  const std::string& node_id = p.at("id");
  auto node = d.store->GetNode(node_id);
  if (!node.ok()) return HttpResponse::Error(node.status());
  if (d.liveness != nullptr) {
    for (const auto& u : body.updates()) {
      if (u.has_usage()) d.liveness->NoteUsage(u.id(), u.usage());
    }
  }
  v1::Command cmd;
  auto* c = cmd.mutable_update_allocations();
  c->set_node_id(node_id);
  // The agent re-sends every allocation's state every few seconds (with
  // its measured use, noted above): what changes nothing stays out of the
  // Raft log. The apply checks again; this only spares the log.
  for (const auto& u : body.updates()) {
    auto stored = d.store->GetAllocation(u.id());
    if (stored.ok() && stored->node_id() == node_id && ReportChangesNothing(u, *stored)) continue;
    *c->add_updates() = u;
  }
  v1::UpdateAllocationsResponse resp;
  if (c->updates().empty()) {
    resp.set_index(d.store->StateIndex());
    return HttpResponse::Json(200, RedactedJson(resp));
  }
  // A report holds its worker until it commits: with thousands of agents
  // reporting at once, the workers bound the reports in flight (answering
  // them later let 5,000 simulated agents pile up 3,500 and stall the
  // placements).
  auto index = ProposeCommand(d, cmd);
  if (!index.ok()) return HttpResponse::Error(index.status());
  for (const auto& u : c->updates()) {
    spdlog::info("alloc {} on node {}: {}{}", ShortId(u.id()), ShortId(node_id),
                 v1::Allocation::ClientStatus_Name(u.client_status()),
                 u.client_description().empty() ? "" : " (" + u.client_description() + ")");
  }
  resp.set_index(*index);
  return HttpResponse::Json(200, RedactedJson(resp));
}

// Secrets redacted, except for the node that runs them (its watch).
std::string AllocListJson(std::vector<v1::Allocation> allocs, bool with_secrets = false) {
  v1::AllocationList out;
  for (auto& a : allocs) *out.add_allocations() = std::move(a);
  return with_secrets ? ToJson(out) : RedactedJson(out);
}

}  // namespace

void RegisterApiRoutes(Router* r, const ApiDeps& d) {
  r->Add("GET", "/healthz", [d](const HttpRequest&, const PathParams&) {
    return HttpResponse::Json(200, "{\"status\":\"ok\",\"leader\":" +
                                       std::string(d.log->IsLeader() ? "true" : "false") + "}");
  });
  r->Add("GET", "/metrics", [d](const HttpRequest&, const PathParams&) {
    HttpResponse resp = HttpResponse::Json(200, d.metrics ? d.metrics->Render() : "");
    resp.content_type = metrics::kContentType;
    return resp;
  });
  // Jobs.
  r->Add(
      "POST", "/v1/jobs",
      [d](const HttpRequest& req, const PathParams&) { return SubmitJob(req, d); },
      Router::Waits::kNever);
  r->Add("GET", "/v1/jobs", [d](const HttpRequest& req, const PathParams&) {
    return Read(req, d, [&]() -> Result<std::string> {
      v1::JobList out;
      auto visible = d.acl ? d.acl->JobReadFilter(req) : [](const std::string&) { return true; };
      for (auto& j : d.store->ListJobs()) {
        if (visible(j.id())) *out.add_jobs() = std::move(j);
      }
      return RedactedJson(out);
    });
  });
  r->Add("GET", "/v1/jobs/{id}", [d](const HttpRequest& req, const PathParams& p) {
    return Read(req, d, [&] { return JobDetail(d, p.at("id")); });
  });
  r->Add(
      "DELETE", "/v1/jobs/{id}",
      [d](const HttpRequest& req, const PathParams& p) { return StopJob(req, p, d); },
      Router::Waits::kNever);
  r->Add("POST", "/v1/system/gc", [d](const HttpRequest&, const PathParams&) {
    auto t = CollectAll(d.store, d.log, d.clock);
    if (!t.ok()) return HttpResponse::Error(t.status());
    v1::GcResponse resp;
    resp.set_evaluations(t->evaluations);
    resp.set_allocations(t->allocations);
    resp.set_jobs(t->jobs);
    resp.set_deployments(t->deployments);
    resp.set_index(t->index);
    return HttpResponse::Json(200, RedactedJson(resp));
  });
  r->Add("GET", "/v1/jobs/{id}/allocations", [d](const HttpRequest& req, const PathParams& p) {
    return Read(req, d, [&]() -> Result<std::string> {
      ORCH_RETURN_IF_ERROR(d.store->GetJob(p.at("id")).status());
      return AllocListJson(d.store->ListAllocations(p.at("id")));
    });
  });

  // Nodes.
  r->Add("POST", "/v1/nodes/register",
         [d](const HttpRequest& req, const PathParams&) { return RegisterNode(req, d); });
  r->Add("GET", "/v1/nodes", [d](const HttpRequest& req, const PathParams&) {
    return Read(req, d, [&]() -> Result<std::string> {
      v1::NodeList out;
      for (auto& n : d.store->ListNodes()) {
        OverlayLiveness(d, &n);
        n.clear_secret_hash();  // the masters' own, never shown
        *out.add_nodes() = std::move(n);
      }
      return RedactedJson(out);
    });
  });
  r->Add("GET", "/v1/nodes/{id}", [d](const HttpRequest& req, const PathParams& p) {
    return Read(req, d, [&]() -> Result<std::string> {
      ORCH_ASSIGN_OR_RETURN(v1::Node n, d.store->GetNode(p.at("id")));
      OverlayLiveness(d, &n);
      n.clear_secret_hash();
      return RedactedJson(n);
    });
  });
  r->Add("POST", "/v1/nodes/{id}/heartbeat",
         [d](const HttpRequest& req, const PathParams& p) { return Heartbeat(req, p, d); });
  // An agent's watch: woken only when its own node or allocations change.
  r->Add("GET", "/v1/nodes/{id}/allocations", [d](const HttpRequest& req, const PathParams& p) {
    const std::string id = p.at("id");
    return ReadJsonIndexed(
        req, d, [&] { return d.store->NodeAllocationsIndex(id); },
        [&]() -> Result<std::string> {
          ORCH_RETURN_IF_ERROR(d.store->GetNode(id).status());
          return AllocListJson(d.store->ListAllocations("", id), /*with_secrets=*/true);
        },
        StateStore::NodeWatchKey(id));
  });
  r->Add("POST", "/v1/nodes/{id}/allocations",
         [d](const HttpRequest& req, const PathParams& p) { return UpdateAllocations(req, p, d); });

  // Allocations and evaluations.
  // With the measured use the master taking the reports (the leader) has.
  r->Add("GET", "/v1/allocations", [d](const HttpRequest& req, const PathParams&) {
    return Read(req, d, [&]() -> Result<std::string> {
      auto allocs = d.store->ListAllocations(req.Query("job"), req.Query("node"));
      for (auto& a : allocs) OverlayUsage(d, &a);
      return AllocListJson(std::move(allocs));
    });
  });
  r->Add("GET", "/v1/allocations/{id}", [d](const HttpRequest& req, const PathParams& p) {
    return Read(req, d, [&]() -> Result<std::string> {
      ORCH_ASSIGN_OR_RETURN(v1::Allocation a, d.store->GetAllocation(p.at("id")));
      OverlayUsage(d, &a);
      return RedactedJson(a);
    });
  });
  // One evaluation; a blocking query wakes when it changes (orchctl eval
  // status --monitor).
  r->Add("GET", "/v1/evaluations/{id}", [d](const HttpRequest& req, const PathParams& p) {
    const std::string id = p.at("id");
    return ReadJsonIndexed(
        req, d,
        [&]() -> uint64_t {
          auto e = d.store->GetEvaluation(id);
          return e.ok() ? e->modify_index() : 0;
        },
        [&]() -> Result<std::string> {
          ORCH_ASSIGN_OR_RETURN(v1::Evaluation e, d.store->GetEvaluation(id));
          return RedactedJson(e);
        });
  });
  r->Add("GET", "/v1/evaluations", [d](const HttpRequest& req, const PathParams&) {
    return Read(req, d, [&]() -> Result<std::string> {
      v1::EvaluationList out;
      for (auto& e : d.store->ListEvaluations(req.Query("job"))) *out.add_evaluations() = std::move(e);
      return RedactedJson(out);
    });
  });
}

}  // namespace orch::master
