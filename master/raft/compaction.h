// How far the leader may compact its log after taking a snapshot.
// Thread-safety: a pure function of its arguments.
#pragma once

#include <cstdint>
#include <map>

#include "master/raft/progress.h"

namespace orch::raft {

// The index up to which the log may be discarded after a snapshot at
// `applied` (0: nothing): `keep_entries` behind `applied` for followers that
// are a little behind, and never past what a follower still needs from the
// log (the snapshot being sent to it, or the entry before the next one to
// send). Without that, a follower receiving a snapshot under a steady write
// load finds the entries after it compacted away and is sent another
// snapshot, again and again. A follower more than `max_hold` entries behind
// `applied` (gone, or too slow) holds nothing back: it gets a snapshot.
// `progress` is the leader's (empty on a follower); `self` is skipped.
uint64_t CompactionIndex(uint64_t applied, uint64_t keep_entries, uint64_t max_hold, uint64_t self,
                         const std::map<uint64_t, Progress>& progress);

}  // namespace orch::raft
