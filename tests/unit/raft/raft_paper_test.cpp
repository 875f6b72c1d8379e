// The claims of the Raft paper (sections 5.1-5.4), one test each, in the
// spirit of etcd's raft_paper_test.go.
#include <gtest/gtest.h>

#include "tests/unit/raft/raft_test_util.h"

namespace orch::raft::testing {
namespace {

void TickN(Raft& r, int n) {
  for (int i = 0; i < n; ++i) r.Tick();
}

// Turns r into the leader of `term` without elections (for leader tests).
void MakeLeader(TestRaft& t) {
  t->BecomeCandidate();
  t->BecomeLeader();
  t->TakeMessages();
}

// Has every follower acknowledge the leader's log (its empty entry), so
// they are in Replicate state and later tests see one entry per MsgApp.
void CommitNoop(TestRaft& t) {
  for (const auto& [id, pr] : t->progress()) {
    if (id == t->id()) continue;
    Message resp = Msg(id, t->id(), Message::MSG_APP_RESP, t->term());
    resp.set_index(t->log().LastIndex());
    t->Step(resp);
  }
  t->TakeMessages();
}

// 5.1: a server that sees a higher term adopts it and, if it was a
// candidate or leader, reverts to follower.
void CheckUpdateTermFromMessage(StateType start) {
  auto t = NewTestRaft(1, {1, 2, 3}, 10, 1);
  switch (start) {
    case StateType::kFollower:
      t->BecomeFollower(1, 2);
      break;
    case StateType::kCandidate:
      t->BecomeCandidate();
      break;
    case StateType::kLeader:
      t->BecomeCandidate();
      t->BecomeLeader();
      break;
    default:
      break;
  }
  t->Step(Msg(2, 1, Message::MSG_APP, 2));
  EXPECT_EQ(t->term(), 2u);
  EXPECT_EQ(t->state(), StateType::kFollower);
}

TEST(RaftPaper, FollowerUpdatesTermFromMessage) {
  CheckUpdateTermFromMessage(StateType::kFollower);
}
TEST(RaftPaper, CandidateUpdatesTermFromMessageAndStepsDown) {
  CheckUpdateTermFromMessage(StateType::kCandidate);
}
TEST(RaftPaper, LeaderUpdatesTermFromMessageAndStepsDown) {
  CheckUpdateTermFromMessage(StateType::kLeader);
}

// 5.1: a request with a stale term is ignored.
TEST(RaftPaper, RejectsStaleTermMessage) {
  auto t = NewTestRaft(1, {1, 2, 3}, 10, 1, StorageWithLog({}, 2));
  Message m = Msg(2, 1, Message::MSG_APP, 1);
  *m.add_entries() = MakeEntry(1, 1, "x");
  t->Step(m);
  EXPECT_EQ(t->log().LastIndex(), 0u);
  EXPECT_EQ(t->term(), 2u);
  EXPECT_TRUE(t->TakeMessages().empty());
}

// 5.2: servers start as followers.
TEST(RaftPaper, StartsAsFollower) {
  auto t = NewTestRaft(1, {1, 2, 3}, 10, 1);
  EXPECT_EQ(t->state(), StateType::kFollower);
  EXPECT_EQ(t->term(), 0u);
}

// 5.2: a leader sends heartbeats to every follower each heartbeat interval.
TEST(RaftPaper, LeaderBroadcastsHeartbeat) {
  const int hb = 1;
  auto t = NewTestRaft(1, {1, 2, 3}, 10, hb);
  MakeLeader(t);
  TickN(*t.raft, hb);
  auto msgs = t->TakeMessages();
  ASSERT_EQ(msgs.size(), 2u);
  std::set<uint64_t> to;
  for (const auto& m : msgs) {
    EXPECT_EQ(m.type(), Message::MSG_HEARTBEAT);
    EXPECT_EQ(m.term(), 1u);
    to.insert(m.to());
  }
  EXPECT_EQ(to, (std::set<uint64_t>{2, 3}));
}

// 5.2: a follower (or candidate) that hears nothing for an election timeout
// starts an election: new term, votes for itself, asks everyone.
void CheckStartsElection(bool from_candidate) {
  auto t = NewTestRaft(1, {1, 2, 3}, 10, 1);
  if (from_candidate) {
    t->BecomeCandidate();  // term 1, election stuck
  } else {
    t->BecomeFollower(1, 2);
  }
  TickN(*t.raft, 2 * 10);
  EXPECT_EQ(t->term(), 2u);
  EXPECT_EQ(t->state(), StateType::kCandidate);
  EXPECT_EQ(t->vote(), 1u);
  auto msgs = TakeOfType(*t.raft, Message::MSG_VOTE);
  ASSERT_EQ(msgs.size(), 2u);
  for (const auto& m : msgs) EXPECT_EQ(m.term(), 2u);
}

TEST(RaftPaper, FollowerStartsElectionAfterTimeout) { CheckStartsElection(false); }
TEST(RaftPaper, CandidateStartsNewElectionAfterTimeout) { CheckStartsElection(true); }

// 5.2: a candidate wins with votes from a majority, loses on a majority of
// rejections, and otherwise stays a candidate.
TEST(RaftPaper, LeaderElectionInOneRound) {
  struct Case {
    size_t size;
    std::map<uint64_t, bool> votes;
    StateType want;
  };
  const std::vector<Case> cases = {
      {1, {}, StateType::kLeader},
      {3, {{2, true}, {3, true}}, StateType::kLeader},
      {3, {{2, true}}, StateType::kLeader},
      {5, {{2, true}, {3, true}, {4, true}, {5, true}}, StateType::kLeader},
      {5, {{2, true}, {3, true}, {4, true}}, StateType::kLeader},
      {5, {{2, true}, {3, true}}, StateType::kLeader},
      {3, {{2, false}, {3, false}}, StateType::kFollower},
      {5, {{2, false}, {3, false}, {4, false}, {5, false}}, StateType::kFollower},
      {5, {{2, true}, {3, false}, {4, false}, {5, false}}, StateType::kFollower},
      {3, {}, StateType::kCandidate},
      {5, {{2, true}}, StateType::kCandidate},
      {5, {{2, false}, {3, false}}, StateType::kCandidate},
      {5, {{2, true}, {3, false}, {4, false}}, StateType::kCandidate},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    auto t = NewTestRaft(1, Ids(c.size), 10, 1);
    t->Step(Msg(1, 1, Message::MSG_HUP));
    for (const auto& [id, granted] : c.votes) {
      Message m = Msg(id, 1, Message::MSG_VOTE_RESP, t->term());
      m.set_reject(!granted);
      t->Step(m);
    }
    EXPECT_EQ(t->state(), c.want) << "case " << i;
    EXPECT_EQ(t->term(), 1u) << "case " << i;
  }
}

// 5.2: each server votes for at most one candidate per term, first come.
TEST(RaftPaper, FollowerVotesOncePerTermFirstComeFirstServed) {
  struct Case {
    uint64_t vote, nvote;
    bool reject;
  };
  const std::vector<Case> cases = {
      {kNone, 2, false}, {kNone, 3, false}, {2, 2, false},
      {3, 3, false},     {2, 3, true},      {3, 2, true},
  };
  for (const auto& c : cases) {
    auto s = std::make_unique<MemoryStorage>();
    HardState hs;
    hs.set_term(1);
    hs.set_vote(c.vote);
    s->SetHardState(hs);
    auto t = NewTestRaft(1, {1, 2, 3}, 10, 1, std::move(s));
    t->Step(Msg(c.nvote, 1, Message::MSG_VOTE, 1));
    auto msgs = t->TakeMessages();
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].type(), Message::MSG_VOTE_RESP);
    EXPECT_EQ(msgs[0].to(), c.nvote);
    EXPECT_EQ(msgs[0].reject(), c.reject) << "vote " << c.vote << " nvote " << c.nvote;
  }
}

