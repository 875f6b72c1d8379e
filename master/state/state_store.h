// StateStore: the cluster state as a SQLite database (state.db) whose tables
// are the data model. It changes only by Apply(index, command), called in log
// order; each apply is one transaction that also records the applied index,
// so a restart resumes exactly and replaying an applied entry does nothing.
//
// Reads see the last applied state. WaitForIndex lets blocking queries sleep
// until state past a given index exists.
// Thread safety: all methods are thread-safe (one mutex around the
// connection; applies are serialised by the log anyway).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/index_waiters.h"
#include "common/sqlite.h"
#include "common/status.h"
#include "master/events/event_buffer.h"
#include "master/model/allocation.h"
#include "master/replication/state_machine.h"
#include "master/services/service_claims.h"
#include "master/services/service_ports.h"
#include "master/state/acl_tables.h"
#include "master/state/image_read.h"
#include "master/state/scheduling_cache.h"
#include "orch/v1/command.pb.h"
#include "orch/v1/types.pb.h"

namespace orch::sqlite {
class WalCheckpointer;
struct WalCheckpointCounts;
}  // namespace orch::sqlite

namespace orch::master {

class StateStore : public replication::StateMachine {
 public:
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  static Result<std::unique_ptr<StateStore>> Open(const std::string& path);

  // Applies `cmd` committed at `index`. An index at or below AppliedIndex()
  // is skipped (replay). `*outcome` (when given) receives the command's
  // outcome for the proposer (e.g. a plan rejected for lack of room); the
  // state and the applied index advance either way. A returned error means
  // the database failed (disk full, I/O) and nothing was applied.
  Status Apply(uint64_t index, const v1::Command& cmd, Status* outcome = nullptr);

  // Applies consecutive committed commands as ONE step: the same effect
  // as applying each in turn. An entry with no
  // command (nullptr) only advances the applied index. Entries at or below
  // AppliedIndex() are skipped. `outcomes` receives one Status per entry.
  //
  // Batches share one open transaction, committed once it has been open
  // set_commit_after() (by the apply or the Raft loop's tick that finds it
  // so: CommitAppliedIfDue), by CommitApplied, and before
  // anything reads state.db through another connection (scheduling reads,
  // snapshot images) or replaces it. Reads through this store see every
  // applied batch at once; a crash loses at most the open transaction,
  // which the Raft log replays (the applied index commits with it). One
  // commit for many small batches writes each page they share once. A
  // failed batch (the database failed: the node stops) rolls back the
  // whole open transaction and memory with it.
  using Entry = replication::StateMachine::Entry;
  Status ApplyBatch(const std::vector<Entry>& entries, std::vector<Status>* outcomes) override;
  Status CommitApplied() override;
  Status CommitAppliedIfDue() override;
  // How long applies may wait in the open transaction (see above) before
  // it is committed; 50 ms unless set. Each commit writes every page
  // touched since the last one, so fewer commits write the pages batches
  // share (index leaves, the applied index) fewer times; but a longer
  // interval makes each commit longer, under the apply lock (at 250 ms the
  // 5,000-agent burst's heartbeat p99 doubled).
  void set_commit_after(std::chrono::milliseconds d) {
    std::lock_guard lock(mu_);
    commit_after_ = d;
  }

  // The checkpoints of state.db so far (see common/sqlite_checkpointer.h).
  sqlite::WalCheckpointCounts CheckpointCounts() const;

  // The last Raft index applied (what the log replays from).
  uint64_t AppliedIndex() const override;
  // The index the state counts in: objects' create/modify indexes, the
  // X-Orch-Index of answers, blocking queries and index_waiters(). It is
  // AppliedIndex() plus an offset that an operator restore
  // (RestoreSnapshotCommand) raises when the image's indexes run past the
  // log's, so that no index a client or agent has seen ever goes back.
  // Equal to AppliedIndex() in a cluster never restored so.
  uint64_t StateIndex() const;
  // The state index of an entry applied at Raft index `raft_index` (since
  // the last operator restore).
  uint64_t StateIndexAt(uint64_t raft_index) const;

