// Operator snapshots (issue 14): GET /v1/operator/snapshot answers a
// consistent image of the cluster state (a SQLite database, as a Raft
// snapshot holds it) with its index; PUT /v1/operator/snapshot restores
// one into this cluster -- another's, or this one's from before -- through
// the log (RestoreSnapshotCommand), so every master holds it at the same
// index. The image holds ACL tokens' hashes and tasks' secrets: both routes
// need acl:write (a management token), like `nomad operator snapshot`.
// Thread safety: handlers are called concurrently; restores on one master
// run one at a time.
#pragma once

#include <cstddef>

#include "common/router.h"
#include "master/http/api.h"

namespace orch::master {

inline constexpr char kSnapshotSha256Header[] = "X-Orch-Snapshot-Sha256";
inline constexpr char kSnapshotPath[] = "/v1/operator/snapshot";
// The restore's image goes through the log in chunks of this size.
inline constexpr std::size_t kRestoreChunkBytes = 4 << 20;

void RegisterOperatorRoutes(Router* router, const ApiDeps& deps);

}  // namespace orch::master
