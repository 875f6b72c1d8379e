#include "common/http_server.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/index_waiters.h"
#include "common/thread_priority.h"
#include "common/thread_name.h"
#include "common/tls_context.h"

namespace orch {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// asio::thread_pool makes its threads itself: each is named by the first
// handler it runs.
void NameThisPoolThread(const char* name) {
  thread_local bool named = false;
  if (named) return;
  named = true;
  NameThisThread(name);
}

class ServerImpl;
using SslStream = beast::ssl_stream<beast::tcp_stream>;

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  virtual void Run() = 0;
  virtual void Close() = 0;
};

// One connection: read a request (with timeout and body limit), hand it to
// the worker pool, write the answer, repeat while keep-alive. `Stream` is
// beast::tcp_stream, or SslStream on an HTTPS server: that connection first
// tells TLS from plain HTTP (answered with a 400) and shakes hands.
template <class Stream>
class Session : public SessionBase {
 public:
  Session(tcp::socket socket, ServerImpl* server, std::string client, asio::ssl::context* tls);
  void Run() override;
  void Close() override;

 private:
  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }
  void OnDetect(beast::error_code ec, bool tls);
  void OnHandshake(beast::error_code ec, std::size_t used);
  void DoRead();
  void OnHeader(beast::error_code ec, std::size_t bytes);
  void OnRead(beast::error_code ec, std::size_t bytes);
  void RefuseBody();
  // The request read so far (no body); `target` receives whether its
  // target parsed (the path and query are empty when not).
  HttpRequest Head(Status* target) const;
  void Dispatch();
  void DoWrite(HttpResponse resp);
  void StreamOnWorker(HttpResponse resp);
  bool WriteFromWorker(std::string data);
  // A feed (HttpResponse::Feed), driven on the strand: its head written,
  // then by turns `next` on a worker, the chunk it made written, or the
  // session parked until the feed's index moves or its heartbeat is due.
  void StartFeed(HttpResponse resp);
  void FeedNext();
  void FeedGot(std::string data, bool more);
  void FeedWrite(std::string data, std::function<void()> then);
  void FeedEnd();
  void OnWrite(bool keep_alive, beast::error_code ec, std::size_t bytes);
  void Finish();
  void MarkDone();
  // Of the request being answered: its HTTP version (11 before one was
  // read), and whether it is a HEAD.
  int Version() const {
    return parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
  }
  bool IsHead() const {
    return parser_ && parser_->is_header_done() && parser_->get().method() == http::verb::head;
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  ServerImpl* server_;
  std::string remote_;
  std::string client_;  // the remote address, without the port
  std::size_t body_limit_ = 0;  // of the request being read
  // Its head, made once in OnHeader and handed to Dispatch.
  std::optional<HttpRequest> head_;
  Status head_target_;
  // The request being answered: its route (for metrics; "" before one was
  // read) and when it was read.
  std::string route_;
  std::chrono::steady_clock::time_point started_;
  std::optional<HttpResponse::Feed> feed_;
  std::chrono::steady_clock::time_point feed_written_;  // the feed's last write
  bool handling_ = false;  // a request is with the handler or being answered
  bool forgotten_ = false;  // Finish ran: the server no longer counts us
  bool feeding_ = false;    // a feed is open (counted by the server)
};

// Requests parked until their blocking query can be answered. Shared with
// the waiters' callbacks, which may fire after the server is gone: by then
// Close has taken every entry, so a late Resume finds nothing.
class Parking {
 public:
  // Parks `resume`; its id (never 0). Once closed, runs it at once: 0.
  uint64_t Add(std::function<void()> resume) {
    {
      std::lock_guard lock(mu_);
      if (open_) {
        uint64_t id = ++next_;
        parked_.emplace(id, std::move(resume));
        return id;
      }
    }
    resume();
    return 0;
  }
  void Resume(uint64_t id) {
    std::function<void()> f;
    {
      std::lock_guard lock(mu_);
      auto it = parked_.find(id);
      if (it == parked_.end()) return;
      f = std::move(it->second);
      parked_.erase(it);
    }
    f();
  }
  // Runs every parked request now and parks no more.
  void Close() {
    std::map<uint64_t, std::function<void()>> all;
    {
      std::lock_guard lock(mu_);
      open_ = false;
      all.swap(parked_);
    }
    for (auto& [id, f] : all) f();
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return parked_.size();
  }