  // Records that `index` was applied without a command of its own (a
  // leader's empty entry), so reads waiting for it proceed.
  Status MarkApplied(uint64_t index) override;

  // Applies a Raft membership change committed at `index`: records (or,
  // with `removed`, deletes) the member.
  Status ApplyMembership(uint64_t index, const v1::Member& member, bool removed) override;
  std::vector<v1::Member> ListMembers() const override;

  // A consistent image of the whole database (for a Raft snapshot).
  Result<std::string> SerializeImage() const override;
  // The same, as of now (AppliedIndex()), read on another thread while
  // applies go on. Call between applies.
  // `state_index` (when given) receives StateIndex() as of the read.
  Result<std::unique_ptr<replication::StateImage>> BeginImageRead(
      uint64_t* state_index = nullptr) const override;
  // Replaces the whole state with `image` atomically (a snapshot from the
  // leader) and wakes waiters. AppliedIndex() becomes the image's.
  Status RestoreImage(const std::string& image) override;

  // Returns once AppliedIndex() > index, or `timeout` passed, or Close().
  // Returns AppliedIndex() at that moment.
  uint64_t WaitForIndexAbove(uint64_t index, std::chrono::milliseconds timeout) override;
  // Callbacks waiting for StateIndex() to pass a value (blocking queries
  // that hold no thread); advanced after every commit, closed by Close.
  IndexWaiters* index_waiters() { return &waiters_; }

  // Wakes every waiter; later waits return at once. Commits the applies.
  void Close();
  ~StateStore() override;

  // The recent changes (the event stream's source): every object an apply
  // writes or deletes, published by state index once its transaction
  // commits and before index_waiters() move past it. Emptied by a
  // snapshot install or an operator restore (events before are unknown).
  const EventBuffer* events() const { return &events_; }

  // Reads. Jobs and nodes carry derived fields (job status, node allocated).
  Result<v1::Job> GetJob(const std::string& id) const;
  std::vector<v1::Job> ListJobs() const;
  Result<v1::Node> GetNode(const std::string& id) const;
  std::vector<v1::Node> ListNodes() const;
  // What the service registry is built from (BuildServices), read in one
  // go: the jobs that declare a service (stopped ones too: their services'
  // going is news), every allocation of those jobs, and the nodes those
  // allocations are on, as stored. It costs what those jobs hold, not the
  // size of the state.
  struct ServiceSources {
    std::vector<v1::Job> jobs;
    std::vector<v1::Allocation> allocations;
    std::vector<v1::Node> nodes;
  };
  ServiceSources ReadForServices() const;
  Result<v1::Allocation> GetAllocation(const std::string& id) const;
  // Filtered by job or node when not empty.
  std::vector<v1::Allocation> ListAllocations(const std::string& job_id = "",
                                              const std::string& node_id = "") const;
  std::vector<v1::Evaluation> ListEvaluations(const std::string& job_id = "") const;
  // One evaluation by id, or by a unique prefix of its id (at least 4
  // characters, as orchctl prints them).
  Result<v1::Evaluation> GetEvaluation(const std::string& id) const;
  std::vector<v1::Evaluation> PendingEvaluations() const;
  // Claims of other live jobs sharing a service name or a named listen port
  // with `job`'s services (index lookups; see ValidateServiceClaims).
  std::vector<ServiceClaim> ConflictingClaims(const v1::Job& job) const;

