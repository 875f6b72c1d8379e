#include "api/orchctl/cli.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "api/orchctl/acl_cmds.h"
#include "api/orchctl/cluster.h"
#include "api/orchctl/completion.h"
#include "api/orchctl/deployment_cmds.h"
#include "api/orchctl/errors.h"
#include "api/orchctl/eval_cmds.h"
#include "api/orchctl/event_cmds.h"
#include "api/orchctl/launch_cmds.h"
#include "api/orchctl/lifecycle_cmds.h"
#include "api/orchctl/logs.h"
#include "api/orchctl/operator_cmds.h"
#include "api/orchctl/scheduler_cmds.h"
#include "api/orchctl/services.h"
#include "api/orchctl/table.h"
#include "api/orchctl/tls_cmds.h"
#include "api/orchctl/top_cmds.h"
#include "common/document.h"

#ifndef ORCH_VERSION
#define ORCH_VERSION "0.0.0"
#endif

namespace orch::ctl {

namespace {

constexpr const char* kFooter = R"(Examples:
  orchctl run -f web.yaml             submit a job and follow it until it runs
  orchctl get allocs --job web        list the allocations of job web
  orchctl describe job web -o yaml    everything about job web, as YAML
  orchctl stop web                    stop job web
  orchctl logs 1a2b3c4d -f            follow the output of an allocation's task
  orchctl cluster members             list the masters of the Raft quorum
  orchctl plan -f web.yaml            show where the job would go, and why not
  orchctl scale web web 5             run 5 allocations of group web of job web
  orchctl node drain node-1           move everything off node-1 (--undo to stop)
  orchctl job history web             the versions of job web and their deployments
  orchctl deployment list             rolling updates, newest first
  orchctl eval status 1a2b --monitor  follow an evaluation; why work is blocked
  orchctl top                         nodes and allocations by measured load
  orchctl events -f --topic Node      follow the cluster's changes as they commit
  orchctl acl bootstrap               the first management token (masters with --acl)
  orchctl operator snapshot save f.snap   back up the whole cluster state (restore: the same)
  orchctl tls ca create               the cluster CA for mutual TLS (orch-ca.pem and its key)
  source <(orchctl completion bash)   complete verbs and flags in bash (or zsh)
  orchctl tls cert create --server    a master's certificate and key, signed by that CA

Environment:
  ORCH_ADDR    master address(es), comma separated (default 127.0.0.1:4646: http://,
               or https:// with the TLS files below)
  ORCH_TOKEN   ACL token's secret (masters with --acl)
  ORCH_CACERT, ORCH_CLIENT_CERT, ORCH_CLIENT_KEY
               the cluster CA and a client certificate and key (masters with TLS)

Run 'orchctl VERB --help' for the flags of a verb.)";

Result<std::string> ReadFile(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return text;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("cannot read job file \"" + path +
                                   "\": " + std::strerror(errno));
  }
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    return Status::InvalidArgument("cannot read job file \"" + path +
                                   "\": " + std::strerror(errno));
  }
  return text;
}

// Flags and arguments of every verb, filled in by CLI11.
struct Flags {
  LogsOptions logs;  // logs (the allocation goes to `id`)
  std::string addr;
  std::string token;
  TlsFiles tls;  // --ca-cert, --client-cert, --client-key
  std::string output = "table";
  std::string file;
  bool detach = false;
  bool wait = false;
  std::string timeout = "5m";
  std::string alloc_job;
  std::string id;
  bool purge = false;
  bool stale = false;
  bool monitor = false;
  TopOptions top;
  EventsOptions events;
  // cluster add
  std::string raft;
  std::string http;
  bool learner = false;
  bool no_wait = false;
  std::string add_timeout = "60s";
  // scale, node drain
  std::string group;
  int count = -1;
  std::string deadline;
  bool undo = false;
  // job revert, deployment
  uint64_t version = 0;
  std::string deployment_job;
  // alloc restart, job restart
  std::string task;
  std::string restart_timeout = "5m";
  std::string eval_timeout = "5m";
  std::string signal = "SIGHUP";
  // job dispatch
  std::vector<std::string> meta;
  std::string payload_file;
  // acl
  std::string acl_name;
  std::string acl_type = "client";
  std::vector<std::string> acl_policies;
  std::string acl_description;
  // tls (the role comes from the three role flags)
  CaRequest tls_ca;
  CertRequest tls_cert;
  bool tls_server = false;
  bool tls_agent = false;
  bool tls_client = false;
  std::string tls_dir = ".";
  std::string tls_ca_file = kTlsCaFile;
  std::string tls_ca_key_file = kTlsCaKeyFile;
};

struct Verbs {
  CLI::App* run = nullptr;
  CLI::App* get = nullptr;
  CLI::App* get_jobs = nullptr;
  CLI::App* get_nodes = nullptr;
  CLI::App* get_allocs = nullptr;
  CLI::App* get_services = nullptr;
  CLI::App* describe_service = nullptr;
  CLI::App* describe = nullptr;
  CLI::App* describe_job = nullptr;
  CLI::App* describe_node = nullptr;
  CLI::App* describe_alloc = nullptr;
  CLI::App* stop = nullptr;
  CLI::App* cluster = nullptr;
  CLI::App* cluster_members = nullptr;
  CLI::App* cluster_leader = nullptr;
  CLI::App* cluster_add = nullptr;
  CLI::App* cluster_promote = nullptr;
  CLI::App* cluster_remove = nullptr;
  CLI::App* cluster_transfer = nullptr;
  CLI::App* version = nullptr;
  CLI::App* completion = nullptr;
  CLI::App* system = nullptr;
  CLI::App* system_gc = nullptr;
  CLI::App* operator_ = nullptr;
  CLI::App* operator_snapshot = nullptr;
  CLI::App* snapshot_save = nullptr;
  CLI::App* snapshot_restore = nullptr;
  CLI::App* logs = nullptr;
  CLI::App* plan = nullptr;
  CLI::App* scale = nullptr;
  CLI::App* node = nullptr;
  CLI::App* node_drain = nullptr;
  CLI::App* job = nullptr;
  CLI::App* job_history = nullptr;
  CLI::App* job_revert = nullptr;
  CLI::App* job_diff = nullptr;
  CLI::App* job_restart = nullptr;
  CLI::App* job_dispatch = nullptr;
  CLI::App* job_periodic = nullptr;
  CLI::App* job_periodic_force = nullptr;
  CLI::App* alloc = nullptr;
  CLI::App* alloc_restart = nullptr;
  CLI::App* alloc_stop = nullptr;
  CLI::App* alloc_signal = nullptr;
  CLI::App* acl = nullptr;
  CLI::App* acl_bootstrap = nullptr;
  CLI::App* acl_token_create = nullptr;
  CLI::App* acl_token_list = nullptr;
  CLI::App* acl_token_self = nullptr;
  CLI::App* acl_token_delete = nullptr;
  CLI::App* acl_policy_apply = nullptr;
  CLI::App* acl_policy_list = nullptr;
  CLI::App* acl_policy_info = nullptr;
  CLI::App* acl_policy_delete = nullptr;
  CLI::App* tls = nullptr;
  CLI::App* tls_ca_create = nullptr;
  CLI::App* tls_cert_create = nullptr;
  CLI::App* deployment = nullptr;
  CLI::App* eval = nullptr;
  CLI::App* eval_status = nullptr;
  CLI::App* eval_list = nullptr;
  CLI::App* top = nullptr;
  CLI::App* events = nullptr;
  CLI::App* deployment_list = nullptr;
  CLI::App* deployment_status = nullptr;
  CLI::App* deployment_pause = nullptr;
  CLI::App* deployment_promote = nullptr;
  CLI::App* deployment_resume = nullptr;
  CLI::App* deployment_fail = nullptr;
};

