// Any master accepts any request; a write that reaches a follower is
// forwarded to the leader's REST address (as Nomad forwards RPCs), once.
// Thread safety: thread-safe.
#pragma once

#include <memory>
#include <string>

#include "common/http_client.h"
#include "common/router.h"
#include "master/acl/authorizer.h"
#include "master/replication/raft_node.h"

namespace orch::master {

class LeaderForwarder {
 public:
  // `tls`: this master's files, for https to the leader (which must
  // present a certificate naming server.orch).
  LeaderForwarder(replication::RaftNode* raft, std::string member_id, const TlsFiles& tls = {});

  // Answers `req`: locally (reads, or writes when leading) through `router`
  // once `authz` lets it through (its route's ACL rule), or by forwarding a
  // write to the leader with its token, where the leader checks it against
  // its own, newest ACL state.
  HttpResponse Handle(const Router& router, const HttpRequest& req,
                      const acl::Authorizer& authz) const;

 private:
  replication::RaftNode* raft_;
  std::string member_id_;
  HttpClient client_;
};

}  // namespace orch::master