 private:
  mutable std::mutex mu_;
  bool open_ = true;
  uint64_t next_ = 0;
  std::map<uint64_t, std::function<void()>> parked_;
};

// Requests answered later (HttpResponse::later), holding no worker while
// they wait. Shared with the Replies, which may come after the server is
// gone: by then Close has answered every entry, so a late Reply finds
// nothing and posts nothing.
class Pending : public std::enable_shared_from_this<Pending> {
 public:
  using Done = std::function<void(HttpResponse)>;
  // `post` runs work on the server's quick pool; called only while open.
  explicit Pending(std::function<void(std::function<void()>)> post) : post_(std::move(post)) {}
  // Registers the request answered by `done`; its id (never 0), or 0 once
  // closed (`done` has then had its 503).
  uint64_t Add(Done done) {
    {
      std::lock_guard lock(mu_);
      if (open_) {
        uint64_t id = ++next_;
        waiting_.emplace(id, std::move(done));
        return id;
      }
    }
    done(Closing());
    return 0;
  }
  // Makes request `id`'s answer on a worker and sends it.
  void Reply(uint64_t id, HttpResponse::MakeAnswer make) {
    std::lock_guard lock(mu_);
    if (!open_ || waiting_.count(id) == 0) return;
    post_([self = shared_from_this(), id, make = std::move(make)] {
      HttpResponse resp;
      try {
        resp = make();
      } catch (const std::exception& e) {
        spdlog::error("http: making a later answer threw: {}", e.what());
        resp = HttpResponse::Error(Status::Internal("internal error"));
      }
      if (resp.later || resp.defer)
        resp = HttpResponse::Error(Status::Internal("a later answer deferred again"));
      if (Done done = self->Take(id)) done(std::move(resp));
    });
  }
  Done Take(uint64_t id) {
    std::lock_guard lock(mu_);
    auto it = waiting_.find(id);
    if (it == waiting_.end()) return nullptr;
    Done done = std::move(it->second);
    waiting_.erase(it);
    return done;
  }
  // Answers every waiting request with a 503 and takes no more.
  void Close() {
    std::map<uint64_t, Done> all;
    {
      std::lock_guard lock(mu_);
      open_ = false;
      all.swap(waiting_);
    }
    for (auto& [id, done] : all) done(Closing());
  }

 private:
  static HttpResponse Closing() {
    return HttpResponse::Error(Status::Unavailable("the server is shutting down; retry"));
  }
  std::function<void(std::function<void()>)> post_;
  std::mutex mu_;
  bool open_ = true;
  uint64_t next_ = 0;
  std::map<uint64_t, Done> waiting_;
};

