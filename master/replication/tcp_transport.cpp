#include "master/replication/tcp_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "common/net.h"
#include "common/thread_name.h"
#include "common/tls_context.h"
#include "master/raft/cluster_id.h"
#include "master/replication/transport_frame.h"

namespace orch::replication {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using orch::v1::Message;
using std::chrono::milliseconds;
// A connection's TLS layer over its socket (with TcpTransportOptions::tls).
// Handlers of its operations hold it, so a stream abandoned with its
// connection lives until they have run.
using TlsStream = asio::ssl::stream<tcp::socket&>;

namespace {

// Probing a peer that closed a working connection (TcpTransport::Impl::Fail).
constexpr int kProbes = 20;
constexpr std::chrono::milliseconds kProbeInterval{10};
// Only a connection at least this old starts probing when it closes.
constexpr std::chrono::milliseconds kProbeAfter{250};

// Writes or reads through TLS when the connection has it, else the socket.
template <class Buffers, class Handler>
void WriteAll(tcp::socket& socket, const std::shared_ptr<TlsStream>& tls, const Buffers& buffers,
              Handler handler) {
  if (!tls) return asio::async_write(socket, buffers, std::move(handler));
  asio::async_write(*tls, buffers,
                    [tls, handler = std::move(handler)](boost::system::error_code ec,
                                                        std::size_t n) mutable { handler(ec, n); });
}
template <class Buffers, class Handler>
void ReadSome(tcp::socket& socket, const std::shared_ptr<TlsStream>& tls, const Buffers& buffers,
              Handler handler) {
  if (!tls) return socket.async_read_some(buffers, std::move(handler));
  tls->async_read_some(
      buffers, [tls, handler = std::move(handler)](boost::system::error_code ec,
                                                   std::size_t n) mutable { handler(ec, n); });
}

// Outbound side of one peer. Fields under "mu" are shared with Send's
// callers; the rest belong to the io thread.
struct Peer {
  explicit Peer(asio::io_context& ioc, uint64_t id)
      : id(id), socket(ioc), resolver(ioc), timer(ioc) {}

  const uint64_t id;

  // Guarded by TcpTransport::Impl::mu_.
  std::string address;
  std::string pending;                  // encoded frames not yet handed to the socket
  std::size_t pending_msgs = 0;         // messages in `pending` plus `pending_snaps`
  std::deque<Message> pending_snaps;    // MsgSnaps too large for one frame
  std::size_t pending_snap_frames = 0;  // small MsgSnaps framed in `pending`
  bool kick_posted = false;             // a Kick is on its way to the io thread
  bool accepting = true;                // false while backing off: Send drops
  bool drop_reported = false;           // on_unreachable sent for the current drop burst
  // Dials left to learn whether a peer that closed a working connection is
  // gone (refused) or back; each failure redials after kProbeInterval.
  int probes_left = 0;
  std::atomic<bool> removed = false;    // also read by the io thread

  // io thread only.
  enum class State { kIdle, kDialing, kConnected, kBackoff };
  State state = State::kIdle;
  uint64_t gen = 0;  // bumped per connection attempt; stale handlers compare it
  tcp::socket socket;
  std::shared_ptr<TlsStream> tls;  // this connection's, with TLS on
  tcp::resolver resolver;
  asio::steady_timer timer;  // dial timeout, then backoff
  std::string dialed;        // the address of the current attempt
  std::string wbuf;          // being written
  std::size_t wbuf_msgs = 0;
  std::size_t wbuf_snaps = 0;  // small MsgSnaps in wbuf, reported once written
  bool writing = false;
  // The snapshot being streamed: its MsgSnap without data, the data, the
  // next offset; and whether the write in flight finishes it.
  std::deque<Message> snaps;
  std::optional<Message> snap_header;
  std::string snap_data;
  std::size_t snap_offset = 0;
  bool snap_done_in_write = false;
  milliseconds backoff{0};
  // When the current connection was made: one that ends soon after (a peer
  // refusing our certificate right after the handshake) keeps backing off.
  std::chrono::steady_clock::time_point connected_at;
  std::string last_error;  // so repeated identical failures log once
  char probe = 0;          // 1-byte read that notices the peer closing
};

// One inbound connection: reads frames and delivers them.
struct InConn {
  InConn(tcp::socket s, uint64_t max_snapshot)
      : socket(std::move(s)), idle(socket.get_executor()), assembler(max_snapshot) {}
  tcp::socket socket;
  std::shared_ptr<TlsStream> tls;  // with TLS on
  asio::steady_timer idle;         // closes a connection that sends no whole frame for long
  std::string remote;
  std::string ip;
  // Grows only as bytes arrive (at most doubling), never to a size a
  // header merely announces.
  std::vector<char> buf = std::vector<char>(64 << 10);
  std::size_t have = 0;
  orch::v1::TransportFrame frame;
  SnapshotAssembler assembler;
};

}  // namespace

class TcpTransport::Impl {
 public:
  Impl(const TcpTransportOptions& o, Callbacks cb)
      : opts_(o),
        cb_(std::move(cb)),
        ioc_(1),
        acceptor_(ioc_),
        work_(ioc_.get_executor()),
        rng_(std::random_device{}()) {}
  ~Impl() { Stop(); }

