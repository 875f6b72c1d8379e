#include "agent/lb/proxy.h"

#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace orch::agent::lb {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Counters {
  std::atomic<uint64_t> accepted{0}, connected{0}, connect_failures{0}, rejected{0}, active{0};
  ProxyStats Read() const {
    ProxyStats s;
    s.accepted = accepted;
    s.connected = connected;
    s.connect_failures = connect_failures;
    s.rejected = rejected;
    s.active = active;
    return s;
  }
};

// A service's strategy and the endpoints that recently refused, shared by
// its listener and every connection it made (which may outlive both).
class Balancer {
 public:
  Balancer(std::string name, StrategyKind kind, uint64_t seed, std::chrono::milliseconds fail_timeout)
      : name_(std::move(name)), seed_(seed), fail_timeout_(fail_timeout), strategy_(MakeStrategy(kind, seed)) {}

  const std::string& name() const { return name_; }

  void Set(StrategyKind kind, std::vector<Endpoint> endpoints) {
    std::lock_guard lk(mu_);
    if (strategy_->kind() != kind) {
      auto next = MakeStrategy(kind, seed_);
      // Open connections keep their accounting across the switch.
      for (const auto& e : strategy_->endpoints()) {
        for (int i = strategy_->Active(e.id); i > 0; --i) next->OnConnect(e.id);
      }
      strategy_ = std::move(next);
    }
    // An endpoint gone from the service takes its counts along.
    std::set<std::string> now;
    for (const auto& e : endpoints) now.insert(e.id);
    for (auto it = endpoint_counts_.begin(); it != endpoint_counts_.end();) {
      it = now.count(it->first) ? std::next(it) : endpoint_counts_.erase(it);
    }
    strategy_->SetEndpoints(std::move(endpoints));
  }

  // The service's own counts (the proxy's are their sum); bytes by
  // direction: [0] client -> endpoint, [1] endpoint -> client.
  Counters& counts() { return counts_; }
  void AddBytes(int dir, std::size_t n) { bytes_[dir].fetch_add(n, std::memory_order_relaxed); }
  void CountEndpoint(const Endpoint& e, bool connected) {
    std::lock_guard lk(mu_);
    auto& c = endpoint_counts_[e.id];
    ++(connected ? c.connections : c.connect_failures);
  }
  ServiceStats Read() const {
    ServiceStats s;
    s.name = name_;
    s.counts = counts_.Read();
    s.bytes_to_endpoints = bytes_[0].load(std::memory_order_relaxed);
    s.bytes_to_clients = bytes_[1].load(std::memory_order_relaxed);
    std::lock_guard lk(mu_);
    for (const auto& e : strategy_->endpoints()) {
      EndpointStats es;
      es.address = e.host + ":" + std::to_string(e.port);
      if (auto it = endpoint_counts_.find(e.id); it != endpoint_counts_.end()) {
        es.connections = it->second.connections;
        es.connect_failures = it->second.connect_failures;
      }
      es.active = static_cast<uint64_t>(std::max(0, strategy_->Active(e.id)));
      s.endpoints.push_back(std::move(es));
    }
    return s;
  }

  // The next endpoint not yet tried; endpoints that refused lately only
  // when nothing else is left. The pick counts as an active connection
  // until Release.
  std::optional<Endpoint> Pick(const std::set<std::string>& tried) {
    std::lock_guard lk(mu_);
    auto now = Clock::now();
    std::set<std::string> skip = tried;
    for (auto it = failed_until_.begin(); it != failed_until_.end();) {
      if (it->second <= now) {
        it = failed_until_.erase(it);
      } else {
        skip.insert(it->first);
        ++it;
      }
    }
    auto e = strategy_->Pick(skip);
    if (!e && skip.size() != tried.size()) e = strategy_->Pick(tried);
    if (e) strategy_->OnConnect(e->id);
    return e;
  }
  void Release(const std::string& id) {
    std::lock_guard lk(mu_);
    strategy_->OnDisconnect(id);
  }
  void Failed(const std::string& id) {
    std::lock_guard lk(mu_);
    failed_until_[id] = Clock::now() + fail_timeout_;
  }
  void Succeeded(const std::string& id) {
    std::lock_guard lk(mu_);
    failed_until_.erase(id);
  }
  int Active(const std::string& id) const {
    std::lock_guard lk(mu_);
    return strategy_->Active(id);
  }

