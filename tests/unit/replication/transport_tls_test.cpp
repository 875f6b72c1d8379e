// TcpTransport with TcpTransportOptions::tls: masters' certificates of one
// CA exchange messages and chunked snapshots over TLS; plain TCP, an agent's
// certificate and another CA's are refused at the handshake and deliver
// nothing, while the real peer keeps being served. Waits poll with
// deadlines; nothing asserts on elapsed time.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/tls_certs.h"
#include "master/replication/tcp_transport.h"

namespace orch::replication {
namespace {

using orch::v1::Message;
using namespace std::chrono_literals;

bool WaitFor(const std::function<bool()>& pred, std::chrono::seconds limit = 20s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

struct Inbox {
  std::mutex mu;
  std::vector<Message> msgs;
  std::vector<std::pair<uint64_t, bool>> snap_status;
  Transport::Callbacks Callbacks() {
    Transport::Callbacks cb;
    cb.on_message = [this](Message m) {
      std::lock_guard l(mu);
      msgs.push_back(std::move(m));
    };
    cb.on_snapshot_status = [this](uint64_t to, bool ok) {
      std::lock_guard l(mu);
      snap_status.emplace_back(to, ok);
    };
    return cb;
  }
  std::size_t Count() {
    std::lock_guard l(mu);
    return msgs.size();
  }
};

// Certificates on disk: the cluster's masters and agent, and a master of
// another CA (trusting both, so only the other side's check refuses it).
class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Per test: ctest runs the tests of this file in parallel.
    dir_ = ::testing::TempDir() + "/orch-transport-tls-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto ca = MakeCa({}), other = MakeCa({});
    ASSERT_TRUE(ca.ok() && other.ok());
    Write("ca.pem", ca->cert_pem);
    Write("both.pem", ca->cert_pem + other->cert_pem);
    master_ = Issue("master", *ca, "ca.pem", TlsRole::kServer);
    agent_ = Issue("agent", *ca, "both.pem", TlsRole::kAgent);
    foreign_ = Issue("foreign", *other, "both.pem", TlsRole::kServer);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  TlsFiles Issue(const std::string& name, const PemPair& ca, const std::string& ca_file,
                 TlsRole role) {
    CertRequest req;
    req.role = role;
    auto cert = MakeCert(ca, req);
    EXPECT_TRUE(cert.ok());
    Write(name + ".pem", cert->cert_pem);
    Write(name + "-key.pem", cert->key_pem);
    return {dir_ + "/" + ca_file, dir_ + "/" + name + ".pem", dir_ + "/" + name + "-key.pem"};
  }
  std::unique_ptr<TcpTransport> Start(uint64_t id, const TlsFiles& tls, Inbox* inbox) {
    TcpTransportOptions o;
    o.self_id = id;
    o.listen = "127.0.0.1:0";
    o.backoff_min = 10ms;
    o.backoff_max = 100ms;
    o.tls = tls;
    auto t = TcpTransport::Start(o, inbox->Callbacks());
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(t).value() : nullptr;
  }
  static Message Heartbeat(uint64_t from, uint64_t to, uint64_t commit) {
    Message m;
    m.set_type(Message::MSG_HEARTBEAT);
    m.set_from(from);
    m.set_to(to);
    m.set_term(2);
    m.set_commit(commit);
    return m;
  }

  std::string dir_;
  TlsFiles master_, agent_, foreign_;
};

TEST_F(TlsTransportTest, MastersExchangeMessagesInOrderAndSnapshotsInChunks) {
  Inbox in1, in2;
  auto a = Start(1, master_, &in1), b = Start(2, master_, &in2);
  ASSERT_TRUE(a && b);
  a->SetPeer(2, "127.0.0.1:" + std::to_string(b->port()));
  b->SetPeer(1, "127.0.0.1:" + std::to_string(a->port()));
  for (uint64_t i = 0; i < 500; ++i) a->Send({Heartbeat(1, 2, i)});
  b->Send({Heartbeat(2, 1, 7)});
  Message snap;
  snap.set_type(Message::MSG_SNAP);
  snap.set_from(1);
  snap.set_to(2);
  snap.set_term(2);
  snap.mutable_snapshot()->set_data(std::string(3 << 20, 's'));  // three chunks
  snap.mutable_snapshot()->mutable_metadata()->set_index(600);
  a->Send({snap});
  ASSERT_TRUE(WaitFor([&] { return in2.Count() == 501 && in1.Count() == 1; })) << in2.Count();
  std::lock_guard l(in2.mu);
  for (uint64_t i = 0; i < 500; ++i) ASSERT_EQ(in2.msgs[i].commit(), i);
  EXPECT_EQ(in2.msgs[500].snapshot().data().size(), std::size_t{3} << 20);
}

TEST_F(TlsTransportTest, PlainTcpAnAgentAndAnotherCaAreRefusedTheMasterKeepsServing) {
  Inbox target_in;
  auto target = Start(1, master_, &target_in);
  ASSERT_TRUE(target);
  const std::string at = "127.0.0.1:" + std::to_string(target->port());
  // One stranger at a time, so each refusal is its own.
  struct Stranger {
    const char* what;
    uint64_t id;
    TlsFiles tls;
  };
  for (const Stranger& s :
       {Stranger{"plain TCP", 2, {}}, Stranger{"an agent's certificate", 3, agent_},
        Stranger{"another CA's master certificate", 4, foreign_}}) {
    Inbox in;
    auto stranger = Start(s.id, s.tls, &in);
    ASSERT_TRUE(stranger);
    stranger->SetPeer(1, at);
    const uint64_t before = target->stats().refused_conns;
    EXPECT_TRUE(WaitFor([&] {
      stranger->Send({Heartbeat(s.id, 1, 1)});
      return target->stats().refused_conns > before;
    })) << s.what
        << " was not refused";
    stranger->Stop();
  }
  EXPECT_EQ(target_in.Count(), 0u);
  // A real master still gets through, and nothing of the others arrived.
  Inbox peer_in;
  auto peer = Start(5, master_, &peer_in);
  ASSERT_TRUE(peer);
  peer->SetPeer(1, at);
  ASSERT_TRUE(WaitFor([&] {
    peer->Send({Heartbeat(5, 1, 9)});
    return target_in.Count() > 0;
  }));
  std::lock_guard l(target_in.mu);
  for (const auto& m : target_in.msgs) EXPECT_EQ(m.from(), 5u);
  EXPECT_EQ(target->stats().received_msgs, target_in.msgs.size());
}

}  // namespace
}  // namespace orch::replication
