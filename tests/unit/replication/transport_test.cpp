// TcpTransport on loopback: ordering, reconnection, chunked snapshots,
// corrupt input, queue bounds, shutdown. Waits poll with deadlines; nothing
// asserts on elapsed time.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "master/replication/tcp_transport.h"
#include "master/replication/transport_frame.h"

namespace orch::replication {
namespace {

using orch::v1::Message;
using namespace std::chrono_literals;

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::seconds limit = 20s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// What a node's callbacks saw.
struct Recorder {
  std::mutex mu;
  std::vector<Message> msgs;
  std::vector<std::pair<uint64_t, bool>> snap_status;
  std::map<uint64_t, int> unreachable;
  std::map<uint64_t, int> down;

  Transport::Callbacks Callbacks() {
    return {
        [this](Message m) {
          std::lock_guard l(mu);
          msgs.push_back(std::move(m));
        },
        [this](uint64_t to, bool ok) {
          std::lock_guard l(mu);
          snap_status.emplace_back(to, ok);
        },
        [this](uint64_t to) {
          std::lock_guard l(mu);
          ++unreachable[to];
        },
        [this](uint64_t id) {
          std::lock_guard l(mu);
          ++down[id];
        },
    };
  }
  std::size_t Count() {
    std::lock_guard l(mu);
    return msgs.size();
  }
  std::size_t CountFrom(uint64_t from) {
    std::lock_guard l(mu);
    return std::count_if(msgs.begin(), msgs.end(), [&](auto& m) { return m.from() == from; });
  }
  int Unreachable(uint64_t id) {
    std::lock_guard l(mu);
    return unreachable[id];
  }
  int Down(uint64_t id) {
    std::lock_guard l(mu);
    return down[id];
  }
};

struct Node {
  uint64_t id;
  Recorder rec;
  std::unique_ptr<TcpTransport> t;
  std::string addr() const { return "127.0.0.1:" + std::to_string(t->port()); }
};

TcpTransportOptions Opts(uint64_t id, uint16_t port = 0) {
  TcpTransportOptions o;
  o.self_id = id;
  o.listen = "127.0.0.1:" + std::to_string(port);
  o.backoff_min = 10ms;
  o.backoff_max = 100ms;
  return o;
}

std::unique_ptr<Node> StartNode(uint64_t id, TcpTransportOptions o) {
  auto n = std::make_unique<Node>();
  n->id = id;
  auto t = TcpTransport::Start(o, n->rec.Callbacks());
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (!t.ok()) return nullptr;
  n->t = std::move(t).value();
  return n;
}
std::unique_ptr<Node> StartNode(uint64_t id) { return StartNode(id, Opts(id)); }

Message App(uint64_t from, uint64_t to, uint64_t index) {
  Message m;
  m.set_type(Message::MSG_APP);
  m.set_from(from);
  m.set_to(to);
  m.set_term(3);
  m.set_index(index);
  auto* e = m.add_entries();
  e->set_index(index + 1);
  e->set_data(std::string(100, 'x'));
  return m;
}

void Connect(std::vector<Node*> nodes) {
  for (auto* a : nodes)
    for (auto* b : nodes)
      if (a != b) a->t->SetPeer(b->id, b->addr());
}

// The `index` values `to` received from `from`, in arrival order.
std::vector<uint64_t> IndicesFrom(Node& to, uint64_t from) {
  std::lock_guard l(to.rec.mu);
  std::vector<uint64_t> out;
  for (auto& m : to.rec.msgs)
    if (m.from() == from) out.push_back(m.index());
  return out;
}

std::vector<uint64_t> Iota(uint64_t n) {
  std::vector<uint64_t> v(n);
  for (uint64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

// ---- Wire format -------------------------------------------------------

TEST(TcpTransportTest, APeerWhoseProcessIsGoneIsReportedDownAtOnce) {
  auto a = StartNode(1), b = StartNode(2);
  Connect({a.get(), b.get()});
  a->t->Send({App(1, 2, 0)});
  ASSERT_TRUE(WaitFor([&] { return b->rec.CountFrom(1) == 1; }));
  std::this_thread::sleep_for(300ms);  // a connection that lasted (kProbeAfter, 250 ms)
  EXPECT_EQ(a->rec.Down(2), 0) << "a live peer is not down";
  // As when b's process is killed: its sockets close and nothing listens.
  // a sends nothing more: its connection's close is what tells it.
  b->t->Stop();
  EXPECT_TRUE(WaitFor([&] { return a->rec.Down(2) > 0; }, 5s))
      << "a's connection to b closed, and its redial was refused";
  EXPECT_EQ(b->rec.Down(1), 0);
}

TEST(TransportFrameTest, HandEncodedMessageFrameParsesAsTransportFrame) {
  Message m = App(7, 2, 42);
  std::string buf;
  ASSERT_TRUE(AppendMessageFrame({7}, m, 1 << 20, &buf));
  orch::v1::TransportFrame f;
  std::size_t used = 0;
  ASSERT_EQ(DecodeFrame(buf, 1 << 20, &f, &used), FrameStatus::kOk);
  EXPECT_EQ(used, buf.size());
  EXPECT_EQ(f.from(), 7u);
  ASSERT_TRUE(f.has_message());
  EXPECT_EQ(f.message().SerializeAsString(), m.SerializeAsString());
  // Byte-identical to what the generated code would write.
  orch::v1::TransportFrame g;
  g.set_from(7);
  *g.mutable_message() = m;
  EXPECT_EQ(buf.substr(kFrameHeaderBytes), g.SerializeAsString());
}

TEST(TransportFrameTest, PartialTooLargeAndCorruptFramesAreReported) {
  std::string buf;
  ASSERT_TRUE(AppendMessageFrame({1}, App(1, 2, 1), 1 << 20, &buf));
  orch::v1::TransportFrame f;
  std::size_t n = 0;
  EXPECT_EQ(DecodeFrame(std::string_view(buf).substr(0, 5), 1 << 20, &f, &n),
            FrameStatus::kNeedMore);
  EXPECT_EQ(DecodeFrame(std::string_view(buf).substr(0, buf.size() - 1), 1 << 20, &f, &n),
            FrameStatus::kNeedMore);
  EXPECT_EQ(n, buf.size());
  EXPECT_EQ(DecodeFrame(buf, 10, &f, &n), FrameStatus::kTooLarge);
  std::string bad = buf;
  bad.back() ^= 1;
  EXPECT_EQ(DecodeFrame(bad, 1 << 20, &f, &n), FrameStatus::kBadCrc);
  EXPECT_FALSE(AppendMessageFrame({1}, App(1, 2, 1), 10, &buf));
}

TEST(SnapshotAssemblerTest, ChunkThatDoesNotFollowItsPredecessorAborts) {
  SnapshotAssembler a;
  orch::v1::SnapshotChunk c;
  c.set_snapshot_index(5);
  c.set_snapshot_term(2);
  c.set_total(10);
  c.set_data("01234");
  auto* h = c.mutable_header();
  h->set_type(Message::MSG_SNAP);
  h->mutable_snapshot()->mutable_metadata()->set_index(5);
  h->mutable_snapshot()->mutable_metadata()->set_term(2);
  auto r = a.Add(&c);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  orch::v1::SnapshotChunk skip;
  skip.set_snapshot_index(5);
  skip.set_snapshot_term(2);
  skip.set_total(10);
  skip.set_offset(7);  // should be 5
  skip.set_data("789");
  skip.set_last(true);
  EXPECT_FALSE(a.Add(&skip).ok());
  EXPECT_FALSE(a.active());
}

TEST(TransportFrameTest, TheClusterIdTravelsInTheEnvelopeAsTheGeneratedCodeWritesIt) {
  Message m = App(7, 2, 42);
  std::string buf;
  ASSERT_TRUE(AppendMessageFrame({7, 0x0123456789abcdefULL}, m, 1 << 20, &buf));
  orch::v1::TransportFrame f;
  std::size_t used = 0;
  ASSERT_EQ(DecodeFrame(buf, 1 << 20, &f, &used), FrameStatus::kOk);
  EXPECT_EQ(f.cluster_id(), 0x0123456789abcdefULL);
  orch::v1::TransportFrame g;
  g.set_from(7);
  g.set_cluster_id(0x0123456789abcdefULL);
  *g.mutable_message() = m;
  EXPECT_EQ(buf.substr(kFrameHeaderBytes), g.SerializeAsString());
}

TEST(SnapshotAssemblerTest, DataThatDoesNotMatchItsChecksumIsDropped) {
  for (bool corrupt : {false, true}) {
    SnapshotAssembler a;
    orch::v1::SnapshotChunk first;
    first.set_snapshot_index(5);
    first.set_snapshot_term(2);
    first.set_total(10);
    first.set_data("01234");
    first.set_data_crc32(FrameCrc32("0123456789"));
    auto* h = first.mutable_header();
    h->set_type(Message::MSG_SNAP);
    h->mutable_snapshot()->mutable_metadata()->set_index(5);
    h->mutable_snapshot()->mutable_metadata()->set_term(2);
    ASSERT_TRUE(a.Add(&first).ok());
    orch::v1::SnapshotChunk last;
    last.set_snapshot_index(5);
    last.set_snapshot_term(2);
    last.set_total(10);
    last.set_offset(5);
    last.set_data(corrupt ? "56788" : "56789");
    last.set_last(true);
    auto r = a.Add(&last);
    EXPECT_EQ(r.ok(), !corrupt) << (r.ok() ? "" : r.status().message());
    if (r.ok()) {
      ASSERT_TRUE(r->has_value());
      EXPECT_EQ((*r)->snapshot().data(), "0123456789");
    } else {
      EXPECT_NE(r.status().message().find("checksum"), std::string::npos);
    }
    EXPECT_FALSE(a.active());
  }
}

// ---- Transport on loopback ----------------------------------------------

TEST(TcpTransportTest, TwoTransportsExchangeMessagesInOrder) {
  auto a = StartNode(1), b = StartNode(2);
  ASSERT_TRUE(a && b);
  Connect({a.get(), b.get()});
  constexpr uint64_t kN = 2000;
  for (uint64_t i = 0; i < kN; i += 50) {
    std::vector<Message> ab, ba;
    for (uint64_t j = i; j < i + 50; ++j) {
      ab.push_back(App(1, 2, j));
      ba.push_back(App(2, 1, j));
    }
    a->t->Send(std::move(ab));
    b->t->Send(std::move(ba));
  }
  ASSERT_TRUE(WaitFor([&] { return b->rec.Count() == kN && a->rec.Count() == kN; }))
      << b->rec.Count() << " " << a->rec.Count();
  EXPECT_EQ(IndicesFrom(*b, 1), Iota(kN));
  EXPECT_EQ(IndicesFrom(*a, 2), Iota(kN));
  {
    std::lock_guard l(b->rec.mu);
    EXPECT_EQ(b->rec.msgs[7].entries(0).data(), std::string(100, 'x'));
    EXPECT_EQ(b->rec.msgs[7].term(), 3u);
  }
  EXPECT_EQ(a->t->stats().sent_msgs, kN);
  EXPECT_EQ(b->t->stats().received_msgs, kN);
  EXPECT_EQ(a->t->stats().dropped_msgs, 0u);
}

TEST(TcpTransportTest, ThreeTransportsKeepOrderPerPeerPair) {
  auto n1 = StartNode(1), n2 = StartNode(2), n3 = StartNode(3);
  ASSERT_TRUE(n1 && n2 && n3);
  std::vector<Node*> all{n1.get(), n2.get(), n3.get()};
  Connect(all);
  constexpr uint64_t kN = 500;
  for (uint64_t i = 0; i < kN; ++i) {
    for (auto* from : all) {
      std::vector<Message> batch;
      for (auto* to : all)
        if (to != from) batch.push_back(App(from->id, to->id, i));
      from->t->Send(std::move(batch));
    }
  }
  for (auto* to : all) {
    ASSERT_TRUE(WaitFor([&] { return to->rec.Count() == 2 * kN; })) << to->rec.Count();
    for (auto* from : all) {
      if (from != to) {
        EXPECT_EQ(IndicesFrom(*to, from->id), Iota(kN));
      }
    }
  }
}

// Sends heartbeat-like traffic from `a` to `to` until `pred` holds.
template <typename Pred>
bool SendUntil(Node& a, uint64_t to, Pred pred) {
  uint64_t i = 0;
  return WaitFor([&] {
    a.t->Send({App(a.id, to, i++)});
    return pred();
  });
}

TEST(TcpTransportTest, UnknownPeerIsReportedUnreachable) {
  auto a = StartNode(1);
  ASSERT_TRUE(a);
  a->t->Send({App(1, 9, 0)});
  EXPECT_TRUE(WaitFor([&] { return a->rec.Unreachable(9) >= 1; }));
  EXPECT_EQ(a->t->stats().dropped_msgs, 1u);
}

TEST(TcpTransportTest, RemovedPeerGetsNothingMore) {
  auto a = StartNode(1), b = StartNode(2);
  ASSERT_TRUE(a && b);
  a->t->SetPeer(2, b->addr());
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return b->rec.Count() > 0; }));
  a->t->RemovePeer(2);
  uint64_t dropped = a->t->stats().dropped_msgs;
  a->t->Send({App(1, 2, 1000)});
  EXPECT_EQ(a->t->stats().dropped_msgs, dropped + 1);  // dropped in Send itself
  EXPECT_TRUE(WaitFor([&] { return a->rec.Unreachable(2) >= 1; }));
}

TEST(TcpTransportTest, PeerStartingLaterIsReachedAfterBackoff) {
  // A port nobody listens on yet, held by a socket bound to it with
  // SO_REUSEADDR and not listening: connections to it are refused, no other
  // process (tests run in parallel) can take it meanwhile, and the transport
  // (SO_REUSEADDR too) can still listen there. A probe that freed the port
  // lost it once to another test, which answered in its place.
  const int hold = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(hold, 0);
  const int one = 1;
  ASSERT_EQ(::setsockopt(hold, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(hold, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::getsockname(hold, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  const uint16_t port = ntohs(sa.sin_port);
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } close_hold{hold};
  auto a = StartNode(1);
  ASSERT_TRUE(a);
  a->t->SetPeer(2, "127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return a->rec.Unreachable(2) >= 2; }));
  EXPECT_GT(a->t->stats().dropped_msgs, 0u);

  auto b = StartNode(2, Opts(2, port));
  ASSERT_TRUE(b);
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return b->rec.Count() > 0; }));

  // Restart on the same port: the old connection breaks, a new one follows.
  b.reset();
  b = StartNode(2, Opts(2, port));
  ASSERT_TRUE(b);
  int before = a->rec.Unreachable(2);
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return b->rec.Count() > 0; }));
  EXPECT_GE(a->rec.Unreachable(2), before);
}

