// LocalLog: a single-member ReplicatedLog. Each command is appended to a
// durable log (raft.db, synchronous=FULL) before it is applied, so an
// acknowledged write survives a crash; on open, entries the state machine has
// not applied yet are replayed. It stands in until Raft implements the same
// interface with a quorum.
// Thread safety: thread-safe; proposals are serialised.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "master/log/replicated_log.h"
#include "master/state/sqlite.h"
#include "master/state/state_store.h"

namespace orch::master {

class LocalLog : public ReplicatedLog {
 public:
  // `store` must outlive the log. Replays unapplied entries before returning.
  static Result<std::unique_ptr<LocalLog>> Open(const std::string& path, std::string member_id,
                                                StateStore* store);

  Result<uint64_t> Propose(const v1::Command& cmd, std::chrono::milliseconds timeout) override;
  Status ReadBarrier(std::chrono::milliseconds) override { return Status::Ok(); }
  bool IsLeader() const override { return true; }
  std::string LeaderId() const override { return member_id_; }
  void Close() override;

  uint64_t LastIndex() const;

 private:
  LocalLog(std::unique_ptr<sqlite::Db> db, std::string member_id, StateStore* store)
      : db_(std::move(db)), member_id_(std::move(member_id)), store_(store) {}
  Status Replay();
  Status Compact(uint64_t upto);

  mutable std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;
  std::string member_id_;
  StateStore* store_;
  uint64_t last_index_ = 0;
  bool closed_ = false;
};

}  // namespace orch::master
