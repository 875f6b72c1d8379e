#include "api/orchctl/cli.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "api/orchctl/errors.h"
#include "api/orchctl/table.h"
#include "common/document.h"

#ifndef ORCH_VERSION
#define ORCH_VERSION "0.0.0"
#endif

namespace orch::ctl {

namespace {

constexpr const char* kFooter = R"(Examples:
  orchctl run -f web.yaml --wait      submit a job and wait until it runs
  orchctl get allocs --job web        list the allocations of job web
  orchctl describe job web -o yaml    everything about job web, as YAML
  orchctl stop web                    stop job web

Environment:
  ORCH_ADDR    master address(es), comma separated (default http://127.0.0.1:4646)
  ORCH_TOKEN   API token

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
  std::string addr;
  std::string token;
  std::string output = "table";
  std::string file;
  bool detach = true;
  bool wait = false;
  std::string timeout = "5m";
  std::string alloc_job;
  std::string id;
  bool purge = false;
};

struct Verbs {
  CLI::App* run = nullptr;
  CLI::App* get = nullptr;
  CLI::App* get_jobs = nullptr;
  CLI::App* get_nodes = nullptr;
  CLI::App* get_allocs = nullptr;
  CLI::App* describe = nullptr;
  CLI::App* describe_job = nullptr;
  CLI::App* describe_node = nullptr;
  CLI::App* describe_alloc = nullptr;
  CLI::App* stop = nullptr;
  CLI::App* version = nullptr;
};

Verbs Define(CLI::App& app, Flags& f) {
  app.fallthrough();  // global flags may follow the verb; inherited by verbs
  app.add_option("--addr", f.addr,
                 "Master address(es), comma separated [env ORCH_ADDR, default " +
                     std::string(kDefaultAddr) + "]");
  app.add_option("--token", f.token, "API token [env ORCH_TOKEN]");
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
      v.run->add_flag("-d,--detach", f.detach, "Return once the job is submitted (the default)");
  auto* wait = v.run->add_flag("-w,--wait", f.wait, "Wait until the job's allocations are running");
  wait->excludes(detach);
  v.run->add_option("--timeout", f.timeout, "Give up waiting after this long (e.g. 90s, 5m)")
      ->type_name("DURATION")
      ->capture_default_str();
  v.run->footer("Example:\n  orchctl run -f web.yaml --wait --timeout 2m");

  v.get = app.add_subcommand("get", "List jobs, nodes or allocations");
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
  v.get->footer(
      "Examples:\n  orchctl get jobs\n  orchctl get nodes -o json\n"
      "  orchctl get allocs --job web");

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
  v.describe->footer(
      "Examples:\n  orchctl describe job web\n  orchctl describe node node-1\n"
      "  orchctl describe alloc 1a2b3c4d -o yaml");

  v.stop = app.add_subcommand("stop", "Stop a job: its allocations are stopped");
  v.stop->add_option("ID", f.id, "Job id")->required();
  v.stop->add_flag("--purge", f.purge, "Also remove the job from the state");
  v.stop->footer("Example:\n  orchctl stop web --purge");

  v.version = app.add_subcommand("version", "Print orchctl's version");
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
  return io;
}

Result<std::vector<std::string>> ParseAddresses(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto b = item.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    item = item.substr(b, item.find_last_not_of(" \t") - b + 1);
    if (item.find("://") == std::string::npos) item = "http://" + item;
    while (!item.empty() && item.back() == '/') item.pop_back();
    out.push_back(item);
  }
  if (out.empty()) return Status::InvalidArgument("--addr: no master address given");
  return out;
}

namespace {

// Reads the job file and the wait flags of `run`; a usage error otherwise.
Status LoadRun(const Flags& f, const CliIo& io, RunOptions* opts, std::string* document) {
  opts->wait = f.wait;
  auto timeout = ParseDuration(f.timeout);
  if (!timeout.ok()) return Status::InvalidArgument("--timeout: " + timeout.status().message());
  opts->timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*timeout);
  ORCH_ASSIGN_OR_RETURN(*document, io.read_file(f.file));
  if (document->size() > kMaxJobFileBytes) {
    return Status::InvalidArgument("job file \"" + f.file + "\" is larger than 1 MiB");
  }
  return Status::Ok();
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
  if (v.version->parsed()) {
    (void)PrintVersion(ctx, ORCH_VERSION);
    return kExitOk;
  }

  if (f.addr.empty()) f.addr = io.getenv("ORCH_ADDR").value_or("");
  if (f.addr.empty()) f.addr = kDefaultAddr;
  if (f.token.empty()) f.token = io.getenv("ORCH_TOKEN").value_or("");
  auto addresses = ParseAddresses(f.addr);
  if (!addresses.ok()) return Usage(io, addresses.status().message());
  RunOptions run_opts;
  std::string document;
  if (v.run->parsed()) {
    Status st = LoadRun(f, io, &run_opts, &document);
    if (!st.ok()) return Usage(io, st.message());
  }

  OrchClient client(*addresses, f.token);
  ctx.client = &client;
  Status st;
  if (v.run->parsed()) {
    st = RunJob(ctx, document, run_opts);
  } else if (v.get_jobs->parsed()) {
    st = GetJobs(ctx);
  } else if (v.get_nodes->parsed()) {
    st = GetNodes(ctx);
  } else if (v.get_allocs->parsed()) {
    st = GetAllocs(ctx, f.alloc_job);
  } else if (v.describe_job->parsed()) {
    st = DescribeJobCommand(ctx, f.id);
  } else if (v.describe_node->parsed()) {
    st = DescribeNodeCommand(ctx, f.id);
  } else if (v.describe_alloc->parsed()) {
    st = DescribeAllocCommand(ctx, f.id);
  } else if (v.stop->parsed()) {
    st = StopJob(ctx, f.id, f.purge);
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
  CLI::App app{"orchctl controls an orch cluster: submit, inspect and stop jobs.", "orchctl"};
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