TEST(TcpTransportTest, SetPeerWithNewAddressMovesTheConnection) {
  auto a = StartNode(1), old_b = StartNode(2), new_b = StartNode(2);
  ASSERT_TRUE(a && old_b && new_b);
  a->t->SetPeer(2, old_b->addr());
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return old_b->rec.Count() > 0; }));
  a->t->SetPeer(2, new_b->addr());
  ASSERT_TRUE(SendUntil(*a, 2, [&] { return new_b->rec.Count() > 0; }));
  // Nothing sent after the switch goes to the old address.
  std::size_t old_count = old_b->rec.Count();
  for (uint64_t i = 0; i < 20; ++i) a->t->Send({App(1, 2, 1000 + i)});
  ASSERT_TRUE(WaitFor([&] { return IndicesFrom(*new_b, 1).back() == 1019; }));
  EXPECT_EQ(old_b->rec.Count(), old_count);
}

TEST(TcpTransportTest, LargeSnapshotArrivesWholeAsOneMsgSnap) {
  auto a = StartNode(1), b = StartNode(2);
  ASSERT_TRUE(a && b);
  Connect({a.get(), b.get()});
  std::string data(5 << 20, '\0');
  std::mt19937_64 rng(42);
  for (auto& c : data) c = static_cast<char>(rng());
  Message snap;
  snap.set_type(Message::MSG_SNAP);
  snap.set_from(1);
  snap.set_to(2);
  snap.set_term(4);
  auto* s = snap.mutable_snapshot();
  s->set_data(data);
  s->mutable_metadata()->set_index(1000);
  s->mutable_metadata()->set_term(4);
  s->mutable_metadata()->mutable_conf_state()->add_voters(1);
  s->mutable_metadata()->mutable_conf_state()->add_voters(2);
  // Other traffic interleaves with the chunks and must not disturb them.
  a->t->Send({App(1, 2, 0), snap, App(1, 2, 1)});
  for (uint64_t i = 2; i < 50; ++i) a->t->Send({App(1, 2, i)});

  ASSERT_TRUE(WaitFor([&] { return b->rec.Count() == 51; })) << b->rec.Count();
  {
    std::lock_guard l(b->rec.mu);
    int snaps = 0;
    for (auto& m : b->rec.msgs) {
      if (m.type() != Message::MSG_SNAP) continue;
      ++snaps;
      EXPECT_EQ(m.snapshot().metadata().SerializeAsString(),
                snap.snapshot().metadata().SerializeAsString());
      EXPECT_EQ(m.term(), 4u);
      EXPECT_TRUE(m.snapshot().data() == data) << "snapshot data differs";
    }
    EXPECT_EQ(snaps, 1);
  }
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard l(a->rec.mu);
    return !a->rec.snap_status.empty();
  }));
  std::lock_guard l(a->rec.mu);
  EXPECT_EQ(a->rec.snap_status, (std::vector<std::pair<uint64_t, bool>>{{2, true}}));
}