// 5.2: a candidate that hears from a leader of at least its term steps down.
TEST(RaftPaper, CandidateFallsBackOnAppendFromLeader) {
  for (uint64_t term : {1u, 2u}) {
    auto t = NewTestRaft(1, {1, 2, 3}, 10, 1);
    t->Step(Msg(1, 1, Message::MSG_HUP));
    ASSERT_EQ(t->state(), StateType::kCandidate);
    t->Step(Msg(2, 1, Message::MSG_APP, term));
    EXPECT_EQ(t->state(), StateType::kFollower);
    EXPECT_EQ(t->term(), term);
    EXPECT_EQ(t->lead(), 2u);
  }
}

// 5.2: election timeouts are drawn from [et, 2*et) and differ between draws.
void CheckTimeoutRandomized(bool candidate) {
  const int et = 10;
  auto t = NewTestRaft(1, {1, 2, 3}, et, 1);
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) {
    if (candidate) {
      t->BecomeCandidate();
    } else {
      t->BecomeFollower(t->term() + 1, 2);
    }
    const int timeout = t->randomized_election_timeout();
    ASSERT_GE(timeout, et);
    ASSERT_LT(timeout, 2 * et);
    seen.insert(timeout);
    // It really fires at that timeout, not before.
    t->TakeMessages();
    const uint64_t term = t->term();
    TickN(*t.raft, timeout - 1);
    EXPECT_EQ(t->term(), term);
    t->Tick();
    EXPECT_EQ(t->term(), term + 1);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(et));  // every value occurs
}