// The verbs under `cluster`; v.cluster exists already.
void DefineCluster(Verbs& v, Flags& f) {
  v.cluster->require_subcommand(1);
  v.cluster_members = v.cluster->add_subcommand(
      "members", "List the masters: role, leader, Raft and HTTP address, match index");
  v.cluster_members->footer("Example:\n  orchctl cluster members -o json");
  v.cluster_leader = v.cluster->add_subcommand("leader", "Show the leader, its address and term");
  v.cluster_leader->footer("Example:\n  orchctl cluster leader");

  v.cluster_add = v.cluster->add_subcommand(
      "add",
      "Add a master: as a learner, then, once it has caught up with the leader's log, as a voter");
  v.cluster_add->add_option("ID", f.id, "Member id, e.g. m4")->required();
  v.cluster_add->add_option("--raft", f.raft, "The new master's Raft transport address")
      ->required()
      ->type_name("HOST:PORT");
  v.cluster_add->add_option("--http", f.http, "The new master's REST address")
      ->type_name("http://HOST:PORT");
  v.cluster_add->add_flag("--learner", f.learner, "Only add it as a learner (non-voting)");
  v.cluster_add->add_flag("--no-wait", f.no_wait,
                          "Add it as a voter at once, without waiting for it to catch up (a "
                          "voter far behind can cost the quorum its availability)");
  v.cluster_add
      ->add_option("--timeout", f.add_timeout,
                   "Give up waiting for it to catch up after this long (e.g. 90s, 5m)")
      ->type_name("DURATION")
      ->capture_default_str();
  v.cluster_add->footer(
      "Examples:\n"
      "  orchctl cluster add m4 --raft 10.0.0.4:4647 --http http://10.0.0.4:4646\n"
      "  orchctl cluster add m5 --raft 10.0.0.5:4647 --learner");

  v.cluster_promote = v.cluster->add_subcommand("promote", "Make a learner a voter");
  v.cluster_promote->add_option("ID", f.id, "Member id")->required();
  v.cluster_promote->footer("Example:\n  orchctl cluster promote m4");
  v.cluster_remove = v.cluster->add_subcommand("remove", "Remove a master from the quorum");
  v.cluster_remove->add_option("ID", f.id, "Member id")->required();
  v.cluster_remove->footer("Example:\n  orchctl cluster remove m4");
  v.cluster_transfer =
      v.cluster->add_subcommand("transfer-leader", "Hand leadership over to another voter");
  v.cluster_transfer->add_option("ID", f.id, "Member id of the voter to lead")->required();
  v.cluster_transfer->footer("Example:\n  orchctl cluster transfer-leader m2");
  v.cluster->footer(
      "Examples:\n  orchctl cluster members\n  orchctl cluster leader\n"
      "  orchctl cluster add m4 --raft 10.0.0.4:4647 --http http://10.0.0.4:4646\n"
      "  orchctl cluster promote m4\n  orchctl cluster remove m4\n"
      "  orchctl cluster transfer-leader m2");
}

// plan, scale, node drain (scheduler_cmds.h).
void DefineSchedulerVerbs(CLI::App& app, Verbs& v, Flags& f) {
  v.plan = app.add_subcommand(
      "plan", "Dry-run a job file: placements with scores, preemptions, why groups cannot be placed");
  v.plan->add_option("-f,--file", f.file, "Job file (YAML or JSON); - reads standard input")
      ->required()
      ->type_name("FILE");
  v.plan->footer("Example:\n  orchctl plan -f web.yaml\n  orchctl plan -f web.yaml -o json");
  v.scale = app.add_subcommand("scale", "Change the count of one group of a job (no new version)");
  v.scale->add_option("JOB", f.id, "Job id")->required();
  v.scale->add_option("GROUP", f.group, "Group name")->required();
  v.scale->add_option("N", f.count, "New count")->required()->check(CLI::NonNegativeNumber);
  v.scale->footer("Example:\n  orchctl scale web web 5");
  v.node = app.add_subcommand("node", "Node maintenance: drain");
  v.node->require_subcommand(1);
  v.node_drain = v.node->add_subcommand(
      "drain", "Move allocations off a node (migrate.max_parallel at a time); it takes no new work");
  v.node_drain->add_option("NODE", f.id, "Node id, its unique prefix, or the node's name")->required();
  v.node_drain->add_option("--deadline", f.deadline, "Stop what is left after this long (e.g. 10m)")
      ->type_name("DURATION");
  v.node_drain->add_flag("--undo", f.undo, "End the drain: the node takes new work again");
  v.node_drain->footer(
      "Examples:\n  orchctl node drain node-1\n  orchctl node drain node-1 --deadline 10m\n"
      "  orchctl node drain node-1 --undo");
  v.node->footer("Example:\n  orchctl node drain node-1 --deadline 10m");
}