TEST(TcpTransportTest, SnapshotToDeadPeerReportsFailure) {
  auto a = StartNode(1);
  ASSERT_TRUE(a);
  uint16_t port;
  {
    auto probe = StartNode(2);
    port = probe->t->port();
  }
  a->t->SetPeer(2, "127.0.0.1:" + std::to_string(port));
  Message snap;
  snap.set_type(Message::MSG_SNAP);
  snap.set_to(2);
  snap.mutable_snapshot()->set_data(std::string(3 << 20, 's'));
  a->t->Send({snap});
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard l(a->rec.mu);
    return !a->rec.snap_status.empty();
  }));
  std::lock_guard l(a->rec.mu);
  EXPECT_EQ(a->rec.snap_status, (std::vector<std::pair<uint64_t, bool>>{{2, false}}));
}

// A raw client socket, to send what no transport would.
class RawConn {
 public:
  explicit RawConn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConn() { ::close(fd_); }
  bool ok() const { return ok_; }
  void Write(std::string_view bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // True once the other side closed (EOF or reset), false on timeout.
  bool ClosedByPeer() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

class CorruptInputTest : public ::testing::TestWithParam<std::string> {};

std::string FrameOf(uint64_t from, const Message& m) {
  std::string buf;
  AppendMessageFrame({from}, m, 1 << 30, &buf);
  return buf;
}

std::string CorruptInput(const std::string& kind) {
  if (kind == "garbage") return "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(100, '\xff');
  if (kind == "oversized") return std::string("\x7f\xff\xff\xff\0\0\0\0", 8);
  if (kind == "bad_crc") {
    std::string f = FrameOf(3, App(3, 2, 0));
    f[5] ^= 0x40;
    return f;
  }
  // A correct length and CRC around bytes that are not a TransportFrame.
  std::string payload = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
  std::string f(8, '\0');
  uint32_t len = payload.size(), crc = FrameCrc32(payload);
  for (int i = 0; i < 4; ++i) {
    f[i] = static_cast<char>(len >> (24 - 8 * i));
    f[4 + i] = static_cast<char>(crc >> (24 - 8 * i));
  }
  return f + payload;
}

TEST_P(CorruptInputTest, DropsThatConnectionAndKeepsServingRealPeers) {
  TcpTransportOptions o = Opts(2);
  o.max_frame_bytes = 2 << 20;
  o.snapshot_chunk_bytes = 1 << 20;
  auto a = StartNode(1), b = StartNode(2, o);
  ASSERT_TRUE(a && b);
  Connect({a.get(), b.get()});
  a->t->Send({App(1, 2, 0)});
  ASSERT_TRUE(WaitFor([&] { return b->rec.Count() == 1; }));

  RawConn raw(b->t->port());
  ASSERT_TRUE(raw.ok());
  // A good frame first: it is delivered, then the bad input ends the connection.
  raw.Write(FrameOf(3, App(3, 2, 100)));
  raw.Write(CorruptInput(GetParam()));
  EXPECT_TRUE(raw.ClosedByPeer());
  EXPECT_TRUE(WaitFor([&] { return b->t->stats().bad_frames == 1; }));
  EXPECT_EQ(b->rec.CountFrom(3), 1u);

  for (uint64_t i = 1; i < 100; ++i) a->t->Send({App(1, 2, i)});
  ASSERT_TRUE(WaitFor([&] { return b->rec.CountFrom(1) == 100; }));
  EXPECT_EQ(IndicesFrom(*b, 1), Iota(100));
}

INSTANTIATE_TEST_SUITE_P(Kinds, CorruptInputTest,
                         ::testing::Values("garbage", "oversized", "bad_crc", "bad_payload"));

TEST(TcpTransportTest, FramesOfAnotherClusterOrOfNoneNeverArrive) {
  constexpr uint64_t kOurs = 0x1111, kTheirs = 0x2222;
  auto with = [](uint64_t id, uint64_t cluster) {
    TcpTransportOptions o = Opts(id);
    o.cluster_id = cluster;
    return o;
  };
  // a and b are one cluster; c, another cluster's master, was given b's
  // address (a stale member, or founders that disagree).
  auto a = StartNode(1, with(1, kOurs)), b = StartNode(2, with(2, kOurs));
  auto c = StartNode(3, with(3, kTheirs));
  ASSERT_TRUE(a && b && c);
  Connect({a.get(), b.get()});
  c->t->SetPeer(2, b->addr());
  for (uint64_t i = 0; i < 10; ++i) c->t->Send({App(3, 2, i)});
  ASSERT_TRUE(WaitFor([&] { return b->t->stats().foreign_frames >= 1; }));
  // A stranger's hand-made frame, with no cluster id at all.
  RawConn raw(b->t->port());
  ASSERT_TRUE(raw.ok());
  raw.Write(FrameOf(3, App(3, 2, 100)));
  EXPECT_TRUE(raw.ClosedByPeer());
  ASSERT_TRUE(WaitFor([&] { return b->t->stats().foreign_frames >= 2; }));
  EXPECT_EQ(b->rec.CountFrom(3), 0u);
  // Its own cluster's traffic flows as ever.
  for (uint64_t i = 0; i < 20; ++i) a->t->Send({App(1, 2, i)});
  ASSERT_TRUE(WaitFor([&] { return b->rec.CountFrom(1) == 20; }));
  EXPECT_EQ(IndicesFrom(*b, 1), Iota(20));
  EXPECT_EQ(b->rec.CountFrom(3), 0u);
}

TEST(TcpTransportTest, OutOfOrderSnapshotChunkDropsTheConnection) {
  auto b = StartNode(2);
  ASSERT_TRUE(b);
  RawConn raw(b->t->port());
  ASSERT_TRUE(raw.ok());
  orch::v1::TransportFrame f;
  f.set_from(3);
  auto* c = f.mutable_chunk();
  c->set_snapshot_index(1);
  c->set_offset(10);  // no first chunk came before
  c->set_total(20);
  c->set_data("0123456789");
  std::string buf;
  ASSERT_TRUE(AppendFrame(f, 1 << 20, &buf));
  raw.Write(buf);
  EXPECT_TRUE(raw.ClosedByPeer());
  EXPECT_TRUE(WaitFor([&] { return b->t->stats().bad_frames == 1; }));
  EXPECT_EQ(b->rec.Count(), 0u);
}

// A peer that accepts TCP (the kernel completes the handshake) but never
// reads: writes stall, and the queue must stay bounded.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    ::listen(fd_, 4);
    socklen_t len = sizeof sa;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_ = 0;
};

TEST(TcpTransportTest, ASnapshotDroppedBeforeItIsQueuedReportsFailure) {
  // A full queue (or a peer the transport does not know) drops the message
  // in Send itself; the core must hear that the snapshot failed, or that
  // follower waits in snapshot state for good.
  TcpTransportOptions o = Opts(1);
  o.max_queue_msgs = 1;
  auto a = StartNode(1, o);
  ASSERT_TRUE(a);
  SilentListener silent;
  a->t->SetPeer(2, "127.0.0.1:" + std::to_string(silent.port()));
  Message snap;
  snap.set_type(Message::MSG_SNAP);
  snap.set_to(2);
  snap.mutable_snapshot()->set_data("small");
  Message to_nobody = snap;
  to_nobody.set_to(9);
  a->t->Send({App(1, 2, 0), snap, to_nobody});
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard l(a->rec.mu);
    return a->rec.snap_status.size() == 2;
  }));
  std::lock_guard l(a->rec.mu);
  EXPECT_EQ(a->rec.snap_status, (std::vector<std::pair<uint64_t, bool>>{{2, false}, {9, false}}));
}

