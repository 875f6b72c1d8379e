// What the agent parses from the Docker engine without a live engine: the
// multiplexed log stream (LogDemuxer, fed in pieces of the input's own
// choosing), image references and the engine's timestamps.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/drivers/docker/docker_client.h"
#include "agent/drivers/docker/log_demux.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  // The first byte picks the piece size, so frames split everywhere.
  std::size_t piece = 1 + data[0] % 64;
  orch::agent::LogDemuxer demux;
  std::size_t total = 0;
  auto sink = [&](orch::agent::LogStream, std::string_view bytes) {
    total += bytes.size();
    return total < (1 << 20);
  };
  for (std::size_t pos = 0; pos < in.size(); pos += piece) {
    if (!demux.Feed(in.substr(pos, piece), sink)) break;
  }
  std::string text(in.substr(0, 512));
  (void)orch::agent::SplitImageRef(text);
  (void)orch::agent::ParseDockerTime(text);
  return 0;
}