// job history|revert, deployment list|status|pause|resume|fail
// (deployment_cmds.h).
void DefineDeploymentVerbs(CLI::App& app, Verbs& v, Flags& f) {
  v.job = app.add_subcommand("job", "A job's versions (history, revert, diff) and a rolling restart");
  v.job->require_subcommand(1);
  v.job_history = v.job->add_subcommand(
      "history", "The versions the masters keep, which are stable, and what their deployments did");
  v.job_history->add_option("JOB", f.id, "Job id")->required();
  v.job_history->footer("Example:\n  orchctl job history web");
  v.job_revert = v.job->add_subcommand(
      "revert", "Run the spec of an earlier version again, as a new version (rolled out like any other)");
  v.job_revert->add_option("JOB", f.id, "Job id")->required();
  v.job_revert->add_option("VERSION", f.version, "The version whose spec to run")->required();
  v.job_revert->footer("Example:\n  orchctl job revert web 3");
  v.job_diff = v.job->add_subcommand(
      "diff", "What a job file changes against the running version, field by field, and what that does to each group");
  v.job_diff->add_option("-f,--file", f.file, "Job file (YAML or JSON); - reads standard input")
      ->required()
      ->type_name("FILE");
  v.job_diff->footer("Example:\n  orchctl job diff -f web.yaml");
  v.job_restart = v.job->add_subcommand(
      "restart", "Restart every running allocation in place, max_parallel at a time, each batch once the one "
                 "before is running and healthy again");
  v.job_restart->add_option("JOB", f.id, "Job id")->required();
  v.job_restart->add_option("--timeout", f.restart_timeout, "Give up when a batch is not back after this long")
      ->type_name("DURATION")
      ->capture_default_str();
  v.job_restart->footer("Example:\n  orchctl job restart web");
  v.job_dispatch = v.job->add_subcommand(
      "dispatch", "Run a parameterized job once: a child job with the meta and payload given");
  v.job_dispatch->add_option("JOB", f.id, "The parameterized job's id")->required();
  v.job_dispatch
      ->add_option("PAYLOAD", f.payload_file,
                   "File whose content is the payload (- reads standard input)")
      ->type_name("FILE");
  v.job_dispatch
      ->add_option("--meta", f.meta, "KEY=VALUE given to the tasks as ORCH_META_KEY (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  v.job_dispatch->footer(
      "Examples:\n  orchctl job dispatch resize --meta size=64 input.json\n"
      "  echo '{}' | orchctl job dispatch resize -");
  v.job_periodic = v.job->add_subcommand("periodic", "Periodic jobs: launch one now");
  v.job_periodic->require_subcommand(1);
  v.job_periodic_force = v.job_periodic->add_subcommand(
      "force",
      "Launch a periodic job's child now, beside its schedule (even with prohibit_overlap)");
  v.job_periodic_force->add_option("JOB", f.id, "The periodic job's id")->required();
  v.job_periodic_force->footer("Example:\n  orchctl job periodic force cron-report");
  v.job->footer(
      "Examples:\n  orchctl job history web\n  orchctl job revert web 3\n  orchctl job diff -f "
      "web.yaml\n"
      "  orchctl job restart web\n  orchctl job dispatch resize --meta size=64 input.json\n"
      "  orchctl job periodic force cron-report");

  v.alloc = app.add_subcommand("alloc", "One allocation: restart or signal its tasks, or stop it");
  v.alloc->require_subcommand(1);
  v.alloc_restart = v.alloc->add_subcommand("restart", "Restart the allocation's tasks in place, on their node");
  v.alloc_restart->add_option("ALLOC", f.id, "Allocation id or its unique prefix")->required();
  v.alloc_restart->add_option("--task", f.task, "Only this task")->type_name("NAME");
  v.alloc_stop = v.alloc->add_subcommand(
      "stop", "Stop the allocation; a service's is replaced (possibly on another node)");
  v.alloc_stop->add_option("ALLOC", f.id, "Allocation id or its unique prefix")->required();
  v.alloc_signal = v.alloc->add_subcommand("signal", "Send the allocation's tasks a signal (e.g. to reload)");
  v.alloc_signal->add_option("ALLOC", f.id, "Allocation id or its unique prefix")->required();
  v.alloc_signal->add_option("-s,--signal", f.signal, "SIGHUP, SIGUSR1, SIGUSR2, SIGINT, SIGTERM, ...")
      ->capture_default_str();
  v.alloc_signal->add_option("--task", f.task, "Only this task")->type_name("NAME");
  v.alloc->footer("Examples:\n  orchctl alloc restart 1a2b3c4d\n  orchctl alloc restart 1a2b3c4d --task web\n"
                  "  orchctl alloc signal 1a2b3c4d -s SIGUSR1\n  orchctl alloc stop 1a2b3c4d");

  v.deployment = app.add_subcommand(
      "deployment", "Rolling updates: list, status, promote, pause, resume, fail (with auto_revert: roll back)");
  v.deployment->require_subcommand(1);
  v.deployment_list = v.deployment->add_subcommand("list", "Deployments, newest first");
  v.deployment_list->add_option("--job", f.deployment_job, "Only this job's")->type_name("JOB");
  v.deployment_status = v.deployment->add_subcommand("status", "One deployment, group by group");
  v.deployment_status->add_option("ID", f.id, "Deployment id or its unique prefix")->required();
  v.deployment_promote = v.deployment->add_subcommand(
      "promote", "Promote healthy canaries: the old allocations they stand beside stop and the rest rolls on");
  v.deployment_promote->add_option("ID", f.id, "Deployment id or its unique prefix")->required();
  v.deployment_pause = v.deployment->add_subcommand("pause", "Replace nothing more until resumed");
  v.deployment_pause->add_option("ID", f.id, "Deployment id or its unique prefix")->required();
  v.deployment_resume = v.deployment->add_subcommand("resume", "Carry on with a paused deployment");
  v.deployment_resume->add_option("ID", f.id, "Deployment id or its unique prefix")->required();
  v.deployment_fail = v.deployment->add_subcommand(
      "fail", "Fail a deployment; with auto_revert the last stable version rolls back in");
  v.deployment_fail->add_option("ID", f.id, "Deployment id or its unique prefix")->required();
  v.deployment->footer(
      "Examples:\n  orchctl deployment list --job web\n  orchctl deployment status 1a2b3c4d\n"
      "  orchctl deployment promote 1a2b3c4d\n  orchctl deployment pause 1a2b3c4d\n"
      "  orchctl deployment fail 1a2b3c4d");

  v.eval = app.add_subcommand(
      "eval", "The scheduler's evaluations: status (follow one with --monitor), list");
  v.eval->require_subcommand(1);
  v.eval_status = v.eval->add_subcommand(
      "status", "One evaluation: status, trigger, and why work could not be placed (blocked)");
  v.eval_status
      ->add_option("ID", f.id, "Evaluation id or its unique prefix (orchctl run prints it)")
      ->required();
  v.eval_status->add_flag("--monitor", f.monitor,
                          "Follow it while pending; exit 1 if it ends blocked or failed");
  v.eval_status->add_option("--timeout", f.eval_timeout, "With --monitor: give up after this long")
      ->capture_default_str();
  v.eval_list = v.eval->add_subcommand("list", "Evaluations, oldest first");
  v.eval_list->add_option("--job", f.deployment_job, "Only this job's")->type_name("JOB");
  v.eval->footer(
      "Examples:\n  orchctl eval status 1a2b3c4d --monitor\n  orchctl eval list --job web");

  v.top = app.add_subcommand("top",
                             "Nodes and running allocations by the load their agents measure, "
                             "busiest first, beside what they reserved");
  v.top->add_option("--job", f.top.job, "Only this job's allocations")->type_name("JOB");
  v.top->add_option("--limit", f.top.limit, "Allocations shown (0: all)")->capture_default_str();
  v.top->footer("Examples:\n  orchctl top\n  orchctl top --job web --limit 5");

  v.events = app.add_subcommand(
      "events",
      "The cluster's changes (jobs, allocations, nodes, evaluations, deployments) "
      "as the masters apply them; the recent ones, or with -f as they come");
  v.events
      ->add_option(
          "--topic", f.events.topics,
          "Only this topic: Job, Allocation, Node, Evaluation, Deployment or *; TOPIC:KEY for one "
          "object (repeatable)")
      ->type_name("TOPIC[:KEY]");
  v.events->add_option("--index", f.events.index,
                       "Only events after this index (resume where a stream stopped)");
  v.events->add_flag("-f,--follow", f.events.follow, "Keep printing new events until interrupted");
  v.events->footer(
      "-o json prints the stream's own lines: one JSON object per index.\n\nExamples:\n"
      "  orchctl events\n  orchctl events -f --topic Job:web --topic Node\n"
      "  orchctl events -o json --index 1200");
}

