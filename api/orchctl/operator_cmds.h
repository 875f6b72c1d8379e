// `orchctl operator snapshot save FILE` and `restore FILE` (as `nomad
// operator snapshot`): a backup of the whole cluster state -- jobs and their
// versions, nodes, allocations, evaluations, deployments, ACL tokens and
// policies -- as the SQLite image the masters replicate, and its restore
// into this cluster or a new one (the masters' membership stays theirs).
// The file holds task secrets and ACL token hashes: it is written 0600.
// Thread safety: as commands.h, one Context per command on one thread.
#pragma once

#include <string>

#include "api/orchctl/commands.h"
#include "common/status.h"

namespace orch::ctl {

// Writes the image to `path` (a temporary file beside it, fsynced, then
// renamed over it): "snapshot of 1.2 MiB at index 4242 saved to FILE".
Status OperatorSnapshotSave(const Context& ctx, const std::string& path, bool stale);
// "restored FILE (taken at index 4242): 12 jobs, 3 nodes, 40 allocations;
// the cluster is at index 5000".
Status OperatorSnapshotRestore(const Context& ctx, const std::string& path);

}  // namespace orch::ctl