TEST(TcpTransportTest, QueueToStalledPeerIsBoundedAndDropsAreReported) {
  SilentListener silent;
  TcpTransportOptions o = Opts(1);
  o.max_queue_msgs = 64;
  auto a = StartNode(1, o), b = StartNode(3);
  ASSERT_TRUE(a && b);
  a->t->SetPeer(2, "127.0.0.1:" + std::to_string(silent.port()));
  a->t->SetPeer(3, b->addr());
  Message big = App(1, 2, 0);
  big.mutable_entries(0)->set_data(std::string(64 << 10, 'b'));
  // Far more than the socket buffers hold.
  for (int i = 0; i < 2000; ++i) {
    a->t->Send({big});
    EXPECT_LE(a->t->stats().queued_msgs, 64u);
  }
  EXPECT_GT(a->t->stats().dropped_msgs, 0u);
  EXPECT_TRUE(WaitFor([&] { return a->rec.Unreachable(2) >= 1; }));
  // The stalled peer does not hold up the others (fewer messages than the
  // queue bound, which also applies while the connection is being dialled).
  for (uint64_t i = 0; i < 50; ++i) a->t->Send({App(1, 3, i)});
  ASSERT_TRUE(WaitFor([&] { return b->rec.Count() == 50; })) << b->rec.Count();
  EXPECT_EQ(IndicesFrom(*b, 1), Iota(50));
  a->t->Stop();  // with a write blocked on the stalled peer
}

