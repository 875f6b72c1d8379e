// The OCI registry client (agent/drivers/containerd/registry_client.h):
// image references; against a tiny in-test HTTP server on loopback, Bearer
// tokens (asked once, renewed when refused), manifest lists, redirects to
// blob storage, and content that does not match its digest or size; and
// against the loopback registries of scripts/dockerd.sh (ORCH_TEST_REGISTRY,
// plain; ORCH_TEST_AUTH_REGISTRY, Basic auth), which hold
// orch-test/busybox:1 as a Docker schema 2 image. Tests that need those
// registries skip, saying so, without them.
#include "agent/drivers/containerd/registry_client.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/base64.h"
#include "tests/support/ports.h"

namespace orch::agent::oci {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

// ---- references -------------------------------------------------------------

ImageRef Parsed(const std::string& image) {
  auto r = ParseImageRef(image);
  EXPECT_TRUE(r.ok()) << image << ": " << r.status().ToString();
  return r.ok() ? *r : ImageRef{};
}

const std::string kHex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(ParseImageRef, RegistryWithPortRepositoryAndTag) {
  ImageRef r = Parsed("127.0.0.1:5055/orch-test/busybox:1");
  EXPECT_EQ(r.registry, "127.0.0.1:5055");
  EXPECT_EQ(r.repository, "orch-test/busybox");
  EXPECT_EQ(r.tag, "1");
  EXPECT_EQ(r.digest, "");
  EXPECT_EQ(r.Reference(), "1");
  EXPECT_EQ(r.Endpoint(), "127.0.0.1:5055");
  EXPECT_EQ(r.ToString(), "127.0.0.1:5055/orch-test/busybox:1");
}

TEST(ParseImageRef, DockerHubIsNormalised) {
  ImageRef r = Parsed("busybox");
  EXPECT_EQ(r.registry, "docker.io");
  EXPECT_EQ(r.Endpoint(), "registry-1.docker.io");
  EXPECT_EQ(r.repository, "library/busybox");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.ToString(), "docker.io/library/busybox:latest");

  EXPECT_EQ(Parsed("busybox:1.36").ToString(), "docker.io/library/busybox:1.36");
  EXPECT_EQ(Parsed("grafana/grafana").ToString(), "docker.io/grafana/grafana:latest");
  EXPECT_EQ(Parsed("docker.io/busybox").ToString(), "docker.io/library/busybox:latest");
  EXPECT_EQ(Parsed("index.docker.io/library/busybox:1").ToString(), "docker.io/library/busybox:1");
  // A first component without '.', ':' or upper case is a path, not a host.
  EXPECT_EQ(Parsed("orch-test/busybox:1").registry, "docker.io");
  EXPECT_EQ(Parsed("orch-test/busybox:1").repository, "orch-test/busybox");
}

TEST(ParseImageRef, DigestReferences) {
  ImageRef r = Parsed("ghcr.io/a/b@sha256:" + kHex64);
  EXPECT_EQ(r.registry, "ghcr.io");
  EXPECT_EQ(r.repository, "a/b");
  EXPECT_EQ(r.tag, "");
  EXPECT_EQ(r.digest, "sha256:" + kHex64);
  EXPECT_EQ(r.Reference(), "sha256:" + kHex64);
  EXPECT_EQ(r.ToString(), "ghcr.io/a/b@sha256:" + kHex64);

  ImageRef both = Parsed("ghcr.io/a/b:v2@sha256:" + kHex64);
  EXPECT_EQ(both.tag, "v2");
  EXPECT_EQ(both.Reference(), "sha256:" + kHex64);  // the digest wins
  EXPECT_EQ(both.ToString(), "ghcr.io/a/b:v2@sha256:" + kHex64);
}

TEST(ParseImageRef, HostsAndPorts) {
  ImageRef r = Parsed("localhost:5000/x");
  EXPECT_EQ(r.registry, "localhost:5000");
  EXPECT_EQ(r.repository, "x");  // no library/ outside Docker Hub
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(Parsed("localhost/x:2").registry, "localhost");
  EXPECT_EQ(Parsed("registry.example.com/team/app:1.0").registry, "registry.example.com");
  EXPECT_EQ(Parsed("[::1]:5000/x:1").registry, "[::1]:5000");
  EXPECT_EQ(Parsed("my-reg.example:443/a/b/c:t_1.2-rc").repository, "a/b/c");
  EXPECT_EQ(Parsed("127.0.0.1:5055/orch-test/busybox").tag, "latest");
  EXPECT_EQ(Parsed("r.io/a__b/c-d.e:1").repository, "a__b/c-d.e");
}

