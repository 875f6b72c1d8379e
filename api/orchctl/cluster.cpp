#include "api/orchctl/cluster.h"

#include <memory>
#include <optional>

#include "api/orchctl/table.h"
#include "api/orchctl/views.h"
#include "common/net.h"

namespace orch::ctl {

namespace {

std::string Seconds(std::chrono::milliseconds d) { return std::to_string(d.count() / 1000) + "s"; }

// The server's message for table output ("member m4 removed"), else the
// answer itself.
Status PrintClusterResponse(const Context& ctx, const v1::ClusterResponse& resp,
                            const std::string& fallback) {
  return PrintMessage(*ctx.out, ctx.format, resp, [&] {
    return (resp.message().empty() ? fallback : OneLine(resp.message())) + "\n";
  });
}

void Progress(const Context& ctx, const std::string& line) {
  if (ctx.format != OutputFormat::kTable) return;
  *ctx.out << line << std::endl;
}

struct CatchUp {
  uint64_t match = 0;
  uint64_t leader_match = 0;
  bool seen = false;  // the member appeared in a leader's view
  bool done() const { return seen && match > 0 && match + kCatchUpEntries >= leader_match; }
};

// Reads the member's and the leader's match index from `list`; nullopt when
// the answering master does not lead (only the leader knows match indexes).
std::optional<CatchUp> ReadCatchUp(const v1::MemberList& list, const std::string& id) {
  CatchUp c;
  bool leader_seen = false;
  for (const auto& m : list.members()) {
    if (m.leader() && m.match_index() > 0) {
      leader_seen = true;
      c.leader_match = m.match_index();
    }
    if (m.id() == id) {
      c.seen = true;
      c.match = m.match_index();
    }
  }
  if (!leader_seen) return std::nullopt;
  return c;
}

// Polls the leader's member list until `id` is within kCatchUpEntries of
// the leader's log. Asks the configured masters first and, when the one
// answering does not lead, the leader they name.
Result<CatchUp> WaitForCatchUp(const Context& ctx, const ClusterAddOptions& opts) {
  const int64_t deadline = ctx.clock.now_ms() + opts.timeout.count();
  std::unique_ptr<OrchClient> at_leader;
  CatchUp last;
  Status last_error;
  for (;;) {
    OrchClient* source = at_leader ? at_leader.get() : ctx.client;
    auto list = source->ListMembers();
    if (list.ok()) {
      last_error = Status::Ok();
      auto c = ReadCatchUp(*list, opts.id);
      if (c) {
        last = *c;
        if (c->done()) return last;
      } else {
        // Not the leader's view: find the leader and ask it next.
        at_leader.reset();
        auto leader = ctx.client->GetLeader();
        if (!leader.ok()) {
          last_error = leader.status();
        } else if (!leader->address().empty()) {
          at_leader = ctx.client->At(leader->address());
        }
      }
    } else if (list.status().code() == StatusCode::kUnavailable) {
      // An election, or the leader we asked went away: ask again.
      last_error = list.status();
      at_leader.reset();
    } else {
      return list.status();
    }
    if (ctx.clock.now_ms() >= deadline) {
      std::string where;
      if (!last_error.ok()) {
        where = ": " + last_error.message();
      } else if (last.seen) {
        where =
            " (match " + std::to_string(last.match) + "/" + std::to_string(last.leader_match) + ")";
      } else {
        where = " (it is not in the leader's member list)";
      }
      return Status::DeadlineExceeded(
          "member " + opts.id + " did not catch up within " + Seconds(opts.timeout) + where +
          "; it stays a learner: 'orchctl cluster promote " + opts.id + "' makes it a voter");
    }
    ctx.clock.sleep_for(opts.poll);
  }
}

}  // namespace

Status ValidateMemberAddresses(const std::string& raft_address, const std::string& http_address) {
  auto hp = ParseHostPort(raft_address);
  if (!hp.ok()) return Status::InvalidArgument("--raft: " + hp.status().message());
  if (hp->host.empty() || hp->port == 0) {
    return Status::InvalidArgument("--raft: \"" + raft_address + "\" needs a host and a port");
  }
  if (http_address.empty()) return Status::Ok();
  auto urls = ParseUrlList(http_address);
  if (!urls.ok()) return Status::InvalidArgument("--http: " + urls.status().message());
  if (urls->size() != 1) {
    return Status::InvalidArgument("--http: give one address, not \"" + http_address + "\"");
  }
  auto port = ParseHostPort(std::string_view(urls->front()).substr(7));
  if (!port.ok() || port->port == 0) {
    return Status::InvalidArgument("--http: \"" + http_address + "\" needs a port");
  }
  return Status::Ok();
}

Status ClusterMembers(const Context& ctx) {
  ORCH_ASSIGN_OR_RETURN(v1::MemberList members, ctx.client->ListMembers());
  return PrintMessage(*ctx.out, ctx.format, members, [&] { return MembersTable(members); });
}

Status ClusterLeader(const Context& ctx) {
  ORCH_ASSIGN_OR_RETURN(v1::LeaderResponse leader, ctx.client->GetLeader());
  return PrintMessage(*ctx.out, ctx.format, leader, [&] { return LeaderLine(leader); });
}

Status SystemGc(const Context& ctx) {
  ORCH_ASSIGN_OR_RETURN(v1::GcResponse gc, ctx.client->SystemGc());
  return PrintMessage(*ctx.out, ctx.format, gc, [&] {
    return "garbage collected: " + std::to_string(gc.evaluations()) + " evaluation(s), " +
           std::to_string(gc.allocations()) + " allocation(s), " + std::to_string(gc.jobs()) + " job(s), " +
           std::to_string(gc.deployments()) + " deployment(s)\n";
  });
}

Status ClusterAdd(const Context& ctx, const ClusterAddOptions& opts) {
  const bool staged = !opts.learner && opts.wait;  // learner, catch up, promote
  v1::AddMemberRequest add;
  add.set_id(opts.id);
  add.set_raft_address(opts.raft_address);
  add.set_http_address(opts.http_address);
  add.set_learner(opts.learner || staged);
  ORCH_ASSIGN_OR_RETURN(v1::ClusterResponse added, ctx.client->AddMember(add));
  if (!staged) {
    return PrintClusterResponse(ctx, added,
                                opts.id + (opts.learner ? " added as learner" : " added as voter"));
  }
  Progress(ctx, opts.id + " added as learner");
  ORCH_ASSIGN_OR_RETURN(CatchUp c, WaitForCatchUp(ctx, opts));
  Progress(ctx, opts.id + " caught up (match " + std::to_string(c.match) + "/" +
                    std::to_string(c.leader_match) + ")");
  v1::AddMemberRequest promote;
  promote.set_id(opts.id);
  promote.set_promote(true);
  auto promoted = ctx.client->AddMember(promote);
  if (!promoted.ok()) {
    return promoted.status().WithContext("member " + opts.id + " caught up but stays a learner");
  }
  if (ctx.format != OutputFormat::kTable) return PrintClusterResponse(ctx, *promoted, "");
  Progress(ctx, opts.id + " is a voter");
  return Status::Ok();
}

Status ClusterPromote(const Context& ctx, const std::string& id) {
  v1::AddMemberRequest promote;
  promote.set_id(id);
  promote.set_promote(true);
  ORCH_ASSIGN_OR_RETURN(v1::ClusterResponse resp, ctx.client->AddMember(promote));
  return PrintClusterResponse(ctx, resp, id + " is a voter");
}

Status ClusterRemove(const Context& ctx, const std::string& id) {
  ORCH_ASSIGN_OR_RETURN(v1::ClusterResponse resp, ctx.client->RemoveMember(id));
  return PrintClusterResponse(ctx, resp, id + " removed");
}

Status ClusterTransferLeader(const Context& ctx, const std::string& id) {
  ORCH_ASSIGN_OR_RETURN(v1::ClusterResponse resp, ctx.client->TransferLeader(id));
  return PrintClusterResponse(ctx, resp, "leadership transferred to " + id);
}

}  // namespace orch::ctl