  // The leader's scheduling reads (state/scheduling_reads.cpp).
  struct SchedulingState {
    // By id, shared with the scheduling cache (a pass copies no node); what
    // each claims is held's, not the record's `allocated`.
    std::shared_ptr<const SchedulingCache::NodeList> nodes;
    // What each node holds (by node id; absent: nothing): its live
    // allocations and those asked to stop and not yet terminal (ports still
    // bound), trimmed to what the scheduler reads (SchedulingCache).
    std::shared_ptr<const SchedulingCache::HeldMap> held;
    std::shared_ptr<const SchedulingCache::Priorities> priority;  // by job id (missing: 0)
  };
  // What one scheduling pass reads: the nodes and allocations, and of each
  // job in `job_ids` the job (absent if deleted), all its allocations
  // (ordered by id) and its latest deployment; all as of one index. The
  // nodes and allocations come from a SchedulingCache brought up to date
  // from the events since the last read (one reader: the leader's eval
  // worker); the rest is read on a connection of its own in a read
  // transaction (WAL: applies go on meanwhile), so a read never holds the
  // lock an apply takes.
  struct SchedulingRead {
    bool ok = false;  // false: the read failed (logged); nothing in it
    SchedulingState state;
    std::map<std::string, v1::Job> jobs;
    std::map<std::string, std::vector<v1::Allocation>> allocs_by_job;
    std::map<std::string, std::optional<v1::Deployment>> deployments;
  };
  SchedulingRead ReadForScheduling(const std::vector<std::string>& job_ids) const;
  // Brings what ReadForScheduling keeps up to date with the changes since
  // (their events), so that it never falls behind the events kept: called
  // by the leader's eval worker as the state moves, passes or not. Takes
  // no apply lock.
  void FollowForScheduling() const;
  // Lets it go (a master that stopped leading).
  void ForgetForScheduling() const;
  // How many times ReadForScheduling read every node and allocation from
  // the tables (the first read, and whenever it could not follow).
  uint64_t SchedulingFills() const { return scheduling_fills_.load(); }
  // Nodes as stored (no `allocated`: no read of the allocations).
  std::vector<v1::Node> ListNodesAsStored() const;
  // Jobs with a pending or blocked evaluation (status index).
  std::set<std::string> JobsWithWaitingEvaluations() const;
  // When node `id` or one of its allocations last changed on the servers'
  // side (kept in memory; for what predates the master's start or the last
  // restore, the state index then): what the node's allocation watch waits
  // on. The node's own reports of its allocations do not count: the agent
  // knows what it reported (Nomad's AllocModifyIndex likewise ignores
  // client updates), so a report does not send the node all its
  // allocations back. Takes no lock an apply holds.
  uint64_t NodeAllocationsIndex(const std::string& id) const;
  // The key index_waiters() advances when NodeAllocationsIndex(id) does
  // (the watch waits on it alone).
  static std::string NodeWatchKey(const std::string& id) { return "node/" + id; }
  // The key index_waiters() advances when something the service registry
  // is built from may have changed: a job with services, an allocation of
  // one, a known node (so balancers' watches of GET /v1/services wait on it
  // alone, not on every change of the state); and its index.
  static std::string ServicesWatchKey() { return "services"; }
  uint64_t ServicesIndex() const;
  // Allocations a client reported failed that are still desired running,
  // each with whether a newer allocation replaces it (from memory).
  std::vector<std::pair<std::string, bool>> FailedAllocations() const;
  // The allocation that replaced `alloc_id` (its previous_allocation), if
  // any (from memory).
  std::optional<std::string> ReplacementOf(const std::string& alloc_id) const;
  // A node's status from memory, without waiting for an apply in progress
  // (heartbeats ask it); nullopt for an unknown node.
  std::optional<v1::Node::Status> NodeStatusBrief(const std::string& id) const;
  // The SHA-256 of the secret node `id` registered with, from memory ("" for
  // an unknown node or one registered without a secret).
  std::string NodeSecretHashBrief(const std::string& id) const;
  // Every node's status, from memory.
  std::unordered_map<std::string, v1::Node::Status> NodeStatusesBrief() const;
  // Ids of the system jobs not stopped (from memory).
  std::vector<std::string> LiveSystemJobs() const;
  // What /metrics reports of the state: jobs, nodes by status and
  // allocations by client status (from memory), evaluations by status (an
  // index).
  struct Counts {
    double jobs = 0;
    std::map<std::string, double> nodes, evaluations, allocations;
  };
  Counts CountState() const;

