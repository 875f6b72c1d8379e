// PullProgress: an image pull's progress in words for the task's status
// ("pulling image 127.0.0.1:5055/app:1: 12.5 of 40.0 MiB, 1 of 3 layers
// done"), from the per-layer byte counts either driver sees (the Docker
// engine's progress stream, the containerd driver's own downloads). Says so
// when the pull begins, then at most once per `every`, so a task's status
// tells an operator why it is still pending without flooding the masters.
// Thread safety: none; one pull, one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace orch::agent {

class PullProgress {
 public:
  using Sink = std::function<void(const std::string&)>;
  PullProgress(std::string image, Sink sink,
               std::chrono::milliseconds every = std::chrono::seconds(1));

  void Begin(const std::string& how = "");  // "pulling image X" (+ how)
  // A layer's bytes so far out of `total` (0: not known yet).
  void Layer(const std::string& id, int64_t current, int64_t total);
  void LayerDone(const std::string& id);
  // A step after the downloads ("unpacking"), said at once.
  void Phase(const std::string& what);
  // The progress line as it stands.
  std::string Describe() const;

 private:
  void MaybeReport();

  struct LayerState {
    int64_t current = 0, total = 0;
    bool done = false;
  };
  const std::string image_;
  const Sink sink_;
  const std::chrono::milliseconds every_;
  std::map<std::string, LayerState> layers_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace orch::agent
