// Job documents as the masters take them: bytes -> YAML/JSON parse into
// the Job message -> validation (limits, names, regexps), and the same
// bytes as a node registration -> its validation. Nothing may crash, leak,
// overflow or take unbounded memory (the document walk is budgeted).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/document.h"
#include "common/net.h"
#include "master/validation.h"
#include "orch/v1/api.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  orch::v1::Job job;
  if (orch::ParseDocument(text, &job).ok()) (void)orch::master::ValidateJob(&job);
  orch::v1::RegisterNodeRequest reg;
  if (orch::ParseDocument(text, &reg).ok()) {
    (void)orch::master::ValidateNodeFields(reg.node());
    (void)orch::ValidateHttpBaseUrl(reg.node().address());
  }
  return 0;
}