TEST(ParseImageRef, BadReferencesAreInvalidArgument) {
  struct Case {
    std::string image, says;
  } cases[] = {
      {"", "empty"},
      {"Busybox", "lower case"},
      {"r.io/Orch/app:1", "lower case"},
      {"busy box", "space"},
      {"busybox ", "space"},
      {"busybox:1\n", "control"},
      {"r.io/a/b@sha256:abc", "digest"},
      {"r.io/a/b@md5:" + kHex64.substr(0, 32), "digest"},
      {"r.io/a/b@sha256:" + std::string(64, 'A'), "digest"},
      {"r.io/a/b@", "digest"},
      {"r.io/a/b:", "tag"},
      {"r.io/a/b:-x", "tag"},
      {"r.io/a/b:" + std::string(129, 'x'), "tag"},
      {"r.io/a//b", "repository"},
      {"r.io/a/b-", "repository"},
      {"r.io/-a/b", "repository"},
      {"r.io/a/.b", "repository"},
      {"r.io/", "repository"},
      {"r.io:99999/a", "port"},
      {"r.io:x/a", "port"},
      {"-r.io/a", "host"},
      {"r..io/a", "host"},
      {"r.io/" + std::string(300, 'a'), "longer"},
  };
  for (const auto& c : cases) {
    auto r = ParseImageRef(c.image);
    ASSERT_FALSE(r.ok()) << "\"" << c.image << "\" parsed as " << r->ToString();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.image;
    EXPECT_THAT(r.status().message(), HasSubstr(c.says)) << c.image;
  }
}

TEST(Sha256Digest, KnownValues) {
  EXPECT_EQ(Sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Digest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// ---- a tiny HTTP server ---------------------------------------------------

struct Request {
  std::string method, target;                  // "/v2/a/manifests/1?x=y"
  std::map<std::string, std::string> headers;  // names lower case

  std::string Path() const { return target.substr(0, target.find('?')); }
  std::string Query() const {
    auto q = target.find('?');
    return q == std::string::npos ? "" : target.substr(q + 1);
  }
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

Reply NotFound(const std::string& code = "MANIFEST_UNKNOWN") {
  return {404,
          {{"Content-Type", "application/json"}},
          json{{"errors", {{{"code", code}, {"message", "not known here"}}}}}.dump()};
}

// HTTP/1.1 on 127.0.0.1, one connection at a time, each closed after its
// answer. Start() after construction (the handler may use host()); the
// handler runs on the server's thread.
class FakeServer {
 public:
  using Handler = std::function<Reply(const Request&)>;

  FakeServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
      ADD_FAILURE() << "cannot listen on loopback";
      return;
    }
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~FakeServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }

  void Start(Handler h) {
    handler_ = std::move(h);
    thread_ = std::thread([this] { Loop(); });
  }
  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  int Count(const std::string& path) const {
    int n = 0;
    for (const auto& r : requests())
      if (r.Path() == path) ++n;
    return n;
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      timeval tv{5, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      Serve(c);
      ::close(c);
    }
  }

  void Serve(int c) {
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos && in.size() < (64 << 10)) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      in.append(buf, static_cast<std::size_t>(n));
    }
    Request req;
    std::size_t eol = in.find("\r\n");
    std::string line = in.substr(0, eol);
    auto sp1 = line.find(' ');
    auto sp2 = line.find(' ', sp1 + 1);
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t pos = eol + 2;
    while (true) {
      std::size_t next = in.find("\r\n", pos);
      if (next == std::string::npos || next == pos) break;
      std::string h = in.substr(pos, next - pos);
      auto colon = h.find(':');
      if (colon != std::string::npos) {
        std::string name = h.substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::size_t v = colon + 1;
        while (v < h.size() && h[v] == ' ') ++v;
        req.headers[name] = h.substr(v);
      }
      pos = next + 2;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      requests_.push_back(req);
    }
    Reply rep = handler_(req);
    std::string out = "HTTP/1.1 " + std::to_string(rep.status) + " X\r\n";
    out += "Content-Length: " + std::to_string(rep.body.size()) + "\r\nConnection: close\r\n";
    for (const auto& [k, v] : rep.headers) out += k + ": " + v + "\r\n";
    out += "\r\n";
    if (req.method != "HEAD") out += rep.body;
    std::size_t sent = 0;
    while (sent < out.size()) {
      ssize_t n = ::send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  Handler handler_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Request> requests_;
};

// ---- images the fake registries serve ------------------------------------

constexpr char kConfigType[] = "application/vnd.docker.container.image.v1+json";
constexpr char kLayerType[] = "application/vnd.docker.image.rootfs.diff.tar.gzip";

Descriptor Describe(const std::string& bytes, const std::string& media_type) {
  return {media_type, Sha256Digest(bytes), static_cast<int64_t>(bytes.size())};
}

json DescriptorJson(const Descriptor& d) {
  return {{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
}

std::string DockerManifestJson(const Descriptor& config, const std::vector<Descriptor>& layers) {
  json j = {{"schemaVersion", 2},
            {"mediaType", kDockerManifest},
            {"config", DescriptorJson(config)},
            {"layers", json::array()}};
  for (const auto& l : layers) j["layers"].push_back(DescriptorJson(l));
  return j.dump();
}

// A small image: config, one layer, its manifest; served under
// /v2/<repo>/... by Route().
struct FakeImage {
  std::string repo = "orch-test/app";
  std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}})";
  std::string layer = std::string("\x1f\x8b", 2) + std::string(100000, 'L');  // > one chunk
  Descriptor config_d = Describe(config, kConfigType);
  Descriptor layer_d = Describe(layer, kLayerType);
  std::string manifest = DockerManifestJson(config_d, {layer_d});
  Descriptor manifest_d = Describe(manifest, kDockerManifest);

  // The answer for the registry paths of this image (tag "1"), or nullopt.
  std::optional<Reply> Route(const Request& r) const {
    const std::string base = "/v2/" + repo;
    auto manifest_reply = [&] {
      return Reply{
          200,
          {{"Content-Type", kDockerManifest}, {"Docker-Content-Digest", manifest_d.digest}},
          manifest};
    };
    if (r.Path() == base + "/manifests/1" || r.Path() == base + "/manifests/" + manifest_d.digest) {
      return manifest_reply();
    }
    if (r.Path() == base + "/blobs/" + config_d.digest) return Reply{200, {}, config};
    if (r.Path() == base + "/blobs/" + layer_d.digest) return Reply{200, {}, layer};
    return std::nullopt;
  }
};

