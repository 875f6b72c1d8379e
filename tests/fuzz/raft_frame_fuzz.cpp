// The Raft port's input: a byte stream decoded into frames (length, CRC,
// TransportFrame), chunked snapshots reassembled, and every message Step()ped
// into a live 3-voter RawNode whose Ready is drained and advanced as the
// driver would. The CRC is recomputed by the harness (a fuzzer cannot guess
// it), so the mutations reach the protobuf and the core. A message from the
// network must never abort the core.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "master/raft/memory_storage.h"
#include "master/raft/raw_node.h"
#include "master/replication/transport_frame.h"

namespace {

using orch::replication::DecodeFrame;
using orch::replication::FrameStatus;

std::unique_ptr<orch::raft::MemoryStorage> g_storage;
std::unique_ptr<orch::raft::RawNode> g_node;

void Reset() {
  g_storage = std::make_unique<orch::raft::MemoryStorage>();
  orch::raft::Config c;
  c.id = 1;
  c.peers = {1, 2, 3};
  c.election_tick = 10;
  c.heartbeat_tick = 1;
  c.storage = g_storage.get();
  c.max_size_per_msg = 1 << 20;
  c.max_inflight_msgs = 256;
  c.check_quorum = true;
  c.pre_vote = true;
  c.seed = 7;
  auto n = orch::raft::RawNode::Create(c);
  g_node = std::move(n.value);
}

// Persists and applies what the core asks, as the driver does.
void Drain() {
  while (g_node->HasReady()) {
    auto rd = g_node->GetReady();
    if (rd.hard_state) g_storage->SetHardState(*rd.hard_state);
    if (rd.snapshot) g_storage->ApplySnapshot(*rd.snapshot);
    if (!rd.entries.empty()) g_storage->Append(rd.entries);
    g_node->Advance(rd);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!g_node || size == 0 || data[0] == 0xff) Reset();  // a fresh node now and then
  std::string buf(reinterpret_cast<const char*>(data), size);
  // Fix each frame's CRC so mutations get past it.
  for (std::size_t pos = 0; pos + orch::replication::kFrameHeaderBytes <= buf.size();) {
    uint32_t len = (uint32_t{static_cast<uint8_t>(buf[pos])} << 24) | (uint32_t{static_cast<uint8_t>(buf[pos + 1])} << 16) |
                   (uint32_t{static_cast<uint8_t>(buf[pos + 2])} << 8) | static_cast<uint8_t>(buf[pos + 3]);
    if (len > buf.size() - pos - orch::replication::kFrameHeaderBytes) break;
    uint32_t crc = orch::replication::FrameCrc32(std::string_view(buf).substr(pos + 8, len));
    for (int i = 0; i < 4; ++i) buf[pos + 4 + i] = static_cast<char>(crc >> (24 - 8 * i));
    pos += orch::replication::kFrameHeaderBytes + len;
  }
  orch::replication::SnapshotAssembler assembler(1 << 20);
  std::string_view rest(buf);
  for (int frames = 0; frames < 64 && !rest.empty(); ++frames) {
    orch::v1::TransportFrame frame;
    std::size_t used = 0;
    FrameStatus st = DecodeFrame(rest, 1 << 20, &frame, &used);
    if (st != FrameStatus::kOk) break;
    rest.remove_prefix(used);
    if (frame.has_message()) {
      // The transport drops a message whose sender differs from the frame's.
      if (frame.message().from() == frame.from()) (void)g_node->Step(frame.message());
    } else if (frame.has_chunk()) {
      auto done = assembler.Add(frame.mutable_chunk());
      if (done.ok() && done->has_value()) (void)g_node->Step(**done);
    }
    Drain();
    if (frames % 8 == 0) {
      g_node->Tick();
      Drain();
    }
  }
  return 0;
}
