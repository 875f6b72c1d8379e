// orch-nodesim: N simulated agents against real masters, through the public
// REST API, in one process and one thread (libcurl's multi interface: no
// thread per node), like Nomad's nomad-nodesim. Each node registers (from a
// loopback source address of its own, as separate hosts would), heartbeats
// at the interval the masters give, keeps a blocking watch of its
// allocations and reports each new one running (or failed, --fail-percent)
// -- at most two connections per node (three with --service-watch=1: a
// blocking watch of GET /v1/services, as every agent's balancer keeps).
// Optionally submits a job of
// --job-count allocations once every node is registered and measures until
// they all run, then (--probes=N) N jobs of one allocation, one at a time,
// each from its submit until it runs (--probe-services=1: each probe also
// declares a service, so its placement and start change the registry every
// balancer watches). --services=N submits N service jobs of one allocation
// first, so every answer to a services watch carries N services.
//
//   orch-nodesim --master=http://127.0.0.1:4646 --nodes=1000 --duration=120 --job-count=20000
//
// --master may list several masters (comma-separated): node N starts on the
// N-th (modulo) and moves to the next when a request cannot reach its own
// (failover_bench --nodesim kills the leader under it).
//
// Prints a line every --report-every seconds and a summary at the end:
// registration time, heartbeat p50/p99 and failures, watch failures, time
// until the job's allocations all ran, placements/s end to end.
#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "bench_util.h"
#include "common/json.h"
#include "orch/v1/api.pb.h"

namespace orch::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Options {
  std::string master = "http://127.0.0.1:4646";  // or a comma-separated list
  int nodes = 100;
  double duration_s = 60;
  double register_rate = 500;  // registrations started per second
  double fail_percent = 0;
  int job_count = 0;
  int probes = 0;  // one-allocation jobs timed one by one once the job runs
  double report_every_s = 5;
  std::string job_id = "nodesim";
  bool service_watch = false;   // each node also watches the services
  bool probe_services = false;  // each probe job declares a service (its own name)
  int services = 0;             // service jobs (one allocation each) submitted before the big job
};

struct Node;

// An update's body and what it reports.
struct Update {
  std::string body;
  int running = 0, failed = 0;
};

// One HTTP exchange on one of a node's two lanes.
struct Transfer {
  enum Kind { kRegister, kHeartbeat, kWatch, kUpdate, kServices } kind;
  Node* node = nullptr;
  CURL* easy = nullptr;
  std::string out, in;
  SteadyClock::time_point start;
  int running = 0, failed = 0;  // what an update reports
  bool stale = false;           // a watch asked with ?stale=true
};