TEST(TcpTransportTest, StopWithOpenConnectionsReturnsAndIsIdempotent) {
  auto a = StartNode(1), b = StartNode(2);
  ASSERT_TRUE(a && b);
  Connect({a.get(), b.get()});
  a->t->Send({App(1, 2, 0)});
  b->t->Send({App(2, 1, 0)});
  ASSERT_TRUE(WaitFor([&] { return a->rec.Count() == 1 && b->rec.Count() == 1; }));
  RawConn idle(a->t->port());  // an inbound connection that sends nothing
  a->t->Stop();
  a->t->Stop();
  EXPECT_TRUE(idle.ClosedByPeer());
  a->t->Send({App(1, 2, 1)});  // after Stop: dropped, no callbacks
  b->t->Stop();
  b.reset();  // destructor after Stop
}

TEST(TcpTransportTest, StartFailsOnBadOptionsAndBusyPort) {
  TcpTransportOptions o = Opts(1);
  o.listen = "not-an-address";
  EXPECT_FALSE(TcpTransport::Start(o, {}).ok());
  o = Opts(1);
  o.snapshot_chunk_bytes = o.max_frame_bytes;
  EXPECT_FALSE(TcpTransport::Start(o, {}).ok());
  SilentListener busy;
  o = Opts(1, busy.port());
  EXPECT_FALSE(TcpTransport::Start(o, {}).ok());
}