  orch::Status Listen();
  void Run() {
    thread_ = std::thread([this] {
      NameThisThread("raft-net");
      ioc_.run();
    });
  }
  uint16_t port() const { return port_; }
  TcpTransportStats stats() const;

  void SetPeer(uint64_t id, const std::string& address);
  void RemovePeer(uint64_t id);
  void Send(std::vector<Message> msgs);
  void Stop();

 private:
  // Outbound, io thread.
  void Kick(const std::shared_ptr<Peer>& p);
  void Dial(const std::shared_ptr<Peer>& p);
  void OnConnected(const std::shared_ptr<Peer>& p);
  void OnSecured(const std::shared_ptr<Peer>& p);
  void Flush(const std::shared_ptr<Peer>& p);
  void AppendSnapshotChunk(Peer& p);
  // `redial_now`: the peer closed a connection that worked; dial again at
  // once to learn whether it is gone (refused) or back.
  void Fail(const std::shared_ptr<Peer>& p, const std::string& why, bool redial_now = false);
  void Reset(Peer& p);
  void FailSnapshots(Peer& p);
  void DropPending(Peer& p);
  void CloseAll();
  void SnapshotStatus(uint64_t id, bool ok) {
    if (!stopped_ && cb_.on_snapshot_status) cb_.on_snapshot_status(id, ok);
  }
  // Inbound, io thread.
  void DoAccept();
  void Serve(const std::shared_ptr<InConn>& c);
  void DoRead(const std::shared_ptr<InConn>& c);
  std::string HandleFrame(InConn& c);
  void Drop(const std::shared_ptr<InConn>& c, const std::string& why);
  void Close(const std::shared_ptr<InConn>& c);
  void ArmIdle(const std::shared_ptr<InConn>& c);
  bool OverInboundCap(const std::string& ip);
  void LogRefusal(const std::string& what);

  void NotifyUnreachable(uint64_t id);
  void NotifyDown(uint64_t id);
  void PostUnreachable(uint64_t id) {
    asio::post(ioc_, [this, id] { NotifyUnreachable(id); });
  }
  milliseconds NextBackoff(Peer& p);

  const TcpTransportOptions opts_;
  const Callbacks cb_;
  // With TLS: we dial only masters (a certificate naming server.orch) and
  // accept only them.
  std::shared_ptr<asio::ssl::context> tls_client_, tls_server_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::mutex stop_mu_;

  std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<Peer>> peers_;  // guarded by mu_

  std::set<std::shared_ptr<InConn>> conns_;  // io thread only
  std::minstd_rand rng_;                     // io thread only

