#include "agent/drivers/pull_progress.h"

#include <cstdio>

namespace orch::agent {

namespace {

std::string Mib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

PullProgress::PullProgress(std::string image, Sink sink, std::chrono::milliseconds every)
    : image_(std::move(image)), sink_(std::move(sink)), every_(every) {}

void PullProgress::Begin(const std::string& how) {
  if (!sink_) return;
  last_ = std::chrono::steady_clock::now();
  sink_("pulling image " + image_ + (how.empty() ? "" : " " + how));
}

void PullProgress::Layer(const std::string& id, int64_t current, int64_t total) {
  LayerState& l = layers_[id];
  l.current = current;
  if (total > 0) l.total = total;
  MaybeReport();
}

void PullProgress::LayerDone(const std::string& id) {
  LayerState& l = layers_[id];
  l.done = true;
  if (l.total > 0) l.current = l.total;
  MaybeReport();
}

void PullProgress::Phase(const std::string& what) {
  if (!sink_) return;
  last_ = std::chrono::steady_clock::now();
  sink_(what + " image " + image_);
}

std::string PullProgress::Describe() const {
  int64_t current = 0, total = 0;
  int done = 0;
  for (const auto& [id, l] : layers_) {
    current += l.current;
    total += l.total;
    done += l.done ? 1 : 0;
  }
  std::string out = "pulling image " + image_ + ": " + Mib(current);
  if (total > 0) out += " of " + Mib(total);
  out += " MiB, " + std::to_string(done) + " of " + std::to_string(layers_.size()) + " layers done";
  return out;
}

void PullProgress::MaybeReport() {
  if (!sink_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < every_) return;
  last_ = now;
  sink_(Describe());
}

}  // namespace orch::agent