// ---- Hostile peers (issue 10) -------------------------------------------

// A frame header announcing `len` payload bytes (none follow).
std::string Announce(uint32_t len) {
  std::string h(8, '\0');
  for (int i = 0; i < 4; ++i) h[i] = static_cast<char>(len >> (24 - 8 * i));
  return h;
}

TEST(TcpTransportTest, AnnouncedFramesReserveNoMemoryUntilTheirBytesArrive) {
  // The review's attack: 60 connections each announcing a 16 MiB frame took
  // a master to ~1 GiB (the buffer was sized from the header).
  TcpTransportOptions o = Opts(2);
  o.max_inbound_conns_per_ip = 64;
  auto b = StartNode(2, o);
  ASSERT_TRUE(b);
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 20; ++i) {
    conns.push_back(std::make_unique<RawConn>(b->t->port()));
    ASSERT_TRUE(conns.back()->ok());
    conns.back()->Write(Announce(15 << 20) + std::string(10, 'x'));
  }
  ASSERT_TRUE(WaitFor([&] { return b->t->stats().inbound_conns == 20; }));
  std::this_thread::sleep_for(200ms);  // let every read land
  EXPECT_LT(b->t->stats().inbound_buffer_bytes, 20u * (256 << 10)) << "buffers sized from headers";
}