TEST(RaftPaper, FollowerElectionTimeoutIsRandomized) { CheckTimeoutRandomized(false); }
TEST(RaftPaper, CandidateElectionTimeoutIsRandomized) { CheckTimeoutRandomized(true); }

// 5.2: randomized timeouts make split votes rare: usually one node times
// out alone.
TEST(RaftPaper, FollowersElectionTimeoutsRarelyConflict) {
  const int et = 10;
  const size_t n = 5;
  int conflicts = 0;
  const int rounds = 1000;
  std::vector<TestRaft> rs;
  for (uint64_t id = 1; id <= n; ++id) rs.push_back(NewTestRaft(id, Ids(n), et, 1));
  for (int round = 0; round < rounds; ++round) {
    for (auto& r : rs) r->BecomeFollower(r->term() + 1, kNone);
    int timed_out = 0;
    while (timed_out == 0) {
      for (auto& r : rs) {
        r->Tick();
        if (!r->TakeMessages().empty()) ++timed_out;
      }
    }
    if (timed_out > 1) ++conflicts;
  }
  EXPECT_LT(conflicts, rounds * 3 / 10);
}

// 5.3: the leader appends a proposal to its log and sends it to followers.
TEST(RaftPaper, LeaderStartsReplication) {
  auto t = NewTestRaft(1, {1, 2, 3}, 10, 1);
  MakeLeader(t);
  CommitNoop(t);
  const uint64_t li = t->log().LastIndex();
  t->Step(PropMsg(1, "some data"));
  EXPECT_EQ(t->log().LastIndex(), li + 1);
  EXPECT_EQ(t->log().committed(), li);
  auto msgs = t->TakeMessages();
  ASSERT_EQ(msgs.size(), 2u);
  for (const auto& m : msgs) {
    EXPECT_EQ(m.type(), Message::MSG_APP);
    EXPECT_EQ(m.index(), li);
    EXPECT_EQ(m.log_term(), 1u);
    ASSERT_EQ(m.entries_size(), 1);
    EXPECT_EQ(m.entries(0).data(), "some data");
    EXPECT_EQ(m.commit(), li);
  }
}

