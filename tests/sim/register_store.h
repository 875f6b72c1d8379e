// RegisterStore: the state machine a driver simulation replicates (a
// replication::StateMachine, as the master's StateStore is): registers
// keyed by name in an SQLite database (state.db, on whatever VFS is the
// default: SimDisk in a simulation), the applied index and the members
// kept with it, so its image passes the same checks a master's does
// (CheckSnapshotImage). A write is a RegisterJobCommand whose job id is the
// register and whose meta holds the value and the client's op id; an op id
// applied twice (a duplicated proposal) takes effect once, as client
// sessions would ensure.
// Thread safety: none (one simulated machine, one thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/sqlite.h"
#include "master/replication/state_machine.h"

namespace orch::sim {

class RegisterStore : public replication::StateMachine {
 public:
  // Called for every command applied (index > the applied index), with the
  // command's bytes: the simulation checks all members apply the same
  // command at each index.
  using ApplyObserver = std::function<void(uint64_t index, const std::string& cmd)>;

  static Result<std::unique_ptr<RegisterStore>> Open(const std::string& path,
                                                     ApplyObserver observer);

  // The command that writes `value` to register `key` as op `op_id`.
  static v1::Command WriteCommand(const std::string& key, const std::string& value, uint64_t op_id);
  // The value of register `key` ("" when never written).
  Result<std::string> Get(const std::string& key);
  // Every register, "key=value;..." in key order (to compare members).
  Result<std::string> Dump();

  Status ApplyBatch(const std::vector<Entry>& entries, std::vector<Status>* outcomes) override;
  Status MarkApplied(uint64_t index) override;
  uint64_t AppliedIndex() const override { return applied_; }
  uint64_t WaitForIndexAbove(uint64_t, std::chrono::milliseconds) override { return applied_; }
  Result<std::string> SerializeImage() const override;
  Result<std::unique_ptr<replication::StateImage>> BeginImageRead(
      uint64_t* state_index) const override;
  Status RestoreImage(const std::string& image) override;
  Status ApplyMembership(uint64_t index, const v1::Member& member, bool removed) override;
  std::vector<v1::Member> ListMembers() const override;

 private:
  RegisterStore(std::unique_ptr<sqlite::Db> db, ApplyObserver observer)
      : db_(std::move(db)), observer_(std::move(observer)) {}
  Status ApplyOne(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status SetApplied(uint64_t index);
  Status LoadApplied();

  std::unique_ptr<sqlite::Db> db_;
  ApplyObserver observer_;
  uint64_t applied_ = 0;
};

}  // namespace orch::sim