TEST(TcpTransportTest, InboundConnectionsPastThePerAddressCapAreClosed) {
  TcpTransportOptions o = Opts(2);
  o.max_inbound_conns_per_ip = 2;
  auto a = StartNode(1), b = StartNode(2, o);
  ASSERT_TRUE(a && b);
  auto c1 = std::make_unique<RawConn>(b->t->port());
  RawConn c2(b->t->port());
  ASSERT_TRUE(WaitFor([&] { return b->t->stats().inbound_conns == 2; }));
  RawConn c3(b->t->port());
  EXPECT_TRUE(c3.ClosedByPeer());
  EXPECT_EQ(b->t->stats().refused_conns, 1u);
  // Once one goes away, a real peer gets in.
  c1.reset();
  ASSERT_TRUE(WaitFor([&] { return b->t->stats().inbound_conns == 1; }));
  Connect({a.get(), b.get()});
  a->t->Send({App(1, 2, 0)});
  EXPECT_TRUE(WaitFor([&] { return b->rec.CountFrom(1) == 1; }));
}

TEST(TcpTransportTest, SilentInboundConnectionsAreClosed) {
  TcpTransportOptions o = Opts(2);
  o.inbound_idle_timeout = 200ms;
  auto b = StartNode(2, o);
  ASSERT_TRUE(b);
  RawConn idle(b->t->port());
  ASSERT_TRUE(idle.ok());
  idle.Write(Announce(100));  // half a frame, then nothing
  EXPECT_TRUE(idle.ClosedByPeer());
  EXPECT_EQ(b->t->stats().idle_closed, 1u);
  EXPECT_TRUE(WaitFor([&] { return b->t->stats().inbound_conns == 0; }));
}

