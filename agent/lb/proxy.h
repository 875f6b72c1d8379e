// Proxy: the agent's TCP load balancer (DESIGN.md section 5). One acceptor
// per service on the service's listen port; every accepted connection is
// relayed full-duplex to an endpoint the service's strategy picks.
//
// - Each connection pair runs on its own strand; a few io threads serve all
//   (with one io thread, handlers are serial anyway and no strand is used).
// - Relay: one fixed buffer per direction, and the next read starts only
//   after the previous write completed; the write is tried in place first
//   and goes through the reactor only for what the peer cannot take yet
//   (back-pressure: a slow reader slows its writer, memory stays
//   bounded). EOF on one side shuts down sending on
//   the other (half-close); the pair closes when both directions ended or on
//   error or after the idle timeout.
// - Connect: bounded by the connect timeout; a failure tries the next
//   endpoint the strategy offers, so a client sees no error while any
//   endpoint accepts. An endpoint that failed is avoided for a short while.
// - Update: services and endpoints change atomically per service. Removed
//   endpoints get no new connections; connections already open to them
//   continue undisturbed (drain). A removed service closes its acceptor and
//   leaves its open connections alone.
// Asio stays inside proxy.cpp.
// Thread safety: all methods are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/lb/endpoint.h"
#include "agent/lb/strategy.h"
#include "common/status.h"

namespace orch::agent::lb {

struct ProxyOptions {
  std::string bind = "0.0.0.0";  // address every service's acceptor binds
  int io_threads = 0;            // 0: one per core
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds idle_timeout{300'000};  // 0: none
  // How long an endpoint that refused a connection is avoided (while others
  // remain).
  std::chrono::milliseconds fail_timeout{2000};
  std::size_t buffer_size = 16 * 1024;  // per direction per connection
  uint64_t seed = 0;                    // random strategy's PRNG; 0: entropy
};

struct ServiceConfig {
  std::string name;
  uint16_t listen = 0;  // 0 binds an ephemeral port (tests); see ListenPort
  StrategyKind strategy = StrategyKind::kRoundRobin;
  std::vector<Endpoint> endpoints;  // the healthy ones, in a stable order
};

struct ProxyStats {
  uint64_t accepted = 0;         // client connections accepted
  uint64_t connected = 0;        // pairs established
  uint64_t connect_failures = 0; // endpoint connect attempts that failed
  uint64_t rejected = 0;         // clients closed because no endpoint took them
  uint64_t active = 0;           // open pairs now
};

// One endpoint of a service as this proxy used it ("host:port").
struct EndpointStats {
  std::string address;
  uint64_t connections = 0;       // pairs established with it
  uint64_t connect_failures = 0;  // connects to it that failed
  uint64_t active = 0;            // open (or being opened) now
};

// One service's counts; its endpoints are the current ones (an endpoint
// gone from the service takes its counts along).
struct ServiceStats {
  std::string name;
  ProxyStats counts;
  uint64_t bytes_to_endpoints = 0;  // what clients sent
  uint64_t bytes_to_clients = 0;    // what endpoints answered
  std::vector<EndpointStats> endpoints;
};

class Proxy {
 public:
  virtual ~Proxy() = default;
  static Result<std::unique_ptr<Proxy>> Start(const ProxyOptions& options);

  // Makes the served services exactly `services`. A service whose port
  // cannot be bound is left out and named in the returned error; the others
  // are still served.
  virtual Status Update(const std::vector<ServiceConfig>& services) = 0;

  // The port a service's acceptor listens on (0 if not served).
  virtual uint16_t ListenPort(const std::string& service) const = 0;
  // Active connections from this proxy to an endpoint of a service.
  virtual int ActiveConnections(const std::string& service, const std::string& endpoint_id) const = 0;
  virtual ProxyStats Stats() const = 0;
  // Every served service's counts, by name.
  virtual std::vector<ServiceStats> PerService() const = 0;

  // Closes acceptors and every connection, joins the io threads. Idempotent.
  virtual void Shutdown() = 0;
};

}  // namespace orch::agent::lb
