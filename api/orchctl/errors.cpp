#include "api/orchctl/errors.h"

#include "api/orchctl/table.h"

namespace orch::ctl {

namespace {

// curl says "Failed to connect to 127.0.0.1 port 4646 after 0 ms: Couldn't
// connect to server"; the address is already in our message, keep the cause.
std::string CleanCause(std::string why) {
  static const std::string kFailed = "Failed to connect to ";
  if (why.rfind(kFailed, 0) == 0) {
    auto sep = why.rfind(": ");
    if (sep != std::string::npos) why = why.substr(sep + 2);
  }
  return why;
}

}  // namespace

std::string DescribeError(const Status& status, const std::vector<std::string>& addresses) {
  const std::string& msg = status.message();
  bool transport =
      status.code() == StatusCode::kUnavailable || status.code() == StatusCode::kDeadlineExceeded;
  auto space = msg.find(' ');
  if (transport && space != std::string::npos) {
    for (const std::string& addr : addresses) {
      std::size_t end = space + 1 + addr.size();
      if (msg.compare(space + 1, addr.size(), addr) != 0 || end >= msg.size() || msg[end] != '/') {
        continue;
      }
      auto sep = msg.find(": ", end);
      std::string why = sep == std::string::npos ? "" : CleanCause(msg.substr(sep + 2));
      std::string where;
      if (status.code() == StatusCode::kDeadlineExceeded) {
        where = "master at " + addr + " did not answer in time";
      } else if (addresses.size() == 1) {
        where = "cannot reach master at " + addr;
      } else {
        where = "cannot reach any master (";
        for (std::size_t i = 0; i < addresses.size(); ++i) where += (i ? ", " : "") + addresses[i];
        where += ")";
      }
      return OneLine(why.empty() ? where : where + ": " + why);
    }
  }
  return OneLine(msg.empty() ? status.ToString() : msg);
}

}  // namespace orch::ctl
