// The TCP transport's wire format, without sockets so it can be tested
// alone: a frame is a 4-byte big-endian payload length, a 4-byte big-endian
// CRC-32 (zlib's) of the payload, then an orch.v1.TransportFrame. Also the
// receiver's reassembly of chunked snapshots.
// Thread safety: free functions are pure; SnapshotAssembler is not
// thread-safe (one per connection, used by its io thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "orch/v1/raft_transport.pb.h"

namespace orch::replication {

inline constexpr std::size_t kFrameHeaderBytes = 8;

uint32_t FrameCrc32(std::string_view payload);

// Who writes a frame: the sender's raft id and its cluster's id (0: a
// master whose data predates cluster ids; the field is then left out).
struct FrameSender {
  uint64_t from = 0;
  uint64_t cluster_id = 0;
};

// Appends the frame of TransportFrame{from, cluster_id, message}, encoding
// the envelope by hand so the Message is serialized straight into `out` (no
// copy). Returns false, appending nothing, if the payload would exceed
// max_payload.
bool AppendMessageFrame(const FrameSender& sender, const orch::v1::Message& msg,
                        std::size_t max_payload, std::string* out);
// Same for an arbitrary TransportFrame (snapshot chunks).
bool AppendFrame(const orch::v1::TransportFrame& frame, std::size_t max_payload, std::string* out);

enum class FrameStatus { kNeedMore, kOk, kTooLarge, kBadCrc, kBadPayload };

// Decodes the frame at the start of `buf`. kOk: *out holds it and
// *frame_bytes is how much of buf it used. kNeedMore: *frame_bytes is the
// whole frame's size if the header is complete (so the caller can make room),
// else kFrameHeaderBytes. Other results mean the connection is corrupt;
// *frame_bytes is then the payload length claimed.
FrameStatus DecodeFrame(std::string_view buf, std::size_t max_payload,
                        orch::v1::TransportFrame* out, std::size_t* frame_bytes);

std::string_view FrameStatusName(FrameStatus s);

// Rebuilds one MsgSnap from its chunks, which must arrive in order: the first
// carries the header at offset 0, each next one starts where the last ended.
class SnapshotAssembler {
 public:
  // A snapshot whose first chunk announces more than `max_total` bytes is
  // refused before anything is allocated for it.
  explicit SnapshotAssembler(uint64_t max_total = uint64_t{4} << 30) : max_total_(max_total) {}

  // The whole MsgSnap after the last chunk, nullopt before it; an error if
  // the chunk does not follow its predecessor or the whole data does not
  // match the first chunk's data_crc32 (the caller drops the connection, and
  // this assembler is reset).
  orch::Result<std::optional<orch::v1::Message>> Add(orch::v1::SnapshotChunk* chunk);
  bool active() const { return active_; }

 private:
  orch::Status Abort(std::string why);

  uint64_t max_total_;
  bool active_ = false;
  orch::v1::Message header_;
  std::string data_;
  uint64_t index_ = 0, term_ = 0, total_ = 0;
  uint32_t crc_ = 0;  // 0: the sender gave none
};

}  // namespace orch::replication
