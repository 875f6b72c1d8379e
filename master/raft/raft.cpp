// Roles, ticks, term handling and elections. Leader-only logic lives in
// raft_leader.cpp, log shipping in raft_replication.cpp, membership in
// raft_conf.cpp.
#include "master/raft/raft.h"

#include <algorithm>

namespace orch::raft {

const char* StateName(StateType s) {
  switch (s) {
    case StateType::kFollower:
      return "follower";
    case StateType::kCandidate:
      return "candidate";
    case StateType::kLeader:
      return "leader";
    case StateType::kPreCandidate:
      return "pre-candidate";
  }
  return "?";
}

namespace {

bool IsVoteRequest(Message::Type t) { return t == Message::MSG_VOTE || t == Message::MSG_PRE_VOTE; }

Message::Type VoteRespType(Message::Type t) {
  return t == Message::MSG_VOTE ? Message::MSG_VOTE_RESP : Message::MSG_PRE_VOTE_RESP;
}

}  // namespace

Raft::Raft(const Config& c)
    : id_(c.id),
      cfg_(c),
      log_(c.storage, c.max_committed_size_per_ready),
      // Mixing in the id keeps peers sharing one seed from timing out in
      // lockstep.
      rng_(c.seed ^ (c.id * 0x9E3779B97F4A7C15ULL)) {
  RAFT_CHECK(c.Validate() == Error::kOk);
  InitialState is = c.storage->GetInitialState();
  if (is.conf_state.voters_size() > 0 || is.conf_state.learners_size() > 0) {
    ApplyInitialConf(is.conf_state);
  } else {
    ConfState cs;
    for (uint64_t p : c.peers) cs.add_voters(p);
    for (uint64_t l : c.learners) cs.add_learners(l);
    ApplyInitialConf(cs);
  }
  const HardState& hs = is.hard_state;
  if (hs.term() != 0 || hs.vote() != 0 || hs.commit() != 0) {
    RAFT_CHECK(hs.commit() >= log_.committed() && hs.commit() <= log_.LastIndex());
    log_.CommitTo(hs.commit());
    term_ = hs.term();
    vote_ = hs.vote();
  }
  if (c.applied > 0) log_.AppliedTo(c.applied);
  BecomeFollower(term_, kNone);
}

HardState Raft::GetHardState() const {
  HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(log_.committed());
  return hs;
}

bool Raft::is_learner() const {
  auto it = prs_.find(id_);
  return it != prs_.end() && it->second.is_learner;
}

Progress* Raft::progress(uint64_t id) {
  auto it = prs_.find(id);
  return it == prs_.end() ? nullptr : &it->second;
}

std::vector<Message> Raft::TakeMessages() {
  std::vector<Message> out;
  out.swap(messages_);
  return out;
}

std::vector<ReadState> Raft::TakeReadStates() {
  std::vector<ReadState> out;
  out.swap(read_states_);
  return out;
}

void Raft::Send(Message m) {
  if (m.from() == kNone) m.set_from(id_);
  const auto t = m.type();
  if (IsVoteRequest(t) || t == Message::MSG_VOTE_RESP || t == Message::MSG_PRE_VOTE_RESP) {
    // Vote traffic carries the term it is about (a pre-vote asks about the
    // next term without moving to it), so the caller sets it.
    RAFT_CHECK(m.term() != 0);
  } else if (t != Message::MSG_PROP && t != Message::MSG_READ_INDEX) {
    // Forwarded proposals and reads stay term-less: the leader treats them
    // as local requests.
    m.set_term(term_);
  }
  messages_.push_back(std::move(m));
}

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  votes_.clear();
  for (auto& [id, pr] : prs_) {
    pr = Progress(log_.LastIndex() + 1, cfg_.max_inflight_msgs, cfg_.max_inflight_bytes,
                  pr.is_learner);
    if (id == id_) pr.match = log_.LastIndex();
  }
  pending_conf_index_ = 0;
  uncommitted_size_ = 0;
  read_only_ = ReadOnly();
  pending_read_index_messages_.clear();
}

