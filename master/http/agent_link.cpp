#include "master/http/agent_link.h"

#include "common/ids.h"
#include "common/net.h"

namespace orch::master {

Result<AgentLink> LinkToAgent(StateStore* store, const std::string& node_id,
                              const std::string& what) {
  ORCH_ASSIGN_OR_RETURN(v1::Node node, store->GetNode(node_id));
  std::string name = node.name() + " (" + ShortId(node.id()) + ")";
  if (node.address().empty()) {
    return Status::Unavailable("node " + name + " registered no HTTP address to fetch " + what +
                               " from");
  }
  // Stored before addresses were checked at registration, or otherwise
  // not a plain http(s) address: never fetched.
  if (Status st = ValidateHttpBaseUrl(node.address()); !st.ok()) {
    return Status::FailedPrecondition("node " + ShortId(node.id()) +
                                      " has no usable address: " + st.message());
  }
  if (node.status() == v1::Node::DOWN) {
    return Status::Unavailable("node " + name + " is down; " + what + " cannot be fetched now");
  }
  AgentLink out{node.address(), {}};
  if (!node.secret_hash().empty()) out.headers.emplace_back(kNodeAuthHeader, node.secret_hash());
  return out;
}

std::shared_ptr<HttpClient> MakeAgentClient(const TlsFiles& tls) {
  HttpClientOptions opts;
  opts.timeout = std::chrono::seconds(30);
  opts.tls = tls;
  opts.tls_server_name = std::string(TlsRoleName(TlsRole::kAgent));
  return std::make_shared<HttpClient>(opts);
}

HttpResponse RelayAgentAnswer(const Result<HttpResponse>& resp, const std::string& base) {
  if (!resp.ok()) {
    return HttpResponse::Error(Status::Unavailable(
        "the agent at " + base + " cannot be reached: " + resp.status().message()));
  }
  HttpResponse out;
  out.status = resp->status;
  out.content_type = resp->content_type.empty() ? "text/plain; charset=utf-8" : resp->content_type;
  out.body = resp->body;
  return out;
}

}  // namespace orch::master
