#include "master/replication/transport_frame.h"

#include <google/protobuf/io/coded_stream.h>
#include <zlib.h>

#include <algorithm>

namespace orch::replication {
namespace {

using google::protobuf::io::CodedOutputStream;
using orch::v1::Message;

void PutBigEndian32(uint32_t v, char* p) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

uint32_t GetBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

// Fills in the header of the frame whose payload starts at out[start + 8].
void SealFrame(std::size_t start, std::string* out) {
  char* p = out->data() + start;
  std::size_t payload = out->size() - start - kFrameHeaderBytes;
  PutBigEndian32(static_cast<uint32_t>(payload), p);
  PutBigEndian32(FrameCrc32({p + kFrameHeaderBytes, payload}), p + 4);
}

// Wire tags of TransportFrame.from (field 1, varint), .message (field 2,
// length-delimited) and .cluster_id (field 4, fixed64); pinned by the
// round-trip test against the generated code.
constexpr uint8_t kTagFrom = (1 << 3) | 0;
constexpr uint8_t kTagMessage = (2 << 3) | 2;
constexpr uint8_t kTagClusterId = (4 << 3) | 1;

// The largest snapshot buffer reserved up front, so a lying `total` cannot
// make us allocate gigabytes before any data arrives.
constexpr std::size_t kMaxReserve = 64 << 20;

}  // namespace

uint32_t FrameCrc32(std::string_view payload) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  return static_cast<uint32_t>(
      crc32_z(crc, reinterpret_cast<const Bytef*>(payload.data()), payload.size()));
}

bool AppendMessageFrame(const FrameSender& sender, const Message& msg, std::size_t max_payload,
                        std::string* out) {
  const uint64_t from = sender.from;
  std::size_t msg_len = msg.ByteSizeLong();
  std::size_t payload = 1 + CodedOutputStream::VarintSize64(from) + 1 +
                        CodedOutputStream::VarintSize64(msg_len) + msg_len +
                        (sender.cluster_id != 0 ? 1 + 8 : 0);
  if (payload > max_payload || payload > UINT32_MAX) return false;
  std::size_t start = out->size();
  out->resize(start + kFrameHeaderBytes + payload);
  auto* p = reinterpret_cast<uint8_t*>(out->data() + start + kFrameHeaderBytes);
  *p++ = kTagFrom;
  p = CodedOutputStream::WriteVarint64ToArray(from, p);
  *p++ = kTagMessage;
  p = CodedOutputStream::WriteVarint64ToArray(msg_len, p);
  p = msg.SerializeWithCachedSizesToArray(p);
  if (sender.cluster_id != 0) {  // fields in number order, as protobuf writes them
    *p++ = kTagClusterId;
    CodedOutputStream::WriteLittleEndian64ToArray(sender.cluster_id, p);
  }
  SealFrame(start, out);
  return true;
}

bool AppendFrame(const orch::v1::TransportFrame& frame, std::size_t max_payload, std::string* out) {
  std::size_t payload = frame.ByteSizeLong();
  if (payload > max_payload || payload > UINT32_MAX) return false;
  std::size_t start = out->size();
  out->resize(start + kFrameHeaderBytes + payload);
  frame.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(out->data() + start + kFrameHeaderBytes));
  SealFrame(start, out);
  return true;
}

FrameStatus DecodeFrame(std::string_view buf, std::size_t max_payload,
                        orch::v1::TransportFrame* out, std::size_t* frame_bytes) {
  *frame_bytes = kFrameHeaderBytes;
  if (buf.size() < kFrameHeaderBytes) return FrameStatus::kNeedMore;
  std::size_t len = GetBigEndian32(buf.data());
  if (len > max_payload) {
    *frame_bytes = len;
    return FrameStatus::kTooLarge;
  }
  *frame_bytes = kFrameHeaderBytes + len;
  if (buf.size() < *frame_bytes) return FrameStatus::kNeedMore;
  std::string_view payload = buf.substr(kFrameHeaderBytes, len);
  if (FrameCrc32(payload) != GetBigEndian32(buf.data() + 4)) return FrameStatus::kBadCrc;
  if (!out->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return FrameStatus::kBadPayload;
  }
  return FrameStatus::kOk;
}

std::string_view FrameStatusName(FrameStatus s) {
  switch (s) {
    case FrameStatus::kNeedMore:
      return "incomplete frame";
    case FrameStatus::kOk:
      return "ok";
    case FrameStatus::kTooLarge:
      return "frame too large";
    case FrameStatus::kBadCrc:
      return "bad frame checksum";
    case FrameStatus::kBadPayload:
      return "unparsable frame payload";
  }
  return "unknown frame status";
}

orch::Status SnapshotAssembler::Abort(std::string why) {
  active_ = false;
  data_ = std::string();  // release the memory, not just the size
  header_.Clear();
  return orch::Status::InvalidArgument("snapshot chunk: " + why);
}

orch::Result<std::optional<Message>> SnapshotAssembler::Add(orch::v1::SnapshotChunk* c) {
  if (!active_) {
    if (!c->has_header() || c->offset() != 0) return Abort("first chunk lacks header or offset 0");
    if (c->header().type() != Message::MSG_SNAP ||
        c->header().snapshot().metadata().index() != c->snapshot_index() ||
        c->header().snapshot().metadata().term() != c->snapshot_term()) {
      return Abort("header is not the MsgSnap of this snapshot");
    }
    if (c->total() > max_total_) {
      return Abort("snapshot of " + std::to_string(c->total()) + " bytes is over the limit of " +
                   std::to_string(max_total_));
    }
    active_ = true;
    crc_ = c->data_crc32();
    header_ = std::move(*c->mutable_header());
    index_ = c->snapshot_index();
    term_ = c->snapshot_term();
    total_ = c->total();
    data_.clear();
    data_.reserve(std::min<uint64_t>(total_, kMaxReserve));
  } else if (c->has_header() || c->snapshot_index() != index_ || c->snapshot_term() != term_ ||
             c->total() != total_ || c->offset() != data_.size()) {
    return Abort("chunk at offset " + std::to_string(c->offset()) + " of snapshot " +
                 std::to_string(c->snapshot_index()) + " does not follow offset " +
                 std::to_string(data_.size()) + " of snapshot " + std::to_string(index_));
  }
  if (c->data().size() > total_ - data_.size()) return Abort("chunk data beyond total size");
  data_.append(c->data());
  if (!c->last()) return std::optional<Message>();
  if (data_.size() != total_) return Abort("last chunk before total size reached");
  if (crc_ != 0 && FrameCrc32(data_) != crc_) {
    return Abort("snapshot " + std::to_string(index_) + ": data checksum mismatch");
  }
  Message msg = std::move(header_);
  *msg.mutable_snapshot()->mutable_data() = std::move(data_);
  active_ = false;
  header_.Clear();
  data_ = std::string();
  return std::optional<Message>(std::move(msg));
}

}  // namespace orch::replication