  // Periodic and parameterized jobs (state/periodic.cpp): every periodic
  // job with the launch time recorded for it (its registration time before
  // its first launch), from a table of those jobs only; and a job's
  // children ("<id>/..."), from a range of the jobs' primary key, with
  // their status derived.
  struct PeriodicLaunch {
    std::string job_id;
    int64_t launch_ms = 0;
  };
  std::vector<PeriodicLaunch> PeriodicLaunches() const;
  std::vector<v1::Job> ListChildJobs(const std::string& parent_id) const;

  // Garbage collection (state/gc.cpp): where the leader's collector's scan
  // of each table stands between passes.
  struct GcCursor {
    int64_t evals = 0, allocs = 0, jobs = 0, deployments = 0;  // last rowid seen
  };
  // A GC command for what the next `batch` rows of each table (from
  // `cursor`, which moves on) hold that the rules of gc_rules.h allow to
  // delete under `cutoffs` (its cutoff fields).
  v1::GcCommand FindGarbage(const v1::GcCommand& cutoffs, int batch, GcCursor* cursor) const;

  // Job versions (deployments.cpp): the versions kept, newest first; one
  // version; the newest stable version below `below`.
  std::vector<v1::Job> ListJobVersions(const std::string& job_id) const;
  Result<v1::Job> GetJobVersion(const std::string& job_id, uint64_t version) const;
  std::optional<v1::Job> LatestStableVersion(const std::string& job_id, uint64_t below) const;
  // Deployments, newest first (of one job when job_id is not empty; at most
  // `limit`), one by id, the job's running or paused one, and every running
  // one (indexed: cost grows with the deployments in progress only).
  // Deployments carry their groups' derived counts (placed, healthy,
  // unhealthy).
  std::vector<v1::Deployment> ListDeployments(const std::string& job_id = "", int limit = 100) const;
  Result<v1::Deployment> GetDeployment(const std::string& id) const;
  std::optional<v1::Deployment> ActiveDeployment(const std::string& job_id) const;
  // The job's newest deployment, whatever its status (not derived).
  std::optional<v1::Deployment> LatestDeployment(const std::string& job_id) const;
  std::vector<v1::Deployment> RunningDeployments() const;

  // ACLs (state/acl.cpp): every token and policy, from memory (never
  // null); tokens without their secret hash, newest first; policies by
  // name; one token by accessor id.
  std::shared_ptr<const AclTables> Acl() const;
  std::vector<v1::AclToken> ListAclTokens() const;
  std::vector<v1::AclPolicy> ListAclPolicies() const;
  Result<v1::AclToken> GetAclToken(const std::string& accessor_id) const;

 private:
  explicit StateStore(std::unique_ptr<sqlite::Db> db);
  Status CreateSchema();
  // CreateSchema, and the derived tables filled when the database (or a
  // restored image from an older master) lacks them.
  Status MigrateSchema();
  // Sets `terminal` on the allocations that are (rows written before the
  // column existed, or copied from an image without it).
  Status MarkTerminalAllocations();

  // ApplyBatch over entries [begin, end), none a restore's commit, in the
  // open transaction (OpenBatchLocked).
  Status ApplyRun(const std::vector<Entry>& entries, std::size_t begin, std::size_t end,
                  std::vector<Status>* outcomes);
  // An operator restore (state/restore.cpp): the commit of a staged image,
  // applied on its own (it replaces every table); a bad image is its
  // outcome, the state unchanged.
  Status ApplyRestoreCommit(const Entry& e, Status* outcome);

