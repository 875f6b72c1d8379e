// Load-balancing strategies: pure selection logic over a service's current
// endpoint set, with no I/O so each sequence is unit-testable.
//
//   random             uniform over the eligible endpoints (PRNG injectable
//                      by seed)
//   round_robin        in endpoint order, one after the other
//   weighted           smooth weighted round-robin (nginx): with weights
//                      5,1,1 the picks are a a b a c a a
//   least_connections  fewest active connections from this agent; ties are
//                      broken round-robin
//
// SetEndpoints replaces the set but keeps per-endpoint state (current
// weight, active connections) by endpoint id, so an update that changes
// nothing changes no sequence. Pick may skip endpoints the caller already
// tried (connect failure → next endpoint).
// OnConnect/OnDisconnect account active connections by id; a disconnect of
// an endpoint no longer in the set is remembered in case it comes back.
// Thread safety: none; the caller serialises (the proxy holds a mutex per
// service).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "agent/lb/endpoint.h"

namespace orch::agent::lb {

enum class StrategyKind { kRandom, kRoundRobin, kWeighted, kLeastConnections };

// "random", "round_robin", "weighted", "least_connections".
const char* StrategyName(StrategyKind k);

class Strategy {
 public:
  virtual ~Strategy() = default;

  StrategyKind kind() const { return kind_; }

  // Replaces the endpoint set (order matters for round-robin).
  void SetEndpoints(std::vector<Endpoint> endpoints);
  const std::vector<Endpoint>& endpoints() const { return endpoints_; }

  // The endpoint for the next connection among those not in `skip`, or
  // nullopt when none is left.
  std::optional<Endpoint> Pick(const std::set<std::string>& skip = {});

  void OnConnect(const std::string& id);
  void OnDisconnect(const std::string& id);
  int Active(const std::string& id) const;

 protected:
  explicit Strategy(StrategyKind kind) : kind_(kind) {}
  // Chooses an index into endpoints_ among `eligible` (non-empty, sorted).
  virtual std::size_t Choose(const std::vector<std::size_t>& eligible) = 0;
  // Called after SetEndpoints with the old index of every kept endpoint
  // (or npos for new ones), so subclasses can carry state over.
  virtual void Remap(const std::vector<std::size_t>& old_index) { (void)old_index; }

  std::vector<Endpoint> endpoints_;
  std::map<std::string, int> active_;  // by endpoint id

 private:
  StrategyKind kind_;
};

// `seed` feeds the random strategy's PRNG (tests fix it; 0 = from the
// system's entropy).
std::unique_ptr<Strategy> MakeStrategy(StrategyKind kind, uint64_t seed = 0);

}  // namespace orch::agent::lb