TEST(TcpTransportTest, AMessageClaimingAnotherSenderDropsTheConnection) {
  auto b = StartNode(2);
  ASSERT_TRUE(b);
  RawConn raw(b->t->port());
  ASSERT_TRUE(raw.ok());
  raw.Write(FrameOf(3, App(1, 2, 0)));  // envelope says 3, message says 1
  EXPECT_TRUE(raw.ClosedByPeer());
  EXPECT_EQ(b->rec.Count(), 0u);
  EXPECT_EQ(b->t->stats().bad_frames, 1u);
}

TEST(SnapshotAssemblerTest, ATotalOverTheLimitIsRefusedBeforeAnyData) {
  SnapshotAssembler asm_(1 << 20);
  orch::v1::SnapshotChunk c;
  c.set_snapshot_index(10);
  c.set_snapshot_term(2);
  c.set_offset(0);
  c.set_total(uint64_t{1} << 40);
  c.set_data("x");
  auto* h = c.mutable_header();
  h->set_type(Message::MSG_SNAP);
  h->mutable_snapshot()->mutable_metadata()->set_index(10);
  h->mutable_snapshot()->mutable_metadata()->set_term(2);
  auto r = asm_.Add(&c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("over the limit"), std::string::npos) << r.status().message();
  EXPECT_FALSE(asm_.active());
}

}  // namespace
}  // namespace orch::replication
