// An OCI Distribution (Docker Registry HTTP API v2) client over libcurl: what
// the containerd driver needs to pull an image. Resolves a reference to an
// image manifest (through an OCI index or Docker manifest list, to the
// manifest of one platform), then fetches its config and layers as blobs,
// verifying every digest and size.
//
// Authentication as Docker does it: a 401's WWW-Authenticate challenge is
// answered with Basic credentials or with a Bearer token from the realm it
// names; the answer is kept for the client's later requests. Passwords and
// tokens are never logged nor put in errors.
//
// Errors name the image and the registry ("image 127.0.0.1:1/a/b:1: cannot
// reach registry 127.0.0.1:1: Couldn't connect to server"): a transport
// failure is Unavailable, a timeout DeadlineExceeded, an unknown manifest
// NotFound, missing or refused credentials PermissionDenied, content that
// does not match its digest or size Internal (there is no DataLoss code).
// Thread safety: ParseImageRef and Sha256Digest are stateless; one
// RegistryClient may be used from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace orch::agent::oci {

// A parsed image reference, as Docker reads them:
//   "127.0.0.1:5055/orch-test/busybox:1"  registry 127.0.0.1:5055, tag 1
//   "busybox"                             docker.io, library/busybox, tag latest
//   "ghcr.io/a/b@sha256:<64 hex>"         pinned by digest, no tag
//   "localhost:5000/x"                    tag latest
// The first path component is the registry when it holds a '.' or a ':', is
// "localhost" or has upper-case letters; otherwise the registry is Docker Hub.
struct ImageRef {
  // host[:port] as written; Docker Hub is "docker.io" (also for
  // "index.docker.io"), which Endpoint() turns into registry-1.docker.io.
  std::string registry;
  std::string repository;  // "orch-test/busybox"; "library/busybox" on Docker Hub
  std::string tag;         // "" when pinned by digest only
  std::string digest;      // "" unless "@sha256:..."

  std::string Reference() const;  // digest if set, else tag
  // Canonical: "registry/repository:tag", "registry/repository@digest" or,
  // with both, "registry/repository:tag@digest".
  std::string ToString() const;
  // The host[:port] requests go to (registry-1.docker.io for docker.io).
  std::string Endpoint() const;
};

// InvalidArgument, saying what is wrong, for an empty reference, an
// upper-case or otherwise malformed repository, a bad tag or port, a digest
// that is not "sha256:" and 64 lower-case hex digits, spaces...
Result<ImageRef> ParseImageRef(const std::string& image);

struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<hex>"
  int64_t size = 0;
};

struct Credentials {
  std::string username, password;  // both empty: anonymous
};

struct RegistryOptions {
  // The budget of one request (manifest, token, or a whole blob, redirects
  // and authentication included).
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // Registries spoken to over plain HTTP, "host:port" or "host" (any port);
  // loopback ones (127.0.0.0/8, ::1, localhost) always are, as Docker's
  // default. Every other registry is HTTPS, its certificate verified.
  std::vector<std::string> insecure_registries;
  // Manifests, indexes, configs (FetchBlobBytes) past this are refused.
  int64_t max_manifest_bytes = 4 << 20;
  // The platform picked from an index or manifest list.
  std::string os = "linux", architecture = "amd64";
};

// A resolved image manifest.
struct Manifest {
  Descriptor descriptor;  // of the image manifest (media type, digest, size)
  std::string bytes;      // its exact bytes (digest-verified)
  Descriptor config;
  std::vector<Descriptor> layers;
  // When the reference named an index / manifest list: its descriptor and
  // bytes (empty otherwise).
  Descriptor index;
  std::string index_bytes;
};

// Media types.
inline constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kDockerManifestList[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";

class RegistryClient {
 public:
  RegistryClient(ImageRef ref, Credentials creds, RegistryOptions options = {});

  // GET /v2/<repo>/manifests/<ref>, accepting OCI manifests and indexes and
  // Docker schema 2 manifests and lists; follows an index or list to the
  // manifest for options.os/architecture (FailedPrecondition, listing the
  // platforms there are, when none matches). Verifies digests: a digest
  // reference must match the bytes; otherwise the Docker-Content-Digest
  // header must when present. Schema 1 manifests are refused
  // (FailedPrecondition). NotFound when the registry does not know the
  // manifest or repository.
  Result<Manifest> Resolve();

  // Streams blob `d` to `sink` in pieces as they arrive, following
  // redirects (registries send blobs to their storage; the Authorization
  // goes only to the registry itself). Checks the size and sha256 at the end
  // (Internal, naming the digest, on a mismatch; a blob longer than `d.size`
  // is cut off at once). An error from `sink` aborts the transfer and is
  // returned as is. The sink may have received data before any error.
  Status FetchBlob(const Descriptor& d, const std::function<Status(std::string_view)>& sink);

  // A small blob (the image config) in memory: ResourceExhausted past
  // options.max_manifest_bytes.
  Result<std::string> FetchBlobBytes(const Descriptor& d);

  const ImageRef& ref() const { return ref_; }

 private:
  struct Response;
  using Sink = std::function<Status(std::string_view)>;

  // GET `url` (redirects followed), answering a 401 once with fresh
  // authorization. A 2xx body goes to `sink` when given, else to the
  // response (at most `max_body` bytes, else ResourceExhausted).
  Result<Response> Get(const std::string& url, const std::vector<std::string>& headers,
                       int64_t max_body, const Sink* sink, const std::string& what);
  // One GET with redirects and no authentication logic.
  Result<Response> Send(const std::string& url, const std::vector<std::string>& headers,
                        const std::string& authorization, int64_t max_body, const Sink* sink,
                        std::chrono::steady_clock::time_point deadline, const std::string& what);
  // An Authorization value answering the challenges of a 401.
  Result<std::string> Authenticate(const Response& unauthorized,
                                   std::chrono::steady_clock::time_point deadline);
  // GET /v2/<repo>/manifests/<reference>: its descriptor (digest computed
  // and checked against Docker-Content-Digest) and bytes.
  Result<std::pair<Descriptor, std::string>> FetchManifest(const std::string& reference);
  // A non-2xx answer as a Status.
  Status HttpError(const Response& r, const std::string& what) const;
  Status Error(StatusCode code, const std::string& message) const;
  bool Insecure(const std::string& host_port) const;
  std::string BaseUrl() const;  // "https://host:port/v2/<repository>"

  ImageRef ref_;
  Credentials creds_;
  RegistryOptions options_;
  std::string authorization_;  // "Basic ..." / "Bearer ..." once a 401 was answered
};

// sha256 of `data` as "sha256:<64 lower-case hex>".
std::string Sha256Digest(std::string_view data);

}  // namespace orch::agent::oci