void Raft::ResetRandomizedElectionTimeout() {
  // Modulo rather than std::uniform_int_distribution: the latter differs
  // across standard libraries, which would break replay of a seed.
  randomized_election_timeout_ = cfg_.election_tick + static_cast<int>(rng_() % cfg_.election_tick);
}

void Raft::Tick() {
  if (state_ == StateType::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::ForgetLeader() {
  if (state_ != StateType::kFollower || lead_ == kNone) return;
  const uint64_t gone = lead_;
  lead_ = kNone;
  // Followers that all saw the leader go would split the vote if they
  // campaigned together: they take turns by id instead, two ticks apart
  // (the first one's pre-vote and vote reach the others well within that).
  int rank = 0;
  for (uint64_t id : Voters()) rank += id != gone && id < id_;
  const int wait = std::min(1 + 2 * rank, cfg_.election_tick);
  election_elapsed_ = std::max(election_elapsed_, randomized_election_timeout_ - wait);
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (Promotable() && PastElectionTimeout()) {
    election_elapsed_ = 0;
    Message m;
    m.set_type(Message::MSG_HUP);
    m.set_from(id_);
    Step(std::move(m));
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= cfg_.election_tick) {
    election_elapsed_ = 0;
    if (cfg_.check_quorum) {
      Message m;
      m.set_type(Message::MSG_CHECK_QUORUM);
      m.set_from(id_);
      Step(std::move(m));
    }
    // A transfer that did not finish within an election timeout failed
    // (target down or too slow); accept proposals again.
    if (state_ == StateType::kLeader && lead_transferee_ != kNone) {
      AbortLeaderTransfer();
    }
  }
  if (state_ != StateType::kLeader) return;
  if (heartbeat_elapsed_ >= cfg_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    Message m;
    m.set_type(Message::MSG_BEAT);
    m.set_from(id_);
    Step(std::move(m));
  }
}

void Raft::BecomeFollower(uint64_t term, uint64_t lead) {
  Reset(term);
  lead_ = lead;
  state_ = StateType::kFollower;
}

void Raft::BecomeCandidate() {
  RAFT_CHECK(state_ != StateType::kLeader);
  Reset(term_ + 1);
  vote_ = id_;
  state_ = StateType::kCandidate;
}

void Raft::BecomePreCandidate() {
  RAFT_CHECK(state_ != StateType::kLeader);
  // Term and vote stay: a pre-vote changes nothing durable, which is what
  // keeps a partitioned node from disrupting the cluster when it returns.
  votes_.clear();
  lead_ = kNone;
  state_ = StateType::kPreCandidate;
}

void Raft::BecomeLeader() {
  RAFT_CHECK(state_ != StateType::kFollower);
  Reset(term_);
  lead_ = id_;
  state_ = StateType::kLeader;
  if (auto* self = progress(id_)) {
    // The leader's own log needs no probing.
    self->BecomeReplicate();
    self->recent_active = true;
  }
  // Any unapplied entry might be a conf change; be conservative.
  pending_conf_index_ = log_.LastIndex();
  // An entry of the new term lets earlier entries commit (paper 5.4.2) and
  // makes ReadIndex usable.
  Entry empty;
  empty.set_type(Entry::NORMAL);
  RAFT_CHECK(AppendEntry({empty}));
}

bool Raft::Promotable() const {
  auto it = prs_.find(id_);
  return it != prs_.end() && !it->second.is_learner && !log_.HasPendingSnapshot();
}

void Raft::Hup(CampaignType t) {
  if (state_ == StateType::kLeader) return;
  if (!Promotable()) return;
  // A node must not campaign with an unapplied conf change committed: it
  // could be campaigning under a membership that is no longer current.
  auto ents = log_.Slice(log_.applied() + 1, log_.committed() + 1, kNoLimit);
  if (!ents.ok()) return;
  for (const auto& e : ents.value) {
    if (e.type() == Entry::CONF_CHANGE) return;
  }
  Campaign(t);
}

void Raft::Campaign(CampaignType t) {
  if (!Promotable()) return;
  uint64_t term;
  Message::Type vote_type;
  if (t == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_type = Message::MSG_PRE_VOTE;
    term = term_ + 1;  // the term we would campaign in
  } else {
    BecomeCandidate();
    vote_type = Message::MSG_VOTE;
    term = term_;
  }
  if (Poll(id_, true) == VoteResult::kWon) {
    // Single-voter cluster.
    if (t == CampaignType::kPreElection) {
      Campaign(CampaignType::kElection);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (uint64_t id : Voters()) {
    if (id == id_) continue;
    Message m;
    m.set_type(vote_type);
    m.set_to(id);
    m.set_term(term);
    m.set_index(log_.LastIndex());
    m.set_log_term(log_.LastTerm());
    if (t == CampaignType::kTransfer) m.set_context(kCampaignTransfer);
    Send(std::move(m));
  }
}

VoteResult Raft::Poll(uint64_t id, bool granted) {
  votes_.emplace(id, granted);  // first answer wins; duplicates ignored
  return TallyVotes(Voters(), votes_);
}

Error Raft::Step(Message m) {
  const auto t = m.type();
  // No correct cluster's term comes near 2^62 (one per election): a higher
  // one is forged, and following it would let the next campaign's term
  // wrap around to 0.
  if (m.term() > (uint64_t{1} << 62)) return Error::kOk;
  if (m.term() == 0) {
    // Local message.
  } else if (m.term() > term_) {
    if (IsVoteRequest(t)) {
      const bool force = m.context() == kCampaignTransfer;
      const bool in_lease =
          cfg_.check_quorum && lead_ != kNone && election_elapsed_ < cfg_.election_tick;
      // We heard from a leader within the minimum election timeout: this
      // candidate is probably disrupted (e.g. was partitioned). Ignore it
      // rather than stepping down (thesis 4.2.3).
      if (!force && in_lease) return Error::kOk;
    }
    if (t == Message::MSG_PRE_VOTE) {
      // Never change term on a pre-vote.
    } else if (t == Message::MSG_PRE_VOTE_RESP && !m.reject()) {
      // The term in a granted pre-vote response is the one we would move to
      // if the pre-vote wins; not ours yet.
    } else if (t == Message::MSG_APP || t == Message::MSG_HEARTBEAT || t == Message::MSG_SNAP) {
      BecomeFollower(m.term(), m.from());
    } else {
      BecomeFollower(m.term(), kNone);
    }
  } else if (m.term() < term_) {
    if ((cfg_.check_quorum || cfg_.pre_vote) &&
        (t == Message::MSG_HEARTBEAT || t == Message::MSG_APP)) {
      // A stale leader (e.g. isolated, then back) would otherwise never
      // learn the new term: with check-quorum/pre-vote we do not campaign
      // against it. Answering tells it to step down.
      Message resp;
      resp.set_type(Message::MSG_APP_RESP);
      resp.set_to(m.from());
      Send(std::move(resp));
    } else if (t == Message::MSG_PRE_VOTE) {
      // Reject with our term so the pre-candidate can catch up.
      Message resp;
      resp.set_type(Message::MSG_PRE_VOTE_RESP);
      resp.set_to(m.from());
      resp.set_term(term_);
      resp.set_reject(true);
      Send(std::move(resp));
    }
    return Error::kOk;  // everything else from an older term is ignored
  }

  switch (t) {
    case Message::MSG_HUP:
      Hup(cfg_.pre_vote ? CampaignType::kPreElection : CampaignType::kElection);
      return Error::kOk;
    case Message::MSG_VOTE:
    case Message::MSG_PRE_VOTE:
      HandleVoteRequest(m);
      return Error::kOk;
    default:
      break;
  }
  switch (state_) {
    case StateType::kLeader:
      return StepLeader(std::move(m));
    case StateType::kCandidate:
    case StateType::kPreCandidate:
      return StepCandidate(std::move(m));
    case StateType::kFollower:
      return StepFollower(std::move(m));
  }
  return Error::kOk;
}

void Raft::HandleVoteRequest(const Message& m) {
  // We may vote if we already voted for this node (a retry), have not voted
  // and know no leader in this term, or it is a pre-vote for a later term.
  const bool can_vote = vote_ == m.from() || (vote_ == kNone && lead_ == kNone) ||
                        (m.type() == Message::MSG_PRE_VOTE && m.term() > term_);
  Message resp;
  resp.set_type(VoteRespType(m.type()));
  resp.set_to(m.from());
  if (can_vote && log_.IsUpToDate(m.index(), m.log_term())) {
    // Answer in the candidate's term: for a pre-vote our term is older and
    // the candidate would otherwise drop the answer.
    resp.set_term(m.term());
    Send(std::move(resp));
    if (m.type() == Message::MSG_VOTE) {
      election_elapsed_ = 0;
      vote_ = m.from();
    }
  } else {
    resp.set_term(term_);
    resp.set_reject(true);
    Send(std::move(resp));
  }
}

Error Raft::StepCandidate(Message m) {
  const auto resp_type =
      state_ == StateType::kPreCandidate ? Message::MSG_PRE_VOTE_RESP : Message::MSG_VOTE_RESP;
  switch (m.type()) {
    case Message::MSG_PROP:
      return Error::kProposalDropped;
    case Message::MSG_APP:
      BecomeFollower(m.term(), m.from());  // a leader exists in our term
      HandleAppendEntries(m);
      return Error::kOk;
    case Message::MSG_HEARTBEAT:
      BecomeFollower(m.term(), m.from());
      HandleHeartbeat(m);
      return Error::kOk;
    case Message::MSG_SNAP:
      BecomeFollower(m.term(), m.from());
      HandleSnapshot(m);
      return Error::kOk;
    default:
      break;
  }
  if (m.type() == resp_type) {
    switch (Poll(m.from(), !m.reject())) {
      case VoteResult::kWon:
        if (state_ == StateType::kPreCandidate) {
          Campaign(CampaignType::kElection);
        } else {
          BecomeLeader();
          BcastAppend();
        }
        break;
      case VoteResult::kLost:
        // Stay in our term; a pre-candidate's term never moved.
        BecomeFollower(term_, kNone);
        break;
      case VoteResult::kPending:
        break;
    }
  }
  return Error::kOk;
}

Error Raft::StepFollower(Message m) {
  switch (m.type()) {
    case Message::MSG_PROP:
      if (lead_ == kNone || cfg_.disable_proposal_forwarding) {
        return Error::kProposalDropped;
      }
      m.set_to(lead_);
      Send(std::move(m));
      return Error::kOk;
    case Message::MSG_APP:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleAppendEntries(m);
      return Error::kOk;
    case Message::MSG_HEARTBEAT:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleHeartbeat(m);
      return Error::kOk;
    case Message::MSG_SNAP:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleSnapshot(m);
      return Error::kOk;
    case Message::MSG_TRANSFER_LEADER:
    case Message::MSG_READ_INDEX:
      if (lead_ == kNone) return Error::kProposalDropped;
      m.set_to(lead_);
      m.set_term(0);  // Send() stamps the right term
      Send(std::move(m));
      return Error::kOk;
    case Message::MSG_TIMEOUT_NOW:
      // The leader asked us to take over now: skip pre-vote, since the
      // leader itself wants this election.
      Hup(CampaignType::kTransfer);
      return Error::kOk;
    case Message::MSG_READ_INDEX_RESP:
      if (m.entries_size() != 1) return Error::kOk;
      read_states_.push_back(ReadState{m.index(), m.entries(0).data()});
      return Error::kOk;
    default:
      return Error::kOk;
  }
}

}  // namespace orch::raft
