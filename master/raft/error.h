// Error values returned by the Raft core and its Storage. The core never
// throws across its API: callers get an Error (or a Result<T>) and decide.
// Broken internal invariants (a bug, or a storage that lost acknowledged
// data) abort via RAFT_CHECK instead, as continuing could violate safety.
// Thread-safety: plain values; freely shareable.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace orch::raft {

enum class Error {
  kOk = 0,
  // Not leader (and forwarding impossible or disabled), leadership transfer
  // in progress, or the node was removed from the configuration.
  kProposalDropped,
  // A conf change is proposed while another one is not yet applied.
  kConfChangePending,
  // The requested index precedes the storage's first index (compacted away).
  kCompacted,
  // The requested index is beyond what storage holds.
  kUnavailable,
  // A snapshot older than the one already held was offered.
  kSnapOutOfDate,
  // The storage cannot produce a snapshot right now; the leader retries.
  kSnapshotTemporarilyUnavailable,
  // A local-only message type arrived from the network.
  kStepLocalMsg,
  // A response arrived from a peer that is not in the configuration.
  kStepPeerNotFound,
  kInvalidConfig,
};

inline const char* ErrorName(Error e) {
  switch (e) {
    case Error::kOk:
      return "ok";
    case Error::kProposalDropped:
      return "raft proposal dropped";
    case Error::kConfChangePending:
      return "a conf change is already pending";
    case Error::kCompacted:
      return "requested index is unavailable due to compaction";
    case Error::kUnavailable:
      return "requested entry at index is unavailable";
    case Error::kSnapOutOfDate:
      return "requested index is older than the existing snapshot";
    case Error::kSnapshotTemporarilyUnavailable:
      return "snapshot is temporarily unavailable";
    case Error::kStepLocalMsg:
      return "raft: cannot step raft local message";
    case Error::kStepPeerNotFound:
      return "raft: cannot step as peer not found";
    case Error::kInvalidConfig:
      return "raft: invalid config";
  }
  return "unknown";
}

// A value or an error. Kept tiny on purpose: the core only needs this much.
template <class T>
struct Result {
  Error error = Error::kOk;
  T value{};

  Result() = default;
  Result(T v) : value(std::move(v)) {}  // NOLINT: implicit on purpose
  Result(Error e) : error(e) {}         // NOLINT: implicit on purpose
  bool ok() const { return error == Error::kOk; }
};

}  // namespace orch::raft

// Aborts on a broken invariant. Such a state means a bug or lost durable
// data; going on could make two nodes disagree on committed entries.
#define RAFT_CHECK(cond)                                                                         \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "raft invariant violated at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)