ImageRef RefOn(const FakeServer& s, const std::string& repo_tag) {
  return Parsed(s.host() + "/" + repo_tag);
}

RegistryOptions QuickOptions() {
  RegistryOptions o;
  o.timeout = 10s;
  o.connect_timeout = 2s;
  return o;
}

// Fetches a blob, returning its bytes (and the status).
Result<std::string> Fetch(RegistryClient& c, const Descriptor& d, int* pieces = nullptr) {
  std::string out;
  Status st = c.FetchBlob(d, [&](std::string_view piece) {
    out.append(piece);
    if (pieces != nullptr) ++*pieces;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

// ---- against the fake server ------------------------------------------------

TEST(RegistryClientFake, BearerTokenIsFetchedOnceAndReused) {
  FakeImage img;
  FakeServer s;
  const std::string token = "tok-ens3cret";
  const std::string challenge =
      "Bearer realm=\"http://" + s.host() +
      "/token\",service=\"fake-registry\",scope=\"repository:" + img.repo + ":pull\"";
  s.Start([&](const Request& r) -> Reply {
    if (r.Path() == "/token") return {200, {}, json{{"token", token}, {"expires_in", 300}}.dump()};
    if (r.Header("authorization") != "Bearer " + token) {
      return {401, {{"WWW-Authenticate", challenge}}, R"({"errors":[{"code":"UNAUTHORIZED"}]})"};
    }
    auto rep = img.Route(r);
    return rep ? *rep : NotFound();
  });

  RegistryClient c(RefOn(s, img.repo + ":1"), {}, QuickOptions());
  auto m = c.Resolve();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->descriptor.digest, img.manifest_d.digest);
  EXPECT_EQ(m->descriptor.media_type, kDockerManifest);
  EXPECT_EQ(m->descriptor.size, img.manifest_d.size);
  EXPECT_EQ(m->bytes, img.manifest);
  EXPECT_EQ(m->config.digest, img.config_d.digest);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].digest, img.layer_d.digest);
  EXPECT_EQ(m->layers[0].media_type, kLayerType);
  EXPECT_TRUE(m->index.digest.empty());
  EXPECT_TRUE(m->index_bytes.empty());

  auto config = c.FetchBlobBytes(m->config);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(*config, img.config);
  int pieces = 0;
  auto layer = Fetch(c, m->layers[0], &pieces);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  EXPECT_EQ(*layer, img.layer);
  EXPECT_GE(pieces, 1);

  // One token for the three requests; asked with the service and the scope.
  EXPECT_EQ(s.Count("/token"), 1);
  for (const auto& r : s.requests()) {
    if (r.Path() != "/token") continue;
    EXPECT_THAT(r.Query(), HasSubstr("service=fake-registry"));
    EXPECT_THAT(r.Query(), HasSubstr("scope=repository%3Aorch-test%2Fapp%3Apull"));
    EXPECT_EQ(r.Header("authorization"), "");  // anonymous
  }
  // The manifest was asked for with every supported media type.
  bool saw_manifest = false;
  for (const auto& r : s.requests()) {
    if (r.Path() != "/v2/orch-test/app/manifests/1") continue;
    saw_manifest = true;
    for (const char* t : {kOciManifest, kOciIndex, kDockerManifest, kDockerManifestList})
      EXPECT_THAT(r.Header("accept"), HasSubstr(t));
  }
  EXPECT_TRUE(saw_manifest);
}

