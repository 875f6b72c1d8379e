// Mutual TLS end to end (issue 13 item 3): three masters and two agents with
// certificates of one cluster CA (made as `orchctl tls` makes them) run a
// service job; orchctl submits it and reads its logs through the masters
// over https, and the agents' balancer serves it. Then strangers: plain
// HTTP, no client certificate, another CA's certificate, a user's
// certificate at an agent, plain TCP and foreign or non-master
// certificates on the Raft port are all refused, and the masters keep
// serving.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/http_client.h"
#include "common/json.h"
#include "common/net.h"
#include "common/tls_certs.h"
#include "http_probe.h"
#include "master/raft/cluster_id.h"
#include "master/replication/tcp_transport.h"
#include "masters.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

// The files of one certificate, with the CA (file) it is checked against.
TlsFiles Issue(const std::string& dir, const std::string& name, const PemPair& ca,
               const std::string& ca_file, TlsRole role) {
  CertRequest req;
  req.role = role;
  auto cert = MakeCert(ca, req);
  EXPECT_TRUE(cert.ok()) << cert.status().ToString();
  Write(dir + "/" + name + ".pem", cert->cert_pem);
  Write(dir + "/" + name + "-key.pem", cert->key_pem);
  return {ca_file, dir + "/" + name + ".pem", dir + "/" + name + "-key.pem"};
}

// The cluster's CA and its certificates, and a stranger's CA with a
// certificate naming server.orch. `both` trusts either CA, so a stranger
// holding it proves nothing about us but passes its own checks.
struct Pki {
  TlsFiles server, agent, client;
  TlsFiles foreign_server;   // another CA's master certificate (trusting both CAs)
  TlsFiles agent_as_master;  // an agent's certificate (trusting both CAs)

  explicit Pki(const std::string& dir) {
    std::filesystem::create_directories(dir);
    auto ca = MakeCa({});
    CaRequest other_req;
    other_req.common_name = "someone else's CA";
    auto other = MakeCa(other_req);
    EXPECT_TRUE(ca.ok() && other.ok());
    const std::string ca_file = dir + "/orch-ca.pem", both = dir + "/both-cas.pem";
    Write(ca_file, ca->cert_pem);
    Write(both, ca->cert_pem + other->cert_pem);
    server = Issue(dir, "orch-server", *ca, ca_file, TlsRole::kServer);
    agent = Issue(dir, "orch-agent", *ca, ca_file, TlsRole::kAgent);
    client = Issue(dir, "orch-client", *ca, ca_file, TlsRole::kClient);
    foreign_server = Issue(dir, "foreign-server", *other, both, TlsRole::kServer);
    agent_as_master = agent;
    agent_as_master.ca_file = both;
  }
};

std::vector<std::string> TlsFlags(const TlsFiles& f) {
  return {"--tls-ca", f.ca_file, "--tls-cert", f.cert_file, "--tls-key", f.key_file};
}

