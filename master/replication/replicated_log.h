// ReplicatedLog: how the master changes state. A command is proposed, made
// durable (on a quorum, once Raft implements this interface), applied to the
// StateStore in log order, and only then acknowledged. The rest of the master
// sees nothing else of consensus.
// Thread safety: implementations are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"
#include "orch/v1/command.pb.h"

namespace orch::replication {

class ReplicatedLog {
 public:
  virtual ~ReplicatedLog() = default;

  // Returns the index at which `cmd` was committed and applied locally, or
  // the command's apply outcome if it was refused by the state machine
  // (e.g. NotFound), or Unavailable when there is no leader to take it, or
  // DeadlineExceeded when it could not be committed within `timeout` (it
  // may still commit later).
  virtual Result<uint64_t> Propose(const v1::Command& cmd, std::chrono::milliseconds timeout) = 0;
  // Propose without waiting: `done` gets what Propose would return, once,
  // from any thread (possibly before this returns). It must not block.
  // Unless a log does better, it is Propose, waited for here.
  using ProposeDone = std::function<void(Result<uint64_t>)>;
  virtual void ProposeThen(const v1::Command& cmd, std::chrono::milliseconds timeout,
                           ProposeDone done) {
    done(Propose(cmd, timeout));
  }

  // Propose for work no client waits on (the leader's plans): the log may
  // hold it a moment so that it shares a disk write with the next proposal
  // (RaftNode: RaftNodeOptions::background_linger). Unless a log does
  // better, it is Propose.
  virtual Result<uint64_t> ProposeBackground(const v1::Command& cmd,
                                             std::chrono::milliseconds timeout) {
    return Propose(cmd, timeout);
  }

  // Returns once the local state reflects every write acknowledged before the
  // call (a linearizable read barrier).
  virtual Status ReadBarrier(std::chrono::milliseconds timeout) = 0;

  // Whether this master currently leads (schedules, tracks heartbeats).
  virtual bool IsLeader() const = 0;
  virtual std::string LeaderId() const = 0;

  // Stops accepting proposals; pending ones fail with Unavailable.
  virtual void Close() = 0;
};

}  // namespace orch::replication