TEST(RegistryClientFake, BearerTokenWithCredentials) {
  FakeImage img;
  FakeServer s;
  const std::string token = "tok-for-orch";
  const std::string good = "Basic " + EncodeBase64("orch:s3cret-pw");
  s.Start([&](const Request& r) -> Reply {
    if (r.Path() == "/token") {
      if (r.Header("authorization") != good) return {401, {}, R"({"details":"bad credentials"})"};
      return {200, {}, json{{"access_token", token}}.dump()};  // the OAuth2 spelling
    }
    if (r.Header("authorization") != "Bearer " + token) {
      return {
          401,
          {{"WWW-Authenticate", "Bearer realm=\"http://" + s.host() + "/token\",service=\"fake\""}},
          ""};
    }
    auto rep = img.Route(r);
    return rep ? *rep : NotFound();
  });

  {
    RegistryClient c(RefOn(s, img.repo + ":1"), {}, QuickOptions());
    auto m = c.Resolve();
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kPermissionDenied);
    EXPECT_THAT(m.status().message(), HasSubstr("registry " + s.host() + " asks for credentials"));
    EXPECT_THAT(m.status().message(), HasSubstr(img.repo));  // names the image
  }
  {
    RegistryClient c(RefOn(s, img.repo + ":1"), {"orch", "wrong-pw"}, QuickOptions());
    auto m = c.Resolve();
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kPermissionDenied);
    EXPECT_THAT(m.status().message(),
                HasSubstr("registry " + s.host() + " refused the credentials for user orch"));
    EXPECT_THAT(m.status().message(), Not(HasSubstr("wrong-pw")));
  }
  {
    RegistryClient c(RefOn(s, img.repo + ":1"), {"orch", "s3cret-pw"}, QuickOptions());
    auto m = c.Resolve();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    auto layer = Fetch(c, m->layers[0]);
    ASSERT_TRUE(layer.ok()) << layer.status().ToString();
    EXPECT_EQ(Sha256Digest(*layer), img.layer_d.digest);
  }
}

TEST(RegistryClientFake, ExpiredTokenIsRenewed) {
  FakeImage img;
  FakeServer s;
  std::atomic<int> issued{0};
  std::atomic<int> valid{-1};  // the token number the registry takes
  s.Start([&](const Request& r) -> Reply {
    if (r.Path() == "/token") {
      int n = ++issued;
      valid = n;
      return {200, {}, json{{"token", "t" + std::to_string(n)}}.dump()};
    }
    if (r.Header("authorization") != "Bearer t" + std::to_string(valid.load())) {
      return {401, {{"WWW-Authenticate", "Bearer realm=\"http://" + s.host() + "/token\""}}, ""};
    }
    auto rep = img.Route(r);
    return rep ? *rep : NotFound();
  });
  RegistryClient c(RefOn(s, img.repo + ":1"), {}, QuickOptions());
  auto m = c.Resolve();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(issued.load(), 1);
  valid = -1;  // the token expires
  auto config = c.FetchBlobBytes(m->config);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(*config, img.config);
  EXPECT_EQ(issued.load(), 2);
}

