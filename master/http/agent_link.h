// AgentLink: how a master calls the agent of a node (the logs and
// ephemeral-disk routes): the HTTP address the agent registered
// (Node.address), checked, and the credential it wants (kNodeAuthHeader,
// the node's secret hash). One HttpClient for all such calls, https with
// the agent's certificate (agent.orch) when the masters run TLS.
// Thread safety: stateless functions; the client is thread-safe.
#pragma once

#include <memory>
#include <string>

#include "common/http_client.h"
#include "common/http_types.h"
#include "common/status.h"
#include "common/tls.h"
#include "master/state/state_store.h"

namespace orch::master {

struct AgentLink {
  std::string base;  // "http://10.0.0.7:4650"
  HttpClient::Headers headers;
};

// The agent of node `node_id`. Unavailable when the node is down or gave
// no address; `what` names what is wanted in those errors ("its logs").
Result<AgentLink> LinkToAgent(StateStore* store, const std::string& node_id,
                              const std::string& what);

std::shared_ptr<HttpClient> MakeAgentClient(const TlsFiles& tls);

// An agent's answer as the master's: Unavailable when it could not be
// reached, else its status, content type and body.
HttpResponse RelayAgentAnswer(const Result<HttpResponse>& resp, const std::string& base);

}  // namespace orch::master
