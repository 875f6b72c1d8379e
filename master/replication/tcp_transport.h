// TcpTransport: the Transport between masters over TCP (DESIGN.md section 3).
// Each peer gets one outbound connection, dialled lazily by the sender and
// redialled with jittered exponential backoff; inbound connections only
// deliver to us. Frames are a 4-byte big-endian length, a 4-byte CRC-32 and
// an orch.v1.TransportFrame (api/proto/orch/v1/raft_transport.proto). A
// MsgSnap with large snapshot data travels as chunks and is delivered whole.
// Messages that cannot be sent (peer down, queue full) are dropped, since
// Raft retransmits; on_unreachable tells the driver.
// Asio stays inside tcp_transport.cpp.
// Thread safety: all methods are thread-safe. Callbacks run on the
// transport's single io thread, one at a time; they must not block and must
// not call Stop() (it joins that thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tls.h"
#include "master/replication/transport.h"

namespace orch::replication {

struct TcpTransportOptions {
  uint64_t self_id = 0;
  // This master's cluster id: written into every frame, and every inbound
  // frame must carry it (else the connection is dropped). 0 for a master
  // whose data predates cluster ids: it then sends none and checks none.
  uint64_t cluster_id = 0;
  std::string listen = "127.0.0.1:4647";   // host:port; port 0 picks a free one
  std::size_t max_frame_bytes = 16 << 20;  // larger frames are refused (connection dropped)
  std::size_t max_queue_msgs = 4096;       // per peer; beyond it, drop + on_unreachable
  // Snapshot data above this size is sent in chunks of this size.
  // REQUIRES: well below max_frame_bytes (Start checks).
  std::size_t snapshot_chunk_bytes = 1 << 20;
  std::chrono::milliseconds dial_timeout{1000}, backoff_min{50}, backoff_max{2000};
  // Data unacknowledged by a peer for this long breaks the connection
  // (TCP_USER_TIMEOUT), so a peer that vanished is noticed.
  std::chrono::milliseconds write_timeout{10000};
  // Inbound connections: at most this many in all and from one IP address
  // (more are closed at once), each closed when no whole frame arrived for
  // inbound_idle_timeout (peers send heartbeats many times a second).
  std::size_t max_inbound_conns = 64;
  std::size_t max_inbound_conns_per_ip = 8;
  std::chrono::milliseconds inbound_idle_timeout{30000};
  // The largest snapshot a peer may send us (its chunks' `total`).
  uint64_t max_snapshot_bytes = uint64_t{4} << 30;
  // Mutual TLS when set (common/tls.h): both ends of every connection must
  // hold a certificate of the cluster CA naming server.orch (a master's).
  orch::TlsFiles tls;
};

// Counters since Start, for metrics and tests.
struct TcpTransportStats {
  uint64_t sent_msgs = 0;       // messages written to a socket
  uint64_t dropped_msgs = 0;    // messages dropped: unknown peer, peer down, queue full
  uint64_t received_msgs = 0;   // messages delivered to on_message
  uint64_t bad_frames = 0;      // inbound connections dropped for a bad frame
  uint64_t foreign_frames = 0;  // of which for a frame of another cluster (or none)
  uint64_t queued_msgs = 0;     // messages waiting in all peer queues right now
  uint64_t refused_conns =
      0;  // inbound connections closed at once (over a cap, failed TLS handshake)
  uint64_t idle_closed = 0;           // inbound connections closed for silence
  uint64_t inbound_conns = 0;         // inbound connections open right now
  uint64_t inbound_buffer_bytes = 0;  // bytes held by their read buffers right now
};

class TcpTransport : public Transport {
 public:
  // Binds and listens on options.listen and starts the io thread.
  // Fails if the address is bad or cannot be bound.
  static orch::Result<std::unique_ptr<TcpTransport>> Start(const TcpTransportOptions& options,
                                                           Callbacks callbacks);

  ~TcpTransport() override;
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  // The port actually listened on (useful with port 0).
  uint16_t port() const;
  TcpTransportStats stats() const;

  void SetPeer(uint64_t id, const std::string& address) override;
  void RemovePeer(uint64_t id) override;
  void Send(std::vector<orch::v1::Message> msgs) override;
  void Stop() override;

  class Impl;

 private:
  explicit TcpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::replication