 private:
  const std::string name_;
  const uint64_t seed_;
  const std::chrono::milliseconds fail_timeout_;
  mutable std::mutex mu_;
  std::unique_ptr<Strategy> strategy_;                  // GUARDED_BY(mu_)
  std::map<std::string, Clock::time_point> failed_until_;  // GUARDED_BY(mu_)
  struct EndpointCounts {
    uint64_t connections = 0, connect_failures = 0;
  };
  std::map<std::string, EndpointCounts> endpoint_counts_;  // GUARDED_BY(mu_), by endpoint id
  Counters counts_;
  std::atomic<uint64_t> bytes_[2]{};
};

struct SessionOptions {
  std::chrono::milliseconds connect_timeout;
  std::chrono::milliseconds idle_timeout;
  std::size_t buffer_size;
};

// One client connection and its upstream, all on one strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket client, std::shared_ptr<Balancer> bal, std::shared_ptr<Counters> counters,
          const SessionOptions& opts)
      : client_(std::move(client)),
        upstream_(client_.get_executor()),
        timer_(client_.get_executor()),
        bal_(std::move(bal)),
        counters_(std::move(counters)),
        opts_(opts),
        buf_{std::make_unique<char[]>(opts.buffer_size), std::make_unique<char[]>(opts.buffer_size)} {}

  ~Session() { Close(); }

  // Called from the listener's strand: everything else of this pair runs
  // on its own executor.
  void Start() {
    boost::system::error_code ec;
    client_.set_option(tcp::no_delay(true), ec);
    asio::dispatch(client_.get_executor(), [self = shared_from_this()] { self->TryConnect(); });
  }

 private:
  tcp::socket& From(int dir) { return dir == 0 ? client_ : upstream_; }
  tcp::socket& To(int dir) { return dir == 0 ? upstream_ : client_; }

  void TryConnect() {
    if (closed_) return;
    for (;;) {
      auto e = bal_->Pick(tried_);
      if (!e) {
        counters_->rejected++;
        bal_->counts().rejected++;
        spdlog::warn("lb {}: no endpoint took the connection from {} (tried {})", bal_->name(),
                     Peer(), tried_.size());
        Close();
        return;
      }
      tried_.insert(e->id);
      boost::system::error_code ec;
      auto addr = asio::ip::make_address(e->host, ec);
      if (ec) {
        bal_->Release(e->id);
        spdlog::warn("lb {}: endpoint {} has no usable address \"{}\"", bal_->name(), e->id, e->host);
        continue;
      }
      endpoint_ = *e;
      holding_ = true;
      upstream_ = tcp::socket(client_.get_executor());
      uint64_t attempt = ++attempt_;
      timer_.expires_after(opts_.connect_timeout);
      timer_.async_wait([self = shared_from_this(), attempt](boost::system::error_code tec) {
        if (tec || self->closed_ || attempt != self->attempt_ || self->connected_) return;
        boost::system::error_code ignored;
        self->upstream_.close(ignored);  // completes the connect with an error
        self->timed_out_ = true;
      });
      upstream_.async_connect(tcp::endpoint(addr, e->port),
                              [self = shared_from_this(), attempt](boost::system::error_code cec) {
                                self->OnConnect(cec, attempt);
                              });
      return;
    }
  }

  void OnConnect(boost::system::error_code ec, uint64_t attempt) {
    if (closed_ || attempt != attempt_) return;
    if (ec) {
      counters_->connect_failures++;
      bal_->counts().connect_failures++;
      bal_->CountEndpoint(endpoint_, false);
      spdlog::debug("lb {}: connect to {} ({}:{}) failed: {}", bal_->name(), endpoint_.id, endpoint_.host,
                    endpoint_.port, timed_out_ ? std::string("timed out") : ec.message());
      timed_out_ = false;
      bal_->Failed(endpoint_.id);
      bal_->Release(endpoint_.id);
      holding_ = false;
      TryConnect();
      return;
    }
    timer_.cancel();
    connected_ = true;
    bal_->Succeeded(endpoint_.id);
    counters_->connected++;
    counters_->active++;
    bal_->counts().connected++;
    bal_->counts().active++;
    bal_->CountEndpoint(endpoint_, true);
    boost::system::error_code ignored;
    upstream_.set_option(tcp::no_delay(true), ignored);
    client_.non_blocking(true, ignored);
    upstream_.non_blocking(true, ignored);
    last_activity_ = Clock::now();
    Read(0);
    Read(1);
    if (opts_.idle_timeout.count() > 0) ArmIdle(opts_.idle_timeout);
  }

  void Read(int dir) {
    From(dir).async_read_some(asio::buffer(buf_[dir].get(), opts_.buffer_size),
                              [self = shared_from_this(), dir](boost::system::error_code ec, std::size_t n) {
                                self->OnRead(dir, ec, n);
                              });
  }

  void OnRead(int dir, boost::system::error_code ec, std::size_t n) {
    if (closed_) return;
    if (n > 0) {
      last_activity_ = Clock::now();
      bal_->AddBytes(dir, n);
      Forward(dir, n);
      return;
    }
    if (ec == asio::error::eof) {
      // Half-close: the other side learns this one will send no more.
      done_[dir] = true;
      boost::system::error_code ignored;
      To(dir).shutdown(tcp::socket::shutdown_send, ignored);
      if (done_[0] && done_[1]) Close();
      return;
    }
    Close();
  }

  // Writes what was read; the next read waits for this write to complete
  // (back-pressure). The write is tried at once (the sockets are
  // non-blocking): on loopback and fast links it completes without a trip
  // through the reactor; what the peer cannot take yet is written
  // asynchronously.
  void Forward(int dir, std::size_t n) {
    std::size_t off = 0;
    boost::system::error_code ec;
    while (off < n) {
      std::size_t m = To(dir).write_some(asio::buffer(buf_[dir].get() + off, n - off), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        asio::async_write(To(dir), asio::buffer(buf_[dir].get() + off, n - off),
                          [self = shared_from_this(), dir](boost::system::error_code wec, std::size_t) {
                            if (self->closed_) return;
                            if (wec) return self->Close();
                            self->last_activity_ = Clock::now();
                            self->Read(dir);
                          });
        return;
      }
      if (ec) return Close();
      off += m;
    }
    Read(dir);
  }

  void ArmIdle(std::chrono::milliseconds after) {
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->closed_) return;
      auto idle = Clock::now() - self->last_activity_;
      if (idle >= self->opts_.idle_timeout) {
        spdlog::debug("lb {}: closing connection from {} to {}: idle", self->bal_->name(), self->Peer(),
                      self->endpoint_.id);
        self->Close();
        return;
      }
      self->ArmIdle(std::chrono::duration_cast<std::chrono::milliseconds>(self->opts_.idle_timeout - idle) +
                    std::chrono::milliseconds(1));
    });
  }

  std::string Peer() const {
    boost::system::error_code ec;
    auto ep = client_.remote_endpoint(ec);
    return ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    client_.close(ignored);
    upstream_.close(ignored);
    if (holding_) bal_->Release(endpoint_.id);
    holding_ = false;
    if (connected_) {
      counters_->active--;
      bal_->counts().active--;
    }
  }

  tcp::socket client_;
  tcp::socket upstream_;
  asio::steady_timer timer_;
  std::shared_ptr<Balancer> bal_;
  std::shared_ptr<Counters> counters_;
  const SessionOptions opts_;
  std::unique_ptr<char[]> buf_[2];  // [0] client -> upstream, [1] upstream -> client
  bool done_[2] = {false, false};
  std::set<std::string> tried_;
  Endpoint endpoint_;
  bool holding_ = false;  // endpoint_ counted as active in the balancer
  bool connected_ = false;
  bool timed_out_ = false;
  bool closed_ = false;
  uint64_t attempt_ = 0;
  Clock::time_point last_activity_;
};