// 5.3: once a majority stores an entry the leader commits it and tells the
// followers the new commit index.
TEST(RaftPaper, LeaderCommitsEntryReplicatedOnMajority) {
  auto t = NewTestRaft(1, {1, 2, 3}, 10, 1);
  MakeLeader(t);
  const uint64_t li = t->log().LastIndex();
  t->Step(PropMsg(1, "some data"));
  for (const auto& m : t->TakeMessages()) {
    Message resp = Msg(m.to(), 1, Message::MSG_APP_RESP, 1);
    resp.set_index(m.index() + m.entries_size());
    t->Step(resp);
  }
  EXPECT_EQ(t->log().committed(), li + 1);
  auto apps = TakeOfType(*t.raft, Message::MSG_APP);
  ASSERT_FALSE(apps.empty());
  for (const auto& m : apps) EXPECT_EQ(m.commit(), li + 1);
}

// 5.3: commit requires acks from a majority, counting the leader.
TEST(RaftPaper, LeaderAcknowledgesCommitOnlyWithMajority) {
  struct Case {
    size_t size;
    std::set<uint64_t> acks;
    bool committed;
  };
  const std::vector<Case> cases = {
      {1, {}, true},     {3, {}, false},       {3, {2}, true},
      {3, {2, 3}, true}, {5, {}, false},       {5, {2}, false},
      {5, {2, 3}, true}, {5, {2, 3, 4}, true}, {5, {2, 3, 4, 5}, true},
  };
  for (const auto& c : cases) {
    auto t = NewTestRaft(1, Ids(c.size), 10, 1);
    MakeLeader(t);
    const uint64_t li = t->log().LastIndex();
    t->Step(PropMsg(1, "some data"));
    for (const auto& m : t->TakeMessages()) {
      if (!c.acks.count(m.to())) continue;
      Message resp = Msg(m.to(), 1, Message::MSG_APP_RESP, 1);
      resp.set_index(m.index() + m.entries_size());
      t->Step(resp);
    }
    EXPECT_EQ(t->log().committed() > li, c.committed) << "size " << c.size;
  }
}

// 5.3/5.4.2: committing an entry of the current term also commits every
// preceding entry, including ones from earlier leaders.
TEST(RaftPaper, LeaderCommitsPrecedingEntries) {
  const std::vector<std::vector<uint64_t>> logs = {{}, {2}, {1, 2}, {1}};
  for (const auto& terms : logs) {
    auto t = NewTestRaft(1, {1, 2, 3}, 10, 1, StorageWithLog(terms, 2));
    t->BecomeCandidate();  // term 3
    t->BecomeLeader();
    t->Step(PropMsg(1, "some data"));
    for (const auto& m : t->TakeMessages()) {
      Message resp = Msg(m.to(), 1, Message::MSG_APP_RESP, 3);
      resp.set_index(m.index() + m.entries_size());
      t->Step(resp);
    }
    const uint64_t li = terms.size();
    EXPECT_EQ(t->log().committed(), li + 2);  // old entries, empty, data
    auto committed = t->log().NextEntries();
    ASSERT_EQ(committed.size(), li + 2);
    EXPECT_EQ(committed.back().data(), "some data");
  }
}

// 5.3: a follower applies entries up to the leader's commit index.
TEST(RaftPaper, FollowerCommitsUpToLeaderCommit) {
  struct Case {
    size_t n;
    uint64_t commit;
  };
  for (const auto& c : std::vector<Case>{{1, 1}, {2, 2}, {2, 1}, {1, 0}}) {
    auto t = NewTestRaft(1, {1, 2, 3}, 10, 1);
    t->BecomeFollower(1, 2);
    Message m = Msg(2, 1, Message::MSG_APP, 1);
    for (size_t i = 0; i < c.n; ++i) *m.add_entries() = MakeEntry(i + 1, 1, "x");
    m.set_commit(c.commit);
    t->Step(m);
    EXPECT_EQ(t->log().committed(), c.commit);
    EXPECT_EQ(t->log().NextEntries().size(), c.commit);
  }
}