// acl bootstrap, acl token ..., acl policy ... (acl_cmds.h).
void DefineAclVerbs(CLI::App& app, Verbs& v, Flags& f) {
  v.acl = app.add_subcommand(
      "acl", "Access control (masters started with --acl): bootstrap, tokens, policies");
  v.acl->require_subcommand(1);
  v.acl_bootstrap = v.acl->add_subcommand(
      "bootstrap",
      "Make the first management token (once per cluster); prints its secret, shown only now");
  auto* token = v.acl->add_subcommand("token", "ACL tokens: create, list, self, delete");
  token->require_subcommand(1);
  v.acl_token_create =
      token->add_subcommand("create", "Make a token; prints its secret, shown only now");
  v.acl_token_create->add_option("--name", f.acl_name, "A name to recognise it by");
  v.acl_token_create
      ->add_option("--type", f.acl_type, "client (its policies) or management (everything)")
      ->capture_default_str()
      ->check(CLI::IsMember({"client", "management"}));
  v.acl_token_create->add_option("--policy", f.acl_policies, "A policy of the token (repeatable)")
      ->type_name("NAME");
  v.acl_token_list = token->add_subcommand("list", "Every token (without secrets)");
  v.acl_token_self =
      token->add_subcommand("self", "The token orchctl presents (--token, ORCH_TOKEN)");
  v.acl_token_delete =
      token->add_subcommand("delete", "Delete a token: its secret stops working at once");
  v.acl_token_delete->add_option("ACCESSOR", f.id, "The token's accessor id")->required();
  auto* policy = v.acl->add_subcommand("policy", "ACL policies: apply, list, info, delete");
  policy->require_subcommand(1);
  v.acl_policy_apply = policy->add_subcommand("apply",
                                              "Create or replace a policy from a file (YAML or "
                                              "JSON: description, rules of resource, access, "
                                              "prefix)");
  v.acl_policy_apply
      ->add_option("NAME", f.id,
                   "Policy name ([A-Za-z0-9_-]; \"anonymous\" applies to requests "
                   "without a token)")
      ->required();
  v.acl_policy_apply->add_option("FILE", f.file, "Policy file; - reads standard input")->required();
  v.acl_policy_apply->add_option("--description", f.acl_description,
                                 "Overrides the file's description");
  v.acl_policy_apply->footer(
      "A policy file:\n  description: deploys the web jobs\n  rules:\n    - {resource: job, "
      "access: write, prefix: "
      "web-}\n    - {resource: node, access: read}\nresource: job, node, operator or acl; access: "
      "read, write or "
      "deny; prefix: job rules only.");
  v.acl_policy_list = policy->add_subcommand("list", "Every policy");
  v.acl_policy_info = policy->add_subcommand("info", "One policy's rules");
  v.acl_policy_info->add_option("NAME", f.id, "Policy name")->required();
  v.acl_policy_delete =
      policy->add_subcommand("delete", "Delete a policy (tokens naming it lose its rules)");
  v.acl_policy_delete->add_option("NAME", f.id, "Policy name")->required();
  v.acl->footer(
      "Examples:\n  orchctl acl bootstrap\n  orchctl acl policy apply deployers deployers.yaml\n"
      "  orchctl acl token create --name ci --policy deployers\n  orchctl acl token list");
}

