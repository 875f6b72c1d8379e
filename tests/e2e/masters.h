// MasterCluster: a quorum of real orch-master processes on loopback for
// fault tests. Each member has fixed free ports, its own data dir and log
// file under a temp root, and can be stopped (SIGTERM), killed (SIGKILL) and
// restarted with the same data dir and flags. WriteLoad submits small jobs
// to random running masters from background threads and records which
// submissions were acknowledged (HTTP 200).
// Thread safety: MasterCluster's Start/Stop/Kill/Bootstrap/StartJoiner are
// for the test thread; Running() and Client() may be called from any thread
// (WriteLoad does). WriteLoad's methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/client/client.h"
#include "process.h"

namespace orch::e2e {

class MasterCluster {
 public:
  // `root` becomes a fresh folder; `flags` are given to every master (e.g.
  // "--raft-tick", "20ms"). `client`: what Client() presents; with TLS
  // files the masters are addressed as https://.
  MasterCluster(std::string root, std::vector<std::string> flags, OrchClientOptions client = {});
  // SIGTERMs (then SIGKILLs) every running master. REQUIRES: no WriteLoad
  // on it still running.
  ~MasterCluster();
  MasterCluster(const MasterCluster&) = delete;
  MasterCluster& operator=(const MasterCluster&) = delete;

  // Where a member runs: the address it listens on and an argv prefix that
  // runs it (e.g. "ip netns exec NS", netns.h). Default: 127.0.0.1, as is.
  struct Placement {
    std::string host = "127.0.0.1";
    std::vector<std::string> wrapper;
  };
  // Applies to members added after the call (Bootstrap, StartJoiner).
  void SetPlacement(std::function<Placement(const std::string& id)> place);

  // Starts `ids` as the founding voters of a new cluster (--peers).
  void Bootstrap(const std::vector<std::string>& ids);
  // Starts a new, empty member `id` with --join `join_url`; it still has to
  // be added through POST /v1/cluster/members.
  void StartJoiner(const std::string& id, const std::string& join_url);
  // Restarts `id` with its data dir, ports and flags. REQUIRES: not running.
  void Start(const std::string& id);
  // SIGTERM; returns the exit code (-1 when it did not exit within 20s).
  int Stop(const std::string& id);
  // SIGKILL, and reaps it.
  void Kill(const std::string& id);
  // Any other signal to a running member (SIGSTOP, SIGCONT).
  void Signal(const std::string& id, int sig);

  bool IsRunning(const std::string& id) const;
  std::vector<std::string> Running() const;
  std::vector<std::string> All() const;

  std::string HttpUrl(const std::string& id) const;
  // Every member's REST URL (for a client that fails over), and the same
  // comma-separated (an agent's --masters).
  std::vector<std::string> HttpUrls() const;
  std::string HttpUrlList() const;
  std::string RaftAddress(const std::string& id) const;
  int HttpPort(const std::string& id) const;
  int RaftPort(const std::string& id) const;
  std::string LogPath(const std::string& id) const;
  // A client bound to `id` alone (no fail-over to other masters).
  OrchClient& Client(const std::string& id);

  // The leader as a running member sees it, if it is itself running and
  // agrees that it leads; "" when there is none right now.
  std::string LeaderNow();
  // Polls LeaderNow() until it is a leader other than `not_id`; "" on timeout.
  std::string WaitLeader(std::chrono::milliseconds timeout, const std::string& not_id = "");
  // Polls until every running member serves its HTTP API and names the
  // same leader (WaitLeader needs only the leader and one member: the
  // others may still be starting, refusing connections).
  bool WaitAllFollow(std::chrono::milliseconds timeout);

  // Appends a timestamped "e2e:" line to every master's log, so that a
  // failing test's logs show what the test did when.
  void Note(const std::string& text) const;

  // The last `tail_lines` lines of every master's log, for a failing test.
  std::string Logs(int tail_lines = 300) const;

 private:
  // The leader `id` names at GET /v1/cluster/leader; "" if none or no answer.
  std::string LeaderSeenBy(const std::string& id);
  struct Member {
    std::string id;
    int http_port = 0;
    int raft_port = 0;
    Placement place;
    std::vector<std::string> argv;
    std::unique_ptr<Subprocess> process;
    std::unique_ptr<OrchClient> client;
  };
  Member& Add(const std::string& id);
  std::string Url(const Member& m) const;  // http:// or https:// host:port
  Member& Get(const std::string& id);
  const Member& Get(const std::string& id) const;
  void Launch(Member& m);
  // The flags every start of `m` shares: id, data dir, addresses, flags_.
  std::vector<std::string> BaseArgv(const Member& m) const;

  std::string root_;
  OrchClientOptions client_options_;
  std::vector<std::string> flags_;
  std::function<Placement(const std::string& id)> place_;
  mutable std::mutex mu_;  // guards the map and `running_`; processes are the test thread's
  std::map<std::string, std::unique_ptr<Member>> members_;
  std::set<std::string> running_;
};

// Raft timing that keeps fault tests short: 20 ms ticks, elections after
// 10-20 ticks; nodes down after 5 s without a heartbeat.
// clang-format off
inline const std::vector<std::string> kFastMasterFlags = {
    "--raft-tick", "20ms", "--election-ticks", "10", "--heartbeat-ttl", "5s"};
// clang-format on

// Job ids a master lists (GET /v1/jobs; `stale` for ?stale=true).
Result<std::set<std::string>> JobIds(OrchClient& client, bool stale);

// A small job nothing has to run: a batch job whose one group has count 0.
std::string TinyJob(const std::string& id);

class WriteLoad {
 public:
  // Job ids are `prefix`-N. Starts `threads` submitting threads at once.
  // `cluster` must outlive the load (or its Stop()).
  WriteLoad(MasterCluster* cluster, std::string prefix, int threads = 2);
  ~WriteLoad();  // Stop()
  WriteLoad(const WriteLoad&) = delete;
  WriteLoad& operator=(const WriteLoad&) = delete;

  // Waits for the submissions in flight and stops. Idempotent.
  void Stop();
  // Sends no more writes to `id` (e.g. before removing it from the cluster).
  void Exclude(const std::string& id);

  std::size_t acked() const;
  std::set<std::string> AckedIds() const;
  // Waits until at least `n` submissions were acknowledged.
  bool WaitAcked(std::size_t n, std::chrono::milliseconds timeout) const;
  // Counts and the most frequent errors, for messages.
  std::string Summary() const;

 private:
  void Run(int thread);

  MasterCluster* cluster_;
  std::string prefix_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> next_{0};
  mutable std::mutex mu_;
  std::set<std::string> excluded_;
  std::set<std::string> acked_;
  std::size_t attempts_ = 0;
  std::map<std::string, std::size_t> errors_;  // message -> count
  std::vector<std::thread> threads_;
};

}  // namespace orch::e2e
