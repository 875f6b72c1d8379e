// Helpers for the Raft unit tests: build a Raft over a MemoryStorage and
// wire several into an in-process network that delivers messages
// synchronously, with drops and black holes. No I/O, no clocks.
// Thread-safety: single-threaded test code.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "master/raft/memory_storage.h"
#include "master/raft/raft.h"

namespace orch::raft::testing {

// A Raft that owns its storage (Raft only keeps a pointer).
struct TestRaft {
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<Raft> raft;
  Raft* operator->() { return raft.get(); }
};

inline Entry MakeEntry(uint64_t index, uint64_t term, std::string data = "") {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_type(Entry::NORMAL);
  e.set_data(std::move(data));
  return e;
}

// Entries at index 1.. with the given terms.
inline std::vector<Entry> EntriesWithTerms(const std::vector<uint64_t>& terms) {
  std::vector<Entry> out;
  for (size_t i = 0; i < terms.size(); ++i) out.push_back(MakeEntry(i + 1, terms[i]));
  return out;
}

inline Config TestConfig(uint64_t id, const std::vector<uint64_t>& peers, int election,
                         int heartbeat, const Storage* s) {
  Config c;
  c.id = id;
  c.peers = peers;
  c.election_tick = election;
  c.heartbeat_tick = heartbeat;
  c.storage = s;
  c.max_size_per_msg = kNoLimit;
  c.max_inflight_msgs = 256;
  c.seed = 42;
  return c;
}

inline TestRaft NewTestRaft(uint64_t id, const std::vector<uint64_t>& peers, int election,
                            int heartbeat, std::unique_ptr<MemoryStorage> s = nullptr) {
  if (!s) s = std::make_unique<MemoryStorage>();
  auto r = std::make_unique<Raft>(TestConfig(id, peers, election, heartbeat, s.get()));
  return TestRaft{std::move(s), std::move(r)};
}

inline TestRaft NewTestRaftWithConfig(Config c, std::unique_ptr<MemoryStorage> s) {
  c.storage = s.get();
  auto r = std::make_unique<Raft>(c);
  return TestRaft{std::move(s), std::move(r)};
}

// A storage holding the given log (terms per index) and hard-state term.
inline std::unique_ptr<MemoryStorage> StorageWithLog(const std::vector<uint64_t>& terms,
                                                     uint64_t term = 0) {
  auto s = std::make_unique<MemoryStorage>();
  s->Append(EntriesWithTerms(terms));
  HardState hs;
  hs.set_term(term);
  s->SetHardState(hs);
  return s;
}

inline Message Msg(uint64_t from, uint64_t to, Message::Type type, uint64_t term = 0) {
  Message m;
  m.set_from(from);
  m.set_to(to);
  m.set_type(type);
  m.set_term(term);
  return m;
}

inline Message PropMsg(uint64_t to, std::string data) {
  Message m = Msg(to, to, Message::MSG_PROP);
  auto* e = m.add_entries();
  e->set_type(Entry::NORMAL);
  e->set_data(std::move(data));
  return m;
}

inline void PersistAll(TestRaft& t) {
  // Mimic the driver: write unstable entries and mark them stable.
  auto ents = t->log().UnstableEntries();
  if (!ents.empty()) {
    t.storage->Append(ents);
    t->log().StableTo(ents.back().index(), ents.back().term());
  }
}

// Delivers messages between Rafts until quiescent. Nodes that are absent
// (nullptr) are black holes.
class Network {
 public:
  // Each entry is a TestRaft or an empty one (raft == nullptr: black hole).
  explicit Network(std::vector<TestRaft> nodes) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      ids_.push_back(i + 1);
      nodes_[i + 1] = std::move(nodes[i]);
    }
  }
  static TestRaft BlackHole() { return TestRaft{}; }

  Raft* node(uint64_t id) { return nodes_[id].raft.get(); }
  TestRaft& test_node(uint64_t id) { return nodes_[id]; }

  void Send(std::vector<Message> msgs) {
    std::deque<Message> q(msgs.begin(), msgs.end());
    while (!q.empty()) {
      Message m = std::move(q.front());
      q.pop_front();
      delivered_.push_back(m);
      Raft* r = node(m.to());
      if (r == nullptr) continue;
      r->Step(m);
      for (auto& out : Filter(r->TakeMessages())) q.push_back(std::move(out));
    }
  }
  void Send(Message m) { Send(std::vector<Message>{std::move(m)}); }
  void Campaign(uint64_t id) { Send(Msg(id, id, Message::MSG_HUP)); }
  void Propose(uint64_t id, std::string data) { Send(PropMsg(id, std::move(data))); }

  // Drops a fraction (0 or 1 here: deterministic) of from->to traffic.
  void Cut(uint64_t a, uint64_t b) {
    drop_.insert({a, b});
    drop_.insert({b, a});
  }
  void Isolate(uint64_t id) {
    for (uint64_t o : ids_) {
      if (o != id) Cut(id, o);
    }
  }
  void DropOneWay(uint64_t from, uint64_t to) { drop_.insert({from, to}); }
  void Ignore(Message::Type t) { ignore_.insert(t); }
  void Recover() {
    drop_.clear();
    ignore_.clear();
  }
  const std::vector<Message>& delivered() const { return delivered_; }

 private:
  std::vector<Message> Filter(std::vector<Message> in) {
    std::vector<Message> out;
    for (auto& m : in) {
      if (ignore_.count(m.type()) || drop_.count({m.from(), m.to()})) continue;
      out.push_back(std::move(m));
    }
    return out;
  }

  std::vector<uint64_t> ids_;
  std::map<uint64_t, TestRaft> nodes_;
  std::set<std::pair<uint64_t, uint64_t>> drop_;
  std::set<Message::Type> ignore_;
  std::vector<Message> delivered_;
};

inline std::vector<uint64_t> Ids(size_t n) {
  std::vector<uint64_t> v;
  for (size_t i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

// A fresh n-node cluster of default Rafts (election 10, heartbeat 1).
inline Network NewNetwork(size_t n, bool pre_vote = false, bool check_quorum = false) {
  std::vector<TestRaft> nodes;
  for (uint64_t id = 1; id <= n; ++id) {
    auto s = std::make_unique<MemoryStorage>();
    Config c = TestConfig(id, Ids(n), 10, 1, nullptr);
    c.pre_vote = pre_vote;
    c.check_quorum = check_quorum;
    nodes.push_back(NewTestRaftWithConfig(c, std::move(s)));
  }
  return Network(std::move(nodes));
}

// Terms of every entry in r's log, from FirstIndex.
inline std::vector<uint64_t> LogTerms(const Raft& r) {
  std::vector<uint64_t> out;
  for (const auto& e : r.log().AllEntries()) out.push_back(e.term());
  return out;
}

inline std::vector<Message> TakeOfType(Raft& r, Message::Type t) {
  std::vector<Message> out;
  for (auto& m : r.TakeMessages()) {
    if (m.type() == t) out.push_back(std::move(m));
  }
  return out;
}

}  // namespace orch::raft::testing