// tls ca create, tls cert create (tls_cmds.h): they write files and need no
// master.
void DefineTlsVerbs(CLI::App& app, Verbs& v, Flags& f) {
  v.tls = app.add_subcommand(
      "tls", "Make the cluster CA and the certificates it signs, for mutual TLS (files only)");
  v.tls->require_subcommand(1);
  auto* ca = v.tls->add_subcommand("ca", "The cluster CA: create");
  ca->require_subcommand(1);
  v.tls_ca_create = ca->add_subcommand(
      "create",
      "Make the cluster CA: orch-ca.pem, and its key orch-ca-key.pem (keep the key off the "
      "cluster's machines)");
  v.tls_ca_create->add_option("--days", f.tls_ca.days, "Valid for this many days")
      ->type_name("N")
      ->capture_default_str()
      ->check(CLI::Range(kMinCertDays, kMaxCertDays));
  v.tls_ca_create->add_option("--common-name", f.tls_ca.common_name, "The CA's name (subject CN)")
      ->type_name("NAME")
      ->capture_default_str();
  v.tls_ca_create->add_option("--dir", f.tls_dir, "Write the files in this directory")
      ->type_name("DIR")
      ->capture_default_str();
  v.tls_ca_create->footer("Example:\n  orchctl tls ca create --dir /etc/orch/tls");

  auto* cert = v.tls->add_subcommand("cert", "Certificates signed by the cluster CA: create");
  cert->require_subcommand(1);
  v.tls_cert_create = cert->add_subcommand(
      "create",
      "Make a certificate and key signed by the cluster CA, for a master (--server), an agent "
      "(--agent) or a user of the API (--client): orch-<role>.pem and orch-<role>-key.pem");
  v.tls_cert_create->add_flag(
      "--server", f.tls_server,
      "For a master: names server.orch, localhost, 127.0.0.1 and ::1; serves and dials");
  v.tls_cert_create->add_flag(
      "--agent", f.tls_agent,
      "For an agent: names agent.orch, localhost, 127.0.0.1 and ::1; serves and dials");
  v.tls_cert_create->add_flag("--client", f.tls_client,
                              "For orchctl and other API users: names client.orch; dials only");
  v.tls_cert_create
      ->add_option("--ca", f.tls_ca_file, "The CA's certificate (default: the one in --dir)")
      ->type_name("FILE")
      ->capture_default_str();
  v.tls_cert_create
      ->add_option("--ca-key", f.tls_ca_key_file, "The CA's key (default: the one in --dir)")
      ->type_name("FILE")
      ->capture_default_str();
  v.tls_cert_create->add_option("--days", f.tls_cert.days, "Valid for this many days")
      ->type_name("N")
      ->capture_default_str()
      ->check(CLI::Range(kMinCertDays, kMaxCertDays));
  v.tls_cert_create
      ->add_option("--additional-dnsname", f.tls_cert.dns_names,
                   "Also name this host name (repeatable), e.g. the master's public name")
      ->type_name("NAME");
  v.tls_cert_create
      ->add_option("--additional-ipaddress", f.tls_cert.ip_addresses,
                   "Also name this IPv4 or IPv6 address (repeatable)")
      ->type_name("IP");
  v.tls_cert_create->add_option("--dir", f.tls_dir, "Write the files in this directory")
      ->type_name("DIR")
      ->capture_default_str();
  v.tls_cert_create->footer(
      "Examples:\n  orchctl tls cert create --server --additional-dnsname m1.example.com "
      "--additional-ipaddress 10.0.0.1\n  orchctl tls cert create --agent\n"
      "  orchctl tls cert create --client");
  v.tls->footer(
      "Examples:\n  orchctl tls ca create\n  orchctl tls cert create --server\n"
      "  orchctl tls cert create --agent\n  orchctl tls cert create --client");
}

