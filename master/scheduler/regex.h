// Regular expressions from users (the "regexp" constraint operator) run in
// RE2: linear time in the input, no recursion, bounded memory, so neither a
// crafted pattern nor a huge node label can hang or crash the scheduler.
// Patterns are limited to JobLimits::kMaxConstraintValueBytes and compiled
// once into a small bounded cache shared by all threads.
// Thread safety: all functions are thread-safe.
#pragma once

#include <string>

#include "common/status.h"

namespace orch::master::sched {

// Ok when `pattern` compiles (RE2 syntax) within the size and memory
// limits; otherwise InvalidArgument saying why.
Status CheckPattern(const std::string& pattern);

// Whether `pattern` matches somewhere in `text` (search, not full match).
// A pattern that does not compile matches nothing.
bool PatternSearch(const std::string& pattern, const std::string& text);

}  // namespace orch::master::sched
