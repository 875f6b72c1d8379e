// agent_memory_bench: resident memory of orch-agent, idle and with N (50)
// running exec allocations, against a real single orch-master on loopback.
// Prints the agent's RSS (and peak) both times, the growth per allocation,
// and what each task's supervisor (the shim, a forked copy of the agent)
// costs privately. Reference: k3s's agent uses about 275 MB.
//
//   agent_memory_bench [--orch-master=PATH] [--orch-agent=PATH] [--allocs=50]
//                      [--settle=5]   (seconds to let the agent settle)
//
// Runs as any user; as root the tasks get cgroups (under orch-bench-<pid>).
// Nothing here asserts: the figures are printed and recorded by hand in
// tests/bench/README.md.
#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/bench/bench_util.h"

using namespace orch::bench;

namespace {

std::string Flag(int argc, char** argv, const std::string& name, const std::string& def) {
  std::string pre = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind(pre, 0) == 0) return a.substr(pre.size());
  }
  return def;
}

// A "Key:   123 kB" field of /proc/<pid>/<file>, in KiB (0 if absent).
long ProcKb(pid_t pid, const std::string& file, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
  }
  return 0;
}

pid_t ParentOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream s(line.substr(close + 2));
  char state;
  pid_t ppid = 0;
  s >> state >> ppid;
  return ppid;
}

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    pid_t p = std::atoi(e->d_name);
    if (p > 0 && ParentOf(p) == parent) out.push_back(p);
  }
  closedir(d);
  return out;
}

std::string ExeOf(pid_t pid) {
  char buf[4096];
  ssize_t n = readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// KeepAliveHttp speaks GET and POST only.
long HttpDelete(const std::string& url) {
  CURL* h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(
      h, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t n, void*) { return size * n; });
  long code = 0;
  if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(h);
  return code;
}

// SIGKILLs whatever is still in the bench's task cgroups (a safety net:
// the agent stops the job's tasks itself).
void KillLeftovers(const std::string& parent) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& alloc : fs::directory_iterator("/sys/fs/cgroup/memory/" + parent, ec)) {
    if (!alloc.is_directory()) continue;
    for (const auto& task : fs::directory_iterator(alloc.path(), ec)) {
      if (!task.is_directory()) continue;
      std::ifstream in(task.path() / "cgroup.procs");
      pid_t p;
      while (in >> p) kill(p, SIGKILL);
    }
  }
}

void Sleep(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

}  // namespace