// A service's acceptor. Accepted sockets get a strand of their own.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // With one io thread every handler already runs serially, so connections
  // skip the strand (and its locking).
  Listener(asio::io_context& io, bool single_thread, std::shared_ptr<Balancer> bal,
           std::shared_ptr<Counters> counters, SessionOptions opts)
      : io_(io),
        single_thread_(single_thread),
        strand_(asio::make_strand(io)),
        acceptor_(strand_),
        retry_(strand_),
        bal_(std::move(bal)),
        counters_(std::move(counters)),
        opts_(opts) {}

  Status Bind(const std::string& host, uint16_t port) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (ec) return Status::InvalidArgument("bind address \"" + host + "\" is not an IP address");
    tcp::endpoint ep(addr, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      return Status::Unavailable("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint(ec).port();
    return Status::Ok();
  }

  void Start() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->Accept(); });
  }

  void Stop() {
    asio::dispatch(strand_, [self = shared_from_this()] {
      boost::system::error_code ignored;
      self->stopped_ = true;
      self->acceptor_.close(ignored);
      self->retry_.cancel();
    });
  }

  uint16_t port() const { return port_; }
  const std::shared_ptr<Balancer>& balancer() const { return bal_; }

 private:
  void Accept() {
    if (stopped_) return;
    asio::any_io_executor ex = single_thread_ ? asio::any_io_executor(io_.get_executor())
                                              : asio::any_io_executor(asio::make_strand(io_));
    acceptor_.async_accept(ex, [self = shared_from_this()](boost::system::error_code ec, tcp::socket s) {
      if (self->stopped_ || ec == asio::error::operation_aborted) return;
      if (ec) {
        // E.g. out of file descriptors: pause instead of spinning.
        spdlog::warn("lb {}: accept failed: {}", self->bal_->name(), ec.message());
        self->retry_.expires_after(std::chrono::milliseconds(100));
        self->retry_.async_wait([self](boost::system::error_code tec) {
          if (!tec) self->Accept();
        });
        return;
      }
      self->counters_->accepted++;
      self->bal_->counts().accepted++;
      std::make_shared<Session>(std::move(s), self->bal_, self->counters_, self->opts_)->Start();
      self->Accept();
    });
  }

  asio::io_context& io_;
  const bool single_thread_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  std::shared_ptr<Balancer> bal_;
  std::shared_ptr<Counters> counters_;
  const SessionOptions opts_;
  uint16_t port_ = 0;
  bool stopped_ = false;  // on the strand
};

