// DriverNetwork: the network of a driver simulation. Each machine gets a
// replication::Transport (as TcpTransport is) whose messages travel in
// order per pair of machines (one connection each way), after a random
// delay, with the limits of the real transport: at most `max_queue`
// messages waiting per peer (beyond it the message is dropped and the
// sender told the peer is unreachable), a snapshot reported delivered or
// failed, and a peer whose process died reported down to the others after
// a few milliseconds (its connections closed, a dial refused). Partitions
// are directed: a blocked pair drops what is sent and what is in flight.
// Thread safety: none (the simulation's one thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "master/replication/tcp_transport.h"
#include "master/replication/transport.h"

namespace orch::sim {

struct DriverNetworkOptions {
  uint64_t min_delay_ms = 1;
  uint64_t max_delay_ms = 4;
  double loss = 0.002;  // a connection reset: the message is lost, the sender told
  std::size_t max_queue = replication::TcpTransportOptions{}.max_queue_msgs;
};

struct DriverNetworkStats {
  uint64_t sent = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  uint64_t queue_full = 0;
  uint64_t snapshots_delivered = 0;
  uint64_t snapshots_failed = 0;
  uint64_t peer_down_reports = 0;

  DriverNetworkStats& operator+=(const DriverNetworkStats& o);
};

class DriverNetwork {
 public:
  DriverNetwork(std::mt19937_64* rng, DriverNetworkOptions opts) : rng_(rng), opts_(opts) {}

  // Connects machine `id` (its process started) and returns its transport;
  // the transport must not outlive the attachment.
  std::unique_ptr<replication::Transport> Attach(uint64_t id, replication::Transport::Callbacks cb);
  // Machine `id`'s process stopped: what is sent to it is lost; when
  // `report_down`, the others hear it is down (unless cut off from it).
  void Detach(uint64_t id, bool report_down);

  // Chance that a message is lost (a connection reset); 0 once faults stop.
  void set_loss(double loss) { opts_.loss = loss; }
  void Block(uint64_t from, uint64_t to) { blocked_.insert({from, to}); }
  void HealAll() { blocked_.clear(); }
  bool Blocked(uint64_t from, uint64_t to) const { return blocked_.count({from, to}) != 0; }

  // Delivers everything due at `now` (ms).
  void Deliver(uint64_t now);
  void set_now(uint64_t now) { now_ = now; }
  const DriverNetworkStats& stats() const { return stats_; }
  // Called with a line per message delivered or dropped (tracing a seed).
  void set_trace(std::function<void(const std::string&)> trace) { trace_ = std::move(trace); }

 private:
  class SimTransport;
  void Send(uint64_t from, std::vector<v1::Message> msgs);
  void Drop(uint64_t from, const v1::Message& m);
  bool Chance(double p) { return static_cast<double>((*rng_)() >> 11) * 0x1.0p-53 < p; }

  std::mt19937_64* rng_;
  DriverNetworkOptions opts_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  std::map<uint64_t, replication::Transport::Callbacks> up_;  // attached machines
  std::set<std::pair<uint64_t, uint64_t>> blocked_;
  // In flight, by (deliver_at, seq): the sending machine and the message.
  std::map<std::pair<uint64_t, uint64_t>, std::pair<uint64_t, v1::Message>> in_flight_;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> last_at_;  // FIFO per pair
  std::map<std::pair<uint64_t, uint64_t>, std::size_t> queued_;
  std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> peer_down_;  // (at, to, down)
  DriverNetworkStats stats_;
  std::function<void(const std::string&)> trace_;
};

}  // namespace orch::sim