// 5.3: a follower refuses an append whose previous entry it does not have,
// hinting where the logs may match.
TEST(RaftPaper, FollowerChecksPreviousEntryOfAppend) {
  struct Case {
    uint64_t term, index;
    bool reject;
    uint64_t want_index, hint;
  };
  // Follower log: terms {1, 2}, committed 1.
  const std::vector<Case> cases = {
      {0, 0, false, 1, 0},  // stale/committed index: ack commit
      {1, 1, false, 1, 0},  // match
      {2, 2, false, 2, 0},  // match
      {1, 2, true, 2, 1},   // term mismatch at 2: hint 1 (term 1)
      {3, 3, true, 3, 2},   // beyond our log: hint our last index
  };
  for (const auto& c : cases) {
    auto s = StorageWithLog({1, 2}, 2);
    HardState hs;
    hs.set_term(2);
    hs.set_commit(1);
    s->SetHardState(hs);
    auto t = NewTestRaft(1, {1, 2, 3}, 10, 1, std::move(s));
    t->BecomeFollower(2, 2);
    Message m = Msg(2, 1, Message::MSG_APP, 2);
    m.set_log_term(c.term);
    m.set_index(c.index);
    t->Step(m);
    auto msgs = t->TakeMessages();
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].type(), Message::MSG_APP_RESP);
    EXPECT_EQ(msgs[0].reject(), c.reject) << c.index;
    EXPECT_EQ(msgs[0].index(), c.want_index) << c.index;
    if (c.reject) {
      EXPECT_EQ(msgs[0].reject_hint(), c.hint) << c.index;
    }
  }
}

// 5.3: a follower deletes a conflicting suffix and appends the new entries.
TEST(RaftPaper, FollowerReplacesConflictingEntries) {
  struct Case {
    uint64_t index, term;
    std::vector<Entry> ents;
    std::vector<uint64_t> want_terms;
  };
  const std::vector<Case> cases = {
      {2, 2, {MakeEntry(3, 3)}, {1, 2, 3}},
      {1, 1, {MakeEntry(2, 3), MakeEntry(3, 4)}, {1, 3, 4}},
      {0, 0, {MakeEntry(1, 1)}, {1, 2}},
      {0, 0, {MakeEntry(1, 3)}, {3}},
  };
  for (const auto& c : cases) {
    auto t = NewTestRaft(1, {1, 2, 3}, 10, 1, StorageWithLog({1, 2}, 2));
    t->BecomeFollower(2, 2);
    Message m = Msg(2, 1, Message::MSG_APP, 2);
    m.set_index(c.index);
    m.set_log_term(c.term);
    for (const auto& e : c.ents) *m.add_entries() = e;
    t->Step(m);
    EXPECT_EQ(LogTerms(*t.raft), c.want_terms);
  }
}

// 5.3 (Figure 7): a new leader brings any follower's log, shorter, longer
// or conflicting, into agreement with its own.
TEST(RaftPaper, LeaderSyncsFollowerLogs) {
  const std::vector<uint64_t> lead_log = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  const std::vector<std::vector<uint64_t>> followers = {
      {1, 1, 1, 4, 4, 5, 5, 6, 6},           // (a) missing one
      {1, 1, 1, 4},                          // (b) missing many
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},     // (c) extra uncommitted
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7},  // (d) extra from term 7
      {1, 1, 1, 4, 4, 4, 4},                 // (e) conflicting term 4
      {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},     // (f) conflicting terms 2,3
  };
  const uint64_t term = 8;
  for (size_t i = 0; i < followers.size(); ++i) {
    auto ls = StorageWithLog(lead_log, term);
    HardState lhs;
    lhs.set_term(term);
    lhs.set_commit(lead_log.size());
    ls->SetHardState(lhs);
    auto lead = NewTestRaft(1, {1, 2, 3}, 10, 1, std::move(ls));
    auto follower = NewTestRaft(2, {1, 2, 3}, 10, 1, StorageWithLog(followers[i], term - 1));
    // Node 3 only votes: the follower may refuse (its log can be longer).
    auto voter = NewTestRaft(3, {1, 2, 3}, 10, 1, StorageWithLog({}, term - 1));
    std::vector<TestRaft> nodes;
    nodes.push_back(std::move(lead));
    nodes.push_back(std::move(follower));
    nodes.push_back(std::move(voter));
    Network net(std::move(nodes));
    net.Campaign(1);
    ASSERT_EQ(net.node(1)->state(), StateType::kLeader) << "case " << i;
    net.Send(Msg(2, 1, Message::MSG_VOTE_RESP, term + 1));  // stale: ignored
    net.Propose(1, "");
    EXPECT_EQ(LogTerms(*net.node(1)), LogTerms(*net.node(2))) << "case " << i;
    EXPECT_EQ(net.node(2)->log().committed(), net.node(1)->log().committed());
  }
}

