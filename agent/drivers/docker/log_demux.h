// LogDemuxer: decodes Docker's multiplexed log stream (the body of
// GET /containers/{id}/logs and attach for a container without a TTY):
// frames of an 8-byte header {stream, 0, 0, 0, size as 4 bytes big-endian}
// followed by `size` bytes of payload. Stream 1 is stdout, 2 stderr (0,
// stdin, is passed on as stdout). Bytes may arrive in any chunking: a frame
// split across chunks is passed on piece by piece as it arrives.
// Thread safety: not thread-safe; one per stream.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "agent/drivers/driver.h"

namespace orch::agent {

class LogDemuxer {
 public:
  // Hands every payload byte in `data` to `sink`, tagged with its stream.
  // Returns false once the sink asked to stop (the rest is dropped).
  bool Feed(std::string_view data, const LogSink& sink);

  // True between frames (no header or payload half read).
  bool at_frame_boundary() const { return header_.empty() && remaining_ == 0; }

 private:
  std::string header_;         // the header bytes read so far (< 8)
  std::size_t remaining_ = 0;  // payload bytes still to come in this frame
  LogStream stream_ = LogStream::kStdout;
};

}  // namespace orch::agent