Verbs Define(CLI::App& app, Flags& f) {
  app.fallthrough();  // global flags may follow the verb; inherited by verbs
  app.add_option("--addr", f.addr,
                 "Master address(es), comma separated [env ORCH_ADDR, default " +
                     std::string(kDefaultAddr) + "]");
  app.add_option("--token", f.token, "API token [env ORCH_TOKEN]");
  app.add_option(
         "--ca-cert", f.tls.ca_file,
         "PEM file of the cluster CA, for https:// masters (with --client-cert and --client-key) "
         "[env ORCH_CACERT]")
      ->type_name("FILE");
  app.add_option("--client-cert", f.tls.cert_file,
                 "PEM client certificate (orchctl tls cert create --client) "
                 "[env ORCH_CLIENT_CERT]")
      ->type_name("FILE");
  app.add_option("--client-key", f.tls.key_file, "PEM key of --client-cert [env ORCH_CLIENT_KEY]")
      ->type_name("FILE");
  app.add_option("-o,--output", f.output, "Output format: table, json or yaml")
      ->type_name("FORMAT")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            return ParseOutputFormat(v) ? "" : "must be table, json or yaml, not \"" + v + "\"";
          },
          "table|json|yaml", "output format"));

  Verbs v;
  v.run = app.add_subcommand("run", "Submit a job file (YAML or JSON)");
  v.run->add_option("-f,--file", f.file, "Job file to submit; - reads standard input")
      ->required()
      ->type_name("FILE");
  auto* detach =
      v.run->add_flag("-d,--detach", f.detach, "Return once the job is submitted, without waiting");
  auto* wait = v.run->add_flag("-w,--wait", f.wait,
                               "Wait (the default) until the job's allocations are running; a job with an update "
                               "block: until its deployment succeeds. Exit status 1 when it fails, when the "
                               "scheduler cannot place it, or at the timeout");
  wait->excludes(detach);
  v.run->add_option("--timeout", f.timeout, "Give up waiting after this long (e.g. 90s, 5m)")
      ->type_name("DURATION")
      ->capture_default_str();
  v.run->footer("Examples:\n  orchctl run -f web.yaml --timeout 2m   follow the rollout, give up after 2m\n"
                "  orchctl run -f web.yaml -d             submit and return");

  v.get = app.add_subcommand("get", "List jobs, nodes, allocations or services");
  v.get->require_subcommand(1);
  v.get_jobs = v.get->add_subcommand("jobs", "List jobs with their allocations running/desired");
  v.get_jobs->alias("job");
  v.get_nodes = v.get->add_subcommand("nodes", "List nodes with allocated/total cpu and memory");
  v.get_nodes->alias("node");
  v.get_allocs = v.get->add_subcommand("allocs", "List allocations");
  v.get_allocs->alias("alloc");
  v.get_allocs->alias("allocations");
  v.get_allocs->add_option("--job", f.alloc_job, "Only the allocations of this job")
      ->type_name("ID");
  v.get_allocs->footer("Example:\n  orchctl get allocs --job web -o yaml");
  v.get_services = v.get->add_subcommand(
      "services", "List services: job, strategy, listen port, healthy/total endpoints");
  v.get_services->alias("service");
  v.get_services->alias("svc");
  v.get_services->footer("Example:\n  orchctl get services -o json");
  v.get->footer(
      "Examples:\n  orchctl get jobs\n  orchctl get nodes -o json\n"
      "  orchctl get allocs --job web\n  orchctl get services");

  v.describe = app.add_subcommand("describe", "Show details of an object");
  v.describe->require_subcommand(1);
  v.describe_job = v.describe->add_subcommand(
      "job", "A job, its allocations with the state of every task, and its evaluations");
  v.describe_job->add_option("ID", f.id, "Job id")->required();
  v.describe_job->footer("Example:\n  orchctl describe job web -o json");
  v.describe_node = v.describe->add_subcommand(
      "node", "A node: attributes, capacity, load, heartbeat and its allocations");
  v.describe_node->add_option("ID", f.id, "Node id, its unique prefix, or the node's name")
      ->required();
  v.describe_node->footer("Example:\n  orchctl describe node 9f8e7d6c");
  v.describe_alloc = v.describe->add_subcommand(
      "alloc", "An allocation: node, ports, and every task's state and last message");
  v.describe_alloc->alias("allocation");
  v.describe_alloc->add_option("ID", f.id, "Allocation id or its unique prefix")->required();
  v.describe_alloc->footer("Example:\n  orchctl describe alloc 1a2b3c4d");
  v.describe_service = v.describe->add_subcommand(
      "service", "A service: strategy, listen port, and every endpoint with its weight and health");
  v.describe_service->alias("svc");
  v.describe_service->add_option("NAME", f.id, "Service name")->required();
  v.describe_service->footer("Example:\n  orchctl describe service web");
  v.describe->footer(
      "Examples:\n  orchctl describe job web\n  orchctl describe node node-1\n"
      "  orchctl describe alloc 1a2b3c4d -o yaml\n  orchctl describe service web");

  v.stop = app.add_subcommand("stop", "Stop a job: its allocations are stopped");
  v.stop->add_option("ID", f.id, "Job id")->required();
  v.stop->add_flag("--purge", f.purge,
                   "Also remove the job, its versions and deployments from the state now (not at garbage collection)");
  v.stop->footer("Example:\n  orchctl stop web --purge");

  v.cluster = app.add_subcommand(
      "cluster",
      "The masters' Raft quorum: members, leader, add, promote, remove, transfer-leader");
  DefineCluster(v, f);

  v.system = app.add_subcommand("system", "Cluster maintenance: gc");
  v.system->require_subcommand(1);
  v.system_gc = v.system->add_subcommand(
      "gc", "Delete now, whatever their age, complete evaluations, terminal allocations, dead jobs and ended "
            "deployments (the leader does it by itself past --*-gc-threshold)");
  v.system_gc->footer("Example:\n  orchctl system gc");

  v.operator_ =
      app.add_subcommand("operator", "Cluster state backups: snapshot save, snapshot restore");
  v.operator_->require_subcommand(1);
  v.operator_snapshot = v.operator_->add_subcommand(
      "snapshot",
      "Save the whole cluster state to a file, or restore it (a management token's business)");
  v.operator_snapshot->require_subcommand(1);
  v.snapshot_save = v.operator_snapshot->add_subcommand(
      "save",
      "Write a consistent image of the cluster state (jobs, versions, nodes, allocations, "
      "evaluations, "
      "deployments, ACLs) to FILE, 0600: it holds task secrets and ACL token hashes");
  v.snapshot_save->add_option("FILE", f.file, "Where to write it (replaced atomically)")
      ->required();
  v.snapshot_save->add_flag(
      "--stale", f.stale,
      "Take it from the master answering, without asking the leader (no quorum needed)");
  v.snapshot_save->footer("Example:\n  orchctl operator snapshot save backup.snap");
  v.snapshot_restore =
      v.operator_snapshot->add_subcommand("restore",
                                          "Replace the cluster state with FILE's (of this cluster "
                                          "or another); the masters stay as they are");
  v.snapshot_restore->add_option("FILE", f.file, "A file of 'operator snapshot save'")->required();
  v.snapshot_restore->footer("Example:\n  orchctl operator snapshot restore backup.snap");

  DefineSchedulerVerbs(app, v, f);
  DefineDeploymentVerbs(app, v, f);
  DefineAclVerbs(app, v, f);
  DefineTlsVerbs(app, v, f);

  v.logs = app.add_subcommand(
      "logs", "Print a task's output (stdout, or stderr), through the masters; -f follows it");
  v.logs->add_option("ALLOC", f.id, "Allocation id or its unique prefix")->required();
  v.logs->add_flag("-f,--follow", f.logs.follow, "Keep printing new output until the task exits");
  v.logs->add_option("--task", f.logs.task, "The task (needed when the group has several)")
      ->type_name("NAME");
  v.logs->add_flag("--stderr", f.logs.stderr_stream, "Standard error instead of standard output");
  v.logs->add_option("--tail", f.logs.tail, "Only the last N lines")
      ->type_name("N")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            return !v.empty() && v.find_first_not_of("0123456789") == std::string::npos
                       ? ""
                       : "must be a number of lines (0 or more), not \"" + v + "\"";
          },
          "N", "line count"));
  v.logs->footer(
      "Examples:\n  orchctl logs 1a2b3c4d\n  orchctl logs 1a2b3c4d -f --tail 20\n"
      "  orchctl logs 1a2b3c4d --task sidecar --stderr");

  v.version = app.add_subcommand("version", "Print orchctl's version");
  v.completion = app.add_subcommand("completion", "Print a shell completion script (bash or zsh)");
  v.completion->add_option("SHELL", f.id, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  v.completion->footer(
      "Examples:\n  source <(orchctl completion bash)        # in ~/.bashrc\n"
      "  orchctl completion bash > /etc/bash_completion.d/orchctl\n"
      "  source <(orchctl completion zsh)         # in ~/.zshrc");
  // Last, so the verbs do not inherit it.
  app.footer(kFooter);
  return v;
}

// "orchctl describe job --help": help for the deepest verb given.
std::string HelpHint(const CLI::App& app) {
  std::string cmd = "orchctl";
  const CLI::App* at = &app;
  for (;;) {
    auto subs = at->get_subcommands();
    if (subs.empty()) break;
    at = subs.front();
    cmd += " " + at->get_name();
  }
  return " (see '" + cmd + " --help')";
}

int Usage(const CliIo& io, const std::string& message) {
  *io.err << "orchctl: " << OneLine(message) << std::endl;
  return kExitUsage;
}

}  // namespace

CliIo CliIo::System() {
  CliIo io;
  io.out = &std::cout;
  io.err = &std::cerr;
  io.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  io.read_file = ReadFile;
  io.terminal = isatty(STDOUT_FILENO) == 1;
  return io;
}

Result<std::vector<std::string>> ParseAddresses(const std::string& list, bool https) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto b = item.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    item = item.substr(b, item.find_last_not_of(" \t") - b + 1);
    if (item.find("://") == std::string::npos) item = (https ? "https://" : "http://") + item;
    while (!item.empty() && item.back() == '/') item.pop_back();
    out.push_back(item);
  }
  if (out.empty()) return Status::InvalidArgument("--addr: no master address given");
  return out;
}