  std::atomic<uint64_t> sent_{0}, dropped_{0}, received_{0}, bad_frames_{0}, queued_{0};
  std::atomic<uint64_t> foreign_frames_{0}, refused_conns_{0}, idle_closed_{0}, inbound_conns_{0},
      inbound_buffer_bytes_{0};
  std::chrono::steady_clock::time_point last_refusal_log_;  // io thread only
};

orch::Status TcpTransport::Impl::Listen() {
  if (opts_.tls.enabled()) {
    std::string master(orch::TlsRoleName(orch::TlsRole::kServer));
    ORCH_ASSIGN_OR_RETURN(tls_client_, orch::MakeTlsClientContext(opts_.tls, master));
    ORCH_ASSIGN_OR_RETURN(tls_server_, orch::MakeTlsServerContext(opts_.tls, {master}));
  }
  auto hp = orch::ParseHostPort(opts_.listen);
  if (!hp.ok()) return hp.status().WithContext("raft transport listen");
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(hp->host, ec);
  if (ec) return orch::Status::InvalidArgument("raft transport listen: bad host " + hp->host);
  tcp::endpoint ep(addr, hp->port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return orch::Status::Unavailable("raft transport: cannot listen on " + opts_.listen + ": " +
                                     ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  DoAccept();
  return orch::Status::Ok();
}

TcpTransportStats TcpTransport::Impl::stats() const {
  TcpTransportStats s;
  s.sent_msgs = sent_.load();
  s.dropped_msgs = dropped_.load();
  s.received_msgs = received_.load();
  s.bad_frames = bad_frames_.load();
  s.foreign_frames = foreign_frames_.load();
  s.queued_msgs = queued_.load();
  s.refused_conns = refused_conns_.load();
  s.idle_closed = idle_closed_.load();
  s.inbound_conns = inbound_conns_.load();
  s.inbound_buffer_bytes = inbound_buffer_bytes_.load();
  return s;
}

// ---- Sender side -----------------------------------------------------------

void TcpTransport::Impl::SetPeer(uint64_t id, const std::string& address) {
  if (stopped_) return;
  std::lock_guard lock(mu_);
  auto& p = peers_[id];
  if (!p) p = std::make_shared<Peer>(ioc_, id);
  if (p->address == address) return;
  p->address = address;
  // A new address: the io thread abandons the old connection and dials the
  // new one if anything is queued (else the next Send does).
  asio::post(ioc_, [this, p] {
    if (stopped_ || p->removed || p->state == Peer::State::kBackoff) return;
    Reset(*p);
    bool queued;
    {
      std::lock_guard lock(mu_);
      queued = p->pending_msgs > 0;
      p->kick_posted = queued;  // Dial's connection flushes them
    }
    if (queued) Dial(p);
  });
}

void TcpTransport::Impl::RemovePeer(uint64_t id) {
  std::shared_ptr<Peer> p;
  {
    std::lock_guard lock(mu_);
    auto it = peers_.find(id);
    if (it == peers_.end()) return;
    p = std::move(it->second);
    peers_.erase(it);
    p->removed = true;
  }
  asio::post(ioc_, [this, p] {
    if (stopped_) return;
    Reset(*p);
    DropPending(*p);
  });
}

void TcpTransport::Impl::Send(std::vector<Message> msgs) {
  std::vector<uint64_t> unreachable, snaps_dropped;
  std::vector<std::shared_ptr<Peer>> kicks;
  {
    std::lock_guard lock(mu_);
    for (auto& m : msgs) {
      auto it = peers_.find(m.to());
      Peer* p = it == peers_.end() ? nullptr : it->second.get();
      if (stopped_ || !p || !p->accepting || p->pending_msgs >= opts_.max_queue_msgs) {
        ++dropped_;
        if (stopped_) continue;
        // Unreachable alone leaves a follower waiting for a snapshot in
        // that state for good: its failure must be reported too.
        if (m.type() == Message::MSG_SNAP) snaps_dropped.push_back(m.to());
        if (!p) {
          unreachable.push_back(m.to());
        } else if (!p->drop_reported) {
          p->drop_reported = true;
          unreachable.push_back(m.to());
        }
        continue;
      }
      if (m.type() == Message::MSG_SNAP &&
          m.snapshot().data().size() > opts_.snapshot_chunk_bytes) {
        p->pending_snaps.push_back(std::move(m));
      } else if (!AppendMessageFrame({opts_.self_id, opts_.cluster_id}, m, opts_.max_frame_bytes,
                                     &p->pending)) {
        ++dropped_;
        spdlog::error("raft transport: message {} to peer {} exceeds max frame size {}; dropped",
                      Message::Type_Name(m.type()), m.to(), opts_.max_frame_bytes);
        if (m.type() == Message::MSG_SNAP) {
          uint64_t to = m.to();
          asio::post(ioc_, [this, to] { SnapshotStatus(to, false); });
        }
        continue;
      }
      if (m.type() == Message::MSG_SNAP) ++p->pending_snap_frames;
      ++p->pending_msgs;
      ++queued_;
      if (!p->kick_posted) {
        p->kick_posted = true;
        kicks.push_back(it->second);
      }
    }
  }
  std::sort(unreachable.begin(), unreachable.end());
  unreachable.erase(std::unique(unreachable.begin(), unreachable.end()), unreachable.end());
  for (uint64_t id : unreachable) PostUnreachable(id);
  for (uint64_t to : snaps_dropped) asio::post(ioc_, [this, to] { SnapshotStatus(to, false); });
  for (auto& p : kicks) asio::post(ioc_, [this, p] { Kick(p); });
}

void TcpTransport::Impl::NotifyUnreachable(uint64_t id) {
  if (!stopped_ && cb_.on_unreachable) cb_.on_unreachable(id);
}

void TcpTransport::Impl::NotifyDown(uint64_t id) {
  if (!stopped_ && cb_.on_peer_down) cb_.on_peer_down(id);
}

void TcpTransport::Impl::Kick(const std::shared_ptr<Peer>& p) {
  if (stopped_ || p->removed) return;
  switch (p->state) {
    case Peer::State::kIdle:
      Dial(p);
      break;
    case Peer::State::kDialing:
      break;  // OnConnected flushes
    case Peer::State::kConnected:
      Flush(p);
      break;
    case Peer::State::kBackoff: {
      // Queued just before the failure was noticed; drop them as well.
      std::lock_guard lock(mu_);
      p->kick_posted = false;
      break;
    }
  }
}

void TcpTransport::Impl::Dial(const std::shared_ptr<Peer>& p) {
  {
    std::lock_guard lock(mu_);
    p->dialed = p->address;
  }
  p->state = Peer::State::kDialing;
  uint64_t gen = ++p->gen;
  auto hp = orch::ParseHostPort(p->dialed);
  if (!hp.ok()) return Fail(p, hp.status().message());
  p->timer.expires_after(opts_.dial_timeout);
  p->timer.async_wait([this, p, gen](boost::system::error_code ec) {
    if (ec || stopped_ || gen != p->gen) return;
    Fail(p, "dial timed out after " + std::to_string(opts_.dial_timeout.count()) + "ms");
  });
  p->resolver.async_resolve(
      hp->host, std::to_string(hp->port), tcp::resolver::numeric_service,
      [this, p, gen](boost::system::error_code ec, tcp::resolver::results_type results) {
        if (stopped_ || gen != p->gen) return;
        if (ec) return Fail(p, ec.message());
        asio::async_connect(p->socket, results,
                            [this, p, gen](boost::system::error_code ec, const tcp::endpoint&) {
                              if (stopped_ || gen != p->gen) return;
                              if (ec == asio::error::connection_refused && p->probes_left > 0) {
                                p->probes_left = 0;  // found out: down
                                NotifyDown(p->id);
                              }
                              if (ec) return Fail(p, ec.message());
                              OnConnected(p);
                            });
      });
}

void TcpTransport::Impl::OnConnected(const std::shared_ptr<Peer>& p) {
  if (!tls_client_) return OnSecured(p);
  // The dial timer keeps running through the handshake.
  p->tls = std::make_shared<TlsStream>(p->socket, *tls_client_);
  uint64_t gen = p->gen;
  p->tls->async_handshake(asio::ssl::stream_base::client,
                          [this, p, gen, tls = p->tls](boost::system::error_code ec) {
                            if (stopped_ || gen != p->gen) return;
                            if (ec) return Fail(p, "TLS handshake: " + ec.message());
                            OnSecured(p);
                          });
}

void TcpTransport::Impl::OnSecured(const std::shared_ptr<Peer>& p) {
  p->timer.cancel();
  p->state = Peer::State::kConnected;
  p->connected_at = std::chrono::steady_clock::now();
  boost::system::error_code ec;
  p->socket.set_option(tcp::no_delay(true), ec);  // Raft is latency-bound
  // A peer whose machine vanished sends no RST; without this the kernel
  // would retransmit for many minutes while our queue overflows.
  int user_timeout = static_cast<int>(opts_.write_timeout.count());
  ::setsockopt(p->socket.native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout,
               sizeof user_timeout);
  if (!p->last_error.empty()) {
    spdlog::info("raft transport: peer {} ({}) reachable again", p->id, p->dialed);
  } else {
    spdlog::debug("raft transport: connected to peer {} ({})", p->id, p->dialed);
  }
  p->last_error.clear();
  // The peer never writes to us; a completed read means it closed or failed.
  uint64_t gen = p->gen;
  ReadSome(p->socket, p->tls, asio::buffer(&p->probe, 1),
           [this, p, gen](boost::system::error_code ec, std::size_t) {
             if (stopped_ || gen != p->gen) return;
             const bool closed = ec == asio::error::eof || ec == asio::error::connection_reset;
             Fail(p, ec ? ec.message() : "peer sent unexpected data", closed);
           });
  Flush(p);
}

// Hands everything queued to one async_write, so a burst of messages costs
// one system call; later messages gather in `pending` meanwhile.
void TcpTransport::Impl::Flush(const std::shared_ptr<Peer>& p) {
  if (p->writing) return;
  p->wbuf.clear();
  {
    std::lock_guard lock(mu_);
    p->wbuf.swap(p->pending);
    p->wbuf_msgs = p->pending_msgs - p->pending_snaps.size();
    queued_ -= p->pending_msgs;
    p->pending_msgs = 0;
    p->wbuf_snaps = p->pending_snap_frames;
    p->pending_snap_frames = 0;
    for (auto& m : p->pending_snaps) p->snaps.push_back(std::move(m));
    p->pending_snaps.clear();
    p->kick_posted = false;
    p->drop_reported = false;
  }
  AppendSnapshotChunk(*p);
  if (p->wbuf.empty()) return;
  p->writing = true;
  uint64_t gen = p->gen;
  WriteAll(p->socket, p->tls, asio::buffer(p->wbuf),
           [this, p, gen](boost::system::error_code ec, std::size_t) {
             if (stopped_ || gen != p->gen) return;
             p->writing = false;
             if (ec) {
               const bool closed =
                   ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
               return Fail(p, ec.message(), closed);
             }
             sent_ += p->wbuf_msgs;
             for (; p->wbuf_snaps > 0; --p->wbuf_snaps) SnapshotStatus(p->id, true);
             if (p->snap_done_in_write) {
               p->snap_done_in_write = false;
               ++sent_;
               SnapshotStatus(p->id, true);
             }
             Flush(p);
           });
}

// Adds the next chunk of the snapshot being streamed (one per write, so other
// messages to this peer interleave with a long transfer; Raft tolerates the
// reordering and heartbeats keep flowing).
void TcpTransport::Impl::AppendSnapshotChunk(Peer& p) {
  if (!p.snap_header) {
    if (p.snaps.empty()) return;
    Message m = std::move(p.snaps.front());
    p.snaps.pop_front();
    p.snap_data = std::move(*m.mutable_snapshot()->mutable_data());
    m.mutable_snapshot()->clear_data();
    p.snap_header = std::move(m);
    p.snap_offset = 0;
  }
  std::size_t n = std::min(opts_.snapshot_chunk_bytes, p.snap_data.size() - p.snap_offset);
  orch::v1::TransportFrame frame;
  frame.set_from(opts_.self_id);
  frame.set_cluster_id(opts_.cluster_id);
  auto* c = frame.mutable_chunk();
  c->set_snapshot_index(p.snap_header->snapshot().metadata().index());
  c->set_snapshot_term(p.snap_header->snapshot().metadata().term());
  c->set_offset(p.snap_offset);
  c->set_total(p.snap_data.size());
  c->set_data(p.snap_data.data() + p.snap_offset, n);
  if (p.snap_offset == 0) {
    *c->mutable_header() = *p.snap_header;
    c->set_data_crc32(FrameCrc32(p.snap_data));
  }
  p.snap_offset += n;
  c->set_last(p.snap_offset == p.snap_data.size());
  if (!AppendFrame(frame, opts_.max_frame_bytes, &p.wbuf)) {
    // Start() keeps chunks below the frame limit, so only a huge header gets here.
    spdlog::error("raft transport: snapshot chunk to peer {} exceeds max frame size", p.id);
    p.snap_header.reset();
    p.snap_data = std::string();
    SnapshotStatus(p.id, false);
    return;
  }
  if (c->last()) {
    p.snap_done_in_write = true;
    p.snap_header.reset();
    p.snap_data = std::string();
  }
}

void TcpTransport::Impl::FailSnapshots(Peer& p) {
  std::size_t failed =
      p.snaps.size() + (p.snap_header || p.snap_done_in_write ? 1 : 0) + p.wbuf_snaps;
  p.snaps.clear();
  p.wbuf_snaps = 0;
  p.snap_header.reset();
  p.snap_data = std::string();
  p.snap_done_in_write = false;
  for (std::size_t i = 0; i < failed; ++i) SnapshotStatus(p.id, false);
}

// Drops what Send queued for a connection that is gone.
void TcpTransport::Impl::DropPending(Peer& p) {
  std::size_t lost;
  {
    std::lock_guard lock(mu_);
    dropped_ += p.pending_msgs;
    queued_ -= p.pending_msgs;
    lost = p.pending_snaps.size() + p.pending_snap_frames;
    p.pending.clear();
    p.pending_snaps.clear();
    p.pending_msgs = 0;
    p.pending_snap_frames = 0;
    p.kick_posted = false;
  }
  for (std::size_t i = 0; i < lost; ++i) SnapshotStatus(p.id, false);
}

// Abandons the connection (address changed, peer removed); queued messages
// stay for the next connection.
void TcpTransport::Impl::Reset(Peer& p) {
  ++p.gen;
  boost::system::error_code ec;
  p.socket.close(ec);
  p.tls.reset();  // pending handlers hold it until they run
  p.resolver.cancel();
  p.timer.cancel();
  p.writing = false;
  p.wbuf.clear();
  FailSnapshots(p);
  p.state = Peer::State::kIdle;
}

void TcpTransport::Impl::Fail(const std::shared_ptr<Peer>& p, const std::string& why,
                              bool redial_now) {
  bool was_connected = p->state == Peer::State::kConnected;
  // A connection that lasted ends any earlier probing: it starts probing
  // anew when the peer closed it, and none otherwise (a timeout is not a
  // sign of a dead process). A peer that closes every new connection at
  // once (a TLS or cluster mismatch) keeps the usual backoff.
  const bool lasted =
      was_connected && std::chrono::steady_clock::now() - p->connected_at >= kProbeAfter;
  if (lasted) p->probes_left = 0;
  if (redial_now && lasted) {
    // A killed peer's kernel closes its sockets: the dial that follows is
    // refused within a millisecond (NotifyDown), long before any timeout.
    spdlog::warn("raft transport: peer {} ({}) closed the connection ({}); dialling again", p->id,
                 p->dialed, why);
    Reset(*p);
    DropPending(*p);
    p->last_error = why;
    p->probes_left = kProbes;
    NotifyUnreachable(p->id);
    Dial(p);
    return;
  }
  // A connection that lasted redials at once; one that ended right away
  // (refused after the handshake, a peer crash-looping) backs off further.
  if (was_connected && std::chrono::steady_clock::now() - p->connected_at >= opts_.backoff_max) {
    p->backoff = milliseconds(0);
  }
  Reset(*p);
  DropPending(*p);
  {
    std::lock_guard lock(mu_);
    p->accepting = false;
    p->drop_reported = true;  // covered by the on_unreachable below
  }
  milliseconds delay = NextBackoff(*p);
  // Probing a peer that closed on us: a dying process's listener may still
  // take (then reset) a connection for a moment; dial again soon, a few
  // times, until a dial is refused or a connection holds.
  const bool probe = p->probes_left > 0;
  if (probe) {
    --p->probes_left;
    delay = std::min(delay, kProbeInterval);
  }
  if (was_connected || why != p->last_error) {
    spdlog::warn("raft transport: peer {} ({}) unreachable: {}; retrying in {}ms", p->id, p->dialed,
                 why, delay.count());
  } else {
    spdlog::debug("raft transport: peer {} ({}) still unreachable: {}; retrying in {}ms", p->id,
                  p->dialed, why, delay.count());
  }
  p->last_error = why;
  p->state = Peer::State::kBackoff;
  uint64_t gen = p->gen;
  p->timer.expires_after(delay);
  p->timer.async_wait([this, p, gen, probe](boost::system::error_code ec) {
    if (ec || stopped_ || gen != p->gen) return;
    p->state = Peer::State::kIdle;
    {
      std::lock_guard lock(mu_);
      p->accepting = true;
      p->drop_reported = false;
    }
    if (probe) Dial(p);
  });
  NotifyUnreachable(p->id);
}

// Exponential, with jitter in [d/2, d] so masters restarted together do not
// redial in lockstep.
milliseconds TcpTransport::Impl::NextBackoff(Peer& p) {
  p.backoff =
      p.backoff.count() == 0 ? opts_.backoff_min : std::min(p.backoff * 2, opts_.backoff_max);
  auto hi = p.backoff.count();
  auto lo = std::max<int64_t>(opts_.backoff_min.count(), hi / 2);
  if (lo >= hi) return p.backoff;
  return milliseconds(std::uniform_int_distribution<int64_t>(lo, hi)(rng_));
}

// ---- Receiver side ---------------------------------------------------------

void TcpTransport::Impl::DoAccept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
    if (stopped_) return;
    if (ec) {
      spdlog::warn("raft transport: accept failed: {}", ec.message());
      if (ec == asio::error::operation_aborted) return;
    } else {
      auto c = std::make_shared<InConn>(std::move(s), opts_.max_snapshot_bytes);
      boost::system::error_code e;
      auto ep = c->socket.remote_endpoint(e);
      c->ip = e ? "unknown" : ep.address().to_string();
      c->remote = e ? "unknown" : c->ip + ":" + std::to_string(ep.port());
      if (OverInboundCap(c->ip)) {
        ++refused_conns_;
        LogRefusal("connection from " + c->remote +
                   " refused: over the inbound connection limit (" +
                   std::to_string(opts_.max_inbound_conns) + " in all, " +
                   std::to_string(opts_.max_inbound_conns_per_ip) + " per address)");
        c->socket.close(e);
      } else {
        c->socket.set_option(tcp::no_delay(true), e);
        conns_.insert(c);
        ++inbound_conns_;
        inbound_buffer_bytes_ += c->buf.size();
        ArmIdle(c);  // also bounds the handshake
        Serve(c);
      }
    }
    DoAccept();
  });
}