// What a watch's answer says of each allocation: its id and whether it
// should run -- read by a SAX handler, without building the answer's
// messages (the simulator's own cost is not the masters': at 5,000 nodes
// each placement brings 5,000 answers of every allocation of the node).
class AllocRunReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::vector<std::pair<std::string, bool>> allocs;  // id, desired RUN
  bool null() override { return Scalar(); }
  bool boolean(bool) override { return Scalar(); }
  bool number_integer(number_integer_t) override { return Scalar(); }
  bool number_unsigned(number_unsigned_t) override { return Scalar(); }
  bool number_float(number_float_t, const string_t&) override { return Scalar(); }
  bool string(string_t& v) override {
    // Depth 3: {"allocations": [{"id": ..., "desired_status": ...}]}.
    if (depth_ == 3 && key_ == "id") allocs.back().first = v;
    if (depth_ == 3 && key_ == "desired_status") allocs.back().second = v == "RUN";
    return Scalar();
  }
  bool binary(binary_t&) override { return Scalar(); }
  bool start_object(std::size_t) override {
    if (++depth_ == 3) allocs.emplace_back();
    key_.clear();
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override {
    ++depth_;
    key_.clear();
    return true;
  }
  bool end_array() override { return Close(); }
  bool key(string_t& k) override {
    key_ = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool Scalar() {
    key_.clear();
    return true;
  }
  bool Close() {
    --depth_;
    key_.clear();
    return true;
  }
  int depth_ = 0;
  std::string key_;
};

// Where one of a node's blocking watches stands, and how to ask next: as
// the agent's watches (agent/blocking_watch.h), stale past the first,
// consistent again after an answer older than the last or from a master
// that knows no leader.
struct WatchCursor {
  uint64_t index = 0;    // of the last answer taken
  bool confirm = false;  // the next query is consistent
  bool Stale() const { return index > 0 && !confirm; }
  // The query string for the next query.
  std::string Query() const {
    return "?index=" + std::to_string(index) + "&wait=60s" + (Stale() ? "&stale=true" : "");
  }
  // An answer at `at`; whether it is taken (false: behind the last).
  bool Take(bool stale, uint64_t at, bool known_leader) {
    if (stale && at < index) {
      confirm = true;  // a master behind the last: ask consistently, take nothing
      return false;
    }
    confirm = stale && !known_leader;
    index = at;
    return true;
  }
};

struct Node {
  int n = 0;
  std::string name, secret, source, id;
  bool registered = false;
  WatchCursor allocs_watch;                  // the allocation watch's
  std::unordered_set<std::string> reported;  // allocation ids reported
  std::deque<Update> updates;                // waiting for lane A
  Transfer* lane_a = nullptr;                // register, heartbeat, updates
  Transfer* lane_b = nullptr;                // the allocation watch
  Transfer* lane_c = nullptr;                // the services watch (--service-watch)
  CURL* easy_a = nullptr;
  CURL* easy_b = nullptr;
  CURL* easy_c = nullptr;
  WatchCursor services_watch;  // the services watch's (--service-watch)
  // The node's own connection and name caches: libcurl 7.88 walks the
  // whole connection cache at each curl_multi_remove_handle, and keeps
  // names in a hash of 7 buckets, so with caches shared by every node each
  // request cost O(nodes).
  CURLSH* share = nullptr;
  // The node's own host name for the master ("sim-N.nodesim", resolved to
  // the master's address): curl keeps connections per host, so finding a
  // node's reusable connection looks at its two, not at every node's. With
  // several masters a node starts on one (by its number) and moves to the
  // next when a request cannot reach it, as an agent does.
  std::string host;
  std::string base;
  size_t master = 0;
  curl_slist* resolve = nullptr;
  SteadyClock::time_point next_heartbeat;
  bool heartbeat_due = false;
  // When the last answered heartbeat (or the registration) was sent: the
  // masters heard from the node no earlier than this.
  SteadyClock::time_point last_heard;
};

size_t Collect(char* p, size_t size, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, size * n);
  return size * n;
}

class Sim {
 public:
  explicit Sim(Options o) : o_(std::move(o)), rng_(42) {
    // "http://HOST:PORT[,...]": each node reaches them under a name of its own.
    for (size_t b = 0; b <= o_.master.size();) {
      size_t e = std::min(o_.master.find(',', b), o_.master.size());
      std::string url = o_.master.substr(b, e - b);
      b = e + 1;
      if (url.empty()) continue;
      std::string hp = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
      hp = hp.substr(0, hp.find('/'));
      masters_.push_back({hp.substr(0, hp.rfind(':')), hp.substr(hp.rfind(':') + 1)});
    }
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS,
                      static_cast<long>((o_.service_watch ? 3 : 2) * o_.nodes + 16));
    // Event-driven (epoll + curl_multi_socket_action): the cost of a
    // socket event does not grow with the number of nodes.
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Sim::OnSocket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Sim::OnTimer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    nodes_.resize(static_cast<size_t>(o_.nodes));
    for (int i = 0; i < o_.nodes; ++i) {
      Node& nd = nodes_[static_cast<size_t>(i)];
      nd.n = i;
      nd.name = "sim-" + std::to_string(i);
      nd.secret = "nodesim-secret-" + std::to_string(i) + "-0123456789abcdef";
      // 127.1.x.y: one loopback source address per node.
      nd.source = "127.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
      nd.easy_a = curl_easy_init();
      nd.easy_b = curl_easy_init();
      nd.easy_c = curl_easy_init();
      nd.share = curl_share_init();
      curl_share_setopt(nd.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
      curl_share_setopt(nd.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
      nd.host = "sim-" + std::to_string(i) + ".nodesim";
      for (const auto& [mhost, mport] : masters_) {
        nd.resolve = curl_slist_append(nd.resolve, (nd.host + ":" + mport + ":" + mhost).c_str());
      }
      nd.master = static_cast<size_t>(i) % masters_.size();
      nd.base = "http://" + nd.host + ":" + masters_[nd.master].second;
      ConfigureLanes(&nd);
    }
  }
  ~Sim() {
    for (auto& nd : nodes_) {
      curl_easy_cleanup(nd.easy_a);
      curl_easy_cleanup(nd.easy_b);
      curl_easy_cleanup(nd.easy_c);
      curl_share_cleanup(nd.share);
      curl_slist_free_all(nd.resolve);
    }
    curl_slist_free_all(json_headers_);
    curl_multi_cleanup(multi_);
    close(epoll_);
  }

  int Run();

 private:
  static int OnSocket(CURL*, curl_socket_t s, int what, void* self, void* socketp) {
    auto* sim = static_cast<Sim*>(self);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(sim->epoll_, EPOLL_CTL_DEL, s, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    ev.data.fd = s;
    if (socketp == nullptr) {
      epoll_ctl(sim->epoll_, EPOLL_CTL_ADD, s, &ev);
      curl_multi_assign(sim->multi_, s, sim);  // known from now on
    } else {
      epoll_ctl(sim->epoll_, EPOLL_CTL_MOD, s, &ev);
    }
    return 0;
  }
  static int OnTimer(CURLM*, long timeout_ms, void* self) {
    auto* sim = static_cast<Sim*>(self);
    sim->curl_timer_ = timeout_ms < 0 ? SteadyClock::time_point::max()
                                      : SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
    return 0;
  }
  void Drain() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      if (t != nullptr) Done(t, m->data.result);
    }
  }
  // Sets what every transfer of a node's lanes shares, once: lane A only
  // POSTs JSON, lanes B and C only GET. Setting it all again for each
  // transfer (after curl_easy_reset) was a good part of the simulator's
  // CPU, taken from the masters on the same machine.
  void ConfigureLanes(Node* nd);
  // Starts a request on the lane of `kind` (a POST of `body` on lane A, a
  // GET on the others).
  Transfer* Start(Node* nd, Transfer::Kind kind, const std::string& path, const std::string& body,
                  long timeout_ms);
  void Done(Transfer* t, CURLcode rc);
  void Heartbeat(Node* nd);
  void Watch(Node* nd);
  void WatchServices(Node* nd);
  bool TakeWatchAnswer(const Transfer* t, WatchCursor* cursor);
  void NextUpdate(Node* nd);
  void SubmitJob();
  void SubmitJobs();  // on submitter_
  // POSTs job `id` of `count` allocations and prints the answer (on submitter_).
  void PostJob(const std::string& id, int count, bool service = false);
  // --probes: after the job runs, one-allocation jobs one at a time.
  void Probe();
  void Report(double t, bool final);