// A short plain-HTTP answer written at once, then the connection closed: a
// client refused at accept (or speaking HTTP to an HTTPS port) learns why
// instead of seeing a reset. On an HTTPS port this is the one answer ever
// sent in the clear.
void Refuse(tcp::socket& sock, int status, const char* code, const std::string& message) {
  std::string body =
      std::string("{\"error\":{\"code\":\"") + code + "\",\"message\":\"" + message + "\"}}";
  std::string resp = "HTTP/1.1 " + std::to_string(status) + " " +
                     std::string(http::obsolete_reason(static_cast<http::status>(status))) +
                     "\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
                     "Content-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body;
  ::send(sock.native_handle(), resp.data(), resp.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  beast::error_code ignored;
  sock.shutdown(tcp::socket::shutdown_send, ignored);
  sock.close(ignored);
}

class ServerImpl : public HttpServer {
 public:
  ServerImpl(const HttpServerOptions& opts, HttpHandler handler)
      : opts_(opts),
        handler_(std::move(handler)),
        ioc_(opts.io_threads),
        acceptor_(ioc_),
        workers_(static_cast<std::size_t>(std::max(1, opts.worker_threads))),
        quick_(static_cast<std::size_t>(std::max(1, opts.quick_threads))) {}

  ~ServerImpl() override { Shutdown(std::chrono::milliseconds(0)); }

  // Counts one answer (metrics on).
  void Count(const std::string& route, int status, std::chrono::steady_clock::time_point started) {
    if (requests_ == nullptr) return;
    const std::string& r = route.empty() ? kUnread : route;
    requests_->With({r, std::to_string(status)}).Inc();
    if (started != std::chrono::steady_clock::time_point()) {
      durations_->With({r}).Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
  }
  std::string RouteOf(const HttpRequest& req) const {
    if (requests_ == nullptr) return "";
    return opts_.route_of ? opts_.route_of(req) : std::string("all");
  }

  void RegisterMetrics() {
    metrics::Registry* m = opts_.metrics;
    if (m == nullptr) return;
    requests_ =
        &m->AddCounter("orch_http_requests_total",
                       "REST requests answered, by route and HTTP status code.", {"route", "code"});
    durations_ = &m->AddHistogram(
        "orch_http_request_duration_seconds",
        "Time from a request read to its answer (a blocking query's wait included).", {"route"},
        metrics::LatencyBuckets());
    connections_ = &m->AddGauge("orch_http_open_connections", "Client connections open.").With({});
    // Shared with the server: a scrape after it is gone reads what it left.
    m->AddCallback(
        "orch_http_parked_requests", "Blocking queries waiting for their index, holding no thread.",
        {}, [parking = parking_] {
          return std::vector<metrics::Sample>{{{}, static_cast<double>(parking->size())}};
        });
  }

  Status Bind() {
    if (opts_.tls.enabled()) {
      auto ctx = MakeTlsServerContext(opts_.tls, opts_.tls_peer_names);
      if (!ctx.ok()) return ctx.status().WithContext(opts_.name);
      tls_ = std::move(ctx).value();
    }
    beast::error_code ec;
    auto addr = asio::ip::make_address(opts_.host, ec);
    if (ec) return Status::InvalidArgument(opts_.name + ": bad listen address " + opts_.host);
    tcp::endpoint ep(addr, opts_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Unavailable(opts_.name + ": cannot listen on " + opts_.host + ":" +
                                 std::to_string(opts_.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    return Status::Ok();
  }

  void Run() {
    DoAccept();
    work_.emplace(asio::make_work_guard(ioc_));
    for (int i = 0; i < std::max(1, opts_.io_threads); ++i) {
      threads_.emplace_back([this] {
        NameThisThread("http-io");
        ioc_.run();
      });
    }
  }

  uint16_t port() const override { return port_; }

  void Shutdown(std::chrono::milliseconds grace) override {
    if (stopped_.exchange(true)) return;
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    // Parked blocking queries answer now with what they have; requests in
    // flight finish; then what is left is closed.
    parking_->Close();
    auto deadline = std::chrono::steady_clock::now() + grace;
    spdlog::debug("{}: shutting down with {} requests in flight", opts_.name, in_flight_.load());
    while ((in_flight_.load() > 0 || feeds_.load() > 0) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Answers still waiting (writes not applied within the grace) get a
    // 503; their late Replies find nothing.
    pending_->Close();
    std::vector<std::shared_ptr<SessionBase>> open;
    {
      std::lock_guard lock(mu_);
      for (auto& [p, w] : sessions_) {
        if (auto s = w.lock()) open.push_back(std::move(s));
      }
    }
    for (auto& s : open) s->Close();
    // Handlers still running past the grace period finish (their answers go
    // nowhere); then the io threads run out of work and return. Until the
    // workers are done the guard keeps the io threads alive to write answers.
    workers_.join();
    quick_.join();
    work_.reset();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    spdlog::info("{}: stopped serving on {}:{}", opts_.name, opts_.host, port_);
  }

  const HttpServerOptions& opts() const { return opts_; }
  bool stopped() const { return stopped_.load(); }

  // Runs the handler on the worker pool (a quick request on the quick
  // pool), then `done` on the session's executor. A deferred answer (a
  // blocking query) is parked without a worker until its index or
  // deadline, then the handler runs again on a worker.
  void Handle(HttpRequest req, std::string client, std::function<void(HttpResponse)> done) {
    ++in_flight_;
    const bool quick = opts_.quick && opts_.quick(req);
    asio::post(quick ? quick_ : workers_, [this, req = std::move(req), client = std::move(client),
                                           done = std::move(done)]() mutable {
      RunHandler(std::move(req), std::move(client), std::move(done));
    });
  }

  void RunHandler(HttpRequest req, std::string client, std::function<void(HttpResponse)> done) {
    // Handlers are bulk work; the I/O threads (inline answers such as
    // heartbeats) keep the default priority.
    RunThisThreadAsBulkWork();
    NameThisPoolThread(quick_.get_executor().running_in_this_thread() ? "http-quick" : "http-worker");
    HttpResponse resp;
    try {
      resp = handler_(req);
    } catch (const std::exception& e) {
      spdlog::error("{}: handler for {} {} threw: {}", opts_.name, req.method, req.path, e.what());
      resp = HttpResponse::Error(Status::Internal("internal error"));
    }
    if (resp.defer && resp.defer->waiters != nullptr &&
        (!req.resumed || resp.defer->deadline <= req.resume_deadline)) {
      return Park(std::move(req), std::move(client), *resp.defer, std::move(done));
    }
    if (resp.defer) resp = HttpResponse::Error(Status::Internal("a handler deferred past its deadline"));
    if (resp.later) return AnswerLater(std::move(resp.later), std::move(done));
    done(std::move(resp));  // RequestDone() follows once the answer is written
  }

  // HttpResponse::later: the request waits in pending_, holding no worker.
  void AnswerLater(std::function<void(HttpResponse::Reply)> later,
                   std::function<void(HttpResponse)> done) {
    const uint64_t id = pending_->Add(std::move(done));
    if (id == 0) return;  // stopping: answered
    try {
      later([pending = pending_, id](HttpResponse::MakeAnswer make) {
        pending->Reply(id, std::move(make));
      });
    } catch (const std::exception& e) {
      spdlog::error("{}: starting a later answer threw: {}", opts_.name, e.what());
      if (auto d = pending_->Take(id)) d(HttpResponse::Error(Status::Internal("internal error")));
    }
  }

  void RequestDone() { --in_flight_; }
  // Feeds open: a shutdown lets them write their last chunk (within the grace).
  void FeedStarted() { ++feeds_; }
  void FeedDone() { --feeds_; }

  // A parked request gives its client's request slot back (it holds no
  // worker) and takes it again, uncounted against the cap, to run.
  void Park(HttpRequest req, std::string client, const HttpResponse::Deferral& d,
            std::function<void(HttpResponse)> done) {
    req.resumed = true;
    req.resume_deadline = d.deadline;
    req.resume_state = d.state;
    ReleaseRequestSlot(client);
    auto resume = [this, req = std::move(req), client, done = std::move(done)]() mutable {
      {
        std::lock_guard lock(mu_);
        ++client_in_flight_[client];
      }
      asio::post(workers_, [this, req = std::move(req), client = std::move(client), done = std::move(done)]() mutable {
        RunHandler(std::move(req), std::move(client), std::move(done));
      });
    };
    ParkUntil(d.waiters, d.index, d.deadline, std::move(resume), d.key);
  }

  // Runs `resume` once `waiters` (or its `key`, when given) passes `index`,
  // at `deadline`, or when the server stops, whichever is first; no thread
  // waits meanwhile.
  void ParkUntil(IndexWaiters* waiters, uint64_t index,
                 std::chrono::steady_clock::time_point deadline, std::function<void()> resume,
                 const std::string& key = "") {
    uint64_t id = parking_->Add(std::move(resume));
    if (id == 0) return;  // the server is stopping: it ran at once
    auto fire = [parking = parking_, id] { parking->Resume(id); };
    waiters->Wait(index, deadline, fire, key);
  }

  void PostWork(std::function<void()> f) { asio::post(workers_, std::move(f)); }

  static inline const std::string kUnread =
      "none";  // answered before a request was read (400, 413)
  metrics::Family<metrics::Counter>* requests_ = nullptr;
  metrics::Family<metrics::Histogram>* durations_ = nullptr;
  metrics::Gauge* connections_ = nullptr;

  // Per-client bookkeeping (connections and requests with the handlers).
  bool TakeRequestSlot(const std::string& client) {
    std::lock_guard lock(mu_);
    auto& n = client_in_flight_[client];
    if (n >= opts_.max_in_flight_per_client) return false;
    ++n;
    return true;
  }
  void ReleaseRequestSlot(const std::string& client) {
    std::lock_guard lock(mu_);
    auto it = client_in_flight_.find(client);
    if (it != client_in_flight_.end() && --it->second == 0) client_in_flight_.erase(it);
  }
  void ReleaseConnection(const std::string& client) {
    auto it = client_conns_.find(client);  // mu_ held by the caller
    if (it != client_conns_.end() && --it->second == 0) client_conns_.erase(it);
  }
  // A refusal logged at most once a second: floods must not fill the disk.
  void LogRefusal(const std::string& what) {
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto last = last_refusal_log_.load();
    if (now - last < std::chrono::steady_clock::duration(std::chrono::seconds(1)).count()) return;
    if (last_refusal_log_.compare_exchange_strong(last, now)) spdlog::warn("{}: {}", opts_.name, what);
  }

  void Forget(SessionBase* s, const std::string& client) {
    std::lock_guard lock(mu_);
    ReleaseConnection(client);
    sessions_.erase(s);
    if (connections_) connections_->Set(static_cast<double>(sessions_.size()));
  }

 private:
  void DoAccept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket sock) {
      if (ec) {
        if (!stopped_) {
          spdlog::warn("{}: accept failed: {}", opts_.name, ec.message());
          DoAccept();
        }
        return;
      }
      std::shared_ptr<SessionBase> s;
      {
        beast::error_code e;
        auto ep = sock.remote_endpoint(e);
        std::string client = e ? "unknown" : ep.address().to_string();
        std::lock_guard lock(mu_);
        if (sessions_.size() >= opts_.max_connections) {
          LogRefusal("refusing a connection from " + client + ": " + std::to_string(sessions_.size()) +
                     " already open");
          Refuse(sock, 503, "service_unavailable", "the server has " + std::to_string(sessions_.size()) +
                                                      " connections open, its limit; retry later");
        } else if (client_conns_[client] >= opts_.max_connections_per_client) {
          LogRefusal("refusing a connection from " + client + ": it has " +
                     std::to_string(client_conns_[client]) + " open, the limit per client");
          Refuse(sock, 429, "resource_exhausted", "this client has " + std::to_string(client_conns_[client]) +
                                                      " connections open, the limit per client");
        } else {
          ++client_conns_[client];
          if (tls_) {
            s = std::make_shared<Session<SslStream>>(std::move(sock), this, client, tls_.get());
          } else {
            s = std::make_shared<Session<beast::tcp_stream>>(std::move(sock), this, client,
                                                             nullptr);
          }
          sessions_[s.get()] = s;
          if (connections_) connections_->Set(static_cast<double>(sessions_.size()));
        }
      }
      if (s) s->Run();
      if (!stopped_) DoAccept();
    });
  }

  HttpServerOptions opts_;
  HttpHandler handler_;
  std::shared_ptr<asio::ssl::context> tls_;  // HTTPS when set
  // One io_context shared by the I/O threads, a strand per connection: a
  // ready connection is taken by whichever thread runs. One io_context per
  // thread was measured (a60dfa7): ~30 % less CPU per heartbeat (no futex
  // wake per completion), but REST writes with 100,000 jobs stored were
  // 2.5-25 % slower at 256 clients, since a thread waiting for a CPU stalls
  // its own connections, which the other thread cannot take.
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::thread_pool workers_;
  asio::thread_pool quick_;  // quick requests and later answers (opts.quick)
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
  std::atomic<int> in_flight_{0};
  std::atomic<int> feeds_{0};
  uint16_t port_ = 0;
  std::mutex mu_;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>>
      sessions_;                                         // by address: O(1) to forget
  std::map<std::string, std::size_t> client_conns_;      // guarded by mu_
  std::map<std::string, std::size_t> client_in_flight_;  // guarded by mu_
  std::atomic<std::chrono::steady_clock::rep> last_refusal_log_{0};
  std::shared_ptr<Parking> parking_ = std::make_shared<Parking>();
  std::shared_ptr<Pending> pending_ = std::make_shared<Pending>(
      [this](std::function<void()> f) { asio::post(quick_, std::move(f)); });
};

template <class Stream>
Session<Stream>::Session(tcp::socket socket, ServerImpl* server, std::string client,
                         asio::ssl::context* tls)
    : stream_([&]() -> Stream {
        if constexpr (std::is_same_v<Stream, SslStream>) {
          return Stream(beast::tcp_stream(std::move(socket)), *tls);
        } else {
          (void)tls;
          return Stream(std::move(socket));
        }
      }()),
      server_(server),
      client_(std::move(client)) {
  beast::error_code ec;
  auto ep = Tcp().socket().remote_endpoint(ec);
  if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
}

template <class Stream>
void Session<Stream>::Run() {
  asio::dispatch(Tcp().get_executor(), [self = Self()] {
    if constexpr (std::is_same_v<Stream, SslStream>) {
      // The first bytes tell a TLS client hello from plain HTTP.
      self->Tcp().expires_after(self->server_->opts().read_timeout);
      beast::async_detect_ssl(self->Tcp(), self->buffer_,
                              beast::bind_front_handler(&Session::OnDetect, self));
    } else {
      self->DoRead();
    }
  });
}

template <class Stream>
void Session<Stream>::OnDetect(beast::error_code ec, bool tls) {
  if (ec) return Finish();
  if (!tls) {
    Refuse(Tcp().socket(), 400, "invalid_argument",
           "this server speaks HTTPS (TLS with client certificates): use https://");
    return Finish();
  }
  if constexpr (std::is_same_v<Stream, SslStream>) {
    stream_.async_handshake(asio::ssl::stream_base::server, buffer_.data(),
                            beast::bind_front_handler(&Session::OnHandshake, Self()));
  }
}

template <class Stream>
void Session<Stream>::OnHandshake(beast::error_code ec, std::size_t used) {
  if (ec) {
    server_->LogRefusal("TLS handshake with " + remote_ + " failed: " + ec.message());
    return Finish();
  }
  buffer_.consume(used);
  DoRead();
}

template <class Stream>
void Session<Stream>::Close() {
  asio::post(Tcp().get_executor(), [self = Self()] {
    beast::error_code ec;
    self->Tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    self->Tcp().close();
  });
}

template <class Stream>
void Session<Stream>::DoRead() {
  const auto& o = server_->opts();
  parser_.emplace();
  // The largest any request may have; OnHeader sets this request's.
  body_limit_ = o.body_limit;
  parser_->body_limit(o.large_body ? std::max(o.body_limit, o.large_body_limit) : o.body_limit);
  parser_->header_limit(16 * 1024);
  Tcp().expires_after(o.read_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&Session::OnHeader, Self()));
}

template <class Stream>
void Session<Stream>::OnHeader(beast::error_code ec, std::size_t bytes) {
  if (ec) return OnRead(ec, bytes);
  const auto& o = server_->opts();
  head_ = Head(&head_target_);
  if (o.large_body && o.large_body_limit > o.body_limit && o.large_body(*head_)) {
    body_limit_ = o.large_body_limit;
    Tcp().expires_after(std::max(o.read_timeout, o.large_body_read_timeout));
  }
  if (auto len = parser_->content_length(); len && *len > body_limit_) return RefuseBody();
  parser_->body_limit(body_limit_);
  if (parser_->is_done()) return OnRead({}, 0);
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, Self()));
}