// With TLS, a connection is served once its peer proved to be a master of
// the cluster's CA; plain TCP, another CA's certificate or a user's or
// agent's is dropped at the handshake.
void TcpTransport::Impl::Serve(const std::shared_ptr<InConn>& c) {
  if (!tls_server_) return DoRead(c);
  c->tls = std::make_shared<TlsStream>(c->socket, *tls_server_);
  c->tls->async_handshake(asio::ssl::stream_base::server, [this, c](boost::system::error_code ec) {
    if (stopped_ || !conns_.count(c)) return;
    if (ec) {
      ++refused_conns_;
      LogRefusal("connection from " + c->remote + " refused: TLS handshake: " + ec.message());
      return Close(c);
    }
    DoRead(c);
  });
}

void TcpTransport::Impl::DoRead(const std::shared_ptr<InConn>& c) {
  ReadSome(c->socket, c->tls, asio::buffer(c->buf.data() + c->have, c->buf.size() - c->have),
           [this, c](boost::system::error_code ec, std::size_t n) {
             if (stopped_) return;
             if (ec) {
               if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
                 spdlog::debug("raft transport: connection from {} closed: {}", c->remote,
                               ec.message());
               }
               Close(c);
               return;
             }
             c->have += n;
             // Deliver every whole frame in the buffer, then keep the tail.
             std::size_t pos = 0;
             while (!stopped_) {
               std::size_t frame_bytes = 0;
               FrameStatus st = DecodeFrame({c->buf.data() + pos, c->have - pos},
                                            opts_.max_frame_bytes, &c->frame, &frame_bytes);
               if (st == FrameStatus::kNeedMore) {
                 std::memmove(c->buf.data(), c->buf.data() + pos, c->have - pos);
                 c->have -= pos;
                 // Room for more only once what we hold fills the buffer: a
                 // header announcing 16 MiB costs nothing until 16 MiB come.
                 if (frame_bytes > c->buf.size() && c->have == c->buf.size()) {
                   std::size_t grown = std::min(frame_bytes, c->buf.size() * 2);
                   inbound_buffer_bytes_ += grown - c->buf.size();
                   c->buf.resize(grown);
                 }
                 break;
               }
               if (st != FrameStatus::kOk) {
                 return Drop(c, std::string(FrameStatusName(st)) + " (length " +
                                    std::to_string(frame_bytes) + ")");
               }
               pos += frame_bytes;
               ArmIdle(c);
               if (std::string why = HandleFrame(*c); !why.empty()) return Drop(c, why);
             }
             if (!stopped_) DoRead(c);
           });
}

