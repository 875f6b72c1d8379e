#include "agent/task_env.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace orch::agent {

std::string ExpandVars(const std::string& text, const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") == 0) {
      auto end = text.find('}', i + 2);
      if (end != std::string::npos) {
        auto it = vars.find(text.substr(i + 2, end - i - 2));
        if (it != vars.end()) {
          out += it->second;
          i = end + 1;
          continue;
        }
      }
    }
    out += text[i++];
  }
  return out;
}

std::map<std::string, std::string> BuildTaskEnv(const TaskEnvInput& in, const v1::Task& task) {
  std::map<std::string, std::string> env;
  env["PATH"] =
      in.path.empty() ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" : in.path;
  env["ORCH_ALLOC_ID"] = in.alloc_id;
  env["ORCH_JOB"] = in.job;
  env["ORCH_GROUP"] = in.group;
  env["ORCH_TASK"] = task.name();
  // Shared by the allocation's tasks (1777, sticky); "_shared" is never a
  // task's name (those start with a letter or digit).
  env["ORCH_ALLOC_DIR"] = in.alloc_dir + "/_shared";
  env["ORCH_TASK_DIR"] = in.alloc_dir + "/" + task.name();  // the task's own (its cwd)
  for (const auto& p : in.ports) env["PORT_" + p.name()] = std::to_string(p.value());
  for (const auto& [k, v] : in.meta) env["ORCH_META_" + k] = v;
  if (!in.parent_job.empty()) env["ORCH_PARENT_JOB"] = in.parent_job;
  for (const auto& [name, path] : in.volumes) {
    std::string key = "ORCH_VOLUME_";
    for (char c : name) key.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    env[key] = path;
  }
  const auto base = env;
  // Sorted, so the result does not depend on the map's iteration order.
  std::map<std::string, std::string> own(task.env().begin(), task.env().end());
  for (const auto& [k, v] : own) env[k] = ExpandVars(v, base);
  // Secret values as given: never expanded, never expanding anything.
  for (const auto& [k, v] : task.secrets()) env[k] = v;
  return env;
}

std::vector<std::string> ExpandArgs(const v1::Task& task,
                                    const std::map<std::string, std::string>& env) {
  std::vector<std::string> out;
  for (const auto& a : task.args()) out.push_back(ExpandVars(a, env));
  return out;
}

namespace {

Result<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Internal(std::string("socket: ") + strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int e = errno;
    close(fd);
    return Status::ResourceExhausted(std::string("cannot pick a free port: ") + strerror(e));
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

}  // namespace

Result<std::vector<v1::Port>> AssignPorts(const v1::Network& network,
                                          const std::vector<int>& avoid) {
  std::vector<v1::Port> out;
  std::vector<int> taken = avoid;
  for (const auto& p : network.ports()) {
    v1::Port q = p;
    if (p.static_() > 0) {
      q.set_value(p.static_());
    } else {
      int port = 0;
      for (int attempt = 0; attempt < 20; ++attempt) {
        ORCH_ASSIGN_OR_RETURN(port, PickFreePort());
        if (std::find(taken.begin(), taken.end(), port) == taken.end()) break;
        port = 0;
      }
      if (port == 0) return Status::ResourceExhausted("no free port for \"" + p.name() + "\"");
      q.set_value(port);
    }
    taken.push_back(q.value());
    out.push_back(q);
  }
  return out;
}

}  // namespace orch::agent