template <class Stream>
void Session<Stream>::RefuseBody() {
  auto resp =
      HttpResponse::Error(413, Status::ResourceExhausted("request body exceeds the limit of " +
                                                         std::to_string(body_limit_) + " bytes"));
  resp.headers.emplace_back("Connection", "close");
  DoWrite(std::move(resp));
}

template <class Stream>
HttpRequest Session<Stream>::Head(Status* target) const {
  const auto& msg = parser_->get();
  HttpRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.remote = remote_;
  for (const auto& h : msg) {
    std::string name(h.name_string());
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    req.headers[name] = std::string(h.value());
  }
  *target = ParseTarget(req.target, &req.path, &req.query);
  if (!target->ok()) {
    req.path.clear();
    req.query.clear();
  }
  return req;
}

template <class Stream>
void Session<Stream>::OnRead(beast::error_code ec, std::size_t) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
      ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    return Finish();
  }
  if (ec == http::error::body_limit) return RefuseBody();
  if (ec) {
    auto resp = HttpResponse::Error(400, Status::InvalidArgument("malformed HTTP request: " + ec.message()));
    resp.headers.emplace_back("Connection", "close");
    return DoWrite(std::move(resp));
  }
  Dispatch();
}

template <class Stream>
void Session<Stream>::Dispatch() {
  if (!head_) head_ = Head(&head_target_);
  HttpRequest req = std::move(*head_);
  head_.reset();
  req.body = std::move(parser_->get().body());
  started_ = std::chrono::steady_clock::now();
  if (!head_target_.ok()) return DoWrite(HttpResponse::Error(head_target_));
  route_ = server_->RouteOf(req);
  if (const auto& fast = server_->opts().inline_handler) {
    std::optional<HttpResponse> answer;
    try {
      answer = fast(req);
    } catch (const std::exception& e) {
      spdlog::error("{}: inline handler for {} {} threw: {}", server_->opts().name, req.method, req.path, e.what());
      answer = HttpResponse::Error(Status::Internal("internal error"));
    }
    if (answer) return DoWrite(std::move(*answer));
  }
  if (!server_->TakeRequestSlot(client_)) {
    server_->LogRefusal("429 for " + client_ + ": it has " + std::to_string(server_->opts().max_in_flight_per_client) +
                        " requests in progress, the limit per client");
    auto resp = HttpResponse::Error(
        429, Status::ResourceExhausted("this client has " + std::to_string(server_->opts().max_in_flight_per_client) +
                                       " requests in progress (blocking queries count until they answer), "
                                       "the limit per client; retry when one ends"));
    resp.headers.emplace_back("Retry-After", "1");
    return DoWrite(std::move(resp));
  }
  // The handler may block; no read timeout while it runs.
  Tcp().expires_never();
  handling_ = true;
  server_->Handle(std::move(req), client_, [self = Self()](HttpResponse resp) {
    if (resp.feed && resp.feed->next && resp.feed->waiters != nullptr) {
      return asio::post(self->Tcp().get_executor(), [self, resp = std::move(resp)]() mutable {
        self->StartFeed(std::move(resp));
      });
    }
    if (resp.stream) return self->StreamOnWorker(std::move(resp));
    asio::post(self->Tcp().get_executor(),
               [self, resp = std::move(resp)]() mutable { self->DoWrite(std::move(resp)); });
  });
}

