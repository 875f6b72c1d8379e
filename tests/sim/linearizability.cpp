#include "tests/sim/linearizability.h"

#include <algorithm>
#include <map>
#include <unordered_set>

namespace orch::sim {
namespace {

// One call or return event in a doubly linked list that the search lifts
// operations out of and puts back (LIFO, so restoring links is exact).
struct Event {
  size_t op;
  bool is_call;
  uint64_t time;
  int prev = -1;
  int next = -1;
  int match = -1;  // the other event of the same op
};

class Search {
 public:
  Search(const std::vector<Operation>& ops) : ops_(ops) {
    events_.push_back(Event{0, false, 0});  // head sentinel
    std::vector<Event> evs;
    for (size_t i = 0; i < ops.size(); ++i) {
      evs.push_back(Event{i, true, ops[i].call});
      evs.push_back(Event{i, false, ops[i].ret});
    }
    // Calls before returns at equal time only matters for the sentinel
    // return time (several ops may never return): keep them stable.
    std::stable_sort(evs.begin(), evs.end(),
                     [](const Event& a, const Event& b) { return a.time < b.time; });
    std::vector<int> call_of(ops.size()), ret_of(ops.size());
    for (auto& e : evs) {
      const int idx = static_cast<int>(events_.size());
      (e.is_call ? call_of : ret_of)[e.op] = idx;
      events_.push_back(e);
    }
    for (size_t i = 0; i < events_.size(); ++i) {
      events_[i].prev = static_cast<int>(i) - 1;
      events_[i].next = i + 1 < events_.size() ? static_cast<int>(i) + 1 : -1;
    }
    for (size_t i = 0; i < ops.size(); ++i) {
      events_[call_of[i]].match = ret_of[i];
      events_[ret_of[i]].match = call_of[i];
    }
    linearized_.assign((ops.size() + 63) / 64, 0);
  }

  bool Run(uint64_t budget, bool* gave_up) {
    std::string state;  // register value; "" = initial
    std::vector<std::pair<int, std::string>> stack;
    std::unordered_set<std::string> cache;
    int entry = events_[0].next;
    uint64_t steps = 0;
    while (events_[0].next != -1) {
      if (++steps > budget) {
        *gave_up = true;
        return true;
      }
      if (entry == -1) return false;  // cannot happen: a return ends the list
      const Event& ev = events_[entry];
      if (ev.is_call) {
        const Operation& op = ops_[ev.op];
        const bool legal = op.is_write || op.value == state;
        if (legal) {
          const std::string next_state = op.is_write ? op.value : state;
          SetBit(ev.op, true);
          if (cache.insert(Key(next_state)).second) {
            stack.emplace_back(entry, state);
            state = next_state;
            Lift(entry);
            entry = events_[0].next;
            continue;
          }
          SetBit(ev.op, false);
        }
        entry = ev.next;
      } else {
        // The op returning here was not linearized before its return:
        // backtrack to the last choice.
        if (stack.empty()) return false;
        auto [e, s] = std::move(stack.back());
        stack.pop_back();
        state = std::move(s);
        SetBit(events_[e].op, false);
        Unlift(e);
        entry = events_[e].next;
      }
    }
    return true;
  }

 private:
  void SetBit(size_t i, bool on) {
    if (on) {
      linearized_[i / 64] |= (uint64_t{1} << (i % 64));
    } else {
      linearized_[i / 64] &= ~(uint64_t{1} << (i % 64));
    }
  }
  std::string Key(const std::string& state) const {
    std::string k(reinterpret_cast<const char*>(linearized_.data()),
                  linearized_.size() * sizeof(uint64_t));
    k.push_back('\0');
    k += state;
    return k;
  }
  void Unlink(int i) {
    Event& e = events_[i];
    events_[e.prev].next = e.next;
    if (e.next != -1) events_[e.next].prev = e.prev;
  }
  void Relink(int i) {
    Event& e = events_[i];
    events_[e.prev].next = i;
    if (e.next != -1) events_[e.next].prev = i;
  }
  void Lift(int call) {
    Unlink(call);
    Unlink(events_[call].match);
  }
  void Unlift(int call) {
    Relink(events_[call].match);
    Relink(call);
  }

  const std::vector<Operation>& ops_;
  std::vector<Event> events_;
  std::vector<uint64_t> linearized_;
};

}  // namespace

bool CheckRegister(const std::vector<Operation>& ops, uint64_t budget, bool* gave_up) {
  if (ops.empty()) return true;
  Search s(ops);
  return s.Run(budget, gave_up);
}

LinearizabilityResult CheckKvHistory(const std::vector<Operation>& ops, uint64_t budget_per_key) {
  std::map<std::string, std::vector<Operation>> by_key;
  for (const auto& op : ops) by_key[op.key].push_back(op);
  LinearizabilityResult r;
  for (const auto& [key, kops] : by_key) {
    bool gave_up = false;
    if (!CheckRegister(kops, budget_per_key, &gave_up)) {
      r.ok = false;
      r.bad_key = key;
      return r;
    }
    if (gave_up && !r.gave_up) r.bad_key = key;  // the first key the search gave up on
    r.gave_up = r.gave_up || gave_up;
  }
  return r;
}

}  // namespace orch::sim
