// Rng: a small, fast, seeded generator (splitmix64) whose sequence is the
// same on every platform, so the same seed gives the same plan.
// Thread safety: a plain value; one owner.
#pragma once

#include <cstdint>

namespace orch::master::sched {

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (n > 0).
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t s_;
};

}  // namespace orch::master::sched
