// The agent's state files (one JSON AllocRecord per allocation, read back
// after a restart): arbitrary bytes as such a file must be skipped or
// loaded, never crash the agent; a loaded record saves and loads back the
// same.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/state_store.h"
#include "google/protobuf/util/message_differencer.h"

namespace {

// Never destroyed: the atexit cleanup runs after static destructors.
const std::string& Dir() {
  static const std::string* dir = [] {
    auto* d = new std::string((std::filesystem::exists("/dev/shm") ? std::string("/dev/shm") : std::string("/tmp")) +
                              "/orch-state-fuzz-" + std::to_string(getpid()));
    std::filesystem::remove_all(*d);
    std::filesystem::create_directories(*d + "/state");
    std::atexit([] { std::filesystem::remove_all(Dir()); });
    return d;
  }();
  return *dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string dir = Dir();
  std::filesystem::remove_all(dir + "/state");
  std::filesystem::create_directories(dir + "/state");
  {
    std::ofstream f(dir + "/state/fuzz.json", std::ios::binary);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  orch::agent::StateStore store(dir);
  auto recs = store.LoadAll();
  if (!recs.ok() || recs->empty()) return 0;
  auto rec = recs->front();
  if (rec.alloc().id().empty() || rec.alloc().id().find('/') != std::string::npos || rec.alloc().id().size() > 200) {
    return 0;  // Save names the file after the id
  }
  std::filesystem::remove(dir + "/state/fuzz.json");
  if (!store.Save(rec).ok()) return 0;
  auto back = store.LoadAll();
  if (!back.ok() || back->size() != 1 ||
      !google::protobuf::util::MessageDifferencer::Equals(back->front(), rec)) {
    __builtin_trap();  // what was saved did not load back
  }
  return 0;
}
