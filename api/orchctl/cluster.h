// `orchctl cluster`: the masters' Raft quorum — list members, show the
// leader, add (learner first, then promote once caught up), promote, remove,
// and hand over leadership. Printing follows commands.h: progress and
// results as lines for table output, the API's answer for json/yaml.
// Thread safety: as commands.h, one Context per command on one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "api/orchctl/commands.h"
#include "common/status.h"

namespace orch::ctl {

// A learner counts as caught up once its match index is within this many
// entries of the leader's own.
inline constexpr uint64_t kCatchUpEntries = 100;

struct ClusterAddOptions {
  std::string id;
  std::string raft_address;  // host:port, validated by the caller
  std::string http_address;  // http://host:port or empty
  // Stop once it is a learner; never promote.
  bool learner = false;
  // Without learner: add as a learner, wait until it caught up, then
  // promote. false adds it as a voter at once.
  bool wait = true;
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};  // of the catch-up wait
  std::chrono::milliseconds poll{std::chrono::milliseconds(500)};
};

Status ClusterMembers(const Context& ctx);
Status ClusterLeader(const Context& ctx);
// `orchctl system gc`: "garbage collected: 3 evaluation(s), 2 allocation(s),
// 1 job(s), 0 deployment(s)".
Status SystemGc(const Context& ctx);
// With the default options: "m4 added as learner", "m4 caught up (match
// 1234/1240)", "m4 is a voter". A learner that does not catch up within the
// timeout stays a learner and the command fails with DeadlineExceeded.
Status ClusterAdd(const Context& ctx, const ClusterAddOptions& opts);
Status ClusterPromote(const Context& ctx, const std::string& id);
Status ClusterRemove(const Context& ctx, const std::string& id);
Status ClusterTransferLeader(const Context& ctx, const std::string& id);

// Checks --raft (host:port, port not 0) and --http (one http://host:port);
// InvalidArgument naming the flag otherwise.
Status ValidateMemberAddresses(const std::string& raft_address, const std::string& http_address);

}  // namespace orch::ctl