  // A request of `nd` could not reach its master: the next one from now on.
  void NextMaster(Node* nd) {
    if (masters_.size() < 2) return;
    nd->master = (nd->master + 1) % masters_.size();
    nd->base = "http://" + nd->host + ":" + masters_[nd->master].second;
  }

  Options o_;
  std::vector<std::pair<std::string, std::string>> masters_;  // host, port
  std::mt19937_64 rng_;
  CURLM* multi_ = nullptr;
  int epoll_ = -1;
  SteadyClock::time_point curl_timer_ = SteadyClock::time_point::max();
  std::vector<Node> nodes_;
  curl_slist* json_headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
  using Timer = std::pair<SteadyClock::time_point, int>;  // heartbeat due, node
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  int64_t heartbeat_ms_ = 1000;
  SteadyClock::time_point t0_;
  // Counters.
  int registered_ = 0, register_failed_ = 0;
  double all_registered_s_ = -1;
  uint64_t hb_ok_ = 0, hb_failed_ = 0, watch_failed_ = 0, update_failed_ = 0, watches_ = 0;
  uint64_t stale_behind_ = 0;
  uint64_t services_answers_ = 0,
           services_failed_ =
               0;  // --service-watch  // stale watch answers older than the last (not taken)
  std::vector<double> hb_ms_, hb_ms_window_;
  // The longest a node went unheard: from one answered heartbeat's send to
  // the next one's answer (at least what the masters saw; a node is
  // marked down after their TTL, 10 s by default).
  double longest_unheard_s_ = 0;
  uint64_t running_ = 0, failed_reported_ = 0, seen_ = 0;  // seen: in a watch's answer
  // Why updates failed: timed out, refused with 429, another answer, or
  // the connection failed.
  uint64_t update_timeouts_ = 0, update_429_ = 0, update_other_ = 0, update_conn_ = 0;
  double job_submitted_s_ = -1, job_running_s_ = -1;
  // When the big job's first submit went (after --services'), set by the
  // submitter's thread.
  std::atomic<double> big_job_s_{-1};
  // --probes: the one in flight (its start, and running_ once it runs).
  int probes_done_ = 0;
  double probe_started_s_ = -1;
  uint64_t probe_target_ = 0;
  std::vector<double> probe_ms_;
  std::thread submitter_;  // reads only o_ and t0_
};

