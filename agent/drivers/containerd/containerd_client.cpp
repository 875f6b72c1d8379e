#include "agent/drivers/containerd/containerd_client.h"

#include <spdlog/spdlog.h>

#include <ctime>

#include "common/ids.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"

namespace orch::agent {

ContainerdClient::ContainerdClient(ContainerdClientOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  // Image layers stream through Content.Write in chunks well below this;
  // answers (container lists) are bounded too.
  args.SetMaxReceiveMessageSize(16 << 20);
  args.SetMaxSendMessageSize(16 << 20);
  // containerd's API server sends no keepalives; reconnect quickly after it
  // restarts.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  channel_ = grpc::CreateCustomChannel("unix://" + options_.socket,
                                       grpc::InsecureChannelCredentials(), args);
  containers_ = ctrd::containers::Containers::NewStub(channel_);
  content_ = ctrd::content::Content::NewStub(channel_);
  diff_ = ctrd::diff::Diff::NewStub(channel_);
  events_ = ctrd::events::Events::NewStub(channel_);
  images_ = ctrd::images::Images::NewStub(channel_);
  leases_ = ctrd::leases::Leases::NewStub(channel_);
  snapshots_ = ctrd::snapshots::Snapshots::NewStub(channel_);
  tasks_ = ctrd::tasks::Tasks::NewStub(channel_);
}

Result<std::unique_ptr<ContainerdClient>> ContainerdClient::Connect(
    ContainerdClientOptions options, std::chrono::milliseconds connect_timeout) {
  std::unique_ptr<ContainerdClient> c(new ContainerdClient(std::move(options)));
  auto stub = ::containerd::services::version::v1::Version::NewStub(c->channel_);
  // Not wait-for-ready: a socket nobody listens on fails at once.
  auto ctx = c->Context(connect_timeout);
  google::protobuf::Empty req;
  ::containerd::services::version::v1::VersionResponse resp;
  grpc::Status s = stub->Version(ctx.get(), req, &resp);
  if (!s.ok()) {
    return Status::Unavailable("containerd at " + c->options_.socket +
                               " does not answer: " + s.error_message());
  }
  c->version_ = resp.version();
  return c;
}

std::unique_ptr<grpc::ClientContext> ContainerdClient::Context(const std::string& lease) const {
  return Context(options_.call_timeout, lease);
}

std::unique_ptr<grpc::ClientContext> ContainerdClient::Context(std::chrono::milliseconds timeout,
                                                               const std::string& lease) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("containerd-namespace", options_.ns);
  if (!lease.empty()) ctx->AddMetadata("containerd-lease", lease);
  if (timeout.count() > 0) ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

Status ContainerdClient::FromGrpc(const grpc::Status& s, const std::string& what) const {
  if (s.ok()) return Status::Ok();
  std::string m = what + ": " + s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      return Status::NotFound(m);
    case grpc::StatusCode::ALREADY_EXISTS:
      return Status::AlreadyExists(m);
    case grpc::StatusCode::UNAVAILABLE:
      return Status::Unavailable(what + ": containerd at " + options_.socket +
                                 " does not answer (" + s.error_message() + ")");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status::DeadlineExceeded(m);
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Status::InvalidArgument(m);
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Status::FailedPrecondition(m);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return Status::ResourceExhausted(m);
    case grpc::StatusCode::PERMISSION_DENIED:
      return Status::PermissionDenied(m);
    default:
      return Status::Internal(m);
  }
}

Status ContainerdLease::Create(const std::string& purpose) {
  ctrd::leases::CreateRequest req;
  req.set_id("orch-" + purpose + "-" + NewUuid().substr(0, 13));
  std::time_t t = std::time(nullptr) + 3600;
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  (*req.mutable_labels())["containerd.io/gc.expire"] = buf;  // RFC 3339
  ctrd::leases::CreateResponse resp;
  auto ctx = c_.Context();
  ORCH_RETURN_IF_ERROR(c_.FromGrpc(c_.leases().Create(ctx.get(), req, &resp), "create a lease"));
  id_ = resp.lease().id();
  return Status::Ok();
}

ContainerdLease::~ContainerdLease() {
  if (id_.empty()) return;
  ctrd::leases::DeleteRequest req;
  req.set_id(id_);
  google::protobuf::Empty resp;
  auto ctx = c_.Context();
  grpc::Status s = c_.leases().Delete(ctx.get(), req, &resp);
  if (!s.ok()) spdlog::warn("containerd: delete lease {}: {}", id_, s.error_message());
}

}  // namespace orch::agent
