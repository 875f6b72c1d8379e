#include "agent/drivers/docker/log_demux.h"

#include <algorithm>

namespace orch::agent {

bool LogDemuxer::Feed(std::string_view data, const LogSink& sink) {
  while (!data.empty()) {
    if (remaining_ == 0) {
      std::size_t need = 8 - header_.size();
      std::size_t take = std::min(need, data.size());
      header_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (header_.size() < 8) return true;
      auto b = [&](int i) { return static_cast<std::size_t>(static_cast<unsigned char>(header_[i])); };
      stream_ = b(0) == 2 ? LogStream::kStderr : LogStream::kStdout;
      remaining_ = (b(4) << 24) | (b(5) << 16) | (b(6) << 8) | b(7);
      header_.clear();
      continue;
    }
    std::size_t take = std::min(remaining_, data.size());
    remaining_ -= take;
    if (!sink(stream_, data.substr(0, take))) return false;
    data.remove_prefix(take);
  }
  return true;
}

}  // namespace orch::agent
