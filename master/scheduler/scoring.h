// The scoring terms, each in [0, 1] (higher is better), and their weighted
// mean. Pure arithmetic so each can be checked by hand:
//  - BinPack (Nomad's BestFit v3): with free fractions after placement fc,
//    fm: (20 - (10^fc + 10^fm)) / 18 -- 1 for a node filled exactly, 0 for
//    an empty one.
//  - Balance (Tetris's alignment, Grandl et al., SIGCOMM 2014): the cosine
//    between the request (rc, rm) and the node's free resources (fc, fm),
//    each a fraction of the node's capacity: (rc*fc + rm*fm) /
//    (|r| |f|). 1 when the node has left what the request is heavy in
//    (a memory-heavy request goes where cpu-heavy work left memory free),
//    0 when the node has none of it; independent of how full the node is,
//    so it complements BinPack instead of fighting it.
//  - Load (Trimaran TargetLoadPacking): predicted cpu utilisation U (in %)
//    = (measured + not-yet-measured placements + request) / capacity;
//    ((100 - T) * U / T + T) / 100 up to the target T, then
//    T * (100 - U) / (100 - T) / 100, and 0 above 100%.
//  - AntiAffinity: 1 / (1 + allocations of the same job on the node).
//  - Spread: (desired - current) / desired for the node's attribute value,
//    clamped to [0, 1]; 0 when the value is not wanted.
// Thread safety: pure functions.
#pragma once

#include <cstdint>

namespace orch::master::sched {

double BinPackScore(int64_t cpu_cap, int64_t mem_cap, int64_t cpu_used, int64_t mem_used, int64_t cpu_req,
                    int64_t mem_req);
double BalanceScore(int64_t cpu_cap, int64_t mem_cap, int64_t cpu_used, int64_t mem_used, int64_t cpu_req,
                    int64_t mem_req);
double LoadScore(int64_t cpu_cap, double measured_cpu, double cpu_req, double target_percent);
double AntiAffinityScore(int same_job_here);
double SpreadScore(double desired, double current);

}  // namespace orch::master::sched
