// DockerClient: the few Docker Engine API calls the docker driver needs,
// over the engine's unix socket with libcurl (common/http_client for plain
// requests, a streaming transfer for logs). Paths are versioned: Connect()
// asks GET /version and speaks min(engine's ApiVersion, 1.41).
//
// Errors name what was asked and what the engine said ("create container
// orch-...: No such image: ..."); 404 is NotFound, 409 AlreadyExists, a
// transport failure Unavailable, a timeout DeadlineExceeded.
// Thread safety: all methods may be called from many threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/drivers/driver.h"
#include "common/http_client.h"
#include "common/status.h"

namespace orch::agent {

struct DockerClientOptions {
  std::string socket = "/var/run/docker.sock";
  std::chrono::milliseconds timeout{30'000};  // one ordinary request
  std::string max_api_version = "1.41";
};

// What the driver reads from GET /containers/{id}/json.
struct ContainerInfo {
  std::string id;
  std::string name;
  std::string status;  // created, running, paused, restarting, removing, exited, dead
  bool running = false;
  int pid = 0;
  int exit_code = 0;
  bool oom_killed = false;
  std::string error;  // the engine's own words when it could not run it
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;
  std::map<std::string, std::string> labels;
  // Limits as the engine holds them (HostConfig).
  int64_t nano_cpus = 0;
  int64_t memory_bytes = 0;
};

struct ContainerSummary {
  std::string id;
  std::string state;  // "running", "exited", ...
  std::map<std::string, std::string> labels;
};

struct ContainerUsage {
  int64_t cpu_ns = 0;        // cumulative
  int64_t memory_bytes = 0;  // usage less the page cache
};

// "registry:5000/a/b:tag" -> {"registry:5000/a/b", "tag"}; no tag -> "latest";
// a digest reference keeps the digest in the repository and an empty tag.
std::pair<std::string, std::string> SplitImageRef(const std::string& ref);

// The X-Registry-Auth value for `auth` (base64url of its JSON), "" for none.
std::string RegistryAuthHeader(const std::string& username, const std::string& password,
                               const std::string& server);

// Credentials for the registry of `image` from a Docker config.json
// ("auths": {"registry": {"auth": base64("user:password")}}); nullopt
// when it holds none for that registry.
struct RegistryCredentials {
  std::string username, password, server;
};
std::optional<RegistryCredentials> CredentialsFromDockerConfig(const std::string& config_json,
                                                               const std::string& image);
// "127.0.0.1:5055/a/b:1" -> "127.0.0.1:5055"; "busybox" -> "docker.io".
std::string RegistryOf(const std::string& image);

// RFC 3339 with nanoseconds ("2024-05-01T10:00:00.123456789Z") to ms since
// the epoch; 0 for Docker's zero time ("0001-01-01T00:00:00Z") or garbage.
int64_t ParseDockerTime(const std::string& text);

class DockerClient {
 public:
  // Asks the engine for its version and picks the API version to speak.
  static Result<std::unique_ptr<DockerClient>> Connect(DockerClientOptions options);

  const std::string& api_version() const { return api_version_; }        // "1.41"
  const std::string& engine_version() const { return engine_version_; }  // "20.10.24"
  const std::string& socket() const { return options_.socket; }

  Result<bool> ImageExists(const std::string& image);
  // Pulls `image`; fails after `timeout` with a message naming the image
  // and the likely cause (an unreachable registry). `auth`: the
  // X-Registry-Auth header's value (RegistryAuthHeader), or "".
  // `progress` gets the engine's per-layer progress as a PullProgress line
  // (pull_progress.h), about once a second.
  Status PullImage(const std::string& image, std::chrono::milliseconds timeout,
                   const std::string& auth = "",
                   const std::function<void(const std::string&)>& progress = {});
  Status RemoveImage(const std::string& image);

  // POST /containers/create?name=; `config_json` is the create body.
  Result<std::string> CreateContainer(const std::string& name, const std::string& config_json);
  Status StartContainer(const std::string& id);
  Result<ContainerInfo> InspectContainer(const std::string& id_or_name);
  // Stop signal now, SIGKILL after `grace` (the engine's /stop?t=). Blocks
  // until the container has stopped.
  Status StopContainer(const std::string& id, std::chrono::seconds grace);
  Status KillContainer(const std::string& id, const std::string& signal = "SIGKILL");
  Status RemoveContainer(const std::string& id, bool force);
  // Containers (running or not, with `all`) carrying label `label`.
  Result<std::vector<ContainerSummary>> ListContainers(const std::string& label, bool all);
  // Output of a container created without a TTY, demultiplexed. With
  // `follow`, blocks until the container exits, the sink returns false or
  // `cancel` becomes true.
  Status Logs(const std::string& id, const LogOptions& opts, const LogSink& sink,
              const std::atomic<bool>* cancel = nullptr);
  // One sample (?stream=false, one-shot when the engine speaks 1.41).
  Result<ContainerUsage> Stats(const std::string& id);

  // Follows GET /events for containers carrying `label` (die, oom, start
  // and destroy), from `since` (unix seconds; 0: now): `on_event` gets each
  // one (and, about once a second while nothing comes, an event without an
  // id: the stream is up) until it returns false or `stop` is set. Returns when the stream ends: an
  // error when the engine could not be reached or closed it.
  struct ContainerEvent {
    std::string id;
    std::string action;  // die, oom, start, destroy
    int64_t time_ns = 0;
    int exit_code = -1;  // die: Actor.Attributes.exitCode; -1 when absent
  };
  Status FollowEvents(const std::string& label, int64_t since,
                      const std::function<bool(const ContainerEvent&)>& on_event,
                      const std::atomic<bool>& stop);

  // Exposed for tests: a versioned request ("/containers/json").
  Result<HttpResponse> Request(const std::string& method, const std::string& path,
                               const std::string& body = "",
                               std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

 private:
  explicit DockerClient(DockerClientOptions options);
  std::string Url(const std::string& path) const;

  DockerClientOptions options_;
  HttpClient http_;
  std::string api_version_;
  std::string engine_version_;
};

}  // namespace orch::agent