namespace {

// Reads the job file and the wait flags of `run`; a usage error otherwise.
Status LoadRun(const Flags& f, const CliIo& io, RunOptions* opts, std::string* document) {
  opts->wait = !f.detach;
  auto timeout = ParseDuration(f.timeout);
  if (!timeout.ok()) return Status::InvalidArgument("--timeout: " + timeout.status().message());
  opts->timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*timeout);
  ORCH_ASSIGN_OR_RETURN(*document, io.read_file(f.file));
  if (document->size() > kMaxJobFileBytes) {
    return Status::InvalidArgument("job file \"" + f.file + "\" is larger than 1 MiB");
  }
  return Status::Ok();
}

// Checks the flags of `cluster add`.
Status LoadClusterAdd(const Flags& f, ClusterAddOptions* opts) {
  ORCH_RETURN_IF_ERROR(ValidateMemberAddresses(f.raft, f.http));
  auto timeout = ParseDuration(f.add_timeout);
  if (!timeout.ok()) return Status::InvalidArgument("--timeout: " + timeout.status().message());
  opts->id = f.id;
  opts->raft_address = f.raft;
  opts->http_address = f.http;
  while (opts->http_address.size() > 7 && opts->http_address.back() == '/') {
    opts->http_address.pop_back();
  }
  opts->learner = f.learner;
  opts->wait = !f.no_wait;
  opts->timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*timeout);
  return Status::Ok();
}

// tls: files only, so before (and without) any master address.
int RunTls(const Verbs& v, Flags& f, const CliIo& io) {
  Status st;
  if (v.tls_ca_create->parsed()) {
    st = TlsCaCreate(*io.out, f.tls_dir, f.tls_ca);
  } else {
    if (int{f.tls_server} + int{f.tls_agent} + int{f.tls_client} != 1) {
      return Usage(io,
                   "tls cert create: give exactly one of --server, --agent or --client (see "
                   "'orchctl tls cert create --help')");
    }
    f.tls_cert.role = f.tls_server  ? TlsRole::kServer
                      : f.tls_agent ? TlsRole::kAgent
                                    : TlsRole::kClient;
    // Without --ca/--ca-key, the CA made in the same --dir.
    if (v.tls_cert_create->get_option("--ca")->count() == 0)
      f.tls_ca_file = f.tls_dir + "/" + kTlsCaFile;
    if (v.tls_cert_create->get_option("--ca-key")->count() == 0)
      f.tls_ca_key_file = f.tls_dir + "/" + kTlsCaKeyFile;
    st = TlsCertCreate(*io.out, f.tls_dir, f.tls_ca_file, f.tls_ca_key_file, f.tls_cert);
  }
  if (st.ok()) return kExitOk;
  if (st.code() == StatusCode::kInvalidArgument) return Usage(io, st.message());
  io.out->flush();
  *io.err << "orchctl: " << OneLine(st.message()) << std::endl;
  return kExitFailure;
}