template <class Stream>
void Session<Stream>::DoWrite(HttpResponse resp) {
  server_->Count(route_, resp.status, started_);
  route_.clear();
  started_ = {};
  bool keep_alive = parser_ && parser_->is_header_done() && parser_->get().keep_alive() &&
                    resp.Header("Connection") != "close" && !server_->stopped();
  int version = Version();
  res_ = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(resp.status), version);
  res_->set(http::field::server, "orch");
  res_->set(http::field::content_type, resp.content_type);
  for (const auto& [k, v] : resp.headers) res_->set(k, v);
  res_->keep_alive(keep_alive);
  bool head = IsHead();
  res_->body() = head ? std::string() : std::move(resp.body);
  res_->prepare_payload();
  Tcp().expires_after(server_->opts().read_timeout);
  http::async_write(stream_, *res_,
                    beast::bind_front_handler(&Session::OnWrite, Self(), keep_alive));
}

// The head of a chunked answer that closes the connection after it.
std::string ChunkedHead(int version, const HttpResponse& resp) {
  std::string hdr = std::string(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ") +
                    std::to_string(resp.status) + " " +
                    std::string(http::obsolete_reason(static_cast<http::status>(resp.status))) +
                    "\r\nServer: orch\r\nContent-Type: " + resp.content_type +
                    "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n";
  for (const auto& [k, v] : resp.headers) {
    if (strcasecmp(k.c_str(), "Connection") == 0 || strcasecmp(k.c_str(), "Content-Length") == 0)
      continue;
    hdr += k + ": " + v + "\r\n";
  }
  return hdr + "\r\n";
}

// `piece` (not empty) as one chunk.
std::string Chunk(std::string_view piece) {
  char size[24];
  snprintf(size, sizeof size, "%zx\r\n", piece.size());
  std::string chunk = size;
  chunk.append(piece);
  chunk += "\r\n";
  return chunk;
}

// Whether the peer closed or reset the connection.
bool PeerGone(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

// Writes `data` through the session's strand (TLS or not) and waits for it,
// bounded by the read timeout; false when the write failed or timed out.
template <class Stream>
bool Session<Stream>::WriteFromWorker(std::string data) {
  auto done = std::make_shared<std::promise<bool>>();
  auto result = done->get_future();
  asio::post(Tcp().get_executor(), [self = Self(), done, data = std::move(data)]() mutable {
    auto buf = std::make_shared<std::string>(std::move(data));
    self->Tcp().expires_after(self->server_->opts().read_timeout);
    asio::async_write(self->stream_, asio::buffer(*buf),
                      [self, done, buf](beast::error_code ec, std::size_t) {
                        self->Tcp().expires_never();
                        done->set_value(!ec);
                      });
  });
  return result.get();
}

// A streamed answer, written from the handler's worker thread: the session
// does nothing else meanwhile (no read is pending while a handler runs), so
// each piece is written on the strand while the worker waits for it; then
// Finish is posted back to the strand.
template <class Stream>
void Session<Stream>::StreamOnWorker(HttpResponse resp) {
  server_->Count(route_, resp.status, started_);  // when the stream begins
  int version = Version();
  bool head = IsHead();
  int fd = Tcp().socket().native_handle();
  bool ok = WriteFromWorker(ChunkedHead(version, resp));
  if (ok && !head) {
    HttpStreamWriter write = [&](std::string_view piece) {
      if (!ok || server_->stopped() || PeerGone(fd)) return ok = false;
      if (piece.empty()) return true;
      return ok = WriteFromWorker(Chunk(piece));
    };
    try {
      resp.stream(write);
    } catch (const std::exception& e) {
      spdlog::error("{}: streamed answer threw: {}", server_->opts().name, e.what());
      ok = false;
    }
    if (ok) WriteFromWorker("0\r\n\r\n");
  }
  asio::post(Tcp().get_executor(), [self = Self()] { self->Finish(); });
}

template <class Stream>
void Session<Stream>::StartFeed(HttpResponse resp) {
  bool head = IsHead();
  if (head) {
    resp.feed.reset();
    return DoWrite(std::move(resp));
  }
  server_->Count(route_, resp.status, started_);  // when the feed begins
  int version = Version();
  feed_ = std::move(resp.feed);
  feeding_ = true;
  server_->FeedStarted();
  // A feed waits for its index like a parked blocking query: it holds no
  // request slot, and the server's shutdown does not wait for it.
  MarkDone();
  FeedWrite(ChunkedHead(version, resp), [self = Self()] { self->FeedNext(); });
}

template <class Stream>
void Session<Stream>::FeedWrite(std::string data, std::function<void()> then) {
  auto buf = std::make_shared<std::string>(std::move(data));
  feed_written_ = std::chrono::steady_clock::now();
  Tcp().expires_after(server_->opts().read_timeout);  // a client that stops reading is dropped
  asio::async_write(
      stream_, asio::buffer(*buf),
      [self = Self(), buf, then = std::move(then)](beast::error_code ec, std::size_t) {
        self->Tcp().expires_never();
        if (ec) return self->Finish();
        then();
      });
}

template <class Stream>
void Session<Stream>::FeedNext() {
  if (server_->stopped()) return FeedEnd();
  // `next` runs on a worker; the session does nothing else meanwhile.
  server_->PostWork([self = Self()] {
    std::string out;
    bool more = false;
    try {
      more = self->feed_->next(&self->feed_->cursor, &out);
    } catch (const std::exception& e) {
      spdlog::error("{}: a feed threw: {}", self->server_->opts().name, e.what());
    }
    asio::post(self->Tcp().get_executor(), [self, out = std::move(out), more]() mutable {
      self->FeedGot(std::move(out), more);
    });
  });
}

template <class Stream>
void Session<Stream>::FeedGot(std::string data, bool more) {
  if (!data.empty()) {
    return FeedWrite(Chunk(data),
                     [self = Self(), more] { more ? self->FeedNext() : self->FeedEnd(); });
  }
  const HttpResponse::Feed& f = *feed_;
  if (!more || server_->stopped() || f.waiters->closed() ||
      PeerGone(Tcp().socket().native_handle())) {
    return FeedEnd();
  }
  const auto due = feed_written_ + f.idle;
  if (std::chrono::steady_clock::now() >= due) {
    return FeedWrite(Chunk(f.heartbeat.empty() ? "\n" : f.heartbeat),
                     [self = Self()] { self->FeedNext(); });
  }
  server_->ParkUntil(f.waiters, f.cursor, due, [self = Self()] {
    asio::post(self->Tcp().get_executor(), [self] { self->FeedNext(); });
  });
}

template <class Stream>
void Session<Stream>::FeedEnd() {
  FeedWrite("0\r\n\r\n", [self = Self()] { self->Finish(); });
}

template <class Stream>
void Session<Stream>::MarkDone() {
  if (handling_) {
    handling_ = false;
    server_->ReleaseRequestSlot(client_);
    server_->RequestDone();
  }
}

template <class Stream>
void Session<Stream>::OnWrite(bool keep_alive, beast::error_code ec, std::size_t) {
  res_.reset();
  MarkDone();
  if (ec || !keep_alive) return Finish();
  DoRead();
}

template <class Stream>
void Session<Stream>::Finish() {
  MarkDone();
  if (feeding_) {
    feeding_ = false;
    server_->FeedDone();
  }
  beast::error_code ec;
  Tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
  Tcp().close();
  if (!forgotten_) server_->Forget(this, client_);
  forgotten_ = true;
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpHandler handler) {
  auto impl = std::make_unique<ServerImpl>(options, std::move(handler));
  ORCH_RETURN_IF_ERROR(impl->Bind());
  impl->RegisterMetrics();
  impl->Run();
  spdlog::info("{}: serving on {}:{}", options.name, options.host, impl->port());
  return std::unique_ptr<HttpServer>(std::move(impl));
}

}  // namespace orch