void Sim::ConfigureLanes(Node* nd) {
  for (CURL* e : {nd->easy_a, nd->easy_b, nd->easy_c}) {
    curl_easy_setopt(e, CURLOPT_RESOLVE, nd->resolve);
    // Never prune the name cache (the names are the simulator's own, fixed):
    // libcurl walks every entry at each resolve to prune it.
    curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
    curl_easy_setopt(e, CURLOPT_SHARE, nd->share);
    curl_easy_setopt(e, CURLOPT_INTERFACE, ("host!" + nd->source).c_str());
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, Collect);
  }
  curl_easy_setopt(nd->easy_a, CURLOPT_POST, 1L);
  curl_easy_setopt(nd->easy_a, CURLOPT_HTTPHEADER, json_headers_);
  curl_easy_setopt(nd->easy_b, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(nd->easy_c, CURLOPT_HTTPGET, 1L);
}

Transfer* Sim::Start(Node* nd, Transfer::Kind kind, const std::string& path,
                     const std::string& body, long timeout_ms) {
  auto* t = new Transfer;
  t->kind = kind;
  t->node = nd;
  if (kind == Transfer::kWatch) {
    t->easy = nd->easy_b;
    nd->lane_b = t;
  } else if (kind == Transfer::kServices) {
    t->easy = nd->easy_c;
    nd->lane_c = t;
  } else {
    t->easy = nd->easy_a;
    nd->lane_a = t;
  }
  t->out = body;
  t->start = SteadyClock::now();
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, (nd->base + path).c_str());
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t->in);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  if (e == nd->easy_a) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->out.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(t->out.size()));
  }
  curl_multi_add_handle(multi_, e);
  return t;
}

void Sim::Heartbeat(Node* nd) {
  nd->heartbeat_due = false;
  Start(nd, Transfer::kHeartbeat, "/v1/nodes/" + nd->id + "/heartbeat", "{}", 5000);
}