// Delivers the frame in c.frame; "", or why the connection must go.
std::string TcpTransport::Impl::HandleFrame(InConn& c) {
  // Frames of another cluster (or of none, from a stranger) never reach the
  // core, whatever they claim; a master whose data predates cluster ids
  // (cluster_id 0) checks nothing here.
  if (opts_.cluster_id != 0 && c.frame.cluster_id() != opts_.cluster_id) {
    ++foreign_frames_;
    return "frame of cluster " +
           (c.frame.cluster_id() == 0 ? std::string("(none)")
                                      : raft::FormatClusterId(c.frame.cluster_id())) +
           " from peer " + std::to_string(c.frame.from()) + "; this is cluster " +
           raft::FormatClusterId(opts_.cluster_id);
  }
  if (c.frame.has_message()) {
    // The envelope's sender is the connection's; a message claiming
    // another is forged or corrupt.
    if (c.frame.message().from() != c.frame.from()) return "sender mismatch";
    ++received_;
    if (cb_.on_message) cb_.on_message(std::move(*c.frame.mutable_message()));
    return {};
  }
  if (!c.frame.has_chunk()) return {};  // a kind from a newer version: skip
  auto done = c.assembler.Add(c.frame.mutable_chunk());
  if (!done.ok()) {
    spdlog::warn("raft transport: connection from {} (peer {}): {}", c.remote, c.frame.from(),
                 done.status().message());
    return "bad snapshot chunk";
  }
  if (done->has_value() && (*done)->from() != c.frame.from()) return "sender mismatch";
  if (done->has_value()) {
    ++received_;
    if (cb_.on_message) cb_.on_message(std::move(**done));
  }
  return {};
}