class TlsE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = ::testing::TempDir() + "/orch-tls-" + info->name();
    std::filesystem::remove_all(root_);
    pki_ = std::make_unique<Pki>(root_ + "/pki");
    flags_ = root_ + "/flags";
    std::filesystem::create_directories(flags_);
    masters_ = std::make_unique<MasterCluster>(root_ + "/masters", TlsFlags(pki_->server),
                                               OrchClientOptions{"", "", pki_->client});
    masters_->Bootstrap({"m1", "m2", "m3"});
    leader_ = masters_->WaitLeader(30s);
    ASSERT_FALSE(leader_.empty()) << masters_->Logs();
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << masters_->Logs() << AgentLogs();
    if (!agents_.empty()) {
      auto& client = masters_->Client(leader_);
      (void)client.StopJob("web");
      WaitFor(
          [&] {
            auto allocs = client.JobAllocations("web");
            if (!allocs.ok()) return true;
            for (const auto& a : allocs->value.allocations()) {
              if (a.client_status() == v1::Allocation::RUNNING ||
                  a.client_status() == v1::Allocation::PENDING) {
                return false;
              }
            }
            return true;
          },
          20s);
    }
    for (auto& [name, p] : agents_) p->Signal(SIGTERM);
    for (auto& [name, p] : agents_) {
      if (p->Wait(20s) < 0) p->Signal(SIGKILL);
    }
    agents_.clear();
    masters_.reset();
    if (int left = KillByMarker(flags_); left > 0)
      std::cerr << left << " leftover process(es) killed\n";
  }

  std::string MasterList() const {
    std::string out;
    for (const auto& id : masters_->All()) out += (out.empty() ? "" : ",") + masters_->HttpUrl(id);
    return out;
  }

  void StartAgent(const std::string& name, const std::string& lb_bind) {
    std::vector<std::string> argv{ORCH_AGENT_BIN,
                                  "--name",
                                  name,
                                  "--data-dir",
                                  root_ + "/agent-" + name,
                                  "--masters",
                                  MasterList(),
                                  "--http",
                                  "127.0.0.1:" + std::to_string(FreePort()),
                                  "--drivers",
                                  "exec",
                                  "--lb-bind",
                                  lb_bind,
                                  "--lb-connect-timeout",
                                  "1s"};
    auto tls = TlsFlags(pki_->agent);
    argv.insert(argv.end(), tls.begin(), tls.end());
    agents_.emplace_back(name,
                         std::make_unique<Subprocess>(argv, root_ + "/agent-" + name + ".log"));
  }

  std::string AgentLogs() const {
    std::string out;
    for (const auto& [name, p] : agents_) out += "---- agent " + name + "\n" + p->Log() + "\n";
    return out;
  }

  // orchctl as a user with the client certificate runs it.
  CommandResult Orchctl(std::vector<std::string> args, bool with_cert = true) {
    std::vector<std::string> argv{ORCHCTL_BIN, "--addr", MasterList()};
    if (with_cert) {
      argv.insert(argv.end(), {"--ca-cert", pki_->client.ca_file, "--client-cert",
                               pki_->client.cert_file, "--client-key", pki_->client.key_file});
    } else {
      argv.insert(argv.end(), {"--ca-cert", pki_->client.ca_file});
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }

  // The masters' Raft port of `id` refuses a transport holding `files`: its
  // log tells so. The stranger speaks as another member of this cluster
  // (its raft id, the cluster id), so only TLS stands between its frames
  // and the core (the cluster id check and the drop of non-members would
  // not stop them).
  bool RaftRefuses(const std::string& id, const TlsFiles& files) {
    std::size_t before = Count(ReadFile(masters_->LogPath(id)), "refused: TLS handshake");
    auto members = masters_->Client(id).ListMembers();
    EXPECT_TRUE(members.ok()) << members.status().ToString();
    if (!members.ok()) return false;
    uint64_t self = 0, target = 0, cluster = 0;
    for (const auto& m : members->members()) (m.id() == id ? target : self) = m.raft_id();
    EXPECT_TRUE(raft::ParseClusterId(members->cluster_id(), &cluster)) << members->cluster_id();
    replication::TcpTransportOptions o;
    o.self_id = self;
    o.cluster_id = cluster;
    o.listen = "127.0.0.1:0";
    o.tls = files;
    std::atomic<int> unreachable{0};
    replication::Transport::Callbacks cb;
    cb.on_unreachable = [&](uint64_t) { ++unreachable; };
    auto t = replication::TcpTransport::Start(o, cb);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (!t.ok()) return false;
    (*t)->SetPeer(target, masters_->RaftAddress(id));
    bool refused = WaitFor(
        [&] {
          v1::Message m;
          m.set_type(v1::Message::MSG_HEARTBEAT);
          m.set_from(self);
          m.set_to(target);
          m.set_term(1'000'000);  // would depose any leader that took it
          (*t)->Send({m});
          return Count(ReadFile(masters_->LogPath(id)), "refused: TLS handshake") > before &&
                 unreachable.load() > 0;
        },
        15s);
    (*t)->Stop();
    // Refusals are logged at most once a second: the next one counts anew.
    std::this_thread::sleep_for(1100ms);
    return refused;
  }

  static std::size_t Count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  std::string root_, flags_, leader_;
  std::unique_ptr<Pki> pki_;
  std::unique_ptr<MasterCluster> masters_;
  std::vector<std::pair<std::string, std::unique_ptr<Subprocess>>> agents_;
};