TEST(RegistryClientFake, ManifestListPicksThePlatform) {
  FakeImage amd64;
  FakeImage arm64;
  arm64.config = R"({"architecture":"arm64","os":"linux"})";
  arm64.config_d = Describe(arm64.config, kConfigType);
  arm64.manifest = DockerManifestJson(arm64.config_d, {arm64.layer_d});
  arm64.manifest_d = Describe(arm64.manifest, kDockerManifest);
  ASSERT_NE(arm64.manifest_d.digest, amd64.manifest_d.digest);

  auto entry = [](const Descriptor& d, const std::string& os, const std::string& arch,
                  const std::string& variant = "") {
    json p = {{"os", os}, {"architecture", arch}};
    if (!variant.empty()) p["variant"] = variant;
    json e = DescriptorJson(d);
    e["platform"] = p;
    return e;
  };
  Descriptor attestation = Describe("{}", kOciManifest);
  // arm64 first, so that taking the first entry is wrong.
  json list = {
      {"schemaVersion", 2},
      {"mediaType", kDockerManifestList},
      {"manifests",
       {entry(arm64.manifest_d, "linux", "arm64", "v8"), entry(attestation, "unknown", "unknown"),
        entry(amd64.manifest_d, "linux", "amd64"), entry(amd64.manifest_d, "windows", "amd64")}}};
  const std::string list_bytes = list.dump();
  const Descriptor list_d = Describe(list_bytes, kDockerManifestList);

  FakeServer s;
  s.Start([&](const Request& r) -> Reply {
    const std::string base = "/v2/orch-test/app/manifests/";
    if (r.Path() == base + "multi" || r.Path() == base + list_d.digest) {
      return {200, {{"Content-Type", kDockerManifestList}}, list_bytes};
    }
    if (r.Path() == base + "1") return NotFound();  // only by digest below
    if (r.Path() == base + amd64.manifest_d.digest) {
      return {200, {{"Content-Type", kDockerManifest}}, amd64.manifest};
    }
    if (r.Path() == base + arm64.manifest_d.digest) {
      return {200, {{"Content-Type", kDockerManifest}}, arm64.manifest};
    }
    auto rep = amd64.Route(r);
    if (!rep) rep = arm64.Route(r);
    return rep ? *rep : NotFound();
  });

  RegistryClient c(RefOn(s, "orch-test/app:multi"), {}, QuickOptions());
  auto m = c.Resolve();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->descriptor.digest, amd64.manifest_d.digest);
  EXPECT_EQ(m->bytes, amd64.manifest);
  EXPECT_EQ(m->config.digest, amd64.config_d.digest);
  EXPECT_EQ(m->index.digest, list_d.digest);
  EXPECT_EQ(m->index.media_type, kDockerManifestList);
  EXPECT_EQ(m->index.size, list_d.size);
  EXPECT_EQ(m->index_bytes, list_bytes);
  auto config = c.FetchBlobBytes(m->config);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_THAT(*config, HasSubstr("amd64"));

  RegistryOptions arm = QuickOptions();
  arm.architecture = "arm64";
  RegistryClient ca(RefOn(s, "orch-test/app@" + list_d.digest), {}, arm);
  auto ma = ca.Resolve();
  ASSERT_TRUE(ma.ok()) << ma.status().ToString();
  EXPECT_EQ(ma->descriptor.digest, arm64.manifest_d.digest);
  EXPECT_EQ(ma->index.digest, list_d.digest);

  RegistryOptions s390x = QuickOptions();
  s390x.architecture = "s390x";
  RegistryClient cs(RefOn(s, "orch-test/app:multi"), {}, s390x);
  auto ms = cs.Resolve();
  ASSERT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(ms.status().message(), HasSubstr("no manifest for linux/s390x"));
  EXPECT_THAT(ms.status().message(), HasSubstr("linux/arm64/v8, linux/amd64, windows/amd64"));
}

TEST(RegistryClientFake, OciIndexWithoutContentType) {
  // Media types from the JSON when the registry says only application/json.
  FakeImage img;
  json index = {{"schemaVersion", 2},
                {"manifests",
                 {{{"mediaType", kDockerManifest},
                   {"digest", img.manifest_d.digest},
                   {"size", img.manifest_d.size},
                   {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}}}};
  const std::string index_bytes = index.dump();
  FakeServer s;
  s.Start([&](const Request& r) -> Reply {
    if (r.Path() == "/v2/orch-test/app/manifests/oci") {
      return {200, {{"Content-Type", "application/json"}}, index_bytes};
    }
    auto rep = img.Route(r);
    return rep ? *rep : NotFound();
  });
  RegistryClient c(RefOn(s, "orch-test/app:oci"), {}, QuickOptions());
  auto m = c.Resolve();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->index.media_type, kOciIndex);
  EXPECT_EQ(m->index.digest, Sha256Digest(index_bytes));
  EXPECT_EQ(m->descriptor.media_type, kDockerManifest);
  EXPECT_EQ(m->descriptor.digest, img.manifest_d.digest);
}