void Sim::Watch(Node* nd) {
  ++watches_;
  Transfer* t =
      Start(nd, Transfer::kWatch,
            "/v1/nodes/" + nd->id + "/allocations" + nd->allocs_watch.Query(), "", 75'000);
  t->stale = nd->allocs_watch.Stale();
}

void Sim::WatchServices(Node* nd) {
  Transfer* t = Start(nd, Transfer::kServices, "/v1/services" + nd->services_watch.Query(),
                      "", 75'000);
  t->stale = nd->services_watch.Stale();
}

// Takes a watch's answer into `cursor`: whether it was taken.
bool Sim::TakeWatchAnswer(const Transfer* t, WatchCursor* cursor) {
  curl_header* h = nullptr;
  uint64_t index = cursor->index;
  if (curl_easy_header(t->easy, "X-Orch-Index", 0, CURLH_HEADER, -1, &h) == CURLHE_OK &&
      h != nullptr) {
    index = std::strtoull(h->value, nullptr, 10);
  }
  const bool known_leader =
      curl_easy_header(t->easy, "X-Orch-Known-Leader", 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
      h == nullptr || std::string_view(h->value) != "false";
  if (cursor->Take(t->stale, index, known_leader)) return true;
  ++stale_behind_;
  return false;
}

void Sim::NextUpdate(Node* nd) {
  if (nd->lane_a != nullptr) return;
  if (nd->heartbeat_due) return Heartbeat(nd);
  if (nd->updates.empty()) return;
  Update u = std::move(nd->updates.front());
  nd->updates.pop_front();
  Transfer* t =
      Start(nd, Transfer::kUpdate, "/v1/nodes/" + nd->id + "/allocations", u.body, 10'000);
  t->running = u.running;
  t->failed = u.failed;
}

void Sim::Done(Transfer* t, CURLcode rc) {
  Node* nd = t->node;
  long code = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
  const bool ok = rc == CURLE_OK && code == 200;
  const double ms = Millis(SteadyClock::now() - t->start);
  if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING ||
      rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || code == 502 || code == 503) {
    NextMaster(nd);
  }
  curl_multi_remove_handle(multi_, t->easy);
  if (t->kind == Transfer::kWatch) {
    nd->lane_b = nullptr;
  } else if (t->kind == Transfer::kServices) {
    nd->lane_c = nullptr;
  } else {
    nd->lane_a = nullptr;
  }
  switch (t->kind) {
    case Transfer::kRegister: {
      v1::RegisterNodeResponse resp;
      if (ok && FromJson(t->in, &resp).ok()) {
        nd->id = resp.node_id();
        nd->last_heard = t->start;
        nd->registered = true;
        if (resp.heartbeat_interval_ms() > 0) heartbeat_ms_ = resp.heartbeat_interval_ms();
        if (++registered_ == o_.nodes) all_registered_s_ = Seconds(SteadyClock::now() - t0_);
        // The first heartbeat at a random point of the interval: agents'
        // clocks are their own, so their heartbeats spread over it.
        timers_.push(
            {SteadyClock::now() + std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(
                                      1, std::max<int64_t>(1, heartbeat_ms_))(rng_)),
             nd->n});
        Watch(nd);
        if (o_.service_watch) WatchServices(nd);
      } else {
        ++register_failed_;
        std::fprintf(stderr, "nodesim: %s: register failed (%ld): %s\n", nd->name.c_str(), code,
                     rc != CURLE_OK ? curl_easy_strerror(rc) : t->in.substr(0, 200).c_str());
      }
      break;
    }
    case Transfer::kHeartbeat:
      if (ok) {
        ++hb_ok_;
        longest_unheard_s_ =
            std::max(longest_unheard_s_, Seconds(SteadyClock::now() - nd->last_heard));
        nd->last_heard = t->start;
        hb_ms_.push_back(ms);
        hb_ms_window_.push_back(ms);
      } else {
        ++hb_failed_;
      }
      break;
    case Transfer::kWatch: {
      AllocRunReader list;
      if (ok && nlohmann::json::sax_parse(t->in, &list)) {
        if (!TakeWatchAnswer(t, &nd->allocs_watch)) list.allocs.clear();
        // {"updates":[{"id":"..","client_status":"RUNNING"},...]}, 64 at most.
        Update u;
        auto flush = [&] {
          u.body += "]}";
          nd->updates.push_back(std::move(u));
          u = Update();
        };
        for (const auto& [id, run] : list.allocs) {
          if (!run || id.empty() || !nd->reported.insert(id).second) continue;
          ++seen_;
          const bool fail = std::uniform_real_distribution<double>(0, 100)(rng_) < o_.fail_percent;
          u.body += u.body.empty() ? "{\"updates\":[" : ",";
          u.body += "{\"id\":\"" + id + "\",\"client_status\":" +
                    (fail ? "\"FAILED\",\"client_description\":\"nodesim: failed on purpose\"}"
                          : "\"RUNNING\"}");
          ++(fail ? u.failed : u.running);
          if (u.running + u.failed == 64) flush();
        }
        if (!u.body.empty()) flush();
      } else {
        // The first few, with why: a watch should end only with an answer.
        if (++watch_failed_ <= 5) {
          std::fprintf(stderr, "nodesim: %s: watch failed (%ld): %s\n", nd->name.c_str(), code,
                       rc != CURLE_OK ? curl_easy_strerror(rc) : t->in.substr(0, 200).c_str());
        }
      }
      delete t;
      Watch(nd);  // a failed watch retries at once with the same index
      NextUpdate(nd);
      return;
    }
    case Transfer::kServices: {
      if (ok) {
        ++services_answers_;
        (void)TakeWatchAnswer(t, &nd->services_watch);
      } else {
        ++services_failed_;
      }
      delete t;
      WatchServices(nd);
      return;
    }
    case Transfer::kUpdate: {
      if (ok) {
        running_ += static_cast<uint64_t>(t->running);
        failed_reported_ += static_cast<uint64_t>(t->failed);
      } else {
        ++update_failed_;
        if (rc == CURLE_OPERATION_TIMEDOUT) {
          ++update_timeouts_;
        } else if (rc != CURLE_OK) {
          ++update_conn_;
        } else if (code == 429) {
          ++update_429_;
        } else {
          ++update_other_;
        }
        nd->updates.push_front(Update{t->out, t->running, t->failed});  // again
      }
      break;
    }
  }
  delete t;
  NextUpdate(nd);
}

// Jobs of at most 10,000 allocations (a job's limit) adding up to
// --job-count, submitted one after the other.
// They go from a thread of their own, as an operator's would: a submit
// may take seconds while the leader places the one before, and the nodes'
// loop must not stop meanwhile (it did: every heartbeat in flight timed
// out at once and those nodes moved to another master).
void Sim::SubmitJob() {
  job_submitted_s_ = Seconds(SteadyClock::now() - t0_);
  submitter_ = std::thread([this] { SubmitJobs(); });
}

void Sim::SubmitJobs() {
  // The registry every balancer watches: this many services first.
  for (int i = 0; i < o_.services; ++i) PostJob(o_.job_id + "-svc-" + std::to_string(i), 1, true);
  big_job_s_ = Seconds(SteadyClock::now() - t0_);
  for (int left = o_.job_count, j = 0; left > 0; ++j) {
    const int count = std::min(left, 10'000);
    left -= count;
    PostJob(o_.job_id + "-" + std::to_string(j), count);
  }
}

void Sim::PostJob(const std::string& id, int count, bool service) {
  const std::string body =
      "{\"id\":\"" + id +
      "\",\"type\":\"service\",\"groups\":[{\"name\":\"g\",\"count\":" + std::to_string(count) +
      (service ? ",\"network\":{\"ports\":[{\"name\":\"http\"}]}" : "") +
      ",\"tasks\":[{\"name\":\"t\",\"driver\":\"exec\",\"command\":\"/bin/"
      "sleep\",\"args\":[\"3600\"],"
      "\"resources\":{\"cpu\":10,\"memory\":16}" +
      (service ? ",\"service\":{\"name\":\"" + id + "\",\"port\":\"http\"}" : "") + "}]}]}";
  KeepAliveHttp http;
  const long code =
      http.Do("POST", o_.master.substr(0, o_.master.find(',')) + "/v1/jobs", body, 30'000);
  std::printf("nodesim: t=%.1fs submitted job %s with %d allocations: %ld %s\n",
              Seconds(SteadyClock::now() - t0_), id.c_str(), count, code,
              code == 200 ? ""
              : code == 0 ? "no answer"
                          : http.body().substr(0, 200).c_str());
  std::fflush(stdout);
}

// One probe at a time, each timed from its submit until the node it was
// placed on reports it running: what scheduling one small job costs with
// the state the big job left (REST write, evaluation, plan, watch, report).
void Sim::Probe() {
  const double now = Seconds(SteadyClock::now() - t0_);
  if (probe_started_s_ >= 0) {
    if (running_ < probe_target_) return;
    probe_ms_.push_back((now - probe_started_s_) * 1000);
    std::printf("nodesim: t=%.1fs probe %d running %.0f ms after its submit\n", now, probes_done_,
                probe_ms_.back());
    std::fflush(stdout);
    probe_started_s_ = -1;
    ++probes_done_;
  }
  if (probes_done_ >= o_.probes) return;
  if (submitter_.joinable()) submitter_.join();
  probe_started_s_ = now;
  probe_target_ = running_ + 1;
  const std::string id = o_.job_id + "-probe-" + std::to_string(probes_done_);
  submitter_ = std::thread([this, id] { PostJob(id, 1, o_.probe_services); });
}

void Sim::Report(double t, bool final) {
  std::vector<double>& v = final ? hb_ms_ : hb_ms_window_;
  double p50 = v.empty() ? 0 : Quantile(v, 0.5), p99 = v.empty() ? 0 : Quantile(v, 0.99);
  std::printf(
      "nodesim: t=%.0fs registered %d/%d, heartbeats ok %llu failed %llu, %s p50 %.1f ms p99 %.1f "
      "ms, "
      "watch failures %llu, update failures %llu, allocations running %llu failed %llu\n",
      t, registered_, o_.nodes, static_cast<unsigned long long>(hb_ok_),
      static_cast<unsigned long long>(hb_failed_), final ? "all heartbeats" : "last interval", p50,
      p99, static_cast<unsigned long long>(watch_failed_),
      static_cast<unsigned long long>(update_failed_), static_cast<unsigned long long>(running_),
      static_cast<unsigned long long>(failed_reported_));
  // Where the nodes' work stands: seen but not acknowledged, in flight.
  uint64_t queued = 0, nodes_queued = 0, moved = 0, a_busy = 0, b_busy = 0;
  double oldest_a = 0, oldest_b = 0;
  const auto now = SteadyClock::now();
  for (const Node& nd : nodes_) {
    queued += nd.updates.size();
    nodes_queued += nd.updates.empty() ? 0 : 1;
    moved += nd.master != static_cast<size_t>(nd.n) % masters_.size() ? 1 : 0;
    if (nd.lane_a) ++a_busy, oldest_a = std::max(oldest_a, Seconds(now - nd.lane_a->start));
    if (nd.lane_b) ++b_busy, oldest_b = std::max(oldest_b, Seconds(now - nd.lane_b->start));
  }
  std::printf(
      "nodesim:   allocations seen %llu; update failures: %llu timed out, %llu 429, %llu other "
      "answers, %llu connections; "
      "%llu update bodies queued on %llu nodes; %llu nodes moved master; in flight: %llu "
      "heartbeats or "
      "updates (oldest %.1f s), %llu watches (oldest %.1f s)\n",
      static_cast<unsigned long long>(seen_), static_cast<unsigned long long>(update_timeouts_),
      static_cast<unsigned long long>(update_429_), static_cast<unsigned long long>(update_other_),
      static_cast<unsigned long long>(update_conn_), static_cast<unsigned long long>(queued),
      static_cast<unsigned long long>(nodes_queued), static_cast<unsigned long long>(moved),
      static_cast<unsigned long long>(a_busy), oldest_a, static_cast<unsigned long long>(b_busy),
      oldest_b);
  std::fflush(stdout);
  hb_ms_window_.clear();
}

int Sim::Run() {
  t0_ = SteadyClock::now();
  const auto end = t0_ + std::chrono::milliseconds(static_cast<int64_t>(o_.duration_s * 1000));
  auto next_report =
      t0_ + std::chrono::milliseconds(static_cast<int64_t>(o_.report_every_s * 1000));
  int started = 0;
  while (SteadyClock::now() < end) {
    const auto now = SteadyClock::now();
    // Registrations, paced.
    const int may = std::min(o_.nodes, static_cast<int>(Seconds(now - t0_) * o_.register_rate) + 1);
    for (; started < may; ++started) {
      Node& nd = nodes_[static_cast<size_t>(started)];
      v1::RegisterNodeRequest req;
      auto* n = req.mutable_node();
      n->set_name(nd.name);
      n->set_address("http://" + nd.source + ":4650");
      n->mutable_capacity()->set_cpu(4000);
      n->mutable_capacity()->set_memory(8192);
      n->mutable_attributes()->add_drivers("exec");
      n->mutable_attributes()->set_os("linux");
      req.set_node_secret(nd.secret);
      Start(&nd, Transfer::kRegister, "/v1/nodes/register", ToJson(req), 30'000);
    }
    // Heartbeats due.
    while (!timers_.empty() && timers_.top().first <= now) {
      const auto [due, n] = timers_.top();
      Node& nd = nodes_[static_cast<size_t>(n)];
      timers_.pop();
      // Each node keeps its own phase (the next one an interval after this
      // one was due, not after the loop got to it): re-arming from `now`
      // made every heartbeat the loop reached late due at the same instant,
      // until thousands of nodes heartbeat in one burst.
      timers_.push({std::max(due + std::chrono::milliseconds(heartbeat_ms_), now), nd.n});
      nd.heartbeat_due = true;
      NextUpdate(&nd);
    }
    if (o_.job_count > 0 && job_submitted_s_ < 0 && registered_ == o_.nodes) SubmitJob();
    if (job_submitted_s_ >= 0 && job_running_s_ < 0 &&
        running_ >= static_cast<uint64_t>(o_.job_count + o_.services)) {
      job_running_s_ = Seconds(SteadyClock::now() - t0_);
      std::printf(
          "nodesim: t=%.1fs all %d allocations running, %.1f s after the submit (%.0f placements/s "
          "end to "
          "end)\n",
          job_running_s_, o_.job_count, job_running_s_ - big_job_s_,
          o_.job_count / std::max(1e-3, job_running_s_ - big_job_s_));
      std::fflush(stdout);
    }
    if (job_running_s_ >= 0 && probes_done_ < o_.probes) Probe();
    if (now >= next_report) {
      Report(Seconds(now - t0_), false);
      next_report += std::chrono::milliseconds(static_cast<int64_t>(o_.report_every_s * 1000));
    }
    int running = 0;
    if (SteadyClock::now() >= curl_timer_) {
      curl_timer_ = SteadyClock::time_point::max();
      curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
      Drain();
    }
    auto wake = std::min(curl_timer_, SteadyClock::now() + std::chrono::milliseconds(20));
    if (!timers_.empty()) wake = std::min(wake, timers_.top().first);
    // Rounded up: truncated, a wake under a millisecond away (with 5,000
    // nodes the next heartbeat always is) made epoll_wait return at once,
    // and the loop spun a whole core at the simulator's raised priority,
    // taking it from the masters it measures.
    int wait_ms = static_cast<int>(std::max<int64_t>(
        0, std::chrono::ceil<std::chrono::milliseconds>(wake - SteadyClock::now()).count()));
    epoll_event events[256];
    int n = epoll_wait(epoll_, events, 256, wait_ms);
    for (int i = 0; i < n; ++i) {
      int flags = ((events[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                  ((events[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                  ((events[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
      curl_multi_socket_action(multi_, events[i].data.fd, flags, &running);
    }
    Drain();
  }
  if (submitter_.joinable()) submitter_.join();
  Report(Seconds(SteadyClock::now() - t0_), true);
  std::printf(
      "nodesim: summary: %d nodes, registered %d (%d failed) in %s; heartbeats %llu ok, %llu "
      "failed; "
      "watches %llu, %llu failed, %llu stale answers behind the last",
      o_.nodes, registered_, register_failed_,
      all_registered_s_ < 0 ? "-" : (std::to_string(all_registered_s_).substr(0, 5) + " s").c_str(),
      static_cast<unsigned long long>(hb_ok_), static_cast<unsigned long long>(hb_failed_),
      static_cast<unsigned long long>(watches_), static_cast<unsigned long long>(watch_failed_),
      static_cast<unsigned long long>(stale_behind_));
  if (o_.job_count > 0) {
    if (job_running_s_ >= 0) {
      std::printf("; %d allocations running %.1f s after the submit\n", o_.job_count,
                  job_running_s_ - big_job_s_);
    } else {
      std::printf("; %llu of %d allocations running at the end\n",
                  static_cast<unsigned long long>(running_), o_.job_count);
    }
  } else {
    std::printf("\n");
  }
  if (!probe_ms_.empty()) {
    std::printf(
        "nodesim: probes: %zu one-allocation jobs, submit to running p50 %.0f ms, max %.0f ms\n",
        probe_ms_.size(), Quantile(probe_ms_, 0.5),
        *std::max_element(probe_ms_.begin(), probe_ms_.end()));
  }
  if (o_.service_watch) {
    std::printf("nodesim: services watches answered %llu, failed %llu\n",
                static_cast<unsigned long long>(services_answers_),
                static_cast<unsigned long long>(services_failed_));
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "nodesim: longest a node went unheard %.1f s; CPU %.1f s (its own, not the masters')\n",
      longest_unheard_s_,
      static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
          static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
  return register_failed_ == 0 ? 0 : 1;
}

int Main(int argc, char** argv) {
  Options o;
  o.master = Flag(argc, argv, "master", "ORCH_NODESIM_MASTER", o.master);
  o.nodes = std::stoi(Flag(argc, argv, "nodes", "ORCH_NODESIM_NODES", "100"));
  o.duration_s = std::stod(Flag(argc, argv, "duration", "ORCH_NODESIM_DURATION", "60"));
  o.register_rate =
      std::stod(Flag(argc, argv, "register-rate", "ORCH_NODESIM_REGISTER_RATE", "500"));
  o.fail_percent = std::stod(Flag(argc, argv, "fail-percent", "ORCH_NODESIM_FAIL_PERCENT", "0"));
  o.job_count = std::stoi(Flag(argc, argv, "job-count", "ORCH_NODESIM_JOB_COUNT", "0"));
  o.report_every_s = std::stod(Flag(argc, argv, "report-every", "ORCH_NODESIM_REPORT_EVERY", "5"));
  o.job_id = Flag(argc, argv, "job-id", "ORCH_NODESIM_JOB_ID", o.job_id);
  o.service_watch = Flag(argc, argv, "service-watch", "ORCH_NODESIM_SERVICE_WATCH", "0") == "1";
  o.probes = std::stoi(Flag(argc, argv, "probes", "ORCH_NODESIM_PROBES", "0"));
  o.probe_services = Flag(argc, argv, "probe-services", "ORCH_NODESIM_PROBE_SERVICES", "0") == "1";
  o.services = std::stoi(Flag(argc, argv, "services", "ORCH_NODESIM_SERVICES", "0"));
  if (o.master.empty() || o.master.find(':') == std::string::npos) {
    std::fprintf(stderr, "nodesim: --master must be http://HOST:PORT[,http://HOST:PORT...]\n");
    return 2;
  }
  if (o.services < 0 || o.services > 10'000) {
    std::fprintf(stderr, "nodesim: --services must be 0..10000\n");
    return 2;
  }
  if (o.nodes < 1 || o.nodes > 60'000) {
    std::fprintf(stderr, "nodesim: --nodes must be 1..60000\n");
    return 2;
  }
  // Two or three connections per node, plus some.
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  curl_global_init(CURL_GLOBAL_ALL);
  std::printf("nodesim: %d nodes against %s for %.0f s\n", o.nodes, o.master.c_str(), o.duration_s);
  int rc = Sim(o).Run();
  curl_global_cleanup();
  return rc;
}

}  // namespace
}  // namespace orch::bench

int main(int argc, char** argv) { return orch::bench::Main(argc, argv); }