void TcpTransport::Impl::Drop(const std::shared_ptr<InConn>& c, const std::string& why) {
  ++bad_frames_;
  LogRefusal("dropping connection from " + c->remote + ": " + why);
  Close(c);
}

void TcpTransport::Impl::Close(const std::shared_ptr<InConn>& c) {
  boost::system::error_code ec;
  c->socket.close(ec);
  c->idle.cancel();
  if (conns_.erase(c) > 0) {
    --inbound_conns_;
    inbound_buffer_bytes_ -= c->buf.size();
  }
  c->buf = std::vector<char>();
}

void TcpTransport::Impl::ArmIdle(const std::shared_ptr<InConn>& c) {
  c->idle.expires_after(opts_.inbound_idle_timeout);
  std::weak_ptr<InConn> weak = c;
  c->idle.async_wait([this, weak](boost::system::error_code ec) {
    auto c = weak.lock();
    if (ec || stopped_ || !c || !conns_.count(c)) return;
    ++idle_closed_;
    LogRefusal("closing connection from " + c->remote + ": no frame for " +
               std::to_string(opts_.inbound_idle_timeout.count()) + "ms");
    Close(c);
  });
}

bool TcpTransport::Impl::OverInboundCap(const std::string& ip) {
  if (conns_.size() >= opts_.max_inbound_conns) return true;
  std::size_t from_ip = 0;
  for (const auto& c : conns_) from_ip += c->ip == ip;
  return from_ip >= opts_.max_inbound_conns_per_ip;
}

