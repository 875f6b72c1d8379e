#include "masters.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "common/json.h"

namespace orch::e2e {

MasterCluster::MasterCluster(std::string root, std::vector<std::string> flags,
                             OrchClientOptions client)
    : root_(std::move(root)), client_options_(std::move(client)), flags_(std::move(flags)) {
  std::filesystem::remove_all(root_);
  std::filesystem::create_directories(root_);
}

MasterCluster::~MasterCluster() {
  for (auto& [id, m] : members_) {
    if (m->process && m->process->running()) {
      m->process->Signal(SIGCONT);  // a paused member too
      m->process->Signal(SIGTERM);
    }
  }
  for (auto& [id, m] : members_) {
    if (m->process && m->process->Wait(std::chrono::seconds(15)) < 0) m->process->Signal(SIGKILL);
  }
  members_.clear();  // ~Subprocess reaps what is left
}

MasterCluster::Member& MasterCluster::Add(const std::string& id) {
  auto m = std::make_unique<Member>();
  m->id = id;
  m->http_port = FreePort();
  m->raft_port = FreePort();
  if (place_) m->place = place_(id);
  m->client = std::make_unique<OrchClient>(std::vector<std::string>{Url(*m)}, client_options_);
  std::lock_guard lock(mu_);
  auto& slot = members_[id];
  slot = std::move(m);
  return *slot;
}

MasterCluster::Member& MasterCluster::Get(const std::string& id) {
  std::lock_guard lock(mu_);
  return *members_.at(id);
}

const MasterCluster::Member& MasterCluster::Get(const std::string& id) const {
  std::lock_guard lock(mu_);
  return *members_.at(id);
}

std::vector<std::string> MasterCluster::BaseArgv(const Member& m) const {
  std::vector<std::string> argv{ORCH_MASTER_BIN, "--id", m.id, "--data-dir", root_ + "/" + m.id};
  argv.insert(argv.end(), {"--http", m.place.host + ":" + std::to_string(m.http_port)});
  argv.insert(argv.end(), {"--raft", m.place.host + ":" + std::to_string(m.raft_port)});
  argv.insert(argv.end(), flags_.begin(), flags_.end());
  return argv;
}

void MasterCluster::Bootstrap(const std::vector<std::string>& ids) {
  std::vector<Member*> ms;
  for (const auto& id : ids) ms.push_back(&Add(id));
  std::string peers;
  for (const Member* m : ms) {
    if (!peers.empty()) peers += ",";
    peers += m->id + "=" + m->place.host + ":" + std::to_string(m->raft_port);
  }
  for (Member* m : ms) {
    m->argv = BaseArgv(*m);
    m->argv.insert(m->argv.end(), {"--peers", peers});
    Launch(*m);
  }
}

void MasterCluster::StartJoiner(const std::string& id, const std::string& join_url) {
  Member& m = Add(id);
  Note("starting " + id + " with --join " + join_url);
  m.argv = BaseArgv(m);
  m.argv.insert(m.argv.end(), {"--join", join_url});
  Launch(m);
}

void MasterCluster::SetPlacement(std::function<Placement(const std::string& id)> place) {
  place_ = std::move(place);
}

void MasterCluster::Launch(Member& m) {
  std::vector<std::string> argv = m.place.wrapper;
  argv.insert(argv.end(), m.argv.begin(), m.argv.end());
  m.process = std::make_unique<Subprocess>(argv, LogPath(m.id));
  std::lock_guard lock(mu_);
  running_.insert(m.id);
}

void MasterCluster::Start(const std::string& id) {
  Member& m = Get(id);
  if (m.process && m.process->running()) return;
  Note("restarting " + id);
  Launch(m);
}

int MasterCluster::Stop(const std::string& id) {
  Note("stopping " + id + " (SIGTERM)");
  Member& m = Get(id);
  {
    std::lock_guard lock(mu_);
    running_.erase(id);
  }
  m.process->Signal(SIGTERM);
  int code = m.process->Wait(std::chrono::seconds(20));
  if (code < 0) {
    m.process->Signal(SIGKILL);
    m.process->Wait(std::chrono::seconds(10));
  }
  return code;
}

void MasterCluster::Kill(const std::string& id) {
  Note("killing " + id + " (SIGKILL)");
  Member& m = Get(id);
  {
    std::lock_guard lock(mu_);
    running_.erase(id);
  }
  m.process->Signal(SIGKILL);
  m.process->Wait(std::chrono::seconds(10));
}

void MasterCluster::Signal(const std::string& id, int sig) {
  Note("signal " + std::to_string(sig) + " to " + id);
  Get(id).process->Signal(sig);
}

bool MasterCluster::IsRunning(const std::string& id) const {
  std::lock_guard lock(mu_);
  return running_.count(id) > 0;
}

std::vector<std::string> MasterCluster::Running() const {
  std::lock_guard lock(mu_);
  return {running_.begin(), running_.end()};
}

std::vector<std::string> MasterCluster::All() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, m] : members_) out.push_back(id);
  return out;
}

std::string MasterCluster::Url(const Member& m) const {
  return (client_options_.tls.enabled() ? "https://" : "http://") + m.place.host + ":" +
         std::to_string(m.http_port);
}

std::string MasterCluster::HttpUrl(const std::string& id) const { return Url(Get(id)); }

std::vector<std::string> MasterCluster::HttpUrls() const {
  std::vector<std::string> urls;
  for (const auto& id : All()) urls.push_back(HttpUrl(id));
  return urls;
}

std::string MasterCluster::HttpUrlList() const {
  std::string out;
  for (const auto& url : HttpUrls()) out += (out.empty() ? "" : ",") + url;
  return out;
}

