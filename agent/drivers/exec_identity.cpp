#include "agent/drivers/exec_identity.h"

#include <grp.h>
#include <pwd.h>

#include <algorithm>

#include "common/capabilities.h"

namespace orch::agent {

namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "none" : s;
}

bool IsNumber(const std::string& s) {
  return !s.empty() && s.size() <= 10 && s.find_first_not_of("0123456789") == std::string::npos;
}

// The passwd entry of a name or uid; false when there is none.
bool LookUp(const std::string& user, std::string* name, uid_t* uid, gid_t* gid) {
  struct passwd pw, *found = nullptr;
  std::vector<char> buf(16384);
  int rc = IsNumber(user) ? getpwuid_r(static_cast<uid_t>(std::stoull(user)), &pw, buf.data(),
                                       buf.size(), &found)
                          : getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) return false;
  *name = pw.pw_name;
  *uid = pw.pw_uid;
  *gid = pw.pw_gid;
  return true;
}

}  // namespace

Result<TaskIdentity> ResolveTaskIdentity(const ExecUserPolicy& policy, const std::string& user,
                                         const std::vector<std::string>& cap_add) {
  TaskIdentity id;
  id.user = user.empty() ? policy.default_user : user;
  std::string name;
  if (!LookUp(id.user, &name, &id.uid, &id.gid)) {
    if (!IsNumber(id.user)) {
      return Status::NotFound("user \"" + id.user + "\" does not exist on this node");
    }
    id.uid = static_cast<uid_t>(std::stoull(id.user));
    id.gid = static_cast<gid_t>(id.uid);
  }
  if (id.uid == 0 && !policy.allow_root) {
    return Status::PermissionDenied("the task asks to run as root (user \"" + id.user +
                                    "\"), which this agent does not allow (orch-agent "
                                    "--exec-allow-root)");
  }
  const auto& allowed = policy.allowed_users;
  bool is_default = id.user == policy.default_user;
  bool listed = std::find(allowed.begin(), allowed.end(), id.user) != allowed.end() ||
                (!name.empty() && std::find(allowed.begin(), allowed.end(), name) != allowed.end());
  if (!allowed.empty() && !is_default && !listed && id.uid != 0) {
    return Status::PermissionDenied(
        "user \"" + id.user +
        "\" is not one this agent lets tasks run as (--exec-allowed-users: " + Join(allowed) + ")");
  }
  if (!name.empty()) {
    int n = 64;
    std::vector<gid_t> groups(static_cast<size_t>(n));
    if (getgrouplist(name.c_str(), id.gid, groups.data(), &n) < 0) {
      groups.resize(static_cast<size_t>(n));
      if (getgrouplist(name.c_str(), id.gid, groups.data(), &n) < 0) n = 0;
    }
    groups.resize(static_cast<size_t>(std::max(n, 0)));
    id.groups = std::move(groups);
  }
  CapabilityMask allowed_caps = CapabilitiesToMask(policy.allowed_caps);
  for (const auto& c : cap_add) {
    auto num = CapabilityNumber(c);
    if (!num) return Status::InvalidArgument("cap_add: \"" + c + "\" is not a Linux capability");
    if (!(allowed_caps.mask & (uint64_t{1} << *num))) {
      return Status::PermissionDenied(
          "capability " + CapabilityName(*num) +
          " is not one this agent lets tasks keep (--exec-allowed-caps: " +
          Join(policy.allowed_caps) + ")");
    }
    id.keep_caps |= uint64_t{1} << *num;
  }
  if (id.uid == 0) id.keep_caps |= CapabilitiesToMask(DefaultCapabilities()).mask;
  return id;
}

}  // namespace orch::agent