  // All below REQUIRE mu_ held.
  // A restore's chunk staged (restore.cpp).
  Status ApplyRestoreChunk(uint64_t index, const v1::Command& cmd, Status* outcome);
  // The staged chunks of restore `c` as one image, checked against its size
  // and SHA-256.
  Status AssembleRestore(const v1::RestoreSnapshotCommand& c, std::string* image);
  // Replaces every table but the members with `image`'s, in one
  // transaction; the restore committed at Raft index `raft_index`.
  Status ReplaceStateWithImage(const std::string& image, uint64_t raft_index);
  Status ApplyLocked(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status ApplyRegisterJob(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status ApplyDeregisterJob(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status ApplyRegisterNode(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status ApplyNodeStatus(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status ApplyUpdateAllocations(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status ApplyPlan(uint64_t index, const v1::Command& cmd, Status* outcome);
  // Scheduler commands (apply.cpp): one plan of a batch, a batch, scale,
  // drain, evaluations.
  // Node state the plans of one entry share (apply.cpp).
  struct PlanNodes;
  Status ApplyOnePlan(uint64_t index, int64_t time_ms, const v1::PlanCommand& p, Status* outcome,
                      PlanNodes* nodes);
  Status ApplyPlanBatch(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status ApplyScaleJob(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status ApplyNodeDrain(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status ApplyEvaluate(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status PutNewEvaluations(uint64_t index, const google::protobuf::RepeatedPtrField<v1::Evaluation>& evals);
  Status ApplyUpdateMember(uint64_t index, const v1::Command& cmd, Status* outcome);
  // Deployments and versions (deployments.cpp).
  Status ApplyRegisterJobCommand(uint64_t index, int64_t time_ms, const v1::RegisterJobCommand& c,
                                 Status* outcome);
  Status ApplyDeploymentUpdate(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status ApplyAllocAction(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status ApplyGc(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status ApplyAcl(uint64_t index, const v1::Command& cmd, Status* outcome);
  Status ApplyPeriodicLaunch(uint64_t index, const v1::Command& cmd, Status* outcome);
  // Keeps the periodic_launches row of a job just written: added when it
  // becomes periodic (launched "at" `time_ms`), dropped when it stops being.
  Status TrackPeriodicLocked(const v1::Job& job, const v1::Job* old, int64_t time_ms);
  // Reads the ACL tables into acl_ (after an ACL change commits or rolls
  // back, on open and on restore).
  void RebuildAclLocked();
  // Deletes a job with its claims, versions and deployments; with
  // `everything`, its evaluations and allocations too.
  Status DeleteJobLocked(const std::string& job_id, bool everything);
  struct JobFacts;
  JobFacts JobFactsLocked(const std::string& job_id) const;
  std::optional<v1::Deployment> LatestDeploymentLocked(const std::string& job_id) const;
  // A new version `job` was stored: keep it in the history (pruned to
  // `keep` versions, never dropping the newest stable one), cancel the
  // job's deployment in progress, and start one for `job` when it rolls.
  // `old`: the version it replaces (null: none), whose groups decide which
  // groups need canaries.
  Status RecordJobVersion(uint64_t index, int64_t time_ms, const v1::Job& job, const v1::Job* old,
                          const v1::RegisterJobCommand& c);
  // Cancels the job's running or paused deployment, if any.
  Status CancelActiveDeployment(uint64_t index, int64_t time_ms, const std::string& job_id, const std::string& why);
  // The deployment health bookkeeping of an allocation the agent reported
  // (healthy_since, unhealthy when it failed).
  static void TrackDeploymentHealth(const v1::Allocation& before, int64_t time_ms, v1::Allocation* a);
  // Marks a placed or updated-in-place allocation as the job's running
  // deployment's.
  void JoinActiveDeployment(const std::optional<v1::Deployment>& d, bool in_place, int64_t time_ms,
                            v1::Allocation* a) const;
  std::optional<v1::Deployment> ActiveDeploymentLocked(const std::string& job_id) const;
  Status PutDeployment(const v1::Deployment& d);
  // Fills the groups' counts from `allocs` (the deployment's job's).
  static void DeriveDeployment(v1::Deployment* d, const std::vector<v1::Allocation>& allocs);
  std::vector<v1::Allocation> JobAllocationsLocked(const std::string& job_id) const;
  // Runs `body` and records `index` as applied, in one transaction.
  template <typename F>
  Status InTransaction(uint64_t index, F body);
  Status RecordApplied(uint64_t index);
  // applied_ and offset_ from the meta table.
  Status ReadIndexesLocked();
  Status UnblockEvaluations(uint64_t index);

  template <typename T>
  std::optional<T> LoadOne(const char* table, const std::string& id) const;
  template <typename T>
  std::vector<T> LoadMany(const std::string& sql, const std::vector<std::string>& args) const {
    return LoadManyFrom<T>(*db_, sql, args);
  }
  template <typename T>
  static std::vector<T> LoadManyFrom(sqlite::Db& db, const std::string& sql,
                                     const std::vector<std::string>& args);
  // The Put*s and deletions also record an event (NoteEvent) for the
  // entry being applied: `event_type` names what the command did (a
  // node's, when null, follows its status: NodeDown, NodeReady,
  // NodeUpdated).
  Status PutJob(const v1::Job& job, const char* event_type = "JobUpdated");
  Status PutNode(const v1::Node& node, const char* event_type = nullptr);
  // `agent_report`: only what the node's agent reported changed (the
  // node's watch is not woken; see NodeAllocationsIndex).
  Status PutAllocation(const v1::Allocation& alloc, bool agent_report = false);
  Status PutEvaluation(const v1::Evaluation& eval);
  Status DeleteRow(const char* table, const std::string& id);
  // service_claims (state/service_claims.cpp), kept by PutJob.
  Status PutServiceClaims(const v1::Job& job);
  std::vector<ServiceClaim> ConflictingClaimsLocked(const v1::Job& job) const;
  PortTaken PortsTakenLocked(const std::string& job_id, const ServicePortRange& range) const;
  Status RebuildServiceClaims();
  // Fill the job's derived fields from its allocations (a node's: SetAllocatedLocked).
  static void DeriveJob(v1::Job* job, const std::vector<const v1::Allocation*>& allocs);
  static std::vector<const v1::Allocation*> Pointers(const std::vector<v1::Allocation>& allocs);

  // The applies' open transaction (see ApplyBatch), under mu_.
  mutable bool batch_open_ = false;
  std::chrono::milliseconds commit_after_{50};
  mutable std::chrono::steady_clock::time_point batch_opened_;
  Status OpenBatchLocked();
  // Commits the open transaction, if any. On failure it rolls back, and
  // memory and AppliedIndex() go back to what state.db holds.
  Status CommitBatchLocked();
  // CommitBatchLocked once the open transaction is commit_after_ old.
  Status CommitBatchIfDueLocked();
  Status RollBackBatchLocked();
  // The same from a const read: the open transaction is not part of the
  // state's value.
  Status CommitBatchForReadLocked() const {
    return const_cast<StateStore*>(this)->CommitBatchLocked();
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  IndexWaiters waiters_;
  std::unique_ptr<sqlite::Db> db_;
  // db_'s checkpoints, off the applying thread (declared after db_: it
  // goes first).
  std::unique_ptr<sqlite::WalCheckpointer> checkpointer_;
  // ReadForScheduling's own connection (opened at its first use), under
  // read_mu_, never held by an apply.
  mutable std::mutex read_mu_;
  mutable std::unique_ptr<sqlite::Db> read_db_;
  mutable SchedulingCache sched_cache_;  // under read_mu_
  // Counts the rebuilds of the store's memory from the tables (open,
  // restore, rollback; written under mu_), after which sched_cache_
  // refills.
  std::atomic<uint64_t> briefs_epoch_{0};
  mutable std::atomic<uint64_t> scheduling_fills_{0};
  // Written under mu_, read without it (StateIndex, AppliedIndex: asked by
  // heartbeats on the HTTP server's I/O thread, which must never wait for
  // an apply).
  std::atomic<uint64_t> applied_{0};
  // StateIndex() - AppliedIndex(): written under mu_ (at a restore), read
  // without it (StateIndexAt, on every REST write).
  std::atomic<uint64_t> offset_{0};
  bool closed_ = false;
  int64_t apply_time_ms_ = 0;  // the command being applied: its time_ms
  // What the scheduling reads need of every job, kept in memory with each
  // job write (PutJob, DeleteJobLocked) and rebuilt on open and restore.
  struct JobBrief {
    int32_t priority = 0;
    bool live_system = false;
    bool services = false;  // a task of it declares a service
  };
  std::unordered_map<std::string, JobBrief> jobs_brief_;
  mutable std::mutex node_brief_mu_;  // taken alone or inside mu_, never around it
  std::unordered_map<std::string, v1::Node::Status> node_status_;
  std::unordered_map<std::string, std::string> node_secret_hash_;
  mutable std::mutex acl_mu_;  // taken alone or inside mu_, never around it
  std::shared_ptr<const AclTables> acl_ = std::make_shared<AclTables>();
  bool acl_changed_ = false;  // an ACL command applied in the open transaction
  void NoteJobLocked(const v1::Job& job);
  void RebuildJobBriefsLocked();
  // Node watches (NodeAllocationsIndex) and the services key: the open
  // transaction's changes wait in pending_node_watch_ (the services key
  // once, at its last change: pending_services_) until its commit turns
  // them into the keys index_waiters() advances (CommitNodeWatchLocked), or
  // a rollback or a restore drops them (DropNodeWatchLocked). The waiters
  // keep each key's index.
  std::vector<std::pair<std::string, uint64_t>> pending_node_watch_;
  uint64_t pending_services_ = 0;  // 0: no services change pending
  void NoteNodeChangeLocked(const std::string& node_id);
  void NoteServicesChangeLocked();
  void DropNodeWatchLocked();
  // NoteServicesChangeLocked when job `job_id` declares a service.
  void NoteServicesChangeOfJobLocked(const std::string& job_id);
  std::vector<std::pair<std::string, uint64_t>> CommitNodeWatchLocked();
  // Failed allocations and replacements (FailedAllocations, ReplacementOf),
  // kept in memory with every allocation write and delete, rebuilt on open,
  // restore and rollback: the job watch reads them instead of the table.
  std::unordered_map<std::string, std::string> failed_run_;  // alloc id -> job id
  struct Replacement {
    std::string alloc_id, job_id;
  };
  std::unordered_map<std::string, Replacement> replacement_of_;  // previous alloc id ->
  // Every allocation's client status, and how many have each (CountState);
  // what a live one claims, and per node the sum of what its live ones
  // claim (the node's `allocated`, for GetNode and ListNodes without
  // reading its allocations, and a plan's apply). Sums are exact; read
  // saturated.
  struct AllocBrief {
    v1::Allocation::ClientStatus status = v1::Allocation::CLIENT_STATUS_UNSPECIFIED;
    bool live = false;
    int64_t cpu = 0, memory = 0, disk = 0;
  };
  struct Claimed {
    __int128 cpu = 0, memory = 0, disk = 0;
  };
  std::unordered_map<std::string, AllocBrief> alloc_brief_;
  std::unordered_map<std::string, Claimed> node_claimed_;  // node id ->
  std::array<int64_t, v1::Allocation::ClientStatus_ARRAYSIZE> alloc_status_count_{};
  // `node`'s allocated from node_claimed_ (mu_ held).
  void SetAllocatedLocked(v1::Node* node) const;
  void NoteAllocationLocked(const v1::Allocation& a);
  void ForgetAllocationLocked(const v1::Allocation& a);
  void RebuildAllocationBriefsLocked();
  // sched_cache_ from the tables, on read_db_ in its read transaction at
  // `state_index` (ReadForScheduling, under read_mu_).
  // False if the tables could not be read (logged; the cache is empty).
  bool FillSchedulingCache(uint64_t epoch, uint64_t state_index) const;

  // The event stream's buffer and the events of the open transaction
  // (published at commit, dropped at rollback), stamped with apply_index_:
  // the state index of the entry being applied.
  EventBuffer events_;
  std::vector<std::pair<uint64_t, StateEvent>> pending_events_;
  uint64_t apply_index_ = 0;
  // `payload`: the object's serialized bytes ("" for a deletion).
  void NoteEvent(const char* topic, const char* type, const std::string& key,
                 const std::string& job_id, std::string payload);
  // Publishes pending_events_ and moves the buffer to `state_index` (a
  // commit).
  void PublishEventsLocked(uint64_t state_index);
};

}  // namespace orch::master
