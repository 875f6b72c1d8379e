#include "agent/lb/strategy.h"

#include <algorithm>

namespace orch::agent::lb {

const char* StrategyName(StrategyKind k) {
  switch (k) {
    case StrategyKind::kRandom: return "random";
    case StrategyKind::kRoundRobin: return "round_robin";
    case StrategyKind::kWeighted: return "weighted";
    case StrategyKind::kLeastConnections: return "least_connections";
  }
  return "?";
}

void Strategy::SetEndpoints(std::vector<Endpoint> endpoints) {
  std::map<std::string, std::size_t> old;
  for (std::size_t i = 0; i < endpoints_.size(); ++i) old[endpoints_[i].id] = i;
  std::vector<std::size_t> old_index;
  old_index.reserve(endpoints.size());
  for (auto& e : endpoints) {
    if (e.weight < 1) e.weight = 1;
    auto it = old.find(e.id);
    old_index.push_back(it == old.end() ? static_cast<std::size_t>(-1) : it->second);
  }
  endpoints_ = std::move(endpoints);
  // Forget counts of endpoints that are gone and have nothing open.
  for (auto it = active_.begin(); it != active_.end();) {
    bool present = std::any_of(endpoints_.begin(), endpoints_.end(),
                               [&](const Endpoint& e) { return e.id == it->first; });
    it = (!present && it->second <= 0) ? active_.erase(it) : std::next(it);
  }
  Remap(old_index);
}

std::optional<Endpoint> Strategy::Pick(const std::set<std::string>& skip) {
  std::vector<std::size_t> eligible;
  eligible.reserve(endpoints_.size());
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    if (!skip.count(endpoints_[i].id)) eligible.push_back(i);
  }
  if (eligible.empty()) return std::nullopt;
  return endpoints_[Choose(eligible)];
}

void Strategy::OnConnect(const std::string& id) { ++active_[id]; }

void Strategy::OnDisconnect(const std::string& id) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  if (--it->second <= 0) {
    bool present = std::any_of(endpoints_.begin(), endpoints_.end(),
                               [&](const Endpoint& e) { return e.id == id; });
    if (present) {
      it->second = 0;
    } else {
      active_.erase(it);
    }
  }
}

int Strategy::Active(const std::string& id) const {
  auto it = active_.find(id);
  return it == active_.end() ? 0 : it->second;
}

namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// A cursor into the endpoint list that survives set updates: it resumes
// after the endpoint picked last when that one is still there.
class Cursor {
 public:
  // The first of `eligible` at or after the cursor, cyclically, for which
  // `better(candidate, best)` never finds a better one.
  template <typename Better>
  std::size_t Scan(const std::vector<std::size_t>& eligible, std::size_t n, Better better) const {
    std::size_t start = n == 0 ? 0 : next_ % n;
    auto first = std::lower_bound(eligible.begin(), eligible.end(), start);
    std::size_t best = kNone;
    for (std::size_t k = 0; k < eligible.size(); ++k) {
      std::size_t pos = static_cast<std::size_t>(first - eligible.begin()) + k;
      std::size_t i = eligible[pos % eligible.size()];
      if (best == kNone || better(i, best)) best = i;
    }
    return best;
  }
  void Picked(std::size_t i) { next_ = i + 1; last_ = i; }
  void Remap(const std::vector<std::size_t>& old_index) {
    std::size_t n = old_index.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (last_ != kNone && old_index[i] == last_) {
        next_ = i + 1;
        last_ = i;
        return;
      }
    }
    last_ = kNone;
    next_ = n == 0 ? 0 : next_ % n;
  }

 private:
  std::size_t next_ = 0;
  std::size_t last_ = kNone;
};

class RoundRobin final : public Strategy {
 public:
  RoundRobin() : Strategy(StrategyKind::kRoundRobin) {}

 protected:
  std::size_t Choose(const std::vector<std::size_t>& eligible) override {
    std::size_t i = cursor_.Scan(eligible, endpoints_.size(), [](std::size_t, std::size_t) { return false; });
    cursor_.Picked(i);
    return i;
  }
  void Remap(const std::vector<std::size_t>& old_index) override { cursor_.Remap(old_index); }

 private:
  Cursor cursor_;
};

class LeastConnections final : public Strategy {
 public:
  LeastConnections() : Strategy(StrategyKind::kLeastConnections) {}

 protected:
  std::size_t Choose(const std::vector<std::size_t>& eligible) override {
    std::size_t i = cursor_.Scan(eligible, endpoints_.size(), [this](std::size_t a, std::size_t b) {
      return Active(endpoints_[a].id) < Active(endpoints_[b].id);
    });
    cursor_.Picked(i);
    return i;
  }
  void Remap(const std::vector<std::size_t>& old_index) override { cursor_.Remap(old_index); }

 private:
  Cursor cursor_;
};

// nginx's smooth weighted round-robin: every pick adds each endpoint's
// weight to its current value, takes the largest, and subtracts the total
// from the winner.
class Weighted final : public Strategy {
 public:
  Weighted() : Strategy(StrategyKind::kWeighted) {}

 protected:
  std::size_t Choose(const std::vector<std::size_t>& eligible) override {
    int64_t total = 0;
    std::size_t best = kNone;
    for (std::size_t i : eligible) {
      current_[i] += endpoints_[i].weight;
      total += endpoints_[i].weight;
      if (best == kNone || current_[i] > current_[best]) best = i;
    }
    current_[best] -= total;
    return best;
  }
  void Remap(const std::vector<std::size_t>& old_index) override {
    std::vector<int64_t> next(old_index.size(), 0);
    for (std::size_t i = 0; i < old_index.size(); ++i) {
      if (old_index[i] != kNone) next[i] = current_[old_index[i]];
    }
    current_ = std::move(next);
  }

 private:
  std::vector<int64_t> current_;
};

class Random final : public Strategy {
 public:
  explicit Random(uint64_t seed)
      : Strategy(StrategyKind::kRandom), rng_(seed != 0 ? seed : std::random_device{}()) {}

 protected:
  std::size_t Choose(const std::vector<std::size_t>& eligible) override {
    std::uniform_int_distribution<std::size_t> d(0, eligible.size() - 1);
    return eligible[d(rng_)];
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace

std::unique_ptr<Strategy> MakeStrategy(StrategyKind kind, uint64_t seed) {
  switch (kind) {
    case StrategyKind::kRandom: return std::make_unique<Random>(seed);
    case StrategyKind::kRoundRobin: return std::make_unique<RoundRobin>();
    case StrategyKind::kWeighted: return std::make_unique<Weighted>();
    case StrategyKind::kLeastConnections: return std::make_unique<LeastConnections>();
  }
  return std::make_unique<RoundRobin>();
}

}  // namespace orch::agent::lb
