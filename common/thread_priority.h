// Thread priorities. The threads a cluster's liveness rests on (the Raft
// loop and its transport, the REST I/O threads that answer agents'
// heartbeats) keep the default; bulk work (applying committed entries,
// scheduling, REST handlers, snapshots) runs at a lower priority, so on a
// busy machine it is the bulk work that waits, not the heartbeats: a
// follower that answers its leader late, or a leader whose heartbeats go
// out late, starts an election.
// Thread safety: affects the calling thread only.
#pragma once

namespace orch {

// The nice value bulk work runs at, above the process's own.
inline constexpr int kBulkWorkNice = 5;

// Lowers the calling thread's priority by kBulkWorkNice (Linux keeps a
// nice value per thread); once per thread, later calls do nothing. Never
// fails the caller: a refusal is logged once.
void RunThisThreadAsBulkWork();

}  // namespace orch
