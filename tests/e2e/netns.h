// NetworkLab: a private network of Linux network namespaces for partition
// tests of real processes. A "switch" namespace holds a bridge; each member
// gets a namespace of its own with one veth on the bridge and the address
// 10.231.<subnet>.<11 + i>; the test's namespace reaches every member
// through a veth of its own (10.231.<subnet>.1), so its clients see every
// member whatever the partition. Faults are iptables INPUT rules in the
// receiving member's namespace, so the processes under test run unmodified.
// Everything (namespaces, veths, rules) is deleted on destruction, and what
// a killed earlier run left is deleted at creation.
// Thread safety: none; the test thread drives it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace orch::e2e {

class NetworkLab {
 public:
  // Needs root (CAP_NET_ADMIN), `ip` and `iptables`; an error says which
  // step failed.
  static Result<std::unique_ptr<NetworkLab>> Create(const std::vector<std::string>& members);
  ~NetworkLab();
  NetworkLab(const NetworkLab&) = delete;
  NetworkLab& operator=(const NetworkLab&) = delete;

  // The member's address, and the argv prefix that runs a command in its
  // namespace ("ip netns exec NAME").
  const std::string& Address(const std::string& member) const;
  std::vector<std::string> Wrapper(const std::string& member) const;

  // Every packet `from` sends to `to` is dropped (with TCP both directions
  // die, as the handshake needs both).
  Status DropAll(const std::string& from, const std::string& to);
  // Connections `from` opens to `to`'s `ports` carry nothing: `from`'s
  // requests and Raft messages never reach `to`, while `to`'s own
  // connections to `from` still work (a one-way partition of messages).
  Status DropConnections(const std::string& from, const std::string& to,
                         const std::vector<int>& ports);
  // Removes every rule.
  Status Heal();

 private:
  struct Member {
    std::string netns;
    std::string address;
  };
  NetworkLab() = default;
  Status Build(const std::vector<std::string>& members);
  Status Run(const std::vector<std::string>& argv) const;
  Status Iptables(const std::string& member, std::vector<std::string> rule) const;
  const Member& Get(const std::string& member) const;

  std::string prefix_;     // orchnem<pid>
  std::string switch_ns_;  // holds the bridge
  std::string host_veth_;  // this namespace's end
  std::string subnet_;     // "10.231.N."
  std::map<std::string, Member> members_;
};

}  // namespace orch::e2e
