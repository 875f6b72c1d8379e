// StateMachine: what the replication layer needs of the state it
// replicates (in the shape of NuRaft's state_machine): committed commands
// applied in log order, the index applied so far, an image of the whole
// state out (a snapshot) and in (restore), and the membership kept with the
// state. The master's StateStore (master/state) implements it; RaftNode
// sees nothing else of it.
// Thread safety: implementations are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "orch/v1/command.pb.h"
#include "orch/v1/types.pb.h"

namespace orch::replication {

// A consistent image of the state as of one applied index, serialized on
// another thread while applies go on.
class StateImage {
 public:
  virtual ~StateImage() = default;
  virtual Result<std::string> Serialize() = 0;
  virtual uint64_t applied() const = 0;
};

class StateMachine {
 public:
  struct Entry {
    uint64_t index;
    const v1::Command* cmd;  // nullptr: only advances the applied index
  };

  virtual ~StateMachine() = default;

  // Applies consecutive committed entries (above AppliedIndex()) as one
  // step; `outcomes` gets each command's own result. A state machine may
  // keep several batches in one open transaction until CommitApplied: a
  // crash, or an error here (after which the node stops), loses them all,
  // and the Raft log replays them.
  virtual Status ApplyBatch(const std::vector<Entry>& entries, std::vector<Status>* outcomes) = 0;
  // Commits what the batches so far applied. An error means the state
  // cannot be written.
  virtual Status CommitApplied() { return Status::Ok(); }
  // Called once a tick between applies: commits when the open batches have
  // waited long enough (the state machine's own interval), so a quiet
  // master does not keep them open, while a busy one commits seldom.
  virtual Status CommitAppliedIfDue() { return CommitApplied(); }
  // Records that `index` was applied without a command of its own.
  virtual Status MarkApplied(uint64_t index) = 0;
  virtual uint64_t AppliedIndex() const = 0;
  // Returns once AppliedIndex() > index or `timeout` passed; AppliedIndex().
  virtual uint64_t WaitForIndexAbove(uint64_t index, std::chrono::milliseconds timeout) = 0;

  // An image of the whole state as of now (AppliedIndex()), on this thread.
  virtual Result<std::string> SerializeImage() const = 0;
  // An image as of AppliedIndex(), to serialize on another thread; call
  // between applies. `state_index` (when given) receives the index clients
  // see for it.
  virtual Result<std::unique_ptr<StateImage>> BeginImageRead(uint64_t* state_index) const = 0;
  // Replaces the whole state with `image` (a snapshot); AppliedIndex()
  // becomes the image's.
  virtual Status RestoreImage(const std::string& image) = 0;

  // The membership, kept with the state so that a snapshot carries it.
  virtual Status ApplyMembership(uint64_t index, const v1::Member& member, bool removed) = 0;
  virtual std::vector<v1::Member> ListMembers() const = 0;
};

}  // namespace orch::replication