TEST(RegistryClientFake, ContentNotMatchingItsDigestIsAnError) {
  FakeImage img;
  const std::string evil = std::string("\x1f\x8b", 2) + std::string(100000, 'E');  // same size
  FakeServer s;
  s.Start([&](const Request& r) -> Reply {
    const std::string base = "/v2/" + img.repo;
    if (r.Path() == base + "/blobs/" + img.layer_d.digest) return {200, {}, evil};
    if (r.Path() == base + "/manifests/lying") {
      // Says a digest its bytes do not have.
      return {200,
              {{"Content-Type", kDockerManifest}, {"Docker-Content-Digest", img.config_d.digest}},
              img.manifest};
    }
    if (r.Path() == base + "/manifests/" + img.config_d.digest) {
      return {200, {{"Content-Type", kDockerManifest}}, img.manifest};  // not those bytes
    }
    auto rep = img.Route(r);
    return rep ? *rep : NotFound();
  });

  RegistryClient c(RefOn(s, img.repo + ":1"), {}, QuickOptions());
  Status st = c.FetchBlob(img.layer_d, [](std::string_view) { return Status::Ok(); });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_THAT(st.message(), HasSubstr("blob " + img.layer_d.digest));
  EXPECT_THAT(st.message(), HasSubstr("does not match its digest"));
  EXPECT_THAT(st.message(), HasSubstr(Sha256Digest(evil)));

  // Longer and shorter than the descriptor says.
  Descriptor shorter = img.config_d;
  shorter.size -= 1;
  auto r1 = c.FetchBlobBytes(shorter);
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.status().code(), StatusCode::kInternal);
  EXPECT_THAT(r1.status().message(), HasSubstr("longer than"));
  Descriptor longer = img.config_d;
  longer.size += 1;
  auto r2 = c.FetchBlobBytes(longer);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kInternal);
  EXPECT_THAT(r2.status().message(), HasSubstr(img.config_d.digest));

  // A manifest whose Docker-Content-Digest is not its own.
  RegistryClient lying(RefOn(s, img.repo + ":lying"), {}, QuickOptions());
  auto m = lying.Resolve();
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInternal);
  EXPECT_THAT(m.status().message(), HasSubstr("does not match its digest"));

  // A digest reference answered with other bytes.
  RegistryClient pinned(RefOn(s, img.repo + "@" + img.config_d.digest), {}, QuickOptions());
  auto p = pinned.Resolve();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInternal);
  EXPECT_THAT(p.status().message(), HasSubstr("does not match that digest"));

  // The right ones still pass.
  auto ok = c.FetchBlobBytes(img.config_d);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST(RegistryClientFake, BlobRedirectsKeepAuthorizationAtHome) {
  FakeImage img;
  FakeServer storage;
  storage.Start([&](const Request& r) -> Reply {
    if (r.Path() == "/bucket/layer") return {200, {}, img.layer};
    return {404, {}, ""};
  });
  FakeServer s;
  const std::string good = "Basic " + EncodeBase64("u:p");
  s.Start([&](const Request& r) -> Reply {
    if (r.Header("authorization") != good) {
      return {401, {{"WWW-Authenticate", "Basic realm=\"fake\""}}, ""};
    }
    const std::string base = "/v2/" + img.repo;
    if (r.Path() == base + "/blobs/" + img.layer_d.digest) {
      return {307, {{"Location", "http://" + storage.host() + "/bucket/layer?sig=1"}}, "moved"};
    }
    if (r.Path() == base + "/blobs/" + img.config_d.digest) {
      return {302, {{"Location", "/local/config"}}, ""};  // relative, same origin
    }
    if (r.Path() == "/local/config") return {200, {}, img.config};
    auto rep = img.Route(r);
    return rep ? *rep : NotFound();
  });

  RegistryClient c(RefOn(s, img.repo + ":1"), {"u", "p"}, QuickOptions());
  auto layer = Fetch(c, img.layer_d);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  EXPECT_EQ(*layer, img.layer);
  auto reqs = storage.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/bucket/layer?sig=1");
  EXPECT_EQ(reqs[0].Header("authorization"), "");  // not the registry's credentials

  auto config = c.FetchBlobBytes(img.config_d);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(*config, img.config);
  EXPECT_EQ(s.Count("/local/config"), 1);  // it carried the credentials (else a 401)
}

TEST(RegistryClientFake, RefusesSchema1AndOversizedManifests) {
  json schema1 = {
      {"schemaVersion", 1}, {"name", "orch-test/app"}, {"tag", "old"}, {"fsLayers", json::array()}};
  const std::string big(5000, ' ');
  FakeServer s;
  s.Start([&](const Request& r) -> Reply {
    const std::string base = "/v2/orch-test/app/manifests/";
    if (r.Path() == base + "old") {
      return {200,
              {{"Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws"}},
              schema1.dump()};
    }
    if (r.Path() == base + "big") return {200, {{"Content-Type", kOciManifest}}, big};
    return NotFound();
  });
  RegistryClient c1(RefOn(s, "orch-test/app:old"), {}, QuickOptions());
  auto m1 = c1.Resolve();
  ASSERT_FALSE(m1.ok());
  EXPECT_EQ(m1.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(m1.status().message(), HasSubstr("schema 1"));

  RegistryOptions small = QuickOptions();
  small.max_manifest_bytes = 1000;
  RegistryClient c2(RefOn(s, "orch-test/app:big"), {}, small);
  auto m2 = c2.Resolve();
  ASSERT_FALSE(m2.ok());
  EXPECT_EQ(m2.status().code(), StatusCode::kResourceExhausted);
  auto b = c2.FetchBlobBytes({kConfigType, "sha256:" + kHex64, 1001});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kResourceExhausted);
}