int main(int argc, char** argv) {
  std::string master_bin = Flag(argc, argv, "orch-master", ORCH_MASTER_BIN);
  std::string agent_bin = Flag(argc, argv, "orch-agent", ORCH_AGENT_BIN);
  int n = std::atoi(Flag(argc, argv, "allocs", "50").c_str());
  double settle = std::atof(Flag(argc, argv, "settle", "5").c_str());
  curl_global_init(CURL_GLOBAL_DEFAULT);

  std::string root = "/tmp/orch-agent-memory-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(root);
  int http = FreePort(), raft = FreePort(), agent_http = FreePort();
  std::string master = "http://127.0.0.1:" + std::to_string(http);
  Proc m, a;
  if (!m.Start({master_bin, "--id", "m1", "--data-dir", root + "/master", "--http",
                "127.0.0.1:" + std::to_string(http), "--raft", "127.0.0.1:" + std::to_string(raft)},
               root + "/master.log")) {
    std::perror("start orch-master");
    return 2;
  }
  if (!a.Start({agent_bin, "--name", "bench", "--data-dir", root + "/agent", "--masters", master,
                "--http", "127.0.0.1:" + std::to_string(agent_http), "--drivers", "exec",
                "--cgroup-parent", "orch-bench-" + std::to_string(getpid())},
               root + "/agent.log")) {
    std::perror("start orch-agent");
    return 2;
  }
  KeepAliveHttp c;
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    if (c.Do("GET", master + "/v1/nodes", "", 1000) == 200 &&
        c.body().find("READY") != std::string::npos)
      break;
    Sleep(0.2);
  }
  if (c.body().find("READY") == std::string::npos) {
    std::fprintf(stderr, "the agent never registered; see %s/agent.log\n", root.c_str());
    return 1;
  }
  Sleep(settle);
  long idle_rss = ProcKb(a.pid(), "status", "VmRSS");
  long idle_hwm = ProcKb(a.pid(), "status", "VmHWM");
  long idle_anon = ProcKb(a.pid(), "status", "RssAnon");
  long idle_pss = ProcKb(a.pid(), "smaps_rollup", "Pss");

  std::string job =
      "{\"id\":\"membench\",\"type\":\"service\",\"groups\":[{\"name\":\"g\",\"count\":" +
      std::to_string(n) +
      ",\"tasks\":[{\"name\":\"t\",\"driver\":\"exec\",\"command\":\"/bin/sleep\","
      "\"args\":[\"3600\"],\"resources\":{\"cpu\":10,\"memory\":16}}]}]}";
  if (c.Do("POST", master + "/v1/jobs", job, 10000) != 200) {
    std::fprintf(stderr, "submitting the job failed: %s\n", c.body().c_str());
    return 1;
  }
  int running = 0;
  auto t0 = Clock::now();
  deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < deadline && running < n) {
    if (c.Do("GET", master + "/v1/jobs/membench", "", 2000) == 200) {
      running = std::atoi(JsonField(c.body(), "RUNNING").c_str());
    }
    if (running < n) Sleep(0.2);
  }
  double start_s = Seconds(Clock::now() - t0);
  if (running < n) {
    std::fprintf(stderr, "only %d of %d allocations running; see %s\n", running, n, root.c_str());
  }
  Sleep(settle);
  long busy_rss = ProcKb(a.pid(), "status", "VmRSS");
  long busy_hwm = ProcKb(a.pid(), "status", "VmHWM");
  long busy_anon = ProcKb(a.pid(), "status", "RssAnon");
  long busy_pss = ProcKb(a.pid(), "smaps_rollup", "Pss");
  // The shims: the agent's children (orch-exec-shim, or forks of the agent
  // when it has none); what each costs is its private memory.
  std::vector<pid_t> shims = ChildrenOf(a.pid());
  long shim_private = 0, shim_pss = 0;
  for (pid_t s : shims) {
    shim_private +=
        ProcKb(s, "smaps_rollup", "Private_Clean") + ProcKb(s, "smaps_rollup", "Private_Dirty");
    shim_pss += ProcKb(s, "smaps_rollup", "Pss");
  }
  // With isolation each shim's child is the task's init (pid 1 of its
  // namespace, a fork of the shim: same executable), the task its child.
  std::vector<pid_t> inits;
  long init_private = 0, init_pss = 0;
  for (pid_t s : shims) {
    std::string exe = ExeOf(s);
    for (pid_t c : ChildrenOf(s)) {
      if (exe.empty() || ExeOf(c) != exe) continue;
      inits.push_back(c);
      init_private +=
          ProcKb(c, "smaps_rollup", "Private_Clean") + ProcKb(c, "smaps_rollup", "Private_Dirty");
      init_pss += ProcKb(c, "smaps_rollup", "Pss");
    }
  }

  std::printf("orch-agent memory (exec driver, %s)\n",
              geteuid() == 0 ? "cgroups" : "no cgroups: not root");
  std::printf("  idle:                     RSS %6.1f MiB  (peak %6.1f MiB)\n", idle_rss / 1024.0,
              idle_hwm / 1024.0);
  std::printf(
      "  %3d running allocations:  RSS %6.1f MiB  (peak %6.1f MiB), all running after %.1f s\n",
      running, busy_rss / 1024.0, busy_hwm / 1024.0, start_s);
  std::printf("  anonymous (heap, stacks): %6.1f MiB idle, %6.1f MiB busy; PSS %.1f / %.1f MiB\n",
              idle_anon / 1024.0, busy_anon / 1024.0, idle_pss / 1024.0, busy_pss / 1024.0);
  std::printf("  per allocation (agent):   %6.1f KiB\n",
              running > 0 ? static_cast<double>(busy_rss - idle_rss) / running : 0.0);
  if (!shims.empty()) {
    std::printf("  per task supervisor:      %6.1f KiB private, %6.1f KiB PSS (%zu shims)\n",
                static_cast<double>(shim_private) / shims.size(),
                static_cast<double>(shim_pss) / shims.size(), shims.size());
  }
  if (!inits.empty()) {
    std::printf("  per task init (isolation): %5.1f KiB private, %6.1f KiB PSS (%zu inits)\n",
                static_cast<double>(init_private) / inits.size(),
                static_cast<double>(init_pss) / inits.size(), inits.size());
  }
  std::printf("  reference: k3s agent ~275 MB; goal: under 15 MB idle\n");

  if (HttpDelete(master + "/v1/jobs/membench") != 200) {
    std::fprintf(stderr, "stopping the job failed; killing its tasks\n");
  }
  deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline && !ChildrenOf(a.pid()).empty()) Sleep(0.2);
  a.Stop();
  m.Stop();
  std::string parent = "orch-bench-" + std::to_string(getpid());
  KillLeftovers(parent);
  Sleep(0.5);
  // The agent leaves its (now empty) cgroup parent; remove ours.
  for (const char* c : {"cpu", "cpuacct", "memory", "unified", "."}) {
    rmdir(("/sys/fs/cgroup/" + std::string(c) + "/orch-bench-" + std::to_string(getpid())).c_str());
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return 0;
}