// Refusals come in floods from a hostile sender: one line a second.
void TcpTransport::Impl::LogRefusal(const std::string& what) {
  auto now = std::chrono::steady_clock::now();
  if (now - last_refusal_log_ < std::chrono::seconds(1)) return;
  last_refusal_log_ = now;
  spdlog::warn("raft transport: {}", what);
}

// ---- Shutdown --------------------------------------------------------------

void TcpTransport::Impl::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  if (!stopped_.exchange(true)) CloseAll();
  if (!thread_.joinable()) return;
  if (std::this_thread::get_id() == thread_.get_id()) {
    // From a callback: the loop ends once it returns; the destructor joins.
    spdlog::error("raft transport: Stop called from a transport callback");
    return;
  }
  thread_.join();
}

void TcpTransport::Impl::CloseAll() {
  std::vector<std::shared_ptr<Peer>> peers;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, p] : peers_) peers.push_back(p);
  }
  // Close everything on the io thread (which owns it), then stop the loop;
  // handlers left pending are destroyed with the io_context.
  asio::post(ioc_, [this, peers = std::move(peers)] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& p : peers) {
      p->socket.close(ec);
      p->resolver.cancel();
      p->timer.cancel();
    }
    for (auto& c : conns_) {
      c->socket.close(ec);
      c->idle.cancel();
    }
    conns_.clear();
    work_.reset();
    ioc_.stop();
  });
}