TEST(RegistryClientFake, ErrorsAsStatuses) {
  FakeImage img;
  FakeServer s;
  s.Start([&](const Request& r) -> Reply {
    if (r.Path() == "/v2/orch-test/nothing/manifests/1") return NotFound("NAME_UNKNOWN");
    if (r.Path() == "/v2/orch-test/broken/manifests/1") {
      return {503, {}, R"({"errors":[{"code":"UNAVAILABLE","message":"storage down"}]})"};
    }
    if (r.Path() == "/v2/orch-test/busy/manifests/1") {
      return {429, {}, R"({"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]})"};
    }
    auto rep = img.Route(r);
    return rep ? *rep : NotFound();
  });
  auto resolve = [&](const std::string& repo_tag) {
    RegistryClient c(RefOn(s, repo_tag), {}, QuickOptions());
    return c.Resolve().status();
  };
  Status missing_tag = resolve(img.repo + ":2");
  EXPECT_EQ(missing_tag.code(), StatusCode::kNotFound) << missing_tag.ToString();
  EXPECT_THAT(missing_tag.message(),
              HasSubstr("has no manifest orch-test/app:2 (MANIFEST_UNKNOWN"));
  EXPECT_THAT(missing_tag.message(), HasSubstr(s.host() + "/" + img.repo + ":2"));
  Status missing_repo = resolve("orch-test/nothing:1");
  EXPECT_EQ(missing_repo.code(), StatusCode::kNotFound);
  EXPECT_THAT(missing_repo.message(), HasSubstr("no repository orch-test/nothing"));
  Status down = resolve("orch-test/broken:1");
  EXPECT_EQ(down.code(), StatusCode::kUnavailable);
  EXPECT_THAT(down.message(), HasSubstr("storage down"));
  Status busy = resolve("orch-test/busy:1");
  EXPECT_EQ(busy.code(), StatusCode::kResourceExhausted);

  // A sink's error ends the transfer and comes back as is.
  RegistryClient c(RefOn(s, img.repo + ":1"), {}, QuickOptions());
  int calls = 0;
  Status st = c.FetchBlob(img.layer_d, [&](std::string_view) {
    ++calls;
    return Status::Unavailable("disk full");
  });
  EXPECT_EQ(st, Status::Unavailable("disk full"));
  EXPECT_EQ(calls, 1);
  // A malformed descriptor is refused before asking.
  Status bad =
      c.FetchBlob({kLayerType, "sha256:xyz", 1}, [](std::string_view) { return Status::Ok(); });
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
}

TEST(RegistryClientFake, SlowRegistryHitsTheTimeout) {
  FakeServer s;
  s.Start([&](const Request&) -> Reply {
    std::this_thread::sleep_for(1500ms);
    return NotFound();
  });
  RegistryOptions o = QuickOptions();
  o.timeout = 300ms;
  RegistryClient c(RefOn(s, "orch-test/app:1"), {}, o);
  auto start = std::chrono::steady_clock::now();
  auto m = c.Resolve();
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kDeadlineExceeded) << m.status().ToString();
  EXPECT_LT(took, 1200ms);
}

TEST(RegistryClient, UnreachableRegistryFailsFast) {
  const int port = orch::testing::FreeLoopbackPort();  // nobody listens there
  RegistryClient c(Parsed("127.0.0.1:" + std::to_string(port) + "/orch-test/busybox:1"), {},
                   QuickOptions());
  auto start = std::chrono::steady_clock::now();
  auto m = c.Resolve();
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnavailable) << m.status().ToString();
  EXPECT_THAT(m.status().message(),
              HasSubstr("cannot reach registry 127.0.0.1:" + std::to_string(port) +
                        ": Couldn't connect to server"));
  EXPECT_THAT(m.status().message(), HasSubstr("orch-test/busybox:1"));
  EXPECT_LT(took, 3s);
}

// ---- against the loopback registries ----------------------------------------

class LiveRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* reg = std::getenv("ORCH_TEST_REGISTRY");
    const char* auth = std::getenv("ORCH_TEST_AUTH_REGISTRY");
    if (reg == nullptr || auth == nullptr || !*reg || !*auth) {
      GTEST_SKIP() << "ORCH_TEST_REGISTRY and ORCH_TEST_AUTH_REGISTRY are not set: run "
                      "`eval \"$(sudo scripts/dockerd.sh)\"` first (scripts/test.sh does as root)";
    }
    registry_ = reg;
    auth_registry_ = auth;
  }

  std::string registry_, auth_registry_;
};

