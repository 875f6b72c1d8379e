// NotifyReady/NotifyStopping speak systemd's notify protocol (Type=notify
// units: orch-agent.service, orch-master.service) without libsystemd.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/process.h"
#include "test_util.h"

namespace orch {
namespace {

class NotifyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("NOTIFY_SOCKET");
    if (fd_ >= 0) close(fd_);
  }
  // Binds a datagram socket at `name` (a path, or '@' for abstract).
  void Listen(const std::string& name) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0) << strerror(errno);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  std::string Receive() {
    char buf[512];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }
  int fd_ = -1;
  agent::testing::TempDir dir_;
};

TEST_F(NotifyTest, ReadyAndStoppingReachAPathSocket) {
  Listen(dir_.path() + "/notify.sock");
  NotifyReady("serving");
  EXPECT_EQ(Receive(), "READY=1\nSTATUS=serving");
  NotifyStopping();
  EXPECT_EQ(Receive(), "STOPPING=1");
}

TEST_F(NotifyTest, AbstractSocket) {
  Listen("@orch-notify-test-" + std::to_string(getpid()));
  NotifyReady("x");
  EXPECT_EQ(Receive(), "READY=1\nSTATUS=x");
}

TEST_F(NotifyTest, NoSocketIsANoOp) {
  unsetenv("NOTIFY_SOCKET");
  NotifyReady("x");  // must neither crash nor block
  NotifyStopping();
  SUCCEED();
}

}  // namespace
}  // namespace orch
