#include "master/scheduler/config.h"

#include <cstdlib>
#include <sstream>

namespace orch::master::sched {

Status ApplyWeights(const std::string& spec, SchedulerConfig* cfg) {
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument("\"" + item + "\": expected term=weight (binpack, balance, load, "
                                     "anti_affinity, spread, target_load)");
    }
    std::string key = item.substr(0, eq), val = item.substr(eq + 1);
    char* end = nullptr;
    double w = std::strtod(val.c_str(), &end);
    if (val.empty() || *end != '\0' || w < 0) {
      return Status::InvalidArgument("\"" + item + "\": the weight must be a non-negative number");
    }
    if (key == "binpack") {
      cfg->w_binpack = w;
    } else if (key == "balance") {
      cfg->w_balance = w;
    } else if (key == "load") {
      cfg->w_load = w;
    } else if (key == "anti_affinity") {
      cfg->w_anti_affinity = w;
    } else if (key == "spread") {
      cfg->w_spread = w;
    } else if (key == "target_load") {
      if (w <= 0 || w >= 100) return Status::InvalidArgument("target_load: must be between 0 and 100");
      cfg->target_load = w;
    } else {
      return Status::InvalidArgument("\"" + key +
                                     "\": unknown term (binpack, balance, load, anti_affinity, spread, target_load)");
    }
  }
  return Status::Ok();
}

}  // namespace orch::master::sched
