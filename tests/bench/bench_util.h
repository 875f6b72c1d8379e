// Helpers shared by the cluster benchmarks (raft_commit_bench,
// failover_bench): child processes that die with the benchmark, free
// loopback ports, a keep-alive HTTP client, a closed-loop load driver and
// percentiles. Benchmarks print figures; nothing here asserts on time.
// Thread safety: Proc and KeepAliveHttp are used by one thread at a time;
// RunClosedLoop is called from one thread and runs its own.
#pragma once

#include "tests/support/ports.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace orch::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
inline double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// A free TCP port on 127.0.0.1; a benchmark cannot run without one.
inline int FreePort() {
  int port = orch::testing::FreeLoopbackPort();
  if (port == 0) {
    std::perror("bench: cannot find a free port");
    std::exit(2);
  }
  return port;
}

// A child process; SIGKILLed if the benchmark dies (PR_SET_PDEATHSIG) and
// stopped (SIGTERM, then SIGKILL after 5 s) when destroyed.
class Proc {
 public:
  Proc() = default;
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;
  ~Proc() { Stop(); }

  // Starts argv[0] with stdout and stderr appended to `log_path`.
  bool Start(const std::vector<std::string>& argv, const std::string& log_path) {
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    pid_ = pid;
    return true;
  }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  void Kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Kill9();
  }

 private:
  pid_t pid_ = -1;
};

// One libcurl easy handle: the connection is kept alive between requests.
class KeepAliveHttp {
 public:
  KeepAliveHttp() : h_(curl_easy_init()) {
    curl_easy_setopt(h_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h_, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h_, CURLOPT_WRITEFUNCTION, &KeepAliveHttp::Write);
    curl_easy_setopt(h_, CURLOPT_WRITEDATA, &body_);
    hdrs_ = curl_slist_append(nullptr, "Content-Type: application/json");
    hdrs_ = curl_slist_append(hdrs_, "Expect:");
  }
  ~KeepAliveHttp() {
    curl_slist_free_all(hdrs_);
    curl_easy_cleanup(h_);
  }
  KeepAliveHttp(const KeepAliveHttp&) = delete;
  KeepAliveHttp& operator=(const KeepAliveHttp&) = delete;

  // Returns the HTTP status, or 0 when no response arrived (refused,
  // timeout). The body is in body().
  long Do(const std::string& method, const std::string& url, const std::string& data, long timeout_ms) {
    body_.clear();
    curl_easy_setopt(h_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h_, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h_, CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(timeout_ms, 1000));
    if (method == "POST") {
      curl_easy_setopt(h_, CURLOPT_POST, 1L);
      curl_easy_setopt(h_, CURLOPT_POSTFIELDS, data.c_str());
      curl_easy_setopt(h_, CURLOPT_POSTFIELDSIZE, static_cast<long>(data.size()));
      curl_easy_setopt(h_, CURLOPT_HTTPHEADER, hdrs_);
    } else {
      curl_easy_setopt(h_, CURLOPT_HTTPGET, 1L);
    }
    if (curl_easy_perform(h_) != CURLE_OK) return 0;
    long code = 0;
    curl_easy_getinfo(h_, CURLINFO_RESPONSE_CODE, &code);
    return code;
  }
  const std::string& body() const { return body_; }
  // https:// with this CA and client certificate (masters with --tls-*);
  // the server's certificate must name the address dialled.
  void UseTls(const std::string& ca, const std::string& cert, const std::string& key) {
    tls_ = {ca, cert, key};
    curl_easy_setopt(h_, CURLOPT_CAINFO, tls_[0].c_str());
    curl_easy_setopt(h_, CURLOPT_SSLCERT, tls_[1].c_str());
    curl_easy_setopt(h_, CURLOPT_SSLKEY, tls_[2].c_str());
  }
  // Sends `name: value` with every POST from now on (e.g. an ACL token).
  void AddHeader(const std::string& name, const std::string& value) {
    hdrs_ = curl_slist_append(hdrs_, (name + ": " + value).c_str());
  }

 private:
  static size_t Write(char* p, size_t size, size_t n, void* ud) {
    static_cast<std::string*>(ud)->append(p, size * n);
    return size * n;
  }
  CURL* h_;
  curl_slist* hdrs_ = nullptr;
  std::string body_;
  std::vector<std::string> tls_;  // CA, certificate, key: curl keeps pointers
};

// The value of "key":"..." or "key":123 in a flat JSON text ("" if absent).
inline std::string JsonField(const std::string& json, const std::string& key) {
  std::string pat = "\"" + key + "\":";
  auto p = json.find(pat);
  if (p == std::string::npos) return "";
  p += pat.size();
  while (p < json.size() && json[p] == ' ') ++p;
  if (p < json.size() && json[p] == '"') {
    auto e = json.find('"', p + 1);
    return e == std::string::npos ? "" : json.substr(p + 1, e - p - 1);
  }
  auto e = json.find_first_of(",}", p);
  return json.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

inline std::string Base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// The q-quantile (0..1) of `v` (sorted in place); 0 when empty.
inline double Quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct LoadResult {
  int clients = 0;
  double seconds = 0;
  uint64_t ok = 0, errors = 0;
  double writes_per_s = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
};

// Runs `clients` threads, each calling make_op(i)() in a loop (true = the
// write succeeded) for warmup + duration seconds; only operations that
// start after the warm-up and finish before the end are counted.
inline LoadResult RunClosedLoop(int clients, double warmup_s, double duration_s,
                                const std::function<std::function<bool()>(int)>& make_op) {
  std::vector<std::vector<double>> lat(clients);
  std::vector<uint64_t> errs(clients, 0);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point t0, t1, t2;
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      auto op = make_op(i);
      lat[i].reserve(1 << 14);
      ready++;
      go.wait(false);
      for (uint64_t n = 0; n < (1ULL << 32); ++n) {
        auto s = Clock::now();
        if (s >= t2) break;
        bool ok = op();
        auto e = Clock::now();
        if (s < t1 || e > t2) continue;
        if (ok) {
          lat[i].push_back(Millis(e - s));
        } else {
          errs[i]++;
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
    });
  }
  while (ready.load() < clients) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  t0 = Clock::now();
  t1 = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup_s));
  t2 = t1 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration_s));
  go = true;
  go.notify_all();
  for (auto& t : threads) t.join();
  LoadResult r;
  r.clients = clients;
  r.seconds = duration_s;
  std::vector<double> all;
  for (int i = 0; i < clients; ++i) {
    all.insert(all.end(), lat[i].begin(), lat[i].end());
    r.errors += errs[i];
  }
  r.ok = all.size();
  r.writes_per_s = static_cast<double>(r.ok) / duration_s;
  r.p50_ms = Quantile(all, 0.50);
  r.p99_ms = Quantile(all, 0.99);
  r.max_ms = all.empty() ? 0 : all.back();
  return r;
}

// Flags as --name=value, falling back to the environment variable `env`.
inline std::string Flag(int argc, char** argv, const std::string& name, const char* env, const std::string& def) {
  std::string pre = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind(pre, 0) == 0) return a.substr(pre.size());
  }
  if (env != nullptr) {
    if (const char* v = std::getenv(env)) return v;
  }
  return def;
}

inline std::vector<int> IntList(const std::string& s) {
  std::vector<int> out;
  size_t p = 0;
  while (p < s.size()) {
    size_t e = s.find(',', p);
    if (e == std::string::npos) e = s.size();
    out.push_back(std::atoi(s.substr(p, e - p).c_str()));
    p = e + 1;
  }
  return out;
}

}  // namespace orch::bench
