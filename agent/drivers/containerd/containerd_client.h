// ContainerdClient: containerd's gRPC API on its unix socket, the services
// the containerd driver uses (version, content, images, leases, snapshots,
// diff, containers, tasks, events), with code generated from the API's
// .proto files (orch_containerd_api). Every call carries the namespace
// (gRPC metadata "containerd-namespace") and a deadline; calls made while
// pulling carry the pull's lease ("containerd-lease") so that containerd's
// garbage collector leaves half-made content and snapshots alone.
// Thread safety: thread-safe (gRPC stubs are).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/diff/v1/diff.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"

namespace orch::agent {

namespace ctrd {
namespace containers = ::containerd::services::containers::v1;
namespace content = ::containerd::services::content::v1;
namespace diff = ::containerd::services::diff::v1;
namespace events = ::containerd::services::events::v1;
namespace images = ::containerd::services::images::v1;
namespace leases = ::containerd::services::leases::v1;
namespace snapshots = ::containerd::services::snapshots::v1;
namespace tasks = ::containerd::services::tasks::v1;
namespace types = ::containerd::types;
}  // namespace ctrd

struct ContainerdClientOptions {
  std::string socket = "/run/containerd/containerd.sock";
  std::string ns = "orch";  // containerd namespace orch's containers live in
  std::chrono::milliseconds call_timeout{std::chrono::seconds(30)};
};

class ContainerdClient {
 public:
  // Unavailable when containerd does not answer (its version) on the socket
  // within `connect_timeout`.
  static Result<std::unique_ptr<ContainerdClient>> Connect(
      ContainerdClientOptions options,
      std::chrono::milliseconds connect_timeout = std::chrono::seconds(5));

  const std::string& version() const { return version_; }
  const std::string& socket() const { return options_.socket; }
  const std::string& ns() const { return options_.ns; }

  // A context for one call: namespace, lease (when not empty), deadline
  // (the client's call timeout unless given; 0 = none, for streams).
  std::unique_ptr<grpc::ClientContext> Context(const std::string& lease = "") const;
  std::unique_ptr<grpc::ClientContext> Context(std::chrono::milliseconds timeout,
                                               const std::string& lease = "") const;

  ctrd::containers::Containers::Stub& containers() { return *containers_; }
  ctrd::content::Content::Stub& content() { return *content_; }
  ctrd::diff::Diff::Stub& diff() { return *diff_; }
  ctrd::events::Events::Stub& events() { return *events_; }
  ctrd::images::Images::Stub& images() { return *images_; }
  ctrd::leases::Leases::Stub& leases() { return *leases_; }
  ctrd::snapshots::Snapshots::Stub& snapshots() { return *snapshots_; }
  ctrd::tasks::Tasks::Stub& tasks() { return *tasks_; }

  // A gRPC status as orch's, the message prefixed with `what` ("create
  // container X"): NOT_FOUND -> NotFound, ALREADY_EXISTS -> AlreadyExists,
  // UNAVAILABLE -> Unavailable ("containerd at <socket> does not answer"),
  // DEADLINE_EXCEEDED, INVALID_ARGUMENT, FAILED_PRECONDITION alike; the rest
  // Internal.
  Status FromGrpc(const grpc::Status& s, const std::string& what) const;

 private:
  explicit ContainerdClient(ContainerdClientOptions options);

  const ContainerdClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string version_;
  std::unique_ptr<ctrd::containers::Containers::Stub> containers_;
  std::unique_ptr<ctrd::content::Content::Stub> content_;
  std::unique_ptr<ctrd::diff::Diff::Stub> diff_;
  std::unique_ptr<ctrd::events::Events::Stub> events_;
  std::unique_ptr<ctrd::images::Images::Stub> images_;
  std::unique_ptr<ctrd::leases::Leases::Stub> leases_;
  std::unique_ptr<ctrd::snapshots::Snapshots::Stub> snapshots_;
  std::unique_ptr<ctrd::tasks::Tasks::Stub> tasks_;
};

// A lease: what is made under it (content, snapshots) stays until the
// lease is deleted, here when this object goes (with an expiry an hour on as
// a safety net if the agent dies meanwhile). Pulls and container creation
// work under one, so containerd's collector, which runs whenever anything
// is deleted in any namespace, never takes what is half made.
class ContainerdLease {
 public:
  explicit ContainerdLease(ContainerdClient& c) : c_(c) {}
  ~ContainerdLease();
  ContainerdLease(const ContainerdLease&) = delete;
  ContainerdLease& operator=(const ContainerdLease&) = delete;
  Status Create(const std::string& purpose);  // id "orch-<purpose>-<random>"
  const std::string& id() const { return id_; }

 private:
  ContainerdClient& c_;
  std::string id_;
};

}  // namespace orch::agent
