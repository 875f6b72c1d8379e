#include "master/scheduler/scoring.h"

#include <algorithm>
#include <cmath>

namespace orch::master::sched {

double BinPackScore(int64_t cpu_cap, int64_t mem_cap, int64_t cpu_used, int64_t mem_used, int64_t cpu_req,
                    int64_t mem_req) {
  if (cpu_cap <= 0 || mem_cap <= 0) return 0;
  double fc = 1.0 - static_cast<double>(cpu_used + cpu_req) / static_cast<double>(cpu_cap);
  double fm = 1.0 - static_cast<double>(mem_used + mem_req) / static_cast<double>(mem_cap);
  fc = std::clamp(fc, 0.0, 1.0);
  fm = std::clamp(fm, 0.0, 1.0);
  constexpr double kLn10 = 2.302585092994046;
  double total = std::exp(fc * kLn10) + std::exp(fm * kLn10);
  return std::clamp((20.0 - total) / 18.0, 0.0, 1.0);
}

double BalanceScore(int64_t cpu_cap, int64_t mem_cap, int64_t cpu_used, int64_t mem_used, int64_t cpu_req,
                    int64_t mem_req) {
  if (cpu_cap <= 0 || mem_cap <= 0) return 0;
  double fc = std::clamp(1.0 - static_cast<double>(cpu_used) / static_cast<double>(cpu_cap), 0.0, 1.0);
  double fm = std::clamp(1.0 - static_cast<double>(mem_used) / static_cast<double>(mem_cap), 0.0, 1.0);
  double rc = std::max(0.0, static_cast<double>(cpu_req) / static_cast<double>(cpu_cap));
  double rm = std::max(0.0, static_cast<double>(mem_req) / static_cast<double>(mem_cap));
  double norm = std::sqrt((rc * rc + rm * rm) * (fc * fc + fm * fm));
  if (norm <= 0) return 0;
  return std::clamp((rc * fc + rm * fm) / norm, 0.0, 1.0);
}

double LoadScore(int64_t cpu_cap, double measured_cpu, double cpu_req, double target) {
  if (cpu_cap <= 0) return 0;
  double u = 100.0 * (measured_cpu + cpu_req) / static_cast<double>(cpu_cap);
  if (u < 0) u = 0;
  if (u > 100.0) return 0;
  if (u <= target) return ((100.0 - target) * u / target + target) / 100.0;
  return target * (100.0 - u) / (100.0 - target) / 100.0;
}

double AntiAffinityScore(int same_job_here) { return 1.0 / (1.0 + std::max(0, same_job_here)); }

double SpreadScore(double desired, double current) {
  if (desired <= 0) return 0;
  return std::clamp((desired - current) / desired, 0.0, 1.0);
}

}  // namespace orch::master::sched
