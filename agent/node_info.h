// The node this agent advertises: a persistent identity (a UUID kept in
// <data_dir>/node-id, so a restarted agent is the same node), attributes
// (os, arch, kernel, cpu cores and MHz, memory, hostname, drivers, labels)
// and capacity (detected unless given).
// Thread safety: stateless functions.
#pragma once

#include <string>

#include "agent/config.h"
#include "common/status.h"
#include "orch/v1/types.pb.h"

namespace orch::agent {

// Reads <data_dir>/node-id, or creates it with a new UUID.
Result<std::string> LoadOrCreateNodeId(const std::string& data_dir);
// The node's secret (<data_dir>/node-secret, 0600, made on first start):
// it binds the node id to this agent at the masters.
Result<std::string> LoadOrCreateNodeSecret(const std::string& data_dir);

// cpu millicores (online CPUs x 1000) and memory MiB (MemTotal).
v1::Resources DetectCapacity();

// MiB free to unprivileged users on `dir`'s filesystem; 0 if unknown.
int64_t FreeDiskMiB(const std::string& dir);

// Clock of one core in MHz (cpufreq's maximum, else /proc/cpuinfo); 0 if
// unknown.
int64_t DetectCpuMhz();

// The hostname, or "localhost" if it cannot be read.
std::string Hostname();

// The Node to register: `address` is the agent's HTTP address
// ("http://127.0.0.1:4650"); `drivers` the drivers actually available.
v1::Node DescribeNode(const AgentConfig& cfg, const std::string& node_id,
                      const std::string& address, const std::vector<std::string>& drivers);

}  // namespace orch::agent