TEST_F(TlsE2ETest, TheWholeSystemWorksOverMutualTls) {
  StartAgent("n1", "127.0.0.1");
  StartAgent("n2", "127.0.0.2");  // its own balancer address: both bind the service's port
  auto& client = masters_->Client(leader_);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto nodes = client.ListNodes();
        if (!nodes.ok()) return false;
        int ready = 0;
        for (const auto& n : nodes->value.nodes()) {
          ready += n.status() == v1::Node::READY && n.address().rfind("https://", 0) == 0;
        }
        return ready == 2;
      },
      30s))
      << "two agents over https never registered\n"
      << AgentLogs();

  const int listen = ListenPort();
  auto group = [&](const std::string& name, int port) {
    return "  - name: " + name +
           "\n    count: 1\n    network: { ports: [ { name: http, static: " + std::to_string(port) +
           " } ] }\n    tasks:\n      - name: server\n        driver: exec\n" +
           "        command: " + std::string(ORCH_TEST_ID_SERVER_BIN) +
           "\n        args: [--port, \"${PORT_http}\", " + "--flag-dir, \"" + flags_ +
           "\"]\n        resources: { cpu: 50, memory: 32 }\n" +
           "        service: { name: web, port: http, listen: " + std::to_string(listen) + " }\n";
  };
  int p1 = ListenPort(), p2 = ListenPort();
  while (p1 == listen) p1 = ListenPort();
  while (p2 == listen || p2 == p1) p2 = ListenPort();
  const std::string job_file = root_ + "/web.yaml";
  std::ofstream(job_file) << "id: web\ntype: service\ngroups:\n" + group("a", p1) + group("b", p2);

  auto run = Orchctl({"run", "-f", job_file, "--detach"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;

  // Both instances answer through the balancer.
  std::set<std::string> seen;
  EXPECT_TRUE(WaitFor(
      [&] {
        if (auto r = HttpGet(listen)) seen.insert(*r);
        return seen.size() == 2;
      },
      60s))
      << "the balancer served " << seen.size() << " of 2 instances";

  // Logs come through the masters, which reach the agent over https.
  auto allocs = client.JobAllocations("web");
  ASSERT_TRUE(allocs.ok() && allocs->value.allocations_size() > 0);
  const std::string alloc = allocs->value.allocations(0).id();
  CommandResult logs;
  EXPECT_TRUE(WaitFor(
      [&] {
        logs = Orchctl({"logs", alloc, "--stderr"});
        return logs.exit_code == 0 && logs.out.find("listening on") != std::string::npos;
      },
      20s))
      << logs.exit_code << " out: " << logs.out << " err: " << logs.err;

  // orchctl with the CA but no certificate of its own stops before any
  // request and says what is missing (the masters' own refusal of such a
  // client is StrangersAreRefused... below).
  auto anonymous = Orchctl({"get", "jobs"}, /*with_cert=*/false);
  EXPECT_EQ(anonymous.exit_code, 2) << anonymous.out;
  EXPECT_NE(anonymous.err.find("--client-cert and --client-key are not set"), std::string::npos)
      << anonymous.err;
}

TEST_F(TlsE2ETest, StrangersAreRefusedAndTheMastersKeepServing) {
  StartAgent("n1", "127.0.0.1");
  const std::string at = masters_->HttpUrl(leader_);
  const std::string plain = "http://" + at.substr(std::string("https://").size());

  // Plain HTTP is answered in the clear with what to do, and nothing else.
  auto http = HttpClient().Get(plain + "/v1/jobs");
  ASSERT_TRUE(http.ok()) << http.status().ToString();
  EXPECT_EQ(http->status, 400);
  EXPECT_NE(http->body.find("https://"), std::string::npos) << http->body;

  // https without a client certificate, or with another CA's.
  HttpClientOptions no_cert;
  no_cert.tls.ca_file = pki_->client.ca_file;
  EXPECT_FALSE(HttpClient(no_cert).Get(at + "/v1/jobs").ok());
  HttpClientOptions foreign;
  foreign.tls = pki_->foreign_server;
  EXPECT_FALSE(HttpClient(foreign).Get(at + "/v1/jobs").ok());
  // A proper client certificate gets in.
  HttpClientOptions user;
  user.tls = pki_->client;
  auto jobs = HttpClient(user).Get(at + "/v1/jobs");
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  EXPECT_EQ(jobs->status, 200);

  // An agent's API serves masters only: a user's certificate is refused.
  std::string agent_url;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto nodes = masters_->Client(leader_).ListNodes();
        if (!nodes.ok() || nodes->value.nodes_size() == 0) return false;
        agent_url = nodes->value.nodes(0).address();
        return true;
      },
      30s))
      << AgentLogs();
  ASSERT_EQ(agent_url.rfind("https://", 0), 0u) << agent_url;
  EXPECT_FALSE(HttpClient(user).Get(agent_url + "/healthz").ok());
  HttpClientOptions master;
  master.tls = pki_->server;
  master.tls_server_name = std::string(TlsRoleName(TlsRole::kAgent));
  auto healthz = HttpClient(master).Get(agent_url + "/healthz");
  ASSERT_TRUE(healthz.ok()) << healthz.status().ToString();
  EXPECT_EQ(healthz->status, 200);

  // The Raft port: a frame over plain TCP is dropped with the connection.
  {
    auto hp = ParseHostPort(masters_->RaftAddress(leader_));
    ASSERT_TRUE(hp.ok());
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(hp->port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    // A frame header announcing 22 bytes, and junk: a Raft frame's shape.
    const char frame[] = "\x00\x00\x00\x16\x12\x34\x56\x78hello-from-a-stranger";
    ASSERT_GT(::send(fd, frame, sizeof frame - 1, MSG_NOSIGNAL), 0);
    char buf[256];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    }
    EXPECT_TRUE(n == 0 || errno == ECONNRESET)
        << "the master kept the connection: " << std::strerror(errno);
    ::close(fd);
  }
  // Another CA's master certificate, and an agent's certificate of our CA.
  EXPECT_TRUE(RaftRefuses(leader_, pki_->foreign_server));
  EXPECT_TRUE(RaftRefuses(leader_, pki_->agent_as_master));

  // Nothing of that reached the Raft core: the strangers' heartbeats carry
  // term 1,000,000, which any member that took one would have adopted (the
  // leader itself may change meanwhile: a loaded CI machine can cost an
  // election, which says nothing about the strangers). And the cluster
  // still commits.
  for (const auto& id : masters_->Running()) {
    auto r = masters_->Client(id).Raw("GET", "/v1/cluster/leader?stale=true", "", 3s);
    ASSERT_TRUE(r.ok()) << id << ": " << r.status().ToString();
    v1::LeaderResponse lr;
    ASSERT_TRUE(FromJson(r->body, &lr).ok()) << r->body;
    EXPECT_LT(lr.term(), 1'000'000u) << id << " took a stranger's term";
  }
  Result<v1::SubmitJobResponse> job = Status::Unavailable("not tried");
  EXPECT_TRUE(WaitFor(
      [&] {
        job = masters_->Client(leader_).SubmitJobDocument(
            "id: after\ntype: batch\ngroups:\n  - name: g\n    tasks:\n      - name: t\n        "
            "driver: "
            "exec\n        command: /bin/true\n        resources: { cpu: 10, memory: 8 }\n");
        return job.ok();
      },
      20s))
      << job.status().ToString();
  (void)masters_->Client(leader_).StopJob("after");
}

}  // namespace
}  // namespace orch::e2e