// ---- TcpTransport ----------------------------------------------------------

orch::Result<std::unique_ptr<TcpTransport>> TcpTransport::Start(const TcpTransportOptions& options,
                                                                Callbacks callbacks) {
  // Room for a chunk's envelope and header beside its data.
  if (options.snapshot_chunk_bytes == 0 ||
      options.snapshot_chunk_bytes + (64 << 10) > options.max_frame_bytes) {
    return orch::Status::InvalidArgument(
        "raft transport: snapshot_chunk_bytes must be positive and 64KiB below max_frame_bytes");
  }
  if (options.backoff_min.count() <= 0 || options.backoff_max < options.backoff_min) {
    return orch::Status::InvalidArgument("raft transport: need 0 < backoff_min <= backoff_max");
  }
  auto impl = std::make_unique<Impl>(options, std::move(callbacks));
  ORCH_RETURN_IF_ERROR(impl->Listen());
  impl->Run();
  spdlog::info("raft transport: node {} listening on port {}", options.self_id, impl->port());
  return std::unique_ptr<TcpTransport>(new TcpTransport(std::move(impl)));
}

TcpTransport::TcpTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TcpTransport::~TcpTransport() { Stop(); }
uint16_t TcpTransport::port() const { return impl_->port(); }
TcpTransportStats TcpTransport::stats() const { return impl_->stats(); }
void TcpTransport::SetPeer(uint64_t id, const std::string& address) { impl_->SetPeer(id, address); }
void TcpTransport::RemovePeer(uint64_t id) { impl_->RemovePeer(id); }
void TcpTransport::Send(std::vector<Message> msgs) { impl_->Send(std::move(msgs)); }
void TcpTransport::Stop() { impl_->Stop(); }

}  // namespace orch::replication