// 5.4.1: a vote request carries the candidate's last log index and term.
TEST(RaftPaper, VoteRequestCarriesLastLogPosition) {
  for (const auto& terms : std::vector<std::vector<uint64_t>>{{1}, {1, 2}}) {
    auto t = NewTestRaft(1, {1, 2, 3}, 10, 1, StorageWithLog(terms, terms.back()));
    t->Step(Msg(1, 1, Message::MSG_HUP));
    auto msgs = TakeOfType(*t.raft, Message::MSG_VOTE);
    ASSERT_EQ(msgs.size(), 2u);
    for (const auto& m : msgs) {
      EXPECT_EQ(m.index(), terms.size());
      EXPECT_EQ(m.log_term(), terms.back());
      EXPECT_EQ(m.term(), terms.back() + 1);
    }
  }
}

// 5.4.1: a voter denies its vote to a candidate whose log is less up to
// date than its own (compare last term, then length).
TEST(RaftPaper, VoterGrantsOnlyToUpToDateCandidates) {
  struct Case {
    std::vector<uint64_t> ours;
    uint64_t log_term, index;
    bool reject;
  };
  const std::vector<Case> cases = {
      {{1}, 1, 1, false}, {{1}, 1, 2, false}, {{1, 1}, 1, 1, true},
      {{1}, 2, 1, false}, {{1}, 2, 2, false}, {{1, 1}, 2, 1, false},
      {{2}, 1, 1, true},  {{2}, 1, 2, true},  {{2, 1}, 1, 1, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    auto t = NewTestRaft(1, {1, 2}, 10, 1, StorageWithLog(c.ours));
    Message m = Msg(2, 1, Message::MSG_VOTE, 3);
    m.set_log_term(c.log_term);
    m.set_index(c.index);
    t->Step(m);
    auto msgs = t->TakeMessages();
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].reject(), c.reject) << "case " << i;
  }
}

// 5.4.2: a leader never commits an entry of an earlier term by counting
// replicas; only its own term's entries (and thereby earlier ones).
TEST(RaftPaper, LeaderOnlyCommitsByCountingCurrentTermEntries) {
  struct Case {
    uint64_t ack_index;
    uint64_t want_commit;
  };
  // Log {1:1, 2:2}; leader in term 3 appends the empty entry at 3.
  for (const auto& c : std::vector<Case>{{1, 0}, {2, 0}, {3, 3}}) {
    auto t = NewTestRaft(1, {1, 2}, 10, 1, StorageWithLog({1, 2}, 2));
    t->BecomeCandidate();
    t->BecomeLeader();
    t->TakeMessages();
    Message resp = Msg(2, 1, Message::MSG_APP_RESP, t->term());
    resp.set_index(c.ack_index);
    t->Step(resp);
    EXPECT_EQ(t->log().committed(), c.want_commit) << c.ack_index;
  }
}

}  // namespace
}  // namespace orch::raft::testing