// Host names become numeric addresses once per update, off the io threads.
std::string ResolveHost(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) return host;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return host;
  char buf[NI_MAXHOST];
  std::string out = host;
  if (::getnameinfo(res->ai_addr, res->ai_addrlen, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST) == 0) out = buf;
  ::freeaddrinfo(res);
  return out;
}

class ProxyImpl final : public Proxy {
 public:
  explicit ProxyImpl(const ProxyOptions& o)
      : opts_(o), io_(std::make_unique<asio::io_context>(Threads())), counters_(std::make_shared<Counters>()) {}
  ~ProxyImpl() override { Shutdown(); }

  void Run() {
    guard_.emplace(asio::make_work_guard(*io_));
    for (int i = 0; i < Threads(); ++i) {
      threads_.emplace_back([this] { io_->run(); });
    }
  }

  Status Update(const std::vector<ServiceConfig>& services) override {
    std::vector<ServiceConfig> resolved = services;
    for (auto& s : resolved) {
      for (auto& e : s.endpoints) e.host = ResolveHost(e.host);
    }
    std::lock_guard lk(mu_);
    if (stopped_) return Status::FailedPrecondition("load balancer is shut down");
    std::vector<std::string> problems;
    std::set<std::string> wanted;
    for (auto& s : resolved) wanted.insert(s.name);
    for (auto it = listeners_.begin(); it != listeners_.end();) {
      auto want = std::find_if(resolved.begin(), resolved.end(), [&](const ServiceConfig& s) {
        return s.name == it->first;
      });
      bool moved = want != resolved.end() && want->listen != 0 && want->listen != it->second.listener->port();
      if (want == resolved.end() || moved) {
        spdlog::info("lb {}: stopped listening on {} ({}); open connections finish", it->first,
                     it->second.listener->port(), want == resolved.end() ? "service gone" : "port changed");
        it->second.listener->Stop();
        it = listeners_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& s : resolved) {
      auto it = listeners_.find(s.name);
      if (it != listeners_.end()) {
        if (it->second.endpoints != s.endpoints || it->second.strategy != s.strategy) {
          spdlog::info("lb {}: {} endpoint(s), {}", s.name, s.endpoints.size(), StrategyName(s.strategy));
          it->second.endpoints = s.endpoints;
          it->second.strategy = s.strategy;
          it->second.listener->balancer()->Set(s.strategy, s.endpoints);
        }
        continue;
      }
      auto bal = std::make_shared<Balancer>(s.name, s.strategy, opts_.seed, opts_.fail_timeout);
      bal->Set(s.strategy, s.endpoints);
      auto l = std::make_shared<Listener>(*io_, Threads() == 1, bal, counters_, SessionOpts());
      Status st = l->Bind(opts_.bind, s.listen);
      if (!st.ok()) {
        spdlog::warn("lb {}: not served: {}", s.name, st.message());
        problems.push_back(s.name + ": " + st.message());
        continue;
      }
      l->Start();
      spdlog::info("lb {}: listening on {}:{}, {} endpoint(s), {}", s.name, opts_.bind, l->port(),
                   s.endpoints.size(), StrategyName(s.strategy));
      listeners_[s.name] = Entry{l, s.listen, s.strategy, s.endpoints};
    }
    if (problems.empty()) return Status::Ok();
    std::string msg = problems[0];
    for (std::size_t i = 1; i < problems.size(); ++i) msg += "; " + problems[i];
    return Status::Unavailable(msg);
  }

  uint16_t ListenPort(const std::string& service) const override {
    std::lock_guard lk(mu_);
    auto it = listeners_.find(service);
    return it == listeners_.end() ? 0 : it->second.listener->port();
  }

  int ActiveConnections(const std::string& service, const std::string& id) const override {
    std::lock_guard lk(mu_);
    auto it = listeners_.find(service);
    return it == listeners_.end() ? 0 : it->second.listener->balancer()->Active(id);
  }

  std::vector<ServiceStats> PerService() const override {
    std::lock_guard lk(mu_);
    std::vector<ServiceStats> out;
    for (const auto& [name, entry] : listeners_) out.push_back(entry.listener->balancer()->Read());
    return out;
  }

  ProxyStats Stats() const override { return counters_->Read(); }

  void Shutdown() override {
    std::map<std::string, Entry> listeners;
    {
      std::lock_guard lk(mu_);
      if (stopped_) return;
      stopped_ = true;
      listeners.swap(listeners_);
    }
    for (auto& [name, e] : listeners) e.listener->Stop();
    guard_.reset();
    io_->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    listeners.clear();
    // Destroys every pending handler, and with them the connections.
    io_.reset();
  }

 private:
  struct Entry {
    std::shared_ptr<Listener> listener;
    uint16_t listen = 0;
    StrategyKind strategy;
    std::vector<Endpoint> endpoints;
  };

  int Threads() const {
    if (opts_.io_threads > 0) return opts_.io_threads;
    return std::max(1u, std::thread::hardware_concurrency());
  }
  SessionOptions SessionOpts() const {
    return SessionOptions{opts_.connect_timeout, opts_.idle_timeout, std::max<std::size_t>(opts_.buffer_size, 512)};
  }

  const ProxyOptions opts_;
  std::unique_ptr<asio::io_context> io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::shared_ptr<Counters> counters_;
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> listeners_;  // GUARDED_BY(mu_)
  bool stopped_ = false;                    // GUARDED_BY(mu_)
};

}  // namespace

Result<std::unique_ptr<Proxy>> Proxy::Start(const ProxyOptions& options) {
  boost::system::error_code ec;
  asio::ip::make_address(options.bind, ec);
  if (ec) return Status::InvalidArgument("lb bind address \"" + options.bind + "\" is not an IP address");
  auto p = std::make_unique<ProxyImpl>(options);
  p->Run();
  return std::unique_ptr<Proxy>(std::move(p));
}

}  // namespace orch::agent::lb
