// Transport: how Raft messages travel between masters. The driver hands it
// the messages of a Ready (after persisting) and receives peers' messages
// through a callback. TcpTransport carries them as length-prefixed protobuf
// frames; tests use an in-process implementation with a controllable
// network.
// Thread safety: all methods are thread-safe; callbacks run on the
// transport's own threads and must not block for long.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "orch/v1/raft.pb.h"

namespace orch::replication {

class Transport {
 public:
  struct Callbacks {
    // A message from a peer, to Step into the node.
    std::function<void(orch::v1::Message)> on_message;
    // A MsgSnap to `to` was delivered whole (ok) or failed (!ok); the driver
    // reports it with RawNode::ReportSnapshot.
    std::function<void(uint64_t to, bool ok)> on_snapshot_status;
    // Sending to `to` failed (connection down); RawNode::ReportUnreachable.
    std::function<void(uint64_t to)> on_unreachable;
    // Nothing listens at peer `id`'s address any more (its connection
    // closed and a dial was refused): its process is gone, not merely
    // slow or cut off. A follower stops waiting for such a leader
    // (RawNode::ForgetLeader). Optional.
    std::function<void(uint64_t id)> on_peer_down;
  };

  virtual ~Transport() = default;

  // Where to reach peer `id` ("host:port"); replaces an earlier address.
  virtual void SetPeer(uint64_t id, const std::string& address) = 0;
  virtual void RemovePeer(uint64_t id) = 0;
  // Queues messages for their `to` peers and returns at once. Messages to
  // unknown peers, or beyond a peer's queue bound, are dropped (Raft
  // retransmits), and on_unreachable is reported.
  virtual void Send(std::vector<orch::v1::Message> msgs) = 0;
  // Stops accepting and sending; closes every connection. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace orch::replication