TEST_F(LiveRegistryTest, PullsTheTestImage) {
  RegistryClient c(Parsed(registry_ + "/orch-test/busybox:1"), {}, QuickOptions());
  auto m = c.Resolve();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->descriptor.media_type, kDockerManifest);
  EXPECT_EQ(m->descriptor.digest, Sha256Digest(m->bytes));
  EXPECT_EQ(m->descriptor.size, static_cast<int64_t>(m->bytes.size()));
  EXPECT_TRUE(m->index.digest.empty());
  EXPECT_EQ(m->config.media_type, kConfigType);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].media_type, kLayerType);

  auto config = c.FetchBlobBytes(m->config);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(Sha256Digest(*config), m->config.digest);
  auto cj = json::parse(*config, nullptr, false);
  ASSERT_TRUE(cj.is_object());
  EXPECT_EQ(cj["rootfs"]["diff_ids"].size(), 1u);

  int pieces = 0;
  auto layer = Fetch(c, m->layers[0], &pieces);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  EXPECT_EQ(static_cast<int64_t>(layer->size()), m->layers[0].size);
  EXPECT_EQ(Sha256Digest(*layer), m->layers[0].digest);
  ASSERT_GE(layer->size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>((*layer)[0]), 0x1f);  // gzip
  EXPECT_EQ(static_cast<unsigned char>((*layer)[1]), 0x8b);
  EXPECT_GT(pieces, 1);  // streamed, not in one piece
}

TEST_F(LiveRegistryTest, ResolvesByDigest) {
  RegistryClient by_tag(Parsed(registry_ + "/orch-test/busybox:1"), {}, QuickOptions());
  auto m = by_tag.Resolve();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  RegistryClient by_digest(Parsed(registry_ + "/orch-test/busybox@" + m->descriptor.digest), {},
                           QuickOptions());
  auto d = by_digest.Resolve();
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->descriptor.digest, m->descriptor.digest);
  EXPECT_EQ(d->bytes, m->bytes);
  EXPECT_EQ(d->config.digest, m->config.digest);
}

TEST_F(LiveRegistryTest, MissingTagAndRepositoryAreNotFound) {
  RegistryClient tag(Parsed(registry_ + "/orch-test/busybox:no-such-tag"), {}, QuickOptions());
  auto m = tag.Resolve();
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound) << m.status().ToString();
  EXPECT_THAT(m.status().message(), HasSubstr("registry " + registry_ +
                                              " has no manifest orch-test/busybox:no-such-tag"));
  RegistryClient repo(Parsed(registry_ + "/orch-test/no-such-repo:1"), {}, QuickOptions());
  auto r = repo.Resolve();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
}

TEST_F(LiveRegistryTest, CorruptedDigestsFail) {
  RegistryClient c(Parsed(registry_ + "/orch-test/busybox:1"), {}, QuickOptions());
  auto m = c.Resolve();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto corrupt = [](std::string digest) {
    char& last = digest.back();
    last = last == '0' ? '1' : '0';
    return digest;
  };
  RegistryClient pinned(Parsed(registry_ + "/orch-test/busybox@" + corrupt(m->descriptor.digest)),
                        {}, QuickOptions());
  auto p = pinned.Resolve();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kNotFound) << p.status().ToString();

  Descriptor bad_digest = m->layers[0];
  bad_digest.digest = corrupt(bad_digest.digest);
  Status st = c.FetchBlob(bad_digest, [](std::string_view) { return Status::Ok(); });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr(bad_digest.digest));

  Descriptor bad_size = m->config;
  bad_size.size += 10;
  auto b = c.FetchBlobBytes(bad_size);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInternal) << b.status().ToString();
}

TEST_F(LiveRegistryTest, AuthRegistryNeedsTheRightCredentials) {
  const ImageRef ref = Parsed(auth_registry_ + "/orch-test/busybox:1");
  {
    RegistryClient c(ref, {}, QuickOptions());
    auto m = c.Resolve();
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kPermissionDenied);
    EXPECT_THAT(m.status().message(),
                HasSubstr("registry " + auth_registry_ + " asks for credentials"));
  }
  {
    RegistryClient c(ref, {"orch-test", "not-the-password"}, QuickOptions());
    auto m = c.Resolve();
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kPermissionDenied);
    EXPECT_THAT(m.status().message(), HasSubstr("registry " + auth_registry_ +
                                                " refused the credentials for user "
                                                "orch-test"));
    EXPECT_THAT(m.status().message(), Not(HasSubstr("not-the-password")));
  }
  RegistryClient c(ref, {"orch-test", "orch-test-secret"}, QuickOptions());
  auto m = c.Resolve();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto config = c.FetchBlobBytes(m->config);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(Sha256Digest(*config), m->config.digest);
  auto layer = Fetch(c, m->layers[0]);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  EXPECT_EQ(Sha256Digest(*layer), m->layers[0].digest);
}

}  // namespace
}  // namespace orch::agent::oci