int RunParsed(const CLI::App& app, const Verbs& v, Flags& f, const CliIo& io) {
  if (app.get_subcommands().empty()) {
    *io.out << app.help();
    return kExitOk;
  }
  Context ctx;
  ctx.format = *ParseOutputFormat(f.output);  // validated by CLI11
  ctx.out = io.out;
  ctx.clock = io.clock;
  ctx.terminal = io.terminal;
  if (v.completion->parsed()) {
    *io.out << CompletionScript(app, f.id);
    return kExitOk;
  }
  if (v.version->parsed()) {
    (void)PrintVersion(ctx, ORCH_VERSION);
    return kExitOk;
  }
  if (v.tls_ca_create->parsed() || v.tls_cert_create->parsed()) return RunTls(v, f, io);

  if (f.token.empty()) f.token = io.getenv("ORCH_TOKEN").value_or("");
  if (f.tls.ca_file.empty()) f.tls.ca_file = io.getenv("ORCH_CACERT").value_or("");
  if (f.tls.cert_file.empty()) f.tls.cert_file = io.getenv("ORCH_CLIENT_CERT").value_or("");
  if (f.tls.key_file.empty()) f.tls.key_file = io.getenv("ORCH_CLIENT_KEY").value_or("");
  if (Status st = CheckTlsFiles(f.tls, {"--ca-cert", "--client-cert", "--client-key"}); !st.ok()) {
    return Usage(io, st.message());
  }
  if (f.addr.empty()) f.addr = io.getenv("ORCH_ADDR").value_or("");
  // With TLS files the default master is https://127.0.0.1:4646.
  if (f.addr.empty()) f.addr = kDefaultAddr;
  auto addresses = ParseAddresses(f.addr, f.tls.enabled());
  if (!addresses.ok()) return Usage(io, addresses.status().message());
  RunOptions run_opts;
  std::string document;
  if (v.run->parsed()) {
    Status st = LoadRun(f, io, &run_opts, &document);
    if (!st.ok()) return Usage(io, st.message());
  }
  ClusterAddOptions add_opts;
  if (v.cluster_add->parsed()) {
    Status st = LoadClusterAdd(f, &add_opts);
    if (!st.ok()) return Usage(io, st.message());
  }

  if (v.plan->parsed() || v.job_diff->parsed()) {
    auto doc = io.read_file(f.file);
    if (!doc.ok()) return Usage(io, doc.status().message());
    document = *doc;
  }
  std::chrono::milliseconds drain_deadline{0};
  if (v.node_drain->parsed() && !f.deadline.empty()) {
    auto d = ParseDuration(f.deadline);
    if (!d.ok()) return Usage(io, "--deadline: " + d.status().message());
    drain_deadline = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  }

  std::map<std::string, std::string> dispatch_meta;
  std::string dispatch_payload;
  if (v.job_dispatch->parsed()) {
    for (const auto& kv : f.meta) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        return Usage(io, "--meta: expected KEY=VALUE, got \"" + kv + "\"");
      dispatch_meta[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (!f.payload_file.empty()) {
      auto doc = io.read_file(f.payload_file);
      if (!doc.ok()) return Usage(io, doc.status().message());
      dispatch_payload = *doc;
    }
  }

  std::string acl_policy_document;
  if (v.acl_policy_apply->parsed()) {
    auto doc = io.read_file(f.file);
    if (!doc.ok()) return Usage(io, doc.status().message());
    acl_policy_document = *doc;
  }

  OrchClient client(*addresses, OrchClientOptions{f.token, "", f.tls});
  ctx.client = &client;
  Status st;
  if (v.plan->parsed()) {
    st = PlanJob(ctx, document);
  } else if (v.scale->parsed()) {
    st = ScaleJob(ctx, f.id, f.group, f.count);
  } else if (v.node_drain->parsed()) {
    st = DrainNode(ctx, f.id, f.undo, drain_deadline);
  } else if (v.job_history->parsed()) {
    st = JobHistory(ctx, f.id);
  } else if (v.job_restart->parsed()) {
    auto timeout = ParseDuration(f.restart_timeout);
    if (!timeout.ok()) return Usage(io, "--timeout: " + timeout.status().message());
    st = JobRestart(ctx, f.id, std::chrono::duration_cast<std::chrono::milliseconds>(*timeout));
  } else if (v.alloc_restart->parsed()) {
    st = AllocRestart(ctx, f.id, f.task);
  } else if (v.alloc_signal->parsed()) {
    st = AllocSignal(ctx, f.id, f.signal, f.task);
  } else if (v.alloc_stop->parsed()) {
    st = AllocStop(ctx, f.id);
  } else if (v.job_diff->parsed()) {
    st = JobDiffCommand(ctx, document);
  } else if (v.job_revert->parsed()) {
    st = JobRevert(ctx, f.id, f.version);
  } else if (v.job_dispatch->parsed()) {
    st = JobDispatch(ctx, f.id, dispatch_meta, dispatch_payload);
  } else if (v.job_periodic_force->parsed()) {
    st = JobPeriodicForce(ctx, f.id);
  } else if (v.acl_bootstrap->parsed()) {
    st = AclBootstrap(ctx);
  } else if (v.acl_token_create->parsed()) {
    st = AclTokenCreate(ctx, f.acl_name, f.acl_type, f.acl_policies);
  } else if (v.acl_token_list->parsed()) {
    st = AclTokenList(ctx);
  } else if (v.acl_token_self->parsed()) {
    st = AclTokenSelf(ctx);
  } else if (v.acl_token_delete->parsed()) {
    st = AclTokenDelete(ctx, f.id);
  } else if (v.acl_policy_apply->parsed()) {
    st = AclPolicyApply(ctx, f.id, acl_policy_document, f.acl_description);
  } else if (v.acl_policy_list->parsed()) {
    st = AclPolicyList(ctx);
  } else if (v.acl_policy_info->parsed()) {
    st = AclPolicyInfo(ctx, f.id);
  } else if (v.acl_policy_delete->parsed()) {
    st = AclPolicyDelete(ctx, f.id);
  } else if (v.eval_status->parsed()) {
    auto timeout = ParseDuration(f.eval_timeout);
    if (!timeout.ok()) return Usage(io, "--timeout: " + timeout.status().message());
    st = EvalStatus(ctx, f.id, f.monitor,
                    std::chrono::duration_cast<std::chrono::milliseconds>(*timeout));
  } else if (v.top->parsed()) {
    st = Top(ctx, f.top);
  } else if (v.events->parsed()) {
    st = Events(ctx, f.events);
  } else if (v.eval_list->parsed()) {
    st = EvalList(ctx, f.deployment_job);
  } else if (v.deployment_list->parsed()) {
    st = DeploymentList(ctx, f.deployment_job);
  } else if (v.deployment_status->parsed()) {
    st = DeploymentStatus(ctx, f.id);
  } else if (v.deployment_promote->parsed()) {
    st = DeploymentAct(ctx, f.id, "promote");
  } else if (v.deployment_pause->parsed()) {
    st = DeploymentAct(ctx, f.id, "pause");
  } else if (v.deployment_resume->parsed()) {
    st = DeploymentAct(ctx, f.id, "resume");
  } else if (v.deployment_fail->parsed()) {
    st = DeploymentAct(ctx, f.id, "fail");
  } else if (v.run->parsed()) {
    st = RunJob(ctx, document, run_opts);
  } else if (v.get_jobs->parsed()) {
    st = GetJobs(ctx);
  } else if (v.get_nodes->parsed()) {
    st = GetNodes(ctx);
  } else if (v.get_allocs->parsed()) {
    st = GetAllocs(ctx, f.alloc_job);
  } else if (v.get_services->parsed()) {
    st = GetServices(ctx);
  } else if (v.describe_service->parsed()) {
    st = DescribeServiceCommand(ctx, f.id);
  } else if (v.describe_job->parsed()) {
    st = DescribeJobCommand(ctx, f.id);
  } else if (v.describe_node->parsed()) {
    st = DescribeNodeCommand(ctx, f.id);
  } else if (v.describe_alloc->parsed()) {
    st = DescribeAllocCommand(ctx, f.id);
  } else if (v.logs->parsed()) {
    st = LogsCommand(ctx, f.id, f.logs);
  } else if (v.stop->parsed()) {
    st = StopJob(ctx, f.id, f.purge);
  } else if (v.cluster_members->parsed()) {
    st = ClusterMembers(ctx);
  } else if (v.cluster_leader->parsed()) {
    st = ClusterLeader(ctx);
  } else if (v.system_gc->parsed()) {
    st = SystemGc(ctx);
  } else if (v.snapshot_save->parsed()) {
    st = OperatorSnapshotSave(ctx, f.file, f.stale);
  } else if (v.snapshot_restore->parsed()) {
    st = OperatorSnapshotRestore(ctx, f.file);
  } else if (v.cluster_add->parsed()) {
    st = ClusterAdd(ctx, add_opts);
  } else if (v.cluster_promote->parsed()) {
    st = ClusterPromote(ctx, f.id);
  } else if (v.cluster_remove->parsed()) {
    st = ClusterRemove(ctx, f.id);
  } else if (v.cluster_transfer->parsed()) {
    st = ClusterTransferLeader(ctx, f.id);
  }
  if (!st.ok()) {
    io.out->flush();
    *io.err << "orchctl: " << DescribeError(st, client.addresses()) << std::endl;
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int RunCli(const std::vector<std::string>& args, const CliIo& io) {
  CLI::App app{
      "orchctl controls an orch cluster: submit, inspect and stop jobs, manage the masters.",
      "orchctl"};
  Flags f;
  Verbs v = Define(app, f);
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 wants them reversed
    app.parse(reversed);
  } catch (const CLI::Success& e) {
    return app.exit(e, *io.out, *io.err);  // --help
  } catch (const CLI::ParseError& e) {
    return Usage(io, std::string(e.what()) + HelpHint(app));
  }
  try {
    return RunParsed(app, v, f, io);
  } catch (const std::exception& e) {
    // Errors are values everywhere; this only keeps a bug from dumping core.
    *io.err << "orchctl: internal error: " << OneLine(e.what()) << std::endl;
    return kExitFailure;
  }
}

}  // namespace orch::ctl