std::string MasterCluster::RaftAddress(const std::string& id) const {
  const Member& m = Get(id);
  return m.place.host + ":" + std::to_string(m.raft_port);
}

int MasterCluster::HttpPort(const std::string& id) const { return Get(id).http_port; }
int MasterCluster::RaftPort(const std::string& id) const { return Get(id).raft_port; }

std::string MasterCluster::LogPath(const std::string& id) const {
  return root_ + "/" + id + ".log";
}

OrchClient& MasterCluster::Client(const std::string& id) { return *Get(id).client; }

std::string MasterCluster::LeaderSeenBy(const std::string& id) {
  auto resp = Client(id).Raw("GET", "/v1/cluster/leader", "", std::chrono::seconds(3));
  if (!resp.ok()) return "";
  v1::LeaderResponse lr;
  if (!FromJson(resp->body, &lr).ok()) return "";
  return lr.leader_id();
}

std::string MasterCluster::LeaderNow() {
  for (const auto& id : Running()) {
    std::string leader = LeaderSeenBy(id);
    if (leader.empty() || !IsRunning(leader)) continue;
    if (leader == id || LeaderSeenBy(leader) == leader) return leader;
  }
  return "";
}

bool MasterCluster::WaitAllFollow(std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        std::string leader;
        for (const auto& id : Running()) {
          std::string seen = LeaderSeenBy(id);
          if (seen.empty() || (!leader.empty() && seen != leader)) return false;
          leader = seen;
        }
        return !leader.empty();
      },
      timeout);
}

std::string MasterCluster::WaitLeader(std::chrono::milliseconds timeout,
                                      const std::string& not_id) {
  std::string leader;
  WaitFor(
      [&] {
        leader = LeaderNow();
        return !leader.empty() && leader != not_id;
      },
      timeout);
  return leader.empty() || leader == not_id ? "" : leader;
}

void MasterCluster::Note(const std::string& text) const {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  for (const auto& id : All())
    std::ofstream(LogPath(id), std::ios::app) << stamp << " = e2e: " << text << "\n";
}

std::string MasterCluster::Logs(int tail_lines) const {
  std::string out;
  for (const auto& id : All()) {
    std::string text = ReadFile(LogPath(id));
    std::size_t pos = text.size();
    for (int n = 0; n <= tail_lines && pos != std::string::npos && pos > 0; ++n)
      pos = text.rfind('\n', pos - 1);
    if (pos != std::string::npos && pos > 0) text = "[...]\n" + text.substr(pos + 1);
    out += "==== " + id + ".log (" + HttpUrl(id) + ", raft " + RaftAddress(id) + ")\n" + text;
  }
  return out;
}

Result<std::set<std::string>> JobIds(OrchClient& client, bool stale) {
  QueryOptions q;
  q.stale = stale;
  auto jobs = client.ListJobs(q);
  if (!jobs.ok()) return jobs.status();
  std::set<std::string> ids;
  for (const auto& j : jobs->value.jobs()) ids.insert(j.id());
  return ids;
}

std::string TinyJob(const std::string& id) {
  return R"({"id":")" + id +
         R"(","type":"batch","groups":[{"name":"g","count":0,"tasks":[{"name":"t","driver":"exec",)"
         R"("command":"/bin/true","resources":{"cpu":10,"memory":8}}]}]})";
}

WriteLoad::WriteLoad(MasterCluster* cluster, std::string prefix, int threads)
    : cluster_(cluster), prefix_(std::move(prefix)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { Run(i); });
}

WriteLoad::~WriteLoad() { Stop(); }

void WriteLoad::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void WriteLoad::Exclude(const std::string& id) {
  std::lock_guard lock(mu_);
  excluded_.insert(id);
}

void WriteLoad::Run(int thread) {
  std::mt19937 rng(std::random_device{}() + thread);
  while (!stop_) {
    std::vector<std::string> targets;
    {
      std::lock_guard lock(mu_);
      for (const auto& id : cluster_->Running()) {
        if (!excluded_.count(id)) targets.push_back(id);
      }
    }
    if (targets.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    std::string target = targets[rng() % targets.size()];
    std::string id = prefix_ + "-" + std::to_string(next_++);
    auto resp = cluster_->Client(target).SubmitJobDocument(TinyJob(id));
    {
      std::lock_guard lock(mu_);
      ++attempts_;
      if (resp.ok()) {
        acked_.insert(id);
      } else {
        std::string msg = resp.status().ToString();
        if (msg.size() > 120) msg.resize(120);
        ++errors_[msg];
      }
    }
    // Do not spin on a master that refuses; the others get their turn.
    if (!resp.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::size_t WriteLoad::acked() const {
  std::lock_guard lock(mu_);
  return acked_.size();
}

std::set<std::string> WriteLoad::AckedIds() const {
  std::lock_guard lock(mu_);
  return acked_;
}

bool WriteLoad::WaitAcked(std::size_t n, std::chrono::milliseconds timeout) const {
  return WaitFor([&] { return acked() >= n; }, timeout);
}

std::string WriteLoad::Summary() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  out << "write load: " << attempts_ << " submitted, " << acked_.size() << " acknowledged";
  std::vector<std::pair<std::size_t, std::string>> errs;
  for (const auto& [msg, n] : errors_) errs.emplace_back(n, msg);
  std::sort(errs.rbegin(), errs.rend());
  if (errs.size() > 8) errs.resize(8);
  for (const auto& [n, msg] : errs) out << "\n  " << n << "x " << msg;
  return out.str();
}

}  // namespace orch::e2e
